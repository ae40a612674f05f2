"""Making Data Count style SPC figure and its alt text.

``spc_figure(result, title, ylabel)`` draws an :class:`~pipeline.stats.spc.SPCResult`: the
monthly values as a grey line with points, the centre line solid and the process limits dashed
(recalculated, so stepping, at each rebase), special-cause points coloured by the MDC
convention - improvement blue, concern orange, neither (neutral) purple - with a distinct
marker for each so the chart does not rely on colour (Okabe-Ito palette), and the variation
(and assurance) icon drawn as a lettered circle in the top right corner (text only, no
images). An ITS counterfactual can be overlaid as a dashed line with its band.

``alt_text(result, title)`` gives a one-paragraph text alternative for the figure.
"""

from __future__ import annotations

from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from pipeline.palette import OKABE_ITO
from pipeline.stats.spc import CHART_NAMES, SPCResult
from pipeline.stats.spc_summary import format_value

LINE_GREY = "#7F7F7F"
DARK_GREY = "#595959"
POINT_STYLE = {  # point_type -> (colour, marker, legend label)
    "special_cause_improvement": (OKABE_ITO["blue"], "D", "Special cause – improvement"),
    "special_cause_concern": (OKABE_ITO["orange"], "s", "Special cause – concern"),
    "special_cause_neither": (OKABE_ITO["purple"], "^", "Special cause – neither"),
}
# icon code -> (letter, face colour, text colour)
VARIATION_ICONS = {
    "common_cause": ("~", DARK_GREY, "white"),
    "improvement_high": ("H", OKABE_ITO["blue"], "white"),
    "improvement_low": ("L", OKABE_ITO["blue"], "white"),
    "concern_high": ("H", OKABE_ITO["orange"], "black"),
    "concern_low": ("L", OKABE_ITO["orange"], "black"),
    "neither_high": ("H", OKABE_ITO["purple"], "black"),
    "neither_low": ("L", OKABE_ITO["purple"], "black"),
}
ASSURANCE_ICONS = {
    "pass_consistently": ("P", OKABE_ITO["blue"], "white"),
    "fail_consistently": ("F", OKABE_ITO["orange"], "black"),
    "hit_and_miss": ("?", DARK_GREY, "white"),
}
SHORT_VARIATION = {
    "common_cause": "common cause", "improvement_high": "improvement (high)",
    "improvement_low": "improvement (low)", "concern_high": "concern (high)",
    "concern_low": "concern (low)", "neither_high": "neither (high)",
    "neither_low": "neither (low)",
}
SHORT_ASSURANCE = {"pass_consistently": "passes consistently",
                   "fail_consistently": "fails consistently", "hit_and_miss": "hit and miss"}


def _default_scale(result: SPCResult, scale: float | None) -> float:
    if scale is not None:
        return float(scale)
    return float(result.settings.get("per") or 100) if result.is_proportion else 1.0


def _counterfactual_rows(cf: pd.DataFrame) -> pd.DataFrame:
    need = {"month", "counterfactual"}
    if not need <= set(cf.columns):
        raise ValueError(f"counterfactual needs columns {sorted(need)} (plus cf_low, cf_high for "
                         f"the band); got {list(cf.columns)}")
    for key in ("unit", "group"):
        if key in cf.columns and cf[key].nunique() > 1:
            raise ValueError(f"counterfactual has several {key}s {sorted(cf[key].unique())}: "
                             f"pass the rows of one series (e.g. the intervention group)")
    cf = cf.copy()
    cf["month"] = _months(cf["month"])
    cf = cf.sort_values("month").reset_index(drop=True)
    if "fitted" in cf.columns:  # ITSResult.series: counterfactual == fitted before the start
        post = ~np.isclose(cf["counterfactual"], cf["fitted"], rtol=1e-12, atol=0)
        if post.any():
            first = int(np.argmax(post))
            cf = cf.iloc[max(first - 1, 0):]
        else:
            cf = cf.iloc[0:0]
    return cf


