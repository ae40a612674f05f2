"""Figures of a report, drawn from result objects and already disclosure-controlled.

Colours come from the Okabe-Ito palette (safe for the common colour-vision deficiencies); axes
are labelled with units; observed points resting on a suppressed count are not drawn.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from pipeline.config import Disclosure, Intervention
from pipeline.disclosure import SUPPRESSED, publish_count
from pipeline.stats.its import ITSResult

OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "red": "#D55E00",
             "purple": "#CC79A7", "sky": "#56B4E9", "grey": "#7F7F7F", "black": "#000000"}
GROUP_COLOURS = [OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["green"],
                 OKABE_ITO["purple"], OKABE_ITO["red"]]

plt.rcParams.update({
    "figure.dpi": 96, "savefig.dpi": 96, "font.size": 10, "axes.spines.top": False,
    "axes.spines.right": False, "svg.hashsalt": "pipeline",
})


def _publishable(series: pd.DataFrame, rule: Disclosure) -> pd.Series:
    if "numerator" not in series.columns:
        return pd.Series(True, index=series.index)
    return series["numerator"].map(lambda v: publish_count(v, rule) != SUPPRESSED)


def its_figure(result: ITSResult, cfg: Intervention, label: str, rule: Disclosure) -> Figure:
    """Observed monthly proportion, fitted segments and the counterfactual with its band."""
    fig, ax = plt.subplots(figsize=(9, 4.2))
    series = result.series.copy()
    series["month"] = pd.to_datetime(series["month"])
    groups = list(series.groupby("group")) if "group" in series.columns else [(None, series)]
    for i, (name, part) in enumerate(groups):
        colour = GROUP_COLOURS[i % len(GROUP_COLOURS)]
        shown = part[_publishable(part, rule)]
        suffix = f" ({name})" if name is not None else ""
        ax.plot(shown["month"], shown["observed"] * 100, "o", ms=3.5, color=colour, alpha=0.6,
                label=f"Observed{suffix}")
        ax.plot(part["month"], part["fitted"] * 100, "-", color=colour, lw=2,
                label=f"Fitted{suffix}")
        post = part[part["fitted"] != part["counterfactual"]]
        if len(post):
            ax.plot(post["month"], post["counterfactual"] * 100, "--", color=colour, lw=1.5,
                    label=f"Counterfactual{suffix}")
            if {"cf_low", "cf_high"} <= set(post.columns):
                ax.fill_between(post["month"], post["cf_low"] * 100, post["cf_high"] * 100,
                                color=colour, alpha=0.15, lw=0)
    starts = cfg.unit_starts.values() if cfg.unit_starts else [p.start for p in cfg.phases]
    for start in sorted(set(starts)):
        ax.axvline(start, color=OKABE_ITO["grey"], lw=1, ls=":")
    ax.set_xlabel("Month")
    ax.set_ylabel("Per cent of eligible (%)")
    ax.set_title(label, loc="left", fontsize=11)
    ax.legend(fontsize=8, ncol=3, frameon=False, loc="best")
    fig.tight_layout()
    return fig


def forest_figure(table: pd.DataFrame, label: str, xlabel: str, reference: float = 1.0) -> Figure:
    """Forest plot of one estimand across strata (rows: ``stratum, estimate, ci_low, ci_high``)."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1.2))
    y = range(len(table))[::-1]
    ax.errorbar(table["estimate"], list(y),
                xerr=[table["estimate"] - table["ci_low"], table["ci_high"] - table["estimate"]],
                fmt="s", color=OKABE_ITO["blue"], ecolor=OKABE_ITO["blue"], capsize=3)
    ax.axvline(reference, color=OKABE_ITO["grey"], ls="--", lw=1)
    ax.set_yticks(list(y), table["stratum"].astype(str))
    ax.set_xlabel(xlabel)
    ax.set_title(label, loc="left", fontsize=11)
    fig.tight_layout()
    return fig
