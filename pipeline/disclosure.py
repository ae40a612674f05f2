"""Statistical disclosure control of everything published under ``reports/``.

The rule (docs/design.md section 5, following OpenSAFELY's output checking and NHS Digital's
small-number practice): counts from 1 to ``suppress_at_or_below`` (7) are suppressed, other
counts are rounded to the nearest ``round_to`` (5), and a proportion or rate whose numerator or
denominator was suppressed is suppressed too. Zero is published as zero: it is not a small
number of people. Suppressed cells carry the GSS symbol ``[c]`` (confidential).

Models are fitted on unrounded aggregate data; only what is published passes through here.
Every published figure computed from counts alone (a proportion, its interval, a before/after
difference, ratio or test, an observed point in a figure, a gap between strata, an SII from
strata) is computed from the *published* counts, rounded and suppressed as above, so it gives
back nothing the counts do not (docs/adr/0022). Model estimates pooled over many months (ITS
coefficients, fitted and counterfactual values) come from the unrounded counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from pipeline.config import Disclosure

SUPPRESSED = "[c]"


def publish_count(value, rule: Disclosure) -> int | str:
    """A count as it may be published: ``[c]`` if 1..7, else rounded to the nearest 5."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return SUPPRESSED
    count = int(value)
    if count < 0:
        raise ValueError(f"A count cannot be negative ({count}); it cannot be published.")
    if 0 < count <= rule.suppress_at_or_below:
        return SUPPRESSED
    # Round half up (not Python's banker's rounding) so 12.5-style ties behave as people expect.
    return int(math.floor(count / rule.round_to + 0.5) * rule.round_to)


def is_suppressed(value) -> bool:
    return isinstance(value, str) and value == SUPPRESSED


