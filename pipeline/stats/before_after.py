"""Before/after comparison of two proportions.

* Each proportion: Wilson (1927) score interval, recommended by Newcombe (1998a) and Brown,
  Cai & DasGupta (2001).
* Difference (after - before): Newcombe's (1998b) hybrid score interval (his method 10),
  built from the two Wilson intervals.
* Risk ratio and odds ratio with log (Katz et al. 1978; Woolf 1955) intervals; when a cell is
  zero, 0.5 is added to every cell for these two only (Haldane-Anscombe).
* Test: Pearson's chi-square without continuity correction, or Fisher's exact test when any
  expected count is below 5 (Cochran 1954).

References
----------
Wilson EB. Probable inference, the law of succession, and statistical inference. J Am Stat
Assoc 1927;22:209-212.
Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven
methods. Stat Med 1998;17:857-872 (1998a).
Newcombe RG. Interval estimation for the difference between independent proportions:
comparison of eleven methods. Stat Med 1998;17:873-890 (1998b).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

GROUP_COLUMNS = ("outcome", "dimension", "stratum")
TABLE_COLUMNS = ["estimand", "estimate", "ci_low", "ci_high", "p_value", "method", "n"]


def _check_counts(x, n, label: str) -> tuple[int, int]:
    if n is None or x is None or np.isnan(x) or np.isnan(n):
        raise ValueError(f"{label}: counts must not be missing")
    if x < 0 or n <= 0 or x > n:
        raise ValueError(f"{label}: need 0 <= numerator <= denominator and denominator > 0, got {x}/{n}")
    return x, n


def log_ratio(a: float, b: float, c: float, d: float, odds: bool) -> tuple[float, float]:
    """Log risk ratio (a/(a+b)) / (c/(c+d)) (Katz) or log odds ratio (a d)/(b c) (Woolf) and
    its SE; 0.5 is added to every cell when one is zero (Haldane-Anscombe)."""
    if min(a, b, c, d) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    if odds:
        return float(np.log(a * d / (b * c))), float(np.sqrt(1 / a + 1 / b + 1 / c + 1 / d))
    return (float(np.log((a / (a + b)) / (c / (c + d)))),
            float(np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))))


def _log_ratio(a: float, b: float, c: float, d: float, z: float, odds: bool) -> tuple:
    """Risk ratio or odds ratio (:func:`log_ratio`) with its log-scale CI."""
    est, se = log_ratio(a, b, c, d, odds)
    return float(np.exp(est)), float(np.exp(est - z * se)), float(np.exp(est + z * se))


def compare_proportions(x1, n1, x0, n0, alpha: float = 0.05) -> dict:
    """Compare an after proportion ``x1/n1`` with a before proportion ``x0/n0``.

    Parameters
    ----------
    x1, n1 : int
        Events and total after.
    x0, n0 : int
        Events and total before.
    alpha : float
        1 - confidence level.

    Returns
    -------
    dict
        ``before``, ``before_low``, ``before_high``, ``after``, ``after_low``, ``after_high``
        (Wilson), ``difference``, ``difference_low``, ``difference_high`` (after - before,
        Newcombe hybrid score), ``risk_ratio`` and ``odds_ratio`` with ``_low``/``_high``
        (log intervals), ``p_value``, ``test`` ("chi-square" or "Fisher exact"), ``n_before``,
        ``n_after``.

    Examples
    --------
    Newcombe (1998b), Table II, example (a), method 10:

    >>> r = compare_proportions(56, 70, 48, 80)
    >>> round(r["difference"], 4), round(r["difference_low"], 4), round(r["difference_high"], 4)
    (0.2, 0.0524, 0.3339)
    """
    x1, n1 = _check_counts(x1, n1, "after")
    x0, n0 = _check_counts(x0, n0, "before")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r} must be strictly between 0 and 1")
    z = float(stats.norm.ppf(1 - alpha / 2))
    b_lo, b_hi = proportion_confint(x0, n0, alpha=alpha, method="wilson")
    a_lo, a_hi = proportion_confint(x1, n1, alpha=alpha, method="wilson")
    d_lo, d_hi = confint_proportions_2indep(x1, n1, x0, n0, compare="diff", method="newcomb",
                                            alpha=alpha)
    table = np.array([[x1, n1 - x1], [x0, n0 - x0]], dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    if (expected < 5).any():
        test, p = "Fisher exact", float(stats.fisher_exact(table.astype(int))[1])
    else:
        test = "chi-square"
        p = float(stats.chi2_contingency(table, correction=False)[1])
    rr = _log_ratio(x1, n1 - x1, x0, n0 - x0, z, odds=False)
    odds = _log_ratio(x1, n1 - x1, x0, n0 - x0, z, odds=True)
    return {
        "before": x0 / n0, "before_low": float(b_lo), "before_high": float(b_hi),
        "after": x1 / n1, "after_low": float(a_lo), "after_high": float(a_hi),
        "difference": x1 / n1 - x0 / n0, "difference_low": float(d_lo),
        "difference_high": float(d_hi),
        "risk_ratio": rr[0], "risk_ratio_low": rr[1], "risk_ratio_high": rr[2],
        "odds_ratio": odds[0], "odds_ratio_low": odds[1], "odds_ratio_high": odds[2],
        "p_value": p, "test": test, "n_before": int(n0), "n_after": int(n1),
    }


def month_window(window, label: str) -> tuple[pd.Period, pd.Period]:
    """An inclusive ``(first, last)`` month window, checked; ``label`` names it in errors."""
    try:
        start, end = (pd.Period(w, "M") for w in window)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{label} window {window!r} must be two months ('YYYY-MM', 'YYYY-MM')") from exc
    if end < start:
        raise ValueError(f"{label} window {window!r} ends before it starts")
    return start, end


def _rows(r: dict) -> list:
    n_all = r["n_before"] + r["n_after"]
    test = f"{r['test']} test"
    return [
        ("proportion_before", r["before"], r["before_low"], r["before_high"], np.nan,
         "Wilson score interval", r["n_before"]),
        ("proportion_after", r["after"], r["after_low"], r["after_high"], np.nan,
         "Wilson score interval", r["n_after"]),
        ("difference", r["difference"], r["difference_low"], r["difference_high"], r["p_value"],
         f"Newcombe hybrid score interval; {test}", n_all),
        ("risk_ratio", r["risk_ratio"], r["risk_ratio_low"], r["risk_ratio_high"], r["p_value"],
         f"log (Katz) interval; {test}", n_all),
        ("odds_ratio", r["odds_ratio"], r["odds_ratio_low"], r["odds_ratio_high"], r["p_value"],
         f"log (Woolf) interval; {test}", n_all),
    ]


def window_offsets(months: pd.Series, units: pd.Series, first_start, unit_starts=None) -> np.ndarray:
    """Months from each row's own start: its unit's start (staggered roll-out) or
    ``first_start``. Negative before the start, 0 in the start month."""
    def index(month) -> int:
        p = pd.Period(month, "M")
        return p.year * 12 + p.month - 1

    own = {str(k): index(v) for k, v in (unit_starts or {}).items()}
    first = index(first_start)
    start = np.array([own.get(u, first) for u in pd.Series(units).astype(str)], dtype=np.int64)
    m = pd.to_datetime(pd.Series(months))
    return (m.dt.year * 12 + m.dt.month - 1).to_numpy(np.int64) - start


def window_masks(offset: np.ndarray, before_months: int, after_months: int,
                 washout_months: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows in the before window (the ``before_months`` months up to the start) and the after
    window (``after_months`` months from the start plus the washout; the washout months
    themselves are in neither)."""
    before = (offset >= -before_months) & (offset < 0)
    after = (offset >= washout_months) & (offset < washout_months + after_months)
    return before, after


