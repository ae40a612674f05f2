"""UKHSA (formerly PHE) indicator methods: Byar's interval, rates, proportions and DSRs.

These reproduce ``PHEindicatormethods`` (the R package UKHSA publishes Fingertips indicators
with), so an analyst can check our numbers against the package's, limit for limit:

* **Byar's interval for a count** ``O`` (Breslow & Day 1987, section 2.2; an approximation to
  the exact Poisson limits): ``lower = O (1 - 1/(9 O) - z/(3 sqrt O))^3``,
  ``upper = (O + 1) (1 - 1/(9 (O + 1)) + z/(3 sqrt(O + 1)))^3``; a negative lower limit (tiny
  counts at high confidence) is undefined (NaN), as ``byars_lower``.
* **Crude rate** ``O / n x multiplier`` (``phe_rate``): Byar's limits when ``O >= 10``; below 10
  the exact Poisson (chi-square) limits ``chi2(a/2; 2 O) / 2`` and ``chi2(1 - a/2; 2 O + 2) / 2``
  (Armitage & Berry 2002), the rule in ``phe_rate``'s source (``if_else(x < 10, qchisq(...),
  byars_...)``) and in PHE's Technical Guide "Confidence intervals" (section 4).
* **Proportion** ``x / n x multiplier`` (``phe_proportion``): Wilson (1927) score limits, the
  same formula as ``wilson_lower`` / ``wilson_upper`` (Newcombe & Altman 2000), scaled by the
  multiplier (1, 100 for a percentage, 100,000 per 100,000).
* **Directly standardised rate** (``calculate_dsr``): ``DSR = sum(w_i O_i / n_i) / sum(w_i)``
  with standard population weights ``w_i``; Dobson et al. (1991) limits
  ``DSR + sqrt(var(DSR) / O) (O_limit - O)`` with ``O = sum O_i``, ``O_limit`` Byar's limits for
  ``O`` and ``var(DSR) = sum(w_i^2 O_i / n_i^2) / (sum w_i)^2``. Not reported when ``O < 10``
  (PHE's rule: the approximation is poor). With **non-independent events** (a person can have
  several events: ``independent_events = FALSE``), ``O`` counts events but the variance is
  built from persons: ``var = sum_f f^2 var_f`` where ``var_f`` is the variance formula applied
  to the number of persons with exactly ``f`` events in each age band (``calculate_dsr``'s
  ``eventfreq`` / ``ageband`` adjustment; UKHSA "Commonly used public health statistics",
  DSR section).

Confidence is given as a fraction (0.95) or a percentage (95), between 90% and 100% as the
package requires; two levels give columns ``lower95_0cl``, ``upper95_0cl``, ``lower99_8cl``,
``upper99_8cl`` as the package names them.

References
----------
Breslow NE, Day NE. Statistical methods in cancer research, volume II: the design and analysis
of cohort studies. Lyon: IARC; 1987.
Armitage P, Berry G. Statistical methods in medical research (4th edn). Oxford: Blackwell; 2002.
Dobson AJ, Kuulasmaa K, Eberle E, Scherer J. Confidence intervals for weighted sums of Poisson
parameters. Stat Med 1991;10:457-462.
Wilson EB. Probable inference, the law of succession, and statistical inference. J Am Stat
Assoc 1927;22:209-212.
Public Health England. Technical Guide: Confidence intervals (2018); Commonly used public health
statistics and their confidence intervals (2018).
UKHSA. PHEindicatormethods (R package), ``phe_rate``, ``phe_proportion``, ``calculate_dsr``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from .other_comparisons import poisson_interval

EXACT_BELOW = 10  # phe_rate / calculate_dsr: exact Poisson limits (rates), no DSR, below 10


def _levels(confidence) -> list[float]:
    """Confidence levels as fractions, checked as the package checks them (90% to 100%)."""
    levels = [confidence] if np.isscalar(confidence) else list(confidence)
    if not 1 <= len(levels) <= 2:
        raise ValueError("give one or two confidence levels, e.g. 0.95 or (0.95, 0.998)")
    out = []
    for c in levels:
        c = float(c)
        if not (0.9 <= c <= 1 or 90 <= c <= 100):
            raise ValueError(f"confidence {c!r} must be between 0.9 and 1 (or 90 and 100), "
                             "as in PHEindicatormethods")
        out.append(c / 100 if c >= 90 else c)
    return out


def _limit_names(levels: list[float]) -> list[tuple[str, str]]:
    """``(lowercl, uppercl)`` for one level; ``lower95_0cl`` ... for two, as the package."""
    if len(levels) == 1:
        return [("lowercl", "uppercl")]
    tags = [f"{100 * c:.1f}".replace(".", "_") for c in levels]
    return [(f"lower{t}cl", f"upper{t}cl") for t in tags]


def _z(level: float) -> float:
    return float(stats.norm.ppf(level + (1 - level) / 2))


def byars_interval(count, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Byar's approximate Poisson limits for observed counts (Breslow & Day 1987).

    Parameters
    ----------
    count : array_like
        Observed numbers of events (non-negative; NaN passes through).
    confidence : float
        0.9 to 1 (or 90 to 100).

    Returns
    -------
    (lower, upper) : arrays
        Limits for the count; ``lower`` is NaN where the formula goes negative (as
        ``byars_lower``, e.g. a count of 1 at 99.8%).
    """
    (level,) = _levels(confidence)
    o = np.asarray(count, dtype=float)
    if (o < 0).any():
        raise ValueError("observed events must all be zero or more")
    z = _z(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
    lower = np.where(lower < 0, np.nan, lower)
    upper = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3
    return lower, upper


def _exact_or_byars(count: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """phe_rate's limits for a count: exact Poisson below 10, Byar's from 10."""
    lower, upper = byars_interval(count, level)
    for i in np.flatnonzero(count < EXACT_BELOW):  # NaN compares False: stays NaN
        lower[i], upper[i] = poisson_interval(count[i], alpha=1 - level)
    return lower, upper


def _check_counts(x, n, label: str) -> tuple[np.ndarray, np.ndarray]:
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    if x.shape != n.shape:
        raise ValueError(f"{label}: numerators and denominators must have the same length")
    if (x < 0).any():
        raise ValueError(f"{label}: numerators must all be zero or more")
    if (n <= 0).any():
        raise ValueError(f"{label}: denominators must all be greater than zero")
    return x, n


def phe_rate(x, n, confidence=0.95, multiplier: float = 100_000) -> pd.DataFrame:
    """Crude rates with Byar's limits (exact Poisson limits below 10 events), as ``phe_rate``.

    Parameters
    ----------
    x, n : array_like
        Events and denominators (population or person-time); NaN gives a NaN row.
    confidence : float or pair
        e.g. 0.95, or (0.95, 0.998).
    multiplier : float
        Rate per ``multiplier`` (100,000 by default, as the package).

    Returns
    -------
    DataFrame
        ``value``, the limits, ``method`` ("Exact" below 10 events, else "Byars").
    """
    x, n = _check_counts(x, n, "phe_rate")
    levels = _levels(confidence)
    out = {"value": x / n * multiplier}
    for level, (lo_name, hi_name) in zip(levels, _limit_names(levels)):
        lower, upper = _exact_or_byars(x, level)
        out[lo_name], out[hi_name] = lower / n * multiplier, upper / n * multiplier
    out["method"] = np.where(np.isnan(x), None, np.where(x < EXACT_BELOW, "Exact", "Byars"))
    return pd.DataFrame(out)


def phe_proportion(x, n, confidence=0.95, multiplier: float = 1) -> pd.DataFrame:
    """Proportions with Wilson score limits, scaled by ``multiplier``, as ``phe_proportion``.

    ``multiplier`` 100 gives percentages, 100,000 a proportion per 100,000. The limits are
    statsmodels' Wilson interval (the same closed form as the package's ``wilson_lower`` /
    ``wilson_upper``, Wilson 1927), which also accepts a non-integer numerator.

    Returns
    -------
    DataFrame
        ``value``, the limits, ``method`` ("Wilson").
    """
    x, n = _check_counts(x, n, "phe_proportion")
    if (x > n).any():
        raise ValueError("phe_proportion: a numerator exceeds its denominator; a proportion "
                         "needs numerator <= denominator (use phe_rate for rates)")
    levels = _levels(confidence)
    out = {"value": x / n * multiplier}
    for level, (lo_name, hi_name) in zip(levels, _limit_names(levels)):
        lower, upper = proportion_confint(x, n, alpha=1 - level, method="wilson")
        out[lo_name] = np.asarray(lower, float) * multiplier
        out[hi_name] = np.asarray(upper, float) * multiplier
    out["method"] = "Wilson"
    return pd.DataFrame(out)


def _dsr_variance(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """``sum(w^2 O / n^2) / (sum w)^2`` by group: the variance of a DSR (no multiplier)."""
    sq = frame["_x"] * (frame["_w"] / frame["_n"]) ** 2
    parts = frame.assign(_sq=sq).groupby(keys, sort=True)
    return parts["_sq"].sum() / parts["_w"].sum() ** 2


def _require_columns(data: pd.DataFrame, columns: dict) -> None:
    for role, col in columns.items():
        if col not in data.columns:
            raise ValueError(f"calculate_dsr: {role} column {col!r} is not in the data "
                             f"(columns: {', '.join(map(str, data.columns))})")
        if not pd.api.types.is_numeric_dtype(data[col]) and role in ("x", "n", "stdpop",
                                                                       "eventfreq"):
            raise ValueError(f"calculate_dsr: {role} column {col!r} must be numeric")


def calculate_dsr(data: pd.DataFrame, x: str, n: str, stdpop: str,
                  by: Sequence[str] = (), confidence=0.95, multiplier: float = 100_000,
                  independent_events: bool = True, eventfreq: str | None = None,
                  ageband: str | None = None) -> pd.DataFrame:
    """Directly standardised rates with Dobson limits, as ``PHEindicatormethods::calculate_dsr``.

    Parameters
    ----------
    data : DataFrame
        One row per age band (and group in ``by``); with ``independent_events=False``, one
        row per age band and event frequency, ``x`` being the number of *persons* with
        ``eventfreq`` events.
    x, n, stdpop : str
        Columns of events (persons), population and standard population (e.g. ESP 2013).
        Missing ``x`` counts as zero.
    by : sequence of str
        Grouping columns (one DSR per group).
    confidence : float or pair
        e.g. 0.95, or (0.95, 0.998).
    multiplier : float
        DSR per ``multiplier`` (100,000 by default).
    independent_events : bool
        False: events are not independent (people have several); the variance is summed over
        event frequencies, ``sum_f f^2 var_f`` (Dobson's variance of each frequency's persons).
    eventfreq, ageband : str
        Columns of event frequency and age band, required when ``independent_events=False``.

    Returns
    -------
    DataFrame
        ``by`` columns, ``total_count`` (events), ``total_pop``, ``value``, the limits
        (NaN when ``total_count < 10``), ``method``.
    """
    by = list(by)
    roles = {"x": x, "n": n, "stdpop": stdpop, **{f"by[{i}]": c for i, c in enumerate(by)}}
    if not independent_events:
        if eventfreq is None or ageband is None:
            raise ValueError("calculate_dsr: independent_events=False needs the eventfreq and "
                             "ageband columns")
        roles.update(eventfreq=eventfreq, ageband=ageband)
    _require_columns(data, roles)
    frame = pd.DataFrame({"_x": data[x].astype(float).fillna(0.0), "_n": data[n].astype(float),
                          "_w": data[stdpop].astype(float)})
    for c in by:
        frame[c] = data[c].to_numpy()
    if frame["_n"].isna().any() or frame["_w"].isna().any():
        raise ValueError(f"calculate_dsr: {n!r} and {stdpop!r} must have no missing values")
    if (frame["_x"] < 0).any():
        raise ValueError(f"calculate_dsr: {x!r} must be zero or more in every row")
    if (frame["_n"] <= 0).any():
        raise ValueError(f"calculate_dsr: {n!r} must be greater than zero in every row")
    if (frame["_w"] < 0).any():
        raise ValueError(f"calculate_dsr: {stdpop!r} must be zero or more in every row")
    if multiplier <= 0:
        raise ValueError("calculate_dsr: multiplier must be greater than zero")
    levels = _levels(confidence)
    keys = by or ["_all"]
    if not by:
        frame["_all"] = 0

    if independent_events:
        variance = _dsr_variance(frame, keys)
        method = "Dobson"
    else:
        frame["_f"] = data[eventfreq].astype(float).to_numpy()
        frame["_band"] = data[ageband].to_numpy()
        if frame["_f"].isna().any():
            raise ValueError(f"calculate_dsr: {eventfreq!r} must have no missing values")
        bands = frame.groupby(keys + ["_band"])[["_n", "_w"]].nunique()
        if (bands > 1).any(axis=None):
            raise ValueError("calculate_dsr: rows with the same group and age band have "
                             f"different {n!r} or {stdpop!r}")
        per_freq = _dsr_variance(frame, keys + ["_f"]).reset_index(name="_v")
        per_freq["_v"] *= per_freq["_f"] ** 2
        variance = per_freq.groupby(keys)["_v"].sum()
        frame = (frame.assign(_x=frame["_x"] * frame["_f"])
                 .groupby(keys + ["_band"], as_index=False)
                 .agg(_x=("_x", "sum"), _n=("_n", "first"), _w=("_w", "first")))
        method = "Dobson, with confidence adjusted for non-independent events"

    grouped = frame.assign(_wr=frame["_x"] * frame["_w"] / frame["_n"]).groupby(keys)
    out = pd.DataFrame({"total_count": grouped["_x"].sum(), "total_pop": grouped["_n"].sum()})
    out["value"] = grouped["_wr"].sum() / grouped["_w"].sum() * multiplier
    count = out["total_count"].to_numpy()
    scale = np.sqrt(variance.reindex(out.index).to_numpy() / count) * multiplier
    for level, (lo_name, hi_name) in zip(levels, _limit_names(levels)):
        lower, upper = byars_interval(count, level)
        out[lo_name] = out["value"] + scale * (lower - count)
        out[hi_name] = out["value"] + scale * (upper - count)
    small = count < EXACT_BELOW
    estimates = [c for c in out.columns if c not in ("total_count", "total_pop")]
    out.loc[small, estimates] = np.nan
    out["method"] = method
    out["note"] = np.where(small, "DSR not calculated: total count < 10", "")
    out = out.reset_index()
    return out.drop(columns="_all") if not by else out