def _months(values) -> pd.Series:
    """Any month representation (date, Period, "YYYY-MM") -> Timestamp of the first day."""
    s = pd.Series(list(values)) if not isinstance(values, pd.Series) else values
    if isinstance(s.dtype, pd.PeriodDtype):
        return s.dt.to_timestamp()
    return pd.to_datetime(s.astype(str) if s.dtype == object else s).dt.to_period("M") \
        .dt.to_timestamp()


def _icon(ax, x: float, letter: str, face: str, text: str) -> None:
    ax.annotate(letter, xy=(x, 1.035), xycoords="axes fraction", ha="center", va="bottom",
                fontsize=11, fontweight="bold", color=text, annotation_clip=False,
                bbox={"boxstyle": "circle,pad=0.35", "fc": face, "ec": face})


def _month_marker(ax, month: pd.Timestamp, text: str, first: pd.Timestamp,
                  last: pd.Timestamp) -> None:
    """A dotted vertical line half a month before ``month`` with a label inside the top of the
    axes, on a white box, so that it is never cut off by the axes or the figure edge."""
    x = month - pd.Timedelta(days=15)
    ax.axvline(x, color=DARK_GREY, lw=0.8, ls=":")
    right = (x - first) / (last - first) > 0.6  # a late marker: its label goes to its left
    ax.annotate(text, xy=(x, 0.97), xycoords=("data", "axes fraction"),
                xytext=(-3 if right else 3, 0), textcoords="offset points",
                ha="right" if right else "left", va="top", fontsize=9, color=DARK_GREY,
                annotation_clip=False, zorder=6,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})


