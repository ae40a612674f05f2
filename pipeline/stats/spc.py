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

from .spc_input import (check_chart_options, period_starts, period_words, phase_numbers,
                        prepare_chart_data)
from .spc_limits import p_limits, xmr_limits
from .spc_rules import RULES, point_types, special_cause_rules
from .spc_summary import (ASSURANCE_LABELS, VARIATION_LABELS, assurance_icon, summary_sentence,
                          variation_icon)

#: NHSRplotthedots warns when a phase has fewer points than this: its
#: ``ptd_add_short_group_warnings`` flags ``dplyr::n() < warning_threshold`` with the default
#: ``getOption("ptd_spc.warning_threshold", 13)``, so a phase of 12 points or fewer is short.
SHORT_PHASE = 13
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
    check_chart_options(improvement, shift_run, trend_run, fix_after, target)
    frame = prepare_chart_data(data, month, [value], period).rename(columns={value: "value"})
    frame["value"] = frame["value"].astype(float)

    def limits(g, k):
        return xmr_limits(g["value"].to_numpy(), k, screen_outliers)

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
    check_chart_options(improvement, shift_run, trend_run, fix_after, target)
    frame = prepare_chart_data(data, month, [numerator, denominator], period).rename(
        columns={numerator: "numerator", denominator: "n"})
    x, n = frame["numerator"].astype(float), frame["n"].astype(float)
    if (n <= 0).any() or (x < 0).any() or (x > n).any():
        bad = [period_words(m, period, False)
               for m in frame.loc[(n <= 0) | (x < 0) | (x > n), "month"]]
        raise ValueError(f"SPC: p-charts need 0 <= numerator <= denominator and denominator > 0;"
                         f" bad {period}s: {bad}")
    frame["value"] = x / n
    frame = frame[["month", "value", "numerator", "n"]]

    def limits(g, k):
        return p_limits(g["numerator"].to_numpy(float), g["n"].to_numpy(float), k, laney)

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
    start = period_starts([baseline_before], period)[0]
    k = int(((months < start) & (phase == 0)).sum())
    if start in set(months) and phase[(months == start).to_numpy()][0] != 0:
        raise ValueError(f"SPC: baseline_before {period_words(start, period, False)} must come "
                         f"before the first rebase {period}")
    if k < 2 or start not in set(months):
        raise ValueError(f"SPC: baseline_before {period_words(start, period, False)} must be a "
                         f"{period} of the data ({period_words(months.iloc[0], period, False)} to "
                         f"{period_words(months.iloc[-1], period, False)}) with at least 2 "
                         f"{period}s before it in the first phase; {k} found")
    return k


def _finish(frame, chart, limits, improvement, rebase_at, target, shift_run, trend_run,
            settings, baseline_before=None) -> SPCResult:
    period = settings.get("period", "month")
    frame["phase"] = phase_numbers(frame["month"], rebase_at, period)
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
            first, last = (period_words(g["month"].iloc[i], period) for i in (0, n_base - 1))
            warnings.append(f"the baseline ({first} to {last}) has {n_base} points, fewer "
                            f"than {SHORT_PHASE}: its limits are provisional")
        elif len(g) < SHORT_PHASE:
            first = period_words(g["month"].iloc[0], period)
            warnings.append(f"phase {ph} (from {first}) has {len(g)} points, "
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
                "rebase_at": [period_words(m, period, False) for m in phases["start"].iloc[1:]],
                "baseline_before": (None if n_base is None
                                    else period_words(out["month"].iloc[n_base], period, False)),
                "baseline_points": n_base}
    if period != "month":  # the time column is named after the period (docs/adr/0130)
        out = out.rename(columns={"month": period})
    result = SPCResult(out, phases, chart, improvement, None if target is None else float(target),
                       v_code, VARIATION_LABELS[v_code], a_code,
                       ASSURANCE_LABELS.get(a_code) if a_code else None, "", warnings, settings)
    result.summary_sentence = summary_sentence(result)
    return result


__all__ = ["SPCResult", "xmr_chart", "p_chart", "spc_chart", "CHART_NAMES", "SHORT_PHASE"]
