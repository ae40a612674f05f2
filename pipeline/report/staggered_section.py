"""The staggered roll-out section: per-unit effects, their average, heterogeneity, event study.

Built from a :class:`pipeline.stats.staggered.StaggeredResult` (model estimates only: no counts,
so nothing here needs disclosure control). Estimates are shown as odds ratios (exp of the
log-odds estimate and limits) for binomial-type families, rate ratios for Poisson-type ones;
the published CSV keeps the link scale (docs/adr/0060).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pipeline.palette import OKABE_ITO
from pipeline.report.figures import legend_outside
from pipeline.stats.its_estimands import SCALES
from pipeline.stats.staggered import StaggeredResult

CHANGE_WORDS = {"level_change": "immediate change", "slope_change": "change in trend per month"}


def ratio_name(base_family: str) -> str | None:
    """``"odds ratio"``, ``"rate ratio"`` or None (gaussian: the link scale is absolute), from
    the one family-to-scale map, :data:`pipeline.stats.its_estimands.SCALES`."""
    return SCALES[base_family][2]


def _natural(table: pd.DataFrame, base_family: str) -> pd.DataFrame:
    out = table.copy()
    if ratio_name(base_family):
        for col in ("estimate", "ci_low", "ci_high"):
            out[col] = np.exp(out[col])
    return out


def effects_table(result: StaggeredResult, base_family: str) -> pd.DataFrame:
    """Per-unit rows, the average (its weights named) and the pooled model, natural scale."""
    table = result.table()
    table["estimand"] = table["estimand"].map(CHANGE_WORDS).fillna(table["estimand"])
    shown = _natural(table, base_family)
    shown["weight"] = shown["weight"].map(lambda w: "" if pd.isna(w) else f"{w:.2f}")
    return shown[["row", "unit", "start", "estimand", "estimate", "ci_low", "ci_high",
                  "p_value", "weight"]]


def heterogeneity_sentence(result: StaggeredResult, unit_label: str, alpha: float = 0.05) -> str:
    """Whether the units differ, in words (Cochran's Q with the joint covariance, I^2)."""
    parts = []
    for r in result.heterogeneity.itertuples(index=False):
        what = CHANGE_WORDS.get(r.estimand, r.estimand)
        verdict = (f"the {unit_label}s differ" if r.p_value < alpha
                   else f"no clear difference between {unit_label}s")
        parts.append(f"{what}: {verdict} (Cochran's Q {r.q:.1f} on {r.df} df, {_p(r.p_value)}; "
                     f"I² {100 * r.i2:.0f}%)")
    text = "Do the " + unit_label + "s respond alike? " + "; ".join(parts) + "."
    return text + (" " + pretrend_sentence(result.pretrend, unit_label, alpha)
                   if result.pretrend else "")


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _stat(test: dict) -> str:
    stat = (f"F {test['stat']:.2f} on {test['q']} and {test['df']:.0f} df"
            if test["statistic"] == "F" else f"chi-squared {test['stat']:.1f} on {test['q']} df")
    return f"{stat}, {_p(test['p_value'])}"


def pretrend_sentence(test: dict, unit_label: str, alpha: float = 0.05) -> str:
    """The event study's joint tests of the months before the start, in words
    (:func:`pipeline.stats.staggered_event_study.event_study`, ``with_test=True``)."""
    months = test["months"]
    average, each = test["average"], test["each"]
    span = f"{-min(months)} to {-max(months)} months before the start"
    findings = []
    if average["p_value"] < alpha:
        findings.append(f"averaged over {unit_label}s (as in the figure) these months depart "
                        f"from the counterfactual course ({_stat(average)})")
    if each["p_value"] < alpha:
        findings.append(f"{unit_label}s taken one by one depart from it ({_stat(each)})")
    if findings:
        verdict = ("; ".join(findings) + f": some {unit_label}s were already changing before "
                   "their start, so their counterfactual may be wrong and the effects above "
                   "should be read with caution")
    else:
        verdict = (f"no departure from the counterfactual course, averaged over {unit_label}s "
                   f"as in the figure ({_stat(average)}) or {unit_label} by {unit_label} "
                   f"({_stat(each)}); with this many {unit_label}s and months the test can "
                   "miss a modest departure, so this is a check, not a proof")
    return (f"Were the {unit_label}s on course before their starts? Tested jointly over the "
            f"months {span}: {verdict}.")


def average_sentence(result: StaggeredResult, unit_label: str, base_family: str) -> str:
    """The average with its weights named, and how the pooled model compares."""
    name = ratio_name(base_family) or "difference"
    average = result.average
    avg = _natural(average[average["interval"] == "these units"], base_family).set_index("estimand")
    sample = _natural(average[average["interval"] == "units as a sample"],
                      base_family).set_index("estimand")
    pooled = _natural(result.pooled, base_family).set_index("estimand")
    weights = (f"equal weight per {unit_label}" if result.weights == "equal"
               else f"{unit_label}s weighted by the people seen after their start")
    k = int(result.average["k"].iloc[0])
    parts = [f"Averaged over the {k} {unit_label}s with {weights}, the immediate change was "
             f"{name} {avg.loc['level_change', 'estimate']:.2f} (95% CI "
             f"{avg.loc['level_change', 'ci_low']:.2f} to {avg.loc['level_change', 'ci_high']:.2f})"]
    if "slope_change" in avg.index:
        parts.append(f"and the change in trend {name} {avg.loc['slope_change', 'estimate']:.3f} "
                     f"a month ({avg.loc['slope_change', 'ci_low']:.3f} to "
                     f"{avg.loc['slope_change', 'ci_high']:.3f})")
    text = " ".join(parts) + "."
    if "level_change" in sample.index:
        r = sample.loc["level_change"]
        text += (f" For a {unit_label} like these but not among them, allowing for the spread "
                 f"between {unit_label}s, the immediate change would be {r['ci_low']:.2f} to "
                 f"{r['ci_high']:.2f}.")
    if "level_change" in pooled.index:
        p = pooled.loc["level_change"]
        text += (f" The pooled model, one model for every {unit_label} with a common change, "
                 f"gives {p['estimate']:.2f} ({p['ci_low']:.2f} to {p['ci_high']:.2f}); it "
                 f"weights {unit_label}s by their timing, not by choice, so it is shown as a "
                 "sensitivity row only.")
    return text


def event_study_figure(events: pd.DataFrame, base_family: str, outcome_label: str,
                       unit_label: str) -> Figure:
    """Effect by months since each unit's start, with 95% intervals (pre-start months included)."""
    shown = _natural(events, base_family)
    ref = 1.0 if ratio_name(base_family) else 0.0
    fig, ax = plt.subplots(figsize=(8, 3.8))
    pre = shown["event_time"] < 0
    for mask, colour, label in ((pre, OKABE_ITO["blue"], "before the start (check: near no change)"),
                                (~pre, OKABE_ITO["red"], "from the start")):
        part = shown[mask]
        ax.errorbar(part["event_time"], part["estimate"],
                    yerr=[part["estimate"] - part["ci_low"], part["ci_high"] - part["estimate"]],
                    fmt="o", ms=4, color=colour, ecolor=colour, elinewidth=1, capsize=2,
                    label=label)
    ax.axhline(ref, color=OKABE_ITO["grey"], lw=0.8)
    ax.axvline(-0.5, color=OKABE_ITO["black"], ls=":", lw=1)
    if ratio_name(base_family):
        ax.set_yscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel(f"Months since the {unit_label}'s own start (0 = start month; -1 = reference)")
    ax.set_ylabel(f"{outcome_label}: {ratio_name(base_family) or 'difference'}")
    legend_outside(ax)
    fig.tight_layout()
    return fig


def event_study_alt(events: pd.DataFrame, base_family: str, outcome_label: str,
                    unit_label: str) -> str:
    """Alt text: what the figure shows, with the numbers a reader would look for."""
    shown = _natural(events, base_family)
    ref = 1.0 if ratio_name(base_family) else 0.0
    pre = shown[(shown["event_time"] < -1)]
    post = shown[shown["event_time"] >= 0]
    outside = int(((pre["ci_low"] > ref) | (pre["ci_high"] < ref)).sum())
    name = ratio_name(base_family) or "difference"
    text = (f"Event study of {outcome_label}: {name} by month since each {unit_label}'s start, "
            f"averaged over {unit_label}s, from {int(shown['event_time'].min())} to "
            f"{int(shown['event_time'].max())} months. Before the start, {outside} of {len(pre)} "
            "months have an interval that excludes no change.")
    if len(post):
        text += (f" From the start the {name} runs from {post['estimate'].iloc[0]:.2f} to "
                 f"{post['estimate'].iloc[-1]:.2f}.")
    return text