def compare_windows(frame: pd.DataFrame, before, after, keys, alpha: float = 0.05
                    ) -> tuple[pd.DataFrame, list]:
    """THE before/after comparison of the pipeline: counts summed per ``keys`` group in each
    window, and :func:`compare_proportions` of after against before.

    Every caller (the overall table of :mod:`pipeline.evaluation`, the equity strata, and
    :func:`before_after_table`) goes through here, so an empty stratum is treated one way
    (docs/adr/0106): a group with no denominator in either window is **not compared** and has
    no row; it is returned in the second value (its key tuple) so the caller can name it.

    Returns
    -------
    (DataFrame, list)
        ``keys..., numerator_before, denominator_before, numerator_after,
        denominator_after`` (int64) and the columns of :func:`compare_proportions` (without
        ``n_before``/``n_after``), one row per compared group in sorted key order; and the
        keys of the groups left out.
    """
    keys = list(keys)
    counts = ["numerator", "denominator"]
    sums = [frame[np.asarray(mask)].groupby(keys)[counts].sum().add_suffix(f"_{label}")
            for label, mask in (("before", before), ("after", after))]
    joined = sums[0].join(sums[1], how="outer").fillna(0).astype("int64").sort_index()
    rows, skipped = [], []
    for key, r in zip(joined.index, joined.itertuples(index=False)):
        key = key if isinstance(key, tuple) else (key,)
        if r.denominator_before <= 0 or r.denominator_after <= 0:
            skipped.append(key)
            continue
        stats_ = compare_proportions(r.numerator_after, r.denominator_after,
                                     r.numerator_before, r.denominator_before, alpha)
        rows.append({**dict(zip(keys, key)), **r._asdict(),
                     **{k: v for k, v in stats_.items() if k not in ("n_before", "n_after")}})
    columns = [*keys, *joined.columns]
    return (pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)), skipped


