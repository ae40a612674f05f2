"""Attack a published table: try to recover an exact count from what is printed beside it.

Rounding to 5 and suppressing 1 to 7 protect nothing if a figure printed beside the counts was
computed from the exact ones (docs/design.md section 5): ``85, 1085, 0.0774194`` gives back 84,
because 84/1085 is the only fraction in the rounding bands that prints as 0.0774194. The
publication scan (:mod:`pipeline.publication_check`) runs these attacks on every table it
reads and refuses to publish when one succeeds.

Bands: a published count ``c`` (a multiple of ``round_to`` above the threshold) stands for any
exact count that rounds to it, ``c - 2 .. c + 2`` for rounding to 5; ``[c]`` for 1 to
``suppress_at_or_below``, or (a numerator hidden because its complement is small) for the
denominator minus 1 to 7; ``0`` for 0 only.

1. **Proportions and comparisons** (:func:`attack_row`). A proportion column is matched with
   the count pair it is a proportion of, by name (:data:`PROPORTIONS`): ``proportion`` and
   ``observed`` with ``numerator``/``denominator``, ``before`` with ``numerator_before``/
   ``denominator_before``, ``q1_observed`` with ``numerator_q1``/``denominator_q1``...;
   comparisons (:data:`COMPARISONS`: ``difference``, ``risk_ratio``, ``odds_ratio`` after
   against before, ``gap_observed`` Q1 against Q5) with two pairs; ``pointwise`` plus
   ``counterfactual`` is an observed proportion in disguise. Every combination of exact counts
   inside the bands whose value prints as the published one (to its printed digits, and to
   six significant digits where fewer were printed, the precision of the project's writers)
   is kept; if they all agree on a count that the table does not show (a hidden one, or
   another value than the rounded one), that count is recovered.
2. **Totals minus parts** (:func:`attack_margins`). In a table of strata with a total row
   (``dimension == "all"``), a hidden cell lies between the total's band minus the sum of the
   other cells' bands; if that leaves one value, it is recovered.

What is not attacked: confidence limits and p-values (they are computed from the same
published counts as the proportion beside them, docs/adr/0022), and model estimates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np

from pipeline.config import Disclosure

SUPPRESSED = "[c]"
SIGNIFICANT = 6  # digits the project's writers print (pipeline.report.publish.DIGITS)

#: proportion column -> suffix of its numerator_/denominator_ pair
PROPORTIONS = {"proportion": "", "observed": "", "before": "_before", "after": "_after",
               "q1_observed": "_q1", "q5_observed": "_q5"}
#: comparison column -> (kind, suffix of the first pair, suffix of the second)
COMPARISONS = {"difference": ("difference", "_after", "_before"),
               "risk_ratio": ("ratio", "_after", "_before"),
               "odds_ratio": ("odds", "_after", "_before"),
               "gap_observed": ("difference", "_q1", "_q5")}


@dataclass(frozen=True)
class Recovery:
    """A count that a published figure gives back."""

    column: str  # the count column recovered
    value: int  # the exact count
    published: str  # what the table shows for it
    source: str  # the figure (column) that gave it away


def band(cell, rule: Disclosure) -> np.ndarray | None:
    """Exact counts a published count cell may stand for (None if not a count)."""
    text = str(cell).strip().replace(",", "")
    if text == SUPPRESSED:
        return np.arange(1, rule.suppress_at_or_below + 1)
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0 or value != int(value):
        return None
    if value == 0:
        return np.array([0])
    half = rule.round_to / 2
    low = max(math.ceil(value - half), rule.suppress_at_or_below + 1)
    high = math.ceil(value + half) - 1 if rule.round_to > 1 else int(value)
    return np.arange(low, max(low, high) + 1)


def tolerance(cell, significant: int | None = None) -> tuple[float, float] | None:
    """The printed value and half a unit of its last digit.

    With ``significant``, the writer is known to print that many significant digits and to
    drop trailing zeros (``%.6g`` prints 0.2 for 0.2000001): the tolerance is then at most
    half a unit of the last of those digits.
    """
    if isinstance(cell, tuple):
        return cell
    if cell is None:
        return None
    text = str(cell).strip().replace(",", "")
    percent = text.endswith("%")
    text = text.rstrip("%")
    if not re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", text):
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    value = float(number)
    if value == 0 or not math.isfinite(value):
        return None
    printed = 0.5 * 10.0 ** number.as_tuple().exponent
    tol = printed
    if significant:
        tol = min(tol, 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - significant + 1))
    return (value / 100, tol / 100) if percent else (value, tol)


def _pair_grid(num_cell, den_cell, rule) -> tuple[np.ndarray, np.ndarray] | None:
    """All (numerator, denominator) combinations inside the two cells' bands."""
    den = band(den_cell, rule)
    num = band(num_cell, rule)
    if den is None or num is None:
        return None
    x, n = np.meshgrid(num, den, indexing="ij")
    x, n = x.ravel(), n.ravel()
    if str(num_cell).strip() == SUPPRESSED:  # hidden because the complement is small
        k = np.arange(1, rule.suppress_at_or_below + 1)
        cx, cn = (den[:, None] - k[None, :]).ravel(), np.repeat(den, len(k))
        x, n = np.r_[x, cx], np.r_[n, cn]
    keep = (n > 0) & (x >= 0) & (x <= n)
    return x[keep], n[keep]


