"""Statistical process control (SPC) in the NHS England "Making Data Count" (MDC) style.

Pure functions on DataFrames (no files, no params):

* :func:`xmr_chart` - XmR (individuals) chart for rates, counts or any monthly value:
  centre = mean, limits = mean +/- 2.66 x mean moving range, with optional screening of
  moving ranges at 3.267 x mean moving range (``screen_outliers``).
* :func:`p_chart` - p-chart for proportions, limits p_bar +/- 3 sqrt(p_bar (1 - p_bar) / n_i),
  or, with ``laney=True``, Laney's p'-chart: limits p_bar +/- 3 sigma_pi sigma_z where
  sigma_z = mean moving range of z_i / 1.128 and z_i = (p_i - p_bar) / sigma_pi.
* :func:`spc_chart` - one entry point that dispatches on ``chart="xmr"|"p"|"pprime"``.

Every chart applies the MDC special-cause rules within each phase (a ``rebase_at`` month starts
a new phase with its own centre line and limits) and returns an :class:`SPCResult`.

The calculations follow the R package NHSRplotthedots (NHS-R Community), the open
implementation of MDC: ``R/ptd_spc_standard.R`` (limits, screening, 2-sigma zone),
``R/ptd_calculate_point_type.R`` (rules and point types, after pull request #180, 2023, which
classifies trend points by the direction of the trend), ``R/ptd_calculate_assurance_type.R``
(assurance), ``R/ptd_add_short_group_warnings.R`` (fewer than 12 points) and
``R/geom_ptd_icon.R`` (the variation icon is the latest point's type).

Rules (``RULES``), each evaluated within a phase:

* ``outside_limits`` - a point above the upper or below the lower process limit (strictly).
* ``shift`` - a run of 7 (``shift_run``) consecutive points on the same side of the centre
  line; a point exactly on the centre line breaks the run. Every point of the run is flagged.
* ``trend`` - 7 (``trend_run``) consecutive points each higher (or each lower) than the one
  before (6 consecutive differences of one sign; a tie breaks the trend). NHSRplotthedots and
  the MDC guidance use 7 points. Every point of the trend is flagged.
* ``two_in_three`` - two out of three consecutive points in the zone between 2 sigma and the
  process limit, with all three points on the same side of the centre line; the points in the
  zone are flagged (NHSRplotthedots: points beyond the limits do not count towards it, and
  the third point is not flagged).

A flagged point's direction is "high" or "low": for ``trend`` the direction of the trend, for
the others the side of the centre line; with ``improvement`` it gives the point type
``special_cause_improvement`` / ``special_cause_concern``, or ``special_cause_neither`` when
``improvement="neutral"`` (MDC's purple). When several rules flag a point, the reported rule
is the first of outside_limits, trend, two_in_three, shift (NHSRplotthedots' order).

References
----------
NHS England / NHS Improvement. Making Data Count: getting started (2019) and Making Data
Count: strengthening your decisions (2021).
NHS-R Community. NHSRplotthedots: draw XmR charts for NHSE/I "Making Data Count".
https://github.com/nhs-r-community/NHSRplotthedots
Wheeler DJ. Understanding Variation: The Key to Managing Chaos, 2nd ed. SPC Press, 2000.
Nelson LS. Control charts for individual measurements. J Qual Technol 1982;14:172-173.
Laney DB. Improved control charts for attributes. Qual Eng 2002;14(4):531-537.
Montgomery DC. Introduction to Statistical Quality Control, 6th ed. Wiley, 2009.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from pipeline import periods

#: Scaling factor for XmR limits: 3 / d2 with d2 = 1.128 for moving ranges of 2 (MDC uses 2.66).
XMR_LIMIT = 2.66
#: 2-sigma zone of an XmR chart, as NHSRplotthedots: 2 x (2.66 / 3).
XMR_LIMIT_2S = 2 * XMR_LIMIT / 3
#: Upper range limit: moving ranges at or above 3.267 x mean MR are screened out (D4 for n=2).
MR_SCREEN = 3.267
#: d2 for moving ranges of two observations (Laney's sigma_z = mean MR(z) / d2).
D2 = 1.128
#: NHSRplotthedots warns when a phase has fewer points than this: its
#: ``ptd_add_short_group_warnings`` flags ``dplyr::n() < warning_threshold`` with the default
#: ``getOption("ptd_spc.warning_threshold", 13)``, so a phase of 12 points or fewer is short.
SHORT_PHASE = 13
RULES = ("outside_limits", "trend", "two_in_three", "shift")
IMPROVEMENT = ("increase", "decrease", "neutral")

VARIATION_LABELS = {
    "common_cause": "Common cause variation: no significant change",
    "improvement_high": "Special cause variation – improvement (higher values)",
    "improvement_low": "Special cause variation – improvement (lower values)",
    "concern_high": "Special cause variation – concern (higher values)",
    "concern_low": "Special cause variation – concern (lower values)",
    "neither_high": "Special cause variation – neither improvement nor concern (higher values)",
    "neither_low": "Special cause variation – neither improvement nor concern (lower values)",
}
ASSURANCE_LABELS = {
    "pass_consistently": "The process will consistently pass the target",
    "fail_consistently": "The process will consistently fail the target",
    "hit_and_miss": "The process will hit and miss the target (the target lies within the "
                    "process limits)",
}
CHART_NAMES = {"xmr": "XmR (individuals) chart", "p": "p-chart", "pprime": "Laney p′-chart"}


@dataclass
class SPCResult:
    """Result of an SPC chart.

    Attributes
    ----------
    data : DataFrame
        One row per month: ``month, value, [numerator, n,] centre, lower, upper, lower_2s,
        upper_2s, phase, phase_start, side, outside_limits, trend, two_in_three, shift,
        special_cause, rule, direction, point_type``. ``value`` is the charted value (the
        proportion for p-charts), ``n`` the denominator, ``side`` the sign of
        ``value - centre``, the rule columns are booleans, ``rule`` names the reported rule
        ("" for common cause), ``direction`` is "high", "low" or "".
    phases : DataFrame
        One row per phase: ``phase, start, end, n_points, n_baseline, centre, mean_moving_range
        (XmR), sigma_z (p'), short_phase``.
    chart : str
        ``"xmr"``, ``"p"`` or ``"pprime"``.
    improvement : str
        ``"increase"``, ``"decrease"`` or ``"neutral"``.
    target : float or None
    variation_icon, variation_label : str
        Code (a key of :data:`VARIATION_LABELS`) and plain label for the latest point.
    assurance_icon, assurance_label : str or None
        Code (a key of :data:`ASSURANCE_LABELS`) and label; None without a target or when
        the improvement direction is neutral.
    summary_sentence : str
        One plain-English sentence on the latest point (and the assurance when given).
    warnings : list of str
    settings : dict
        The options used (rule lengths, screening, fix_after, rebase months).
    """

    data: pd.DataFrame
    phases: pd.DataFrame
    chart: str
    improvement: str
    target: float | None
    variation_icon: str
    variation_label: str
    assurance_icon: str | None
    assurance_label: str | None
    summary_sentence: str
    warnings: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def chart_name(self) -> str:
        return CHART_NAMES[self.chart]

    @property
    def assurance_note(self) -> str:
        """The assurance in words, or that there is no target (so no assurance icon)."""
        if self.target is None:
            return "Assurance: no target set, so there is no assurance icon."
        if self.assurance_label is None:
            return "Assurance: not assessed, because neither direction counts as improvement."
        return f"Assurance: {self.assurance_label[0].lower()}{self.assurance_label[1:]}."

    @property
    def period(self) -> str:
        """``month``, ``week``, ``quarter`` or ``year`` (docs/adr/0130)."""
        return self.settings.get("period", "month")

    @property
    def time_column(self) -> str:
        """The data's time column: ``month``, or the period's name."""
        return self.period

    @property
    def is_proportion(self) -> bool:
        return self.chart in ("p", "pprime")

    def summary(self) -> pd.DataFrame:
        """Per phase: centre, limits at the last point, points by type (as ptd's summary)."""
        d = self.data
        rows = []
        for ph, g in d.groupby("phase", sort=True):
            rows.append({
                "phase": ph, "start": g[self.time_column].iloc[0], "n": len(g),
                "centre": g["centre"].iloc[0], "lower": g["lower"].iloc[-1],
                "upper": g["upper"].iloc[-1],
                "common_cause": int((g["point_type"] == "common_cause").sum()),
                "special_cause_improvement":
                    int((g["point_type"] == "special_cause_improvement").sum()),
                "special_cause_concern": int((g["point_type"] == "special_cause_concern").sum()),
                "special_cause_neither": int((g["point_type"] == "special_cause_neither").sum()),
                "variation_type": g["point_type"].iloc[-1],
            })
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Rules (vectors of one phase). Names and behaviour mirror NHSRplotthedots'
# ptd_seven_point_one_side_mean, ptd_seven_point_trend, ptd_part_of_seven_trend and
# ptd_two_in_three / ptd_part_of_two_in_three, with the run length as a parameter.
# --------------------------------------------------------------------------------------------

def run_ends_one_side(side: Iterable[float], run: int = 7) -> np.ndarray:
    """1 where point i closes a run of ``run`` points with the same non-zero side (else 0)."""
    s = np.sign(np.asarray(side, dtype=float))
    out = np.zeros(len(s))
    for i in range(run - 1, len(s)):
        w = s[i - run + 1:i + 1]
        if s[i] != 0 and np.all(w == s[i]):
            out[i] = 1
    return out


def trend_ends(y: Iterable[float], run: int = 7) -> np.ndarray:
    """+1 / -1 where point i closes ``run`` strictly increasing / decreasing points, else 0."""
    y = np.asarray(y, dtype=float)
    out = np.zeros(len(y))
    for i in range(run - 1, len(y)):
        d = np.sign(np.diff(y[i - run + 1:i + 1]))
        if np.all(d == 1):
            out[i] = 1
        elif np.all(d == -1):
            out[i] = -1
    return out


def part_of_run(ends: Iterable[float], run: int = 7) -> np.ndarray:
    """True for every point of a run: point i or one of the next ``run - 1`` points ends one."""
    e = np.abs(np.asarray(ends, dtype=float)) == 1
    out = np.zeros(len(e), dtype=bool)
    for j in np.flatnonzero(e):
        out[max(j - run + 1, 0):j + 1] = True
    return out


def two_in_three(close: Iterable[bool], side: Iterable[float]) -> np.ndarray:
    """1 where point i is in a window of 3 consecutive points with >= 2 close to a limit and
    all 3 on the same side of the centre line (NHSRplotthedots' ``ptd_two_in_three``)."""
    v = np.asarray(close, dtype=float)
    s = np.sign(np.asarray(side, dtype=float))
    n = len(v)
    out = np.zeros(n)
    for start in range(0, n - 2):
        if v[start:start + 3].sum() >= 2 and abs(s[start:start + 3].sum()) == 3:
            out[start:start + 3] = 1
    return out


def special_cause_rules(y, side, close, outside, shift_run: int = 7,
                        trend_run: int = 7) -> pd.DataFrame:
    """Evaluate every rule on one phase; returns flags, reported rule and direction."""
    y = np.asarray(y, dtype=float)
    side = np.sign(np.asarray(side, dtype=float))
    close = np.asarray(close, dtype=bool)
    outside = np.asarray(outside, dtype=bool)
    shift = part_of_run(run_ends_one_side(side, shift_run), shift_run)
    trend = part_of_run(trend_ends(y, trend_run), trend_run)
    tit = (two_in_three(close, side) == 1) & close
    # trend direction as NHSRplotthedots: the step to the next point when that point is also
    # part of a trend, else the step from the previous point
    n = len(y)
    step = np.sign(np.diff(y))
    nxt = np.append(step, step[-1] if n > 1 else 0.0)
    prv = np.insert(step, 0, 0.0)
    both = trend & np.append(trend[1:], False)
    trend_dir = np.where(both, nxt, prv)
    rule = np.select([outside, trend, tit, shift], list(RULES), default="")
    sign = np.select([outside, trend, tit, shift], [side, trend_dir, side, side], default=0.0)
    direction = np.select([sign > 0, sign < 0], ["high", "low"], default="")
    return pd.DataFrame({"outside_limits": outside, "trend": trend, "two_in_three": tit,
                         "shift": shift, "special_cause": rule != "", "rule": rule,
                         "direction": direction})


def point_types(direction: pd.Series, improvement: str) -> pd.Series:
    """Point type from the direction of a special cause and the improvement direction."""
    good = {"increase": "high", "decrease": "low"}.get(improvement)
    out = pd.Series("common_cause", index=direction.index, dtype=object)
    flagged = direction != ""
    if good is None:
        out[flagged] = "special_cause_neither"
    else:
        out[flagged & (direction == good)] = "special_cause_improvement"
        out[flagged & (direction != good)] = "special_cause_concern"
    return out


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------

def _to_month(values, period: str = "month") -> pd.Series:
    """Period starts (Timestamps) of dates; weeks, quarters and years must be given by their
    first day (:func:`pipeline.periods.ordinals`), months by any date in them."""
    if period != "month":
        ordinals = [periods.to_period(v, period, "rebase_at / baseline_before") for v in values]
        return pd.Series(periods.start_dates(ordinals, period))
    s = pd.Series(values)
    if isinstance(s.dtype, pd.PeriodDtype):
        s = s.dt.to_timestamp()
    return pd.to_datetime(s.astype(str) if s.dtype == object else s).dt.to_period("M") \
        .dt.to_timestamp()


def _when(stamp, period: str = "month", long: bool = True) -> str:
    """A period start in words (``January 2021``, ``2021 Q1``, ``2021``, ``the week of 4
    January 2021``) or short (``2021-01``, ``2021Q1``, ``2021``, ``2021-01-04``)."""
    if period == "month":
        return stamp.strftime("%B %Y" if long else "%Y-%m")
    if period == "week":
        return f"the week of {stamp.day} {stamp:%B %Y}" if long else f"{stamp:%Y-%m-%d}"
    if period == "quarter":
        return f"{stamp.year} Q{stamp.quarter}" if long else f"{stamp.year}Q{stamp.quarter}"
    return f"{stamp.year}"


def _prepare_periods(data: pd.DataFrame, month: str, columns: list[str],
                     period: str) -> pd.DataFrame:
    """:func:`_prepare` for weeks, quarters and years: starts checked, sorted, no repeats or
    gaps (runs and trends need consecutive periods)."""
    ordinals = periods.ordinals(data[month].reset_index(drop=True), period, "SPC data")
    order = np.argsort(ordinals, kind="stable")
    ordinals = ordinals[order]
    frame = data[columns].iloc[order].reset_index(drop=True)
    frame.insert(0, "month", periods.start_dates(ordinals, period))
    repeated = sorted({periods.label(o, period) for o in ordinals[1:][np.diff(ordinals) == 0]})
    if repeated:
        raise ValueError(f"SPC: one row per {period} is needed (aggregate units or strata "
                         f"first); repeated {period}s: {repeated}")
    if len(frame) < 2:
        raise ValueError(f"SPC: at least 2 {period}s are needed")
    gaps = sorted(set(range(ordinals[0], ordinals[-1] + 1)) - set(ordinals.tolist()))
    if gaps:
        raise ValueError(f"SPC: the {period}ly series has gaps (runs and trends need "
                         f"consecutive {period}s); missing: "
                         f"{[periods.label(g, period) for g in gaps]}")
    return frame


def _prepare(data: pd.DataFrame, month: str, columns: list[str],
             period: str = "month") -> pd.DataFrame:
    """The chart's columns with the time column renamed ``month`` and holding period starts
    (checked, sorted, consecutive) and finite values."""
    if period not in periods.PERIODS:
        raise ValueError(f"SPC: period must be one of {', '.join(periods.PERIODS)}, "
                         f"not {period!r}")
    missing = [c for c in [month, *columns] if c not in data.columns]
    if missing:
        raise ValueError(f"SPC: column(s) {missing} not in the data (columns: "
                         f"{list(data.columns)})")
    frame = (_prepare_months(data, month, columns) if period == "month"
             else _prepare_periods(data, month, columns, period))
    for c in columns:
        bad = frame.loc[~np.isfinite(frame[c].astype(float)), "month"]
        if len(bad):
            raise ValueError(f"SPC: column {c!r} is missing or not finite in {period}s "
                             f"{[_when(m, period, False) for m in bad]}")
    return frame


def _prepare_months(data: pd.DataFrame, month: str, columns: list[str]) -> pd.DataFrame:
    """One row per month, sorted, no repeats or gaps (any date stands for its month)."""
    frame = data[[month, *columns]].copy()
    frame.columns = ["month", *columns]
    frame["month"] = _to_month(frame["month"]).to_numpy()
    frame = frame.sort_values("month").reset_index(drop=True)
    dup = frame["month"][frame["month"].duplicated()]
    if len(dup):
        raise ValueError("SPC: one row per month is needed (aggregate units or strata first); "
                         f"repeated months: {sorted({m.strftime('%Y-%m') for m in dup})}")
    if len(frame) < 2:
        raise ValueError("SPC: at least 2 months are needed")
    full = pd.period_range(frame["month"].iloc[0], frame["month"].iloc[-1], freq="M")
    have = set(frame["month"].dt.to_period("M"))
    gaps = [str(p) for p in full if p not in have]
    if gaps:
        raise ValueError(f"SPC: the monthly series has gaps (runs and trends need consecutive "
                         f"months); missing: {gaps}")
    return frame


def _phases(months: pd.Series, rebase_at, period: str = "month") -> np.ndarray:
    if rebase_at is None:
        return np.zeros(len(months), dtype=int)
    starts = sorted(set(_to_month(list(rebase_at), period)))
    known = set(months)
    unknown = [_when(s, period, False) for s in starts if s not in known]
    if unknown:
        raise ValueError(f"SPC: rebase {period}(s) {unknown} not in the data "
                         f"({_when(months.iloc[0], period, False)} to "
                         f"{_when(months.iloc[-1], period, False)})")
    flag = months.isin(starts) & (months != months.iloc[0])
    return np.cumsum(flag.to_numpy()).astype(int)


def _check_options(improvement, shift_run, trend_run, fix_after, target):
    if improvement not in IMPROVEMENT:
        raise ValueError(f"SPC: improvement must be one of {IMPROVEMENT}, not {improvement!r}")
    for name, v in (("shift_run", shift_run), ("trend_run", trend_run)):
        if not isinstance(v, (int, np.integer)) or v < 2:
            raise ValueError(f"SPC: {name} must be an integer >= 2, not {v!r}")
    if fix_after is not None and (not isinstance(fix_after, (int, np.integer)) or fix_after < 2):
        raise ValueError(f"SPC: fix_after must be None or an integer >= 2, not {fix_after!r}")
    if target is not None and not np.isfinite(float(target)):
        raise ValueError(f"SPC: target must be a finite number, not {target!r}")


# --------------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------------

def _xmr_limits(y: np.ndarray, fix_after: int | None, screen: bool) -> dict:
    """Limits of one phase exactly as NHSRplotthedots' ptd_spc_standard."""
    k = len(y) if fix_after is None else min(fix_after, len(y))
    base = y[:k]
    mean = float(base.mean())
    mr = np.abs(np.diff(base))
    amr = float(mr.mean()) if len(mr) else np.nan
    if screen and len(mr):
        kept = mr[mr < MR_SCREEN * amr]
        amr = float(kept.mean()) if len(kept) else amr
    n = len(y)
    return {"centre": np.full(n, mean), "lower": np.full(n, mean - XMR_LIMIT * amr),
            "upper": np.full(n, mean + XMR_LIMIT * amr),
            "lower_2s": np.full(n, mean - XMR_LIMIT_2S * amr),
            "upper_2s": np.full(n, mean + XMR_LIMIT_2S * amr),
            "n_baseline": k, "mean_moving_range": amr, "sigma_z": np.nan}


def _p_limits(x: np.ndarray, n: np.ndarray, fix_after: int | None, laney: bool) -> dict:
    """p-chart (Montgomery 2009, 7.2) or Laney (2002) p'-chart limits for one phase."""
    k = len(x) if fix_after is None else min(fix_after, len(x))
    pbar = float(x[:k].sum() / n[:k].sum())
    sigma = np.sqrt(pbar * (1 - pbar) / n)
    sigma_z = np.nan
    if laney:
        p = x / n
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (p[:k] - pbar) / sigma[:k]
        mrz = np.abs(np.diff(z))
        sigma_z = float(np.mean(mrz) / D2) if len(mrz) and np.all(np.isfinite(mrz)) else np.nan
        if not np.isfinite(sigma_z):
            raise ValueError("SPC: Laney p' needs 0 < p_bar < 1 and at least 2 baseline months")
        sigma = sigma * sigma_z
    return {"centre": np.full(len(x), pbar),
            "lower": np.clip(pbar - 3 * sigma, 0, 1), "upper": np.clip(pbar + 3 * sigma, 0, 1),
            "lower_2s": np.clip(pbar - 2 * sigma, 0, 1),
            "upper_2s": np.clip(pbar + 2 * sigma, 0, 1),
            "n_baseline": k, "mean_moving_range": np.nan, "sigma_z": sigma_z}


# --------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------

def xmr_chart(data: pd.DataFrame, value: str = "value", month: str = "month", *,
              improvement: str = "increase", rebase_at: Iterable | None = None,
              target: float | None = None, screen_outliers: bool = True,
              fix_after: int | None = None, shift_run: int = 7,
              trend_run: int = 7, baseline_before=None, period: str = "month") -> SPCResult:
    """XmR (individuals) chart with the Making Data Count rules.

    Parameters
    ----------
    data : DataFrame
        One row per month, no gaps, with ``month`` (date, Period or "YYYY-MM") and ``value``
        (a count, a rate - e.g. ``numerator / denominator * 1000`` - or any measure).
    value, month : str
        Column names.
    improvement : {"increase", "decrease", "neutral"}
        Which direction is better (NHSRplotthedots' default is "increase").
    rebase_at : list of months, optional
        First month of each new phase; centre line and limits are recalculated per phase and
        the rules never run across a rebase.
    target : float, optional
        Gives the assurance icon (not with ``improvement="neutral"``).
    screen_outliers : bool
        Drop moving ranges >= 3.267 x mean moving range before recomputing it (Nelson 1982;
        NHSRplotthedots' default True).
    fix_after : int, optional
        Compute each phase's centre and limits from its first ``fix_after`` points only
        (NHSRplotthedots' ``fix_after_n_points``), and extend them.
    shift_run, trend_run : int
        Points needed for a shift and a trend (MDC and NHSRplotthedots: 7 and 7).
    baseline_before : month, optional
        Making Data Count's "baseline carried forward": the centre line and limits of the
        first phase come from the months before this one (the baseline) and are extended over
        the later months, which are judged against them, so a sustained change after it is a
        special cause. This is NHSRplotthedots' ``fix_after_n_points`` set to the number of
        baseline months (docs/adr/0080). Cannot be combined with ``fix_after``; a
        ``rebase_at`` month must come after it.
    period : {"month", "week", "quarter", "year"}
        The series' period (docs/adr/0130): the ``month`` column then holds the first day of
        each week (a Monday), quarter or year, and so do ``rebase_at`` and
        ``baseline_before``. Limits and rules do not depend on it (they count points, and a
        phase of fewer than 13 points is short whatever the period); labels and sentences
        name the period, and the data's time column is named after it.

    Returns
    -------
    SPCResult

    Examples
    --------
    >>> d = pd.DataFrame({"month": pd.period_range("2021-01", periods=5, freq="M"),
    ...                   "value": [10, 12, 11, 14, 13]})
    >>> r = xmr_chart(d, screen_outliers=False)
    >>> float(r.data["centre"][0]), round(float(r.data["upper"][0]), 3)
    (12.0, 16.655)
    """
    _check_options(improvement, shift_run, trend_run, fix_after, target)
    frame = _prepare(data, month, [value], period).rename(columns={value: "value"})
    frame["value"] = frame["value"].astype(float)

    def limits(g, k):
        return _xmr_limits(g["value"].to_numpy(), k, screen_outliers)

    return _finish(frame, "xmr", limits, improvement, rebase_at, target, shift_run, trend_run,
                   {"screen_outliers": screen_outliers, "fix_after": fix_after, "period": period},
                   baseline_before)


def p_chart(data: pd.DataFrame, numerator: str = "numerator",
            denominator: str = "denominator", month: str = "month", *, laney: bool = False,
            improvement: str = "increase", rebase_at: Iterable | None = None,
            target: float | None = None, fix_after: int | None = None, shift_run: int = 7,
            trend_run: int = 7, baseline_before=None, period: str = "month",
            per: int | None = None) -> SPCResult:
    """p-chart (or Laney p'-chart with ``laney=True``) of a monthly proportion.

    ``value = numerator / denominator``; the centre line is the pooled proportion
    ``sum(numerator) / sum(denominator)`` of the phase; limits are
    ``p_bar +/- 3 sigma_i`` with ``sigma_i = sqrt(p_bar (1 - p_bar) / n_i)``, times
    ``sigma_z`` for p' (Laney 2002), clipped to [0, 1]; the 2-sigma zone uses 2 instead of 3.
    ``target`` is a proportion (0-1). Other parameters (``baseline_before`` among them) as
    :func:`xmr_chart`. Every denominator must be positive. ``per`` (e.g. 1000) states values
    in words as a rate per ``per`` (a count against a registered population) instead of
    percentages; it changes only the wording (``settings["per"]``), never the chart.
    """
    _check_options(improvement, shift_run, trend_run, fix_after, target)
    frame = _prepare(data, month, [numerator, denominator], period).rename(
        columns={numerator: "numerator", denominator: "n"})
    x, n = frame["numerator"].astype(float), frame["n"].astype(float)
    if (n <= 0).any() or (x < 0).any() or (x > n).any():
        bad = [_when(m, period, False) for m in frame.loc[(n <= 0) | (x < 0) | (x > n), "month"]]
        raise ValueError(f"SPC: p-charts need 0 <= numerator <= denominator and denominator > 0;"
                         f" bad {period}s: {bad}")
    frame["value"] = x / n
    frame = frame[["month", "value", "numerator", "n"]]

    def limits(g, k):
        return _p_limits(g["numerator"].to_numpy(float), g["n"].to_numpy(float), k, laney)

    return _finish(frame, "pprime" if laney else "p", limits, improvement, rebase_at, target,
                   shift_run, trend_run, {"fix_after": fix_after, "period": period, "per": per},
                   baseline_before)


def spc_chart(data: pd.DataFrame, chart: str = "xmr", **kwargs) -> SPCResult:
    """Dispatch: ``chart="xmr"`` -> :func:`xmr_chart`; ``"p"`` / ``"pprime"`` ->
    :func:`p_chart` (``laney`` set by the chart)."""
    if chart == "xmr":
        return xmr_chart(data, **kwargs)
    if chart in ("p", "pprime"):
        return p_chart(data, laney=chart == "pprime", **kwargs)
    raise ValueError(f"SPC: chart must be 'xmr', 'p' or 'pprime', not {chart!r}")


def _baseline_points(months: pd.Series, phase: np.ndarray, baseline_before,
                     fix_after, period: str = "month") -> int | None:
    """Number of months of the first phase before ``baseline_before`` (None without it)."""
    if baseline_before is None:
        return None
    if fix_after is not None:
        raise ValueError("SPC: give either baseline_before (limits from the months before it) "
                         "or fix_after (limits from the first n months), not both")
    start = _to_month([baseline_before], period)[0]
    k = int(((months < start) & (phase == 0)).sum())
    if start in set(months) and phase[(months == start).to_numpy()][0] != 0:
        raise ValueError(f"SPC: baseline_before {_when(start, period, False)} must come before "
                         f"the first rebase {period}")
    if k < 2 or start not in set(months):
        raise ValueError(f"SPC: baseline_before {_when(start, period, False)} must be a "
                         f"{period} of the data ({_when(months.iloc[0], period, False)} to "
                         f"{_when(months.iloc[-1], period, False)}) with at least 2 "
                         f"{period}s before it in the first phase; {k} found")
    return k


def _finish(frame, chart, limits, improvement, rebase_at, target, shift_run, trend_run,
            settings, baseline_before=None) -> SPCResult:
    period = settings.get("period", "month")
    frame["phase"] = _phases(frame["month"], rebase_at, period)
    n_base = _baseline_points(frame["month"], frame["phase"].to_numpy(), baseline_before,
                              settings.get("fix_after"), period)
    parts, phase_rows, warnings = [], [], []
    for ph, g in frame.groupby("phase", sort=True):
        g = g.copy()
        lim = limits(g, n_base if (ph == 0 and n_base) else settings.get("fix_after"))
        for c in ("centre", "lower", "upper", "lower_2s", "upper_2s"):
            g[c] = lim[c]
        g["phase_start"] = g["month"].iloc[0]
        y = g["value"].to_numpy()
        side = np.sign(y - g["centre"].to_numpy())
        outside = (y > g["upper"].to_numpy()) | (y < g["lower"].to_numpy())
        close = ~outside & ((y < g["lower_2s"].to_numpy()) | (y > g["upper_2s"].to_numpy()))
        g["side"] = side.astype(int)
        rules = special_cause_rules(y, side, close, outside, shift_run, trend_run)
        rules.index = g.index
        parts.append(pd.concat([g, rules], axis=1))
        short = len(g) < SHORT_PHASE or (ph == 0 and n_base is not None
                                           and n_base < SHORT_PHASE)
        phase_rows.append({"phase": ph, "start": g["month"].iloc[0], "end": g["month"].iloc[-1],
                           "n_points": len(g), "n_baseline": lim["n_baseline"],
                           "centre": lim["centre"][0],
                           "mean_moving_range": lim["mean_moving_range"],
                           "sigma_z": lim["sigma_z"], "short_phase": short})
        if ph == 0 and n_base is not None and n_base < SHORT_PHASE:
            warnings.append(f"the baseline ({_when(g['month'].iloc[0], period)} to "
                            f"{_when(g['month'].iloc[n_base - 1], period)}) has {n_base} points, fewer "
                            f"than {SHORT_PHASE}: its limits are provisional")
        elif len(g) < SHORT_PHASE:
            warnings.append(f"phase {ph} (from {_when(g['month'].iloc[0], period)}) has {len(g)} points, "
                            f"fewer than {SHORT_PHASE}: its limits are provisional")
    out = pd.concat(parts).reset_index(drop=True)
    out["point_type"] = point_types(out["direction"], improvement)
    lead = ["month", "value"] + [c for c in ("numerator", "n") if c in out.columns]
    order = lead + ["centre", "lower", "upper", "lower_2s", "upper_2s", "phase", "phase_start",
                    "side", *RULES, "special_cause", "rule", "direction", "point_type"]
    out = out[order]
    phases = pd.DataFrame(phase_rows)
    if chart != "xmr":
        phases = phases.drop(columns="mean_moving_range")
    if chart != "pprime":
        phases = phases.drop(columns="sigma_z")
    v_code = variation_icon(out, improvement)
    a_code = assurance_icon(out, improvement, target)
    settings = {**settings, "shift_run": shift_run, "trend_run": trend_run,
                "rebase_at": [_when(m, period, False) for m in phases["start"].iloc[1:]],
                "baseline_before": (None if n_base is None
                                    else _when(out["month"].iloc[n_base], period, False)),
                "baseline_points": n_base}
    if period != "month":  # the time column is named after the period (docs/adr/0130)
        out = out.rename(columns={"month": period})
    result = SPCResult(out, phases, chart, improvement, None if target is None else float(target),
                       v_code, VARIATION_LABELS[v_code], a_code,
                       ASSURANCE_LABELS.get(a_code) if a_code else None, "", warnings, settings)
    result.summary_sentence = summary_sentence(result)
    return result


# --------------------------------------------------------------------------------------------
# Icons and sentence
# --------------------------------------------------------------------------------------------

def variation_icon(data: pd.DataFrame, improvement: str) -> str:
    """MDC variation icon of the latest point (as NHSRplotthedots' geom_ptd_icon)."""
    last = data.iloc[-1]
    if last["point_type"] == "common_cause":
        return "common_cause"
    kind = {"special_cause_improvement": "improvement", "special_cause_concern": "concern",
            "special_cause_neither": "neither"}[last["point_type"]]
    return f"{kind}_{last['direction']}"


def assurance_icon(data: pd.DataFrame, improvement: str, target: float | None) -> str | None:
    """MDC assurance icon: the target against the latest point's process limits
    (NHSRplotthedots' ptd_calculate_assurance_type); None without target or if neutral."""
    if target is None or improvement == "neutral":
        return None
    last = data.iloc[-1]
    inc = improvement == "increase"
    if target > last["upper"]:
        return "fail_consistently" if inc else "pass_consistently"
    if target < last["lower"]:
        return "pass_consistently" if inc else "fail_consistently"
    return "hit_and_miss"


def format_value(v: float, proportion: bool, per: int | None = None) -> str:
    """3 significant figures; proportions as percentages with one decimal, or as a rate per
    ``per`` when given ("1.52 per 1,000")."""
    if proportion and per:
        return f"{v * per:,.3g} per {per:,}"
    if proportion:
        return f"{v * 100:.1f}%" if abs(v) >= 0.01 or v == 0 else f"{v * 100:.2g}%"
    return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _trailing(values: np.ndarray) -> int:
    """Length of the run of identical values at the end of ``values``."""
    k = 1
    while k < len(values) and values[-k - 1] == values[-1]:
        k += 1
    return k


def summary_sentence(result: SPCResult) -> str:
    """Plain-English sentence on the latest point, the rule behind it and the assurance."""
    d = result.data.rename(columns={result.time_column: "month"})
    period = result.period
    last = d.iloc[-1]
    phase = d[d["phase"] == last["phase"]]
    when = _when(last["month"], period)
    prop = result.is_proportion
    after = (f" after the rebase in {_when(last['phase_start'], period)}" if last["phase"] > 0 else "")
    fmt = lambda v: format_value(v, prop, result.settings.get("per"))  # noqa: E731
    if not last["special_cause"]:
        if prop and phase["upper"].nunique() > 1:
            lims = f"limits at that {period} {fmt(last['lower'])} to {fmt(last['upper'])}"
        else:
            lims = f"process limits {fmt(last['lower'])} to {fmt(last['upper'])}"
        since = (f" since the rebase in {_when(last['phase_start'], period)}" if last["phase"] > 0
                 else "")
        text = (f"Common cause variation{since}: the latest {period} ({when}, "
                f"{fmt(last['value'])}) is within the process limits and no special-cause rule "
                f"is met (mean {fmt(last['centre'])}, {lims}).")
    else:
        kind = {"special_cause_improvement": "improvement", "special_cause_concern": "concern",
                "special_cause_neither": "neither improvement nor concern"}[last["point_type"]]
        rule = last["rule"]
        if rule == "outside_limits":
            which = "upper" if last["direction"] == "high" else "lower"
            what = (f"the latest {period} ({when}, {fmt(last['value'])}) is "
                    f"{'above' if which == 'upper' else 'below'} the {which} process limit "
                    f"({fmt(last[which])})")
        elif rule == "trend":
            steps = np.sign(np.diff(phase["value"].to_numpy()))
            k = _trailing(steps) + 1
            what = (f"the last {k} {period}s have each been "
                    f"{'higher' if last['direction'] == 'high' else 'lower'} than the {period} "
                    f"before, up to {when}")
        elif rule == "two_in_three":
            which = "upper" if last["direction"] == "high" else "lower"
            what = (f"two of the last three {period}s, up to {when}, are close to the {which} "
                    f"process limit (beyond 2 sigma)")
        else:
            k = _trailing(phase["side"].to_numpy())
            what = (f"the last {k} {period}s, up to {when}, are all "
                    f"{'above' if last['direction'] == 'high' else 'below'} the mean "
                    f"({fmt(last['centre'])})")
        text = f"Special cause variation – {kind}: {what}{after}."
    n_base = result.settings.get("baseline_points")
    if n_base and last["phase"] == 0:
        text += (f" The mean and limits come from the baseline, {_when(d['month'].iloc[0], period)} to "
                 f"{_when(d['month'].iloc[n_base - 1], period)} ({n_base} {period}s), and are carried "
                 f"forward: the later {period}s are judged against them.")
    if result.assurance_icon:
        text += " " + {
            "pass_consistently": f"The target ({fmt(result.target)}) lies outside the process "
                                 "limits on the passing side, so the process will consistently "
                                 "pass it if nothing changes.",
            "fail_consistently": f"The target ({fmt(result.target)}) lies outside the process "
                                 "limits on the failing side, so the process will consistently "
                                 "fail it unless the process changes.",
            "hit_and_miss": f"The target ({fmt(result.target)}) lies within the process limits, "
                            "so the process will sometimes hit and sometimes miss it.",
        }[result.assurance_icon]
    return text


__all__ = ["SPCResult", "xmr_chart", "p_chart", "spc_chart", "special_cause_rules",
           "run_ends_one_side", "trend_ends", "part_of_run", "two_in_three", "point_types",
           "variation_icon", "assurance_icon", "summary_sentence", "format_value",
           "VARIATION_LABELS", "ASSURANCE_LABELS", "RULES"]