def publish_table(
    table: pd.DataFrame,
    rule: Disclosure,
    counts: Iterable[str],
    derived: Mapping[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Apply the rule to a table on its way out.

    Parameters
    ----------
    counts
        Columns holding counts of people or events: suppressed or rounded.
    derived
        ``{column: [count columns it rests on]}``: proportions, rates, intervals and effects
        that are suppressed in any row where one of those counts was suppressed.
    """
    out = table.copy()
    counts = list(counts)
    for column in counts:
        published = out[column].map(lambda v: publish_count(v, rule))
        hidden_here = published.map(is_suppressed)
        out[column] = published.astype(object)
        derived_from_this = [c for c, deps in (derived or {}).items() if column in deps]
        for target in derived_from_this:
            out[target] = out[target].astype(object).where(~hidden_here, SUPPRESSED)
    return out


def stamp(rule: Disclosure, secondary: bool = False) -> str:
    """One sentence stating the rule and its version, printed on every report.

    ``secondary=True`` adds the secondary-suppression clause: use it once the report's tables
    pass through :func:`protect_table` with margins.
    """
    text = (
        f"Disclosure control {rule.rule_version}: counts from 1 to {rule.suppress_at_or_below} are "
        f"shown as {SUPPRESSED}, other counts are rounded to the nearest {rule.round_to}, and "
        f"any percentage resting on a suppressed count is suppressed."
    )
    if secondary:
        text += (" Where a hidden count could be worked out from a total, the next smallest "
                 "count in the same breakdown (or the total) is hidden too.")
    return text + (" Percentages, their intervals and before/after comparisons are computed "
                   "from the published (rounded) counts; model estimates (ITS effects, fitted "
                   "and counterfactual values) from the unrounded monthly counts.")


# ---------------------------------------------------------------------------------------------
# Secondary suppression, complements and one function for tables with margins (issue 4).
# ---------------------------------------------------------------------------------------------

def is_small(value, rule: Disclosure) -> bool:
    """True for a count the rule hides (1..suppress_at_or_below); NaN counts are hidden too."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return 0 < int(value) <= rule.suppress_at_or_below


def primary_mask(table: pd.DataFrame, rule: Disclosure, counts: Iterable[str],
                 complements: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Cells hidden by the primary rule (small counts).

    ``complements`` maps a count column to the total it is part of (e.g. ``numerator`` ->
    ``denominator``): the numerator is hidden too when ``total - count`` is small, because
    the people *without* the event would otherwise be a published small number.
    """
    counts = list(counts)
    mask = pd.DataFrame(False, index=table.index, columns=counts)
    for column in counts:
        mask[column] = table[column].map(lambda v: is_small(v, rule))
    for column, total in (complements or {}).items():
        rest = table[total] - table[column]
        mask[column] |= rest.map(lambda v: is_small(v, rule) if pd.notna(v) else False)
    return mask


def secondary_mask(table: pd.DataFrame, hidden: pd.DataFrame, counts: Iterable[str],
                   by: Iterable[str] = ("outcome",), dimension: str = "dimension",
                   total: str = "all") -> pd.DataFrame:
    """Add complementary suppressions so no hidden cell can be recovered from a total.

    A *margin* is the rows of one dimension (e.g. the five IMD quintiles) within a ``by``
    group together with that group's total row (``dimension == total``); the strata add up to
    the total. A margin with exactly one hidden cell (a stratum, or the total alone) gives
    that cell away by subtraction (or addition), so the smallest non-zero published stratum in
    the margin is hidden too, or the total when no stratum is left. Repeated until every
    margin has none or at least two hidden cells (the total row is shared by every dimension's
    margin, so hiding it can call for more). Columns are treated independently.
    """
    by = [c for c in by if c in table.columns]
    mask = hidden.copy()
    groups = ({k: g.index for k, g in table.groupby(by if len(by) > 1 else by[0], sort=False)}
              if by else {(): table.index})
    for column in counts:
        values = pd.to_numeric(table[column], errors="coerce")
        changed = True
        while changed:
            changed = False
            for _, index in groups.items():
                rows = table.loc[index]
                totals = rows.index[rows[dimension] == total]
                for dim, strata in rows[rows[dimension] != total].groupby(dimension, sort=False):
                    cells = list(strata.index) + list(totals)
                    n_hidden = int(mask.loc[cells, column].sum())
                    if n_hidden != 1:
                        continue
                    candidates = [i for i in strata.index
                                  if not mask.at[i, column] and values.at[i] > 0]
                    if candidates:
                        pick = min(candidates, key=lambda i: (values.at[i], str(i)))
                    elif len(totals) and not mask.loc[totals, column].any():
                        pick = totals[0]
                    else:
                        continue  # nothing left to hide: every other cell is 0 (nothing to learn)
                    mask.at[pick, column] = True
                    changed = True
    return mask


def protect_table(table: pd.DataFrame, rule: Disclosure, counts: Iterable[str],
                  derived: Mapping[str, Iterable[str]] | None = None,
                  complements: Mapping[str, str] | None = None,
                  margins: Mapping | None = None) -> pd.DataFrame:
    """The one function for a table on its way out: primary + secondary suppression, rounding.

    Parameters
    ----------
    counts : columns of counts (suppressed when small, else rounded to ``rule.round_to``)
    derived : ``{column: [count columns it rests on]}``; suppressed where any is suppressed
        (primary or secondary)
    complements : ``{count column: total column}``, see :func:`primary_mask`
    margins : ``{"by": [...], "dimension": "dimension", "total": "all"}`` for tables of
        strata and totals (see :func:`secondary_mask`); ``None`` for tables without margins

    Models and estimates are computed from the unrounded table before this is called; the
    decisions here are made on the unrounded counts too.
    """
    counts = list(counts)
    hidden = primary_mask(table, rule, counts, complements)
    if margins is not None:
        hidden = secondary_mask(table, hidden, counts, **margins)
    out = table.copy()
    for column in counts:
        published = table[column].map(lambda v: publish_count(v, rule) if pd.notna(v) else SUPPRESSED)
        out[column] = published.astype(object).where(~hidden[column], SUPPRESSED)
    for target, deps in (derived or {}).items():
        deps = [d for d in deps if d in hidden.columns]
        if deps:
            out[target] = out[target].astype(object).where(~hidden[deps].any(axis=1), SUPPRESSED)
    return out


def published_counts(numerator, denominator, rule: Disclosure) -> tuple[pd.Series, pd.Series]:
    """Counts as published, as floats: rounded, NaN where the rule hides them.

    A numerator is hidden when it is small, when its denominator is hidden, or when the people
    *without* the event (denominator minus numerator) are a small number; a denominator is
    hidden when small. Every derived figure should be computed from what this returns
    (:func:`published_proportion`), never from the counts it was given.
    """
    num = pd.Series(numerator, dtype=float).reset_index(drop=True)
    den = pd.Series(denominator, dtype=float).reset_index(drop=True)

    def shown(values: pd.Series) -> pd.Series:
        return values.map(lambda v: float("nan") if is_small(v, rule)
                          else float(publish_count(v, rule)))

    den_pub = shown(den)
    hidden = num.map(lambda v: is_small(v, rule)) | den_pub.isna() \
        | (den - num).map(lambda v: is_small(v, rule) if pd.notna(v) else False)
    num_pub = shown(num).where(~hidden)
    if isinstance(numerator, pd.Series):
        num_pub.index = den_pub.index = numerator.index
    return num_pub, den_pub


def published_proportion(numerator, denominator, rule: Disclosure) -> pd.Series:
    """Proportion computed from the published counts (NaN where either is hidden or the
    published denominator is 0): a reader can recompute it from what is printed beside it."""
    num, den = published_counts(numerator, denominator, rule)
    return num / den.where(den > 0)


def count_text(value, rule: Disclosure) -> str:
    """A count for a sentence or a figure label, under the same rule: '[c]' or '1,085'."""
    published = publish_count(value, rule)
    return published if isinstance(published, str) else f"{published:,}"


def percent_text(numerator, denominator, rule: Disclosure, digits: int = 1) -> str:
    """A percentage for prose or labels, from the published counts; '[c]' when hidden."""
    value = published_proportion([numerator], [denominator], rule).iloc[0]
    return SUPPRESSED if pd.isna(value) else f"{100 * value:.{digits}f}%"