def _matches(values: np.ndarray, target: float, tol: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(values - target) <= tol * (1 + 1e-9) + 1e-15


def _recovered(columns, cells, combos, ok, source) -> list[Recovery]:
    found = []
    if not ok.any():
        return found
    for column, cell, values in zip(columns, cells, combos):
        left = np.unique(values[ok])
        if len(left) == 1 and str(cell).strip().replace(",", "") != str(int(left[0])):
            found.append(Recovery(column, int(left[0]), str(cell), source))
    return found


def attack_row(row: dict, rule: Disclosure, significant: int | None = None) -> list[Recovery]:
    """Counts that the proportions and comparisons printed in one row give back.

    ``significant``: digits the writer promises (see :func:`tolerance`); None for a table
    whose numbers are only as precise as printed (HTML).
    """
    names, scale = {}, {}
    for key in row:
        canonical, factor = _canonical(key)
        names[canonical], scale[canonical] = key, factor
    row = {key: _scaled(value, scale[_canonical(key)[0]]) for key, value in row.items()}
    found: list[Recovery] = []

    def pair(suffix):
        num, den = names.get("numerator" + suffix), names.get("denominator" + suffix)
        if num is None or den is None:
            return None
        grid = _pair_grid(row[num], row[den], rule)
        return None if grid is None else (num, den, *grid)

    for column, suffix in PROPORTIONS.items():
        p = pair(suffix)
        if p is None:
            continue
        num, den, x, n = p
        targets = []
        if column in names:
            targets.append((names[column], row[names[column]]))
        if column == "observed" and {"pointwise", "counterfactual"} <= set(names):
            pw = tolerance(row[names["pointwise"]], significant)
            cf = tolerance(row[names["counterfactual"]], significant)
            if pw and cf:
                targets.append(("pointwise + counterfactual", (pw[0] + cf[0], pw[1] + cf[1])))
        for source, cell in targets:
            parsed = cell if isinstance(cell, tuple) else tolerance(cell, significant)
            if parsed is None:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                ok = _matches(x / n, *parsed)
            found += _recovered((num, den), (row[num], row[den]), (x, n), ok, source)
    for column, (kind, first, second) in COMPARISONS.items():
        if column not in names or (parsed := tolerance(row[names[column]], significant)) is None:
            continue
        a, b = pair(first), pair(second)
        if a is None or b is None:
            continue
        i, j = np.meshgrid(np.arange(len(a[2])), np.arange(len(b[2])), indexing="ij")
        x1, n1, x0, n0 = a[2][i.ravel()], a[3][i.ravel()], b[2][j.ravel()], b[3][j.ravel()]
        with np.errstate(divide="ignore", invalid="ignore"):
            p1, p0 = x1 / n1, x0 / n0
            value = {"difference": p1 - p0, "ratio": p1 / p0,
                     "odds": (x1 * (n0 - x0)) / (x0 * (n1 - x1))}[kind]
        ok = _matches(value, *parsed)
        found += _recovered((a[0], a[1], b[0], b[1]),
                            (row[a[0]], row[a[1]], row[b[0]], row[b[1]]),
                            (x1, n1, x0, n0), ok, names[column])
    return found


def attack_margins(header: list, rows: list, rule: Disclosure, total: str = "all",
                   ) -> list[tuple[int, Recovery]]:
    """Hidden cells that a total minus its published parts pins to one value.

    ``rows`` are lists of cells under ``header``; strata of one ``dimension`` (within one
    ``outcome`` when there is such a column) add up to the row whose dimension is ``total``.
    Returns (row number from 1, recovery) pairs.
    """
    names = [_norm(h) for h in header]
    if "dimension" not in names:
        return []
    dim = names.index("dimension")
    by = names.index("outcome") if "outcome" in names else None
    counts = [i for i, h in enumerate(names)
              if h.startswith(("numerator", "denominator")) and h not in ("numerator", "denominator")
              or h in ("numerator", "denominator")]
    groups: dict = {}
    for r, row in enumerate(rows, start=1):
        if len(row) != len(header):
            continue
        key = row[by] if by is not None else ""
        groups.setdefault(key, {}).setdefault(row[dim], []).append((r, row))
    found = []
    for margin in groups.values():
        totals = margin.get(total)
        if not totals:
            continue
        t_row = totals[0][1]
        for d, members in margin.items():
            if d == total:
                continue
            for c in counts:
                t_band = band(t_row[c], rule)
                sets = [_candidates(row, names, c, rule) for _, row in members]
                if t_band is None or any(v is None for v in sets):
                    continue
                for k, (r, row) in enumerate(members):
                    if str(row[c]).strip() != SUPPRESSED:
                        continue
                    rest_lo = sum(int(v.min()) for i, v in enumerate(sets) if i != k)
                    rest_hi = sum(int(v.max()) for i, v in enumerate(sets) if i != k)
                    mine = sets[k]
                    left = mine[(mine >= int(t_band.min()) - rest_hi)
                                & (mine <= int(t_band.max()) - rest_lo)]
                    if len(left) == 1:
                        found.append((r, Recovery(header[c], int(left[0]), SUPPRESSED,
                                                  f"total ({total}) minus the other {d} cells")))
    return found


def _candidates(row: list, names: list, c: int, rule: Disclosure) -> np.ndarray | None:
    """Exact values a count cell may hold; a hidden numerator may also be its denominator
    minus 1 to 7 (hidden because the people without the event are few)."""
    values = band(row[c], rule)
    if values is None or str(row[c]).strip() != SUPPRESSED or not names[c].startswith("numerator"):
        return values
    den = "denominator" + names[c][len("numerator"):]
    if den not in names or (dens := band(row[names.index(den)], rule)) is None:
        return values
    k = np.arange(1, rule.suppress_at_or_below + 1)
    return np.unique(np.r_[values, (dens[:, None] - k[None, :]).ravel()])


#: Labels a page may print instead of the variable names (pipeline.report.wording), and the
#: factor from the printed unit back to a proportion: "Before (%)" 8.1 is 0.081.
_WORDS = {"events": "numerator", "total": "denominator", "risk_ratio": "risk_ratio",
          "odds_ratio": "odds_ratio"}
_UNITS = {"(%)": 0.01, "(points)": 0.01}


def _canonical(name) -> tuple[str, float]:
    """A column's variable name and unit factor, from a variable name or a page label."""
    text = str(name).strip().lower()
    factor = 1.0
    for unit, f in _UNITS.items():
        if text.endswith(unit):
            text, factor = text[: -len(unit)].strip(), f
    key = _norm(text)
    head, _, tail = key.partition("_")
    if head in _WORDS and tail in ("", "before", "after", "q1", "q5"):
        key = _WORDS[head] + (f"_{tail}" if tail else "")
    return key, factor


def _scaled(cell, factor: float):
    """A printed value in a unit (per cent, points) as ``(value, tolerance)`` of a proportion,
    or the cell as it is."""
    if factor == 1.0:
        return cell
    parsed = tolerance(cell)
    return None if parsed is None else (parsed[0] * factor, parsed[1] * factor)


def _norm(name) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


__all__ = ["Recovery", "attack_margins", "attack_row", "band", "tolerance"]
