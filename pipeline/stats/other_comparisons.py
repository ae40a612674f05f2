"""Before/after comparisons beyond two proportions: rates per person-time, means, paired
proportions and Mantel-Haenszel pooling over strata (issue 4).

Split from :mod:`pipeline.stats.before_after` (two proportions and the window tables) so that
each module answers one question; the methods and references are in each function's docstring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .before_after import GROUP_COLUMNS, month_window


def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r} must be strictly between 0 and 1")
    return float(stats.norm.ppf(1 - alpha / 2))


def poisson_interval(count, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Garwood 1936) interval for a Poisson count from chi-square quantiles.

    ``lower = chi2(alpha/2; 2x) / 2`` (0 when x = 0), ``upper = chi2(1 - alpha/2; 2x + 2) / 2``:
    the limits tabulated by Breslow & Day (1987, Table 2.10) and used by Ulm (1990) for SMRs.
    """
    if count is None or np.isnan(count) or count < 0 or count != int(count):
        raise ValueError(f"a Poisson count must be a non-negative integer, got {count!r}")
    _z(alpha)
    lower = 0.0 if count == 0 else float(stats.chi2.ppf(alpha / 2, 2 * count) / 2)
    upper = float(stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2)
    return lower, upper


def poisson_rate(count, person_time, alpha: float = 0.05, per: float = 1.0) -> dict:
    """A rate (events per ``per`` units of person-time) with its exact Poisson interval."""
    if person_time is None or not person_time > 0:
        raise ValueError(f"person-time must be positive, got {person_time!r}")
    low, high = poisson_interval(count, alpha)
    scale = per / person_time
    return {"rate": count * scale, "rate_low": low * scale, "rate_high": high * scale,
            "events": int(count), "person_time": float(person_time)}


def compare_rates(x1, t1, x0, t0, alpha: float = 0.05, per: float = 1.0) -> dict:
    """Compare an after rate ``x1/t1`` with a before rate ``x0/t0`` (events over person-time).

    * each rate: exact Poisson (Garwood) interval;
    * rate ratio (after / before): exact conditional interval. Given the total ``x1 + x0``,
      ``x1`` is binomial with ``pi = t1 RR / (t1 RR + t0)``; the Clopper-Pearson limits for
      ``pi`` map to ``RR = pi / (1 - pi) * t0 / t1`` (Breslow & Day 1987, section 2.3;
      Ulm 1990; Rothman & Greenland, Modern Epidemiology, ch. 14);
    * p-value: the exact conditional (binomial) test of ``RR = 1`` (two-sided, minimum
      likelihood, as ``scipy.stats.binomtest`` and ``statsmodels``' ``exact-cond``);
    * rate difference: Wald interval with variance ``x1/t1^2 + x0/t0^2``.

    Returns
    -------
    dict
        ``before``, ``before_low``, ``before_high``, ``after``, ``after_low``, ``after_high``
        (rates per ``per``), ``rate_ratio`` with ``_low``/``_high``, ``rate_difference`` with
        ``_low``/``_high`` (per ``per``), ``p_value``, ``test``, ``events_before``,
        ``events_after``, ``person_time_before``, ``person_time_after``.
    """
    z = _z(alpha)
    after, before = poisson_rate(x1, t1, alpha, per), poisson_rate(x0, t0, alpha, per)
    total = int(x1 + x0)
    if total == 0:
        rr, rr_lo, rr_hi, p = float("nan"), 0.0, float("inf"), 1.0
    else:
        ci = stats.binomtest(int(x1), total).proportion_ci(1 - alpha, method="exact")
        p = float(stats.binomtest(int(x1), total, t1 / (t1 + t0)).pvalue)
        odds = lambda q: q / (1 - q) * t0 / t1 if q < 1 else float("inf")  # noqa: E731
        rr = (x1 / t1) / (x0 / t0) if x0 > 0 else float("inf")
        rr_lo, rr_hi = odds(ci.low), odds(ci.high)
    diff = (x1 / t1 - x0 / t0) * per
    se = np.sqrt(x1 / t1**2 + x0 / t0**2) * per
    return {
        "before": before["rate"], "before_low": before["rate_low"], "before_high": before["rate_high"],
        "after": after["rate"], "after_low": after["rate_low"], "after_high": after["rate_high"],
        "rate_ratio": float(rr), "rate_ratio_low": float(rr_lo), "rate_ratio_high": float(rr_hi),
        "rate_difference": float(diff), "rate_difference_low": float(diff - z * se),
        "rate_difference_high": float(diff + z * se),
        "p_value": p, "test": "exact conditional (binomial)",
        "events_before": int(x0), "events_after": int(x1),
        "person_time_before": float(t0), "person_time_after": float(t1),
    }