def before_after_table(series: pd.DataFrame, before, after, alpha: float = 0.05) -> pd.DataFrame:
    """Tidy before/after table from a monthly series over two fixed windows (long format).

    Parameters
    ----------
    series : DataFrame
        Monthly series with ``month, numerator, denominator`` (units are summed); when it has
        ``outcome``, ``dimension`` or ``stratum`` columns, one block of rows per combination.
    before, after : tuple of two months
        Inclusive windows, e.g. ``("2020-09", "2021-08")``.
    alpha : float

    Returns
    -------
    DataFrame
        Grouping columns, then ``estimand`` (proportion_before, proportion_after,
        difference, risk_ratio, odds_ratio), ``estimate, ci_low, ci_high, p_value, method, n``.
        ``n`` is the window denominator (both windows for comparisons).

    Raises
    ------
    ValueError
        A window outside the data, or a group with no denominator in a window (the windows
        are the caller's: an empty one is named rather than left out, :func:`compare_windows`).
    """
    missing = [c for c in ("month", "numerator", "denominator") if c not in series.columns]
    if missing:
        raise ValueError(f"series is missing column(s) {missing}")
    windows = {"before": month_window(before, "before"), "after": month_window(after, "after")}
    if windows["after"][0] <= windows["before"][1]:
        raise ValueError(f"the after window {after!r} must start after the before window {before!r} ends")
    months = pd.to_datetime(series["month"]).dt.to_period("M")
    lo, hi = months.min(), months.max()
    for label, (start, end) in windows.items():
        if start < lo or end > hi:
            raise ValueError(f"{label} window {start} to {end} is outside the data ({lo} to {hi})")
    keys = [c for c in GROUP_COLUMNS if c in series.columns]
    frame = series.assign(_all="all") if not keys else series
    masks = [((months >= a) & (months <= b)).to_numpy() for a, b in windows.values()]
    wide, skipped = compare_windows(frame, *masks, keys or ["_all"], alpha)
    if skipped:
        raise ValueError(f"no denominator in the before or after window for {skipped[0]}")
    out = []
    for r in wide.to_dict("records"):
        r.update(n_before=r["denominator_before"], n_after=r["denominator_after"])
        block = pd.DataFrame(_rows(r), columns=TABLE_COLUMNS)
        for i, col in enumerate(keys):
            block.insert(i, col, r[col])
        out.append(block)
    return pd.concat(out, ignore_index=True)