def spc_figure(result: SPCResult, title: str, ylabel: str,
               counterfactual: pd.DataFrame | None = None, *, scale: float | None = None,
               hidden_months: Iterable | None = None, ax=None) -> Figure:
    """Draw an SPC chart in the Making Data Count style.

    Parameters
    ----------
    result : SPCResult
        From :func:`pipeline.stats.spc.xmr_chart` / ``p_chart`` / ``spc_chart``.
    title, ylabel : str
        Title and y-axis label (with units, e.g. "Per cent of eligible (%)").
    counterfactual : DataFrame, optional
        ``month, counterfactual[, cf_low, cf_high][, fitted]`` of ONE series, in the same
        units as ``result.data.value`` (e.g. ``ITSResult.series`` of a single-series fit, or
        its intervention-group rows); when ``fitted`` is present only the months where the
        counterfactual departs from the fit are drawn. Drawn dashed with its band.
    scale : float, optional
        Multiplier for every plotted value; default 100 for p-charts (per cent; the chart's
        ``per``, e.g. 1,000, for a rate against a population), else 1.
    hidden_months : iterable of months, optional
        Months whose values must not be shown (e.g. disclosure-suppressed counts); limits
        and centre lines are still drawn.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    k = _default_scale(result, scale)
    d = result.data.rename(columns={result.time_column: "month"})  # any period (docs/adr/0160)
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 4.4))
    else:
        fig = ax.figure
    shown = d["value"] * k
    if hidden_months is not None:
        hide = set(_months(hidden_months))
        shown = shown.where(~d["month"].isin(hide))
    varying = result.is_proportion and d.groupby("phase")["upper"].nunique().max() > 1
    step = "steps-mid" if varying else "default"
    handles = []
    span = (d["month"].iloc[0], d["month"].iloc[-1])
    for i, (ph, g) in enumerate(d.groupby("phase", sort=True)):
        m = g["month"]
        if len(g) == 1:  # a one-month phase: draw short ticks so its limits are visible
            m = pd.Series([m.iloc[0] - pd.Timedelta(days=12), m.iloc[0] + pd.Timedelta(days=12)])
            g = pd.concat([g, g])
        ax.plot(m, g["centre"].to_numpy() * k, "-", color="black", lw=1.3)
        ax.plot(m, g["upper"].to_numpy() * k, "--", color=DARK_GREY, lw=1.1, drawstyle=step)
        ax.plot(m, g["lower"].to_numpy() * k, "--", color=DARK_GREY, lw=1.1, drawstyle=step)
        if ph > 0:
            _month_marker(ax, g["month"].iloc[0], f"Rebase {g['month'].iloc[0]:%b %Y}",
                          *span)
    if result.settings.get("baseline_points"):
        start = d["month"].iloc[result.settings["baseline_points"]]
        _month_marker(ax, start, f"Start {start:%b %Y}: baseline limits carried forward", *span)
    handles += [Line2D([], [], color="black", lw=1.3, label="Mean"),
                Line2D([], [], color=DARK_GREY, lw=1.1, ls="--", label="Process limits")]

    if counterfactual is not None:
        cf = _counterfactual_rows(counterfactual)
        if len(cf):
            colour = OKABE_ITO["green"]
            if {"cf_low", "cf_high"} <= set(cf.columns):
                ax.fill_between(cf["month"], cf["cf_low"] * k, cf["cf_high"] * k, color=colour,
                                alpha=0.15, lw=0)
            ax.plot(cf["month"], cf["counterfactual"] * k, ls=(0, (5, 2)), color=colour, lw=1.6)
            handles.append(Line2D([], [], color=colour, lw=1.6, ls=(0, (5, 2)),
                                  label="ITS counterfactual (95% band)"))

    ax.plot(d["month"], shown, "-", color=LINE_GREY, lw=1.2, zorder=3)
    ax.plot(d["month"], shown, "o", color=LINE_GREY, ms=3.5, zorder=4)
    handles.insert(0, Line2D([], [], color=LINE_GREY, lw=1.2, marker="o", ms=3.5,
                             label="Monthly value"))
    for kind, (colour, marker, label) in POINT_STYLE.items():
        sel = (d["point_type"] == kind) & shown.notna()
        if sel.any():
            ax.plot(d.loc[sel, "month"], shown[sel], marker, color=colour, ms=6.5,
                    markeredgecolor="black", markeredgewidth=0.5, zorder=5, ls="none")
            handles.append(Line2D([], [], color=colour, marker=marker, ls="none", ms=6.5,
                                  markeredgecolor="black", markeredgewidth=0.5, label=label))
    if result.target is not None:
        ax.axhline(result.target * k, color="black", lw=1.0, ls="-.")
        handles.append(Line2D([], [], color="black", lw=1.0, ls="-.", label="Target"))

    if len(d["phase"].unique()) > 1 or result.settings.get("baseline_points"):
        lo, hi = ax.get_ylim()  # headroom so the start and rebase labels never cover a point
        ax.set_ylim(lo, hi + 0.12 * (hi - lo))

    # icons: lettered circles above the top right corner of the axes
    letter, face, text = VARIATION_ICONS[result.variation_icon]
    label = f"Variation: {SHORT_VARIATION[result.variation_icon]}"
    x = 0.985
    if result.assurance_icon:
        a_letter, a_face, a_text = ASSURANCE_ICONS[result.assurance_icon]
        _icon(ax, x, a_letter, a_face, a_text)
        x -= 0.05
        label += f"; assurance: {SHORT_ASSURANCE[result.assurance_icon]}"
    elif result.target is None:
        label += "; assurance: no target set"
    _icon(ax, x, letter, face, text)
    ax.annotate(label, xy=(x - 0.035, 1.045), xycoords="axes fraction", ha="right",
                va="bottom", fontsize=9, color="black", annotation_clip=False)

    ax.set_xlabel("Month")
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=11, pad=26)
    ax.legend(handles=handles, fontsize=9, ncol=3, frameon=False, loc="upper center",
              bbox_to_anchor=(0.5, -0.16))
    fig.tight_layout()
    return fig


def alt_text(result: SPCResult, title: str, *, unit: str = "") -> str:
    """One-paragraph alt text: what is charted, centre lines and limits per phase, the
    special-cause points, the icons and the summary sentence. ``unit`` follows each value
    of an XmR chart (e.g. " per 1,000"); p-chart values are given as percentages, or per
    the chart's ``per`` for a rate against a population."""
    d = result.data.rename(columns={result.time_column: "month"})
    prop = result.is_proportion

    def fmt(v):
        return format_value(v, prop, result.settings.get("per")) + ("" if prop else unit)

    first, last = d["month"].iloc[0], d["month"].iloc[-1]
    parts = [f"{CHART_NAMES[result.chart][0].upper()}{CHART_NAMES[result.chart][1:]} "
             f"titled “{title}”, showing {len(d)} monthly values from {first:%B %Y} to "
             f"{last:%B %Y} with the mean as a solid line and the process limits as dashed "
             "lines."]
    phase_text = []
    for ph, g in d.groupby("phase", sort=True):
        if g["upper"].nunique() > 1:
            lims = (f"limits varying with the monthly denominator, from "
                    f"{fmt(g['lower'].min())}–{fmt(g['upper'].max())} at their widest to "
                    f"{fmt(g['lower'].max())}–{fmt(g['upper'].min())} at their narrowest")
        else:
            lims = f"limits {fmt(g['lower'].iloc[0])} to {fmt(g['upper'].iloc[0])}"
        span = f"{g['month'].iloc[0]:%B %Y} to {g['month'].iloc[-1]:%B %Y}"
        phase_text.append(f"{span}: mean {fmt(g['centre'].iloc[0])}, {lims}")
    if result.settings.get("baseline_points"):
        phase_text[0] = phase_text[0] + (f", from the {result.settings['baseline_points']} "
                                         "baseline months, carried forward")
    if len(phase_text) > 1:
        parts.append(f"The limits are recalculated at {len(phase_text) - 1} rebase"
                     f"{'s' if len(phase_text) > 2 else ''} ("
                     + "; ".join(phase_text) + ").")
    else:
        parts.append(f"Mean {phase_text[0].split(': mean ', 1)[1]}.")
    if result.target is not None:
        parts.append(f"A target line is drawn at {fmt(result.target)}.")
    counts = d["point_type"].value_counts()
    n_imp = int(counts.get("special_cause_improvement", 0))
    n_con = int(counts.get("special_cause_concern", 0))
    n_nei = int(counts.get("special_cause_neither", 0))
    n_sc = n_imp + n_con + n_nei
    if n_sc:
        bits = [f"{n} {w}" for n, w in ((n_imp, "improvement"), (n_con, "concern"),
                                         (n_nei, "neither improvement nor concern")) if n]
        rules = d.loc[d["special_cause"], "rule"].value_counts()
        names = {"outside_limits": "outside the limits", "trend": "part of a trend",
                 "two_in_three": "two of three near a limit", "shift": "part of a run of "
                 f"{result.settings.get('shift_run', 7)} on one side of the mean"}
        parts.append(f"{n_sc} of {len(d)} months {'is' if n_sc == 1 else 'are'} marked as "
                     "special cause ("
                     + ", ".join(bits) + "; " + ", ".join(f"{int(v)} {names[r]}"
                                                           for r, v in rules.items()) + ").")
    else:
        parts.append("No month is marked as special cause.")
    icon = f"The variation icon shows {result.variation_label[0].lower()}" \
           f"{result.variation_label[1:]}"
    if result.assurance_label:
        icon += f"; the assurance icon shows: {result.assurance_label[0].lower()}" \
                f"{result.assurance_label[1:]}"
    parts.append(icon + ".")
    parts.append(result.summary_sentence)
    if result.target is None:
        parts.append(result.assurance_note)
    return " ".join(parts)


__all__ = ["spc_figure", "alt_text"]