def compare_means(mean1, sd1, n1, mean0, sd0, n0, alpha: float = 0.05) -> dict:
    """Difference of two means (after - before) with Welch's t interval and test.

    Welch (1947) / Satterthwaite (1946) degrees of freedom; equal variances are not assumed.
    """
    z = _z(alpha)  # noqa: F841  (validates alpha)
    if min(n1, n0) < 2:
        raise ValueError("each group needs at least 2 observations for Welch's t")
    v1, v0 = sd1**2 / n1, sd0**2 / n0
    se = float(np.sqrt(v1 + v0))
    df = float((v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1)))
    diff = float(mean1 - mean0)
    t = diff / se
    q = float(stats.t.ppf(1 - alpha / 2, df))
    return {"before": float(mean0), "after": float(mean1), "difference": diff,
            "difference_low": diff - q * se, "difference_high": diff + q * se,
            "t": t, "df": df, "p_value": float(2 * stats.t.sf(abs(t), df)),
            "test": "Welch t", "n_before": int(n0), "n_after": int(n1)}


def compare_means_data(after, before, alpha: float = 0.05) -> dict:
    """:func:`compare_means` from two samples of values."""
    a, b = np.asarray(after, dtype=float), np.asarray(before, dtype=float)
    return compare_means(a.mean(), a.std(ddof=1), a.size, b.mean(), b.std(ddof=1), b.size, alpha)


EXACT_MCNEMAR_BELOW = 25


def paired_proportions(both, before_only, after_only, neither, alpha: float = 0.05) -> dict:
    """Before/after proportions on the same patients (paired 2 x 2 table).

    ``both``: event before and after; ``before_only``; ``after_only``; ``neither``.

    * test: McNemar (1947) via ``statsmodels.stats.contingency_tables.mcnemar``: the exact
      binomial version when there are fewer than 25 discordant pairs, otherwise the
      chi-square statistic ``(b - c)^2 / (b + c)`` without continuity correction (Agresti 2002,
      section 10.1);
    * difference after - before: ``(c - b) / n`` with the Wald interval of Agresti (2002,
      eq. 10.2), variance ``((b + c) - (c - b)^2 / n) / n^2``.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    z = _z(alpha)
    counts = [both, before_only, after_only, neither]
    if any(c is None or c < 0 for c in counts) or sum(counts) == 0:
        raise ValueError(f"paired counts must be non-negative with a positive total, got {counts}")
    n = float(sum(counts))
    b, c = float(before_only), float(after_only)
    exact = (b + c) < EXACT_MCNEMAR_BELOW
    res = mcnemar([[both, before_only], [after_only, neither]], exact=exact, correction=False)
    diff = (c - b) / n
    se = np.sqrt(max((b + c) - (c - b) ** 2 / n, 0.0)) / n
    return {"before": (both + before_only) / n, "after": (both + after_only) / n,
            "difference": diff, "difference_low": diff - z * se, "difference_high": diff + z * se,
            "statistic": float(res.statistic), "p_value": float(res.pvalue),
            "test": "McNemar exact (binomial)" if exact else "McNemar chi-square",
            "n_pairs": int(n), "discordant": int(b + c)}


def mantel_haenszel(tables, alpha: float = 0.05) -> dict:
    """Mantel-Haenszel pooled odds ratio and risk ratio over strata of 2 x 2 tables.

    Each table is ``[[a, b], [c, d]]`` = ``[[events after, non-events after], [events
    before, non-events before]]``. Uses ``statsmodels.stats.contingency_tables.StratifiedTable``:
    pooled odds ratio with the Robins, Breslow & Greenland (1986) interval, the Cochran-Mantel-
    Haenszel test of a common odds ratio of 1, and the Breslow-Day test of homogeneity
    (Tarone-adjusted). Strata with an empty row are dropped (they carry no information).
    """
    from statsmodels.stats.contingency_tables import StratifiedTable

    _z(alpha)
    arr = np.asarray(tables, dtype=float)
    if arr.ndim != 3 or arr.shape[1:] != (2, 2):
        raise ValueError("tables must be a sequence of 2 x 2 tables")
    keep = (arr.sum(axis=2) > 0).all(axis=1)
    if not keep.any():
        raise ValueError("every stratum has an empty row: nothing to pool")
    st = StratifiedTable(np.moveaxis(arr[keep], 0, 2))
    lo, hi = st.oddsratio_pooled_confint(alpha=alpha)
    null, equal = st.test_null_odds(correction=False), st.test_equal_odds(adjust=True)
    return {"odds_ratio": float(st.oddsratio_pooled), "odds_ratio_low": float(lo),
            "odds_ratio_high": float(hi), "risk_ratio": float(st.riskratio_pooled),
            "p_value": float(null.pvalue), "cmh_statistic": float(null.statistic),
            "homogeneity_p": float(equal.pvalue), "strata": int(keep.sum()),
            "test": "Cochran-Mantel-Haenszel; Breslow-Day homogeneity (Tarone)"}


def window_counts(series: pd.DataFrame, before, after, exclude=(),
                  keys=GROUP_COLUMNS) -> pd.DataFrame:
    """Numerator and denominator in the before and after windows, per group.

    Parameters
    ----------
    before, after : tuple of two months (inclusive)
    exclude : iterable of months
        Months left out of both windows (e.g. washout or a data-quality gap from params).
    keys : grouping columns present in ``series`` (default outcome, dimension, stratum)

    Returns
    -------
    DataFrame
        ``keys..., numerator_before, denominator_before, numerator_after, denominator_after``.
    """
    windows = {"before": month_window(before, "before"), "after": month_window(after, "after")}
    if windows["after"][0] <= windows["before"][1]:
        raise ValueError(f"the after window {after!r} must start after the before window {before!r} ends")
    months = pd.to_datetime(series["month"]).dt.to_period("M")
    excluded = {pd.Period(m, "M") for m in exclude}
    keys = [c for c in keys if c in series.columns]
    frames = []
    for label, (start, end) in windows.items():
        inside = (months >= start) & (months <= end) & ~months.isin(excluded)
        sums = series[inside.to_numpy()].groupby(keys)[["numerator", "denominator"]].sum() \
            if keys else series[inside.to_numpy()][["numerator", "denominator"]].sum().to_frame().T
        frames.append(sums.add_suffix(f"_{label}"))
    out = pd.concat(frames, axis=1).fillna(0).astype("int64")
    return out.reset_index() if keys else out.reset_index(drop=True)


def mantel_haenszel_table(series: pd.DataFrame, before, after, dimension: str,
                          exclude=(), alpha: float = 0.05) -> pd.DataFrame:
    """Before/after odds ratio pooled over the strata of ``dimension`` (Mantel-Haenszel).

    The change adjusted for a shift in case mix across strata between the windows: one row per
    outcome with ``estimand`` ``odds_ratio_mh``.
    """
    rows = series[series["dimension"] == dimension]
    if rows.empty:
        raise ValueError(f"the series has no dimension {dimension!r}")
    counts = window_counts(rows, before, after, exclude, keys=("outcome", "stratum"))
    out = []
    for outcome, g in counts.groupby("outcome", sort=True):
        tables = [[[r.numerator_after, r.denominator_after - r.numerator_after],
                   [r.numerator_before, r.denominator_before - r.numerator_before]]
                  for r in g.itertuples()]
        mh = mantel_haenszel(tables, alpha)
        out.append({"outcome": outcome, "dimension": dimension, "stratum": "pooled",
                    "estimand": "odds_ratio_mh", "estimate": mh["odds_ratio"],
                    "ci_low": mh["odds_ratio_low"], "ci_high": mh["odds_ratio_high"],
                    "p_value": mh["p_value"],
                    "method": f"Mantel-Haenszel over {mh['strata']} {dimension} strata, Robins-"
                              f"Breslow-Greenland interval; {mh['test']} p = {mh['homogeneity_p']:.3g}",
                    "n": int(g["denominator_before"].sum() + g["denominator_after"].sum())})
    return pd.DataFrame(out)
