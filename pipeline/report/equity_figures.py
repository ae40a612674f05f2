"""The equity section's figures, drawn from an :class:`~pipeline.stats.equity.EquityResult`
and the published gap series (nothing is fitted here).

* :func:`forest_figure` -- effects by stratum across dimensions, with adjusted p-values;
* :func:`gap_figure` -- the observed gap (Q1 - Q5) over time, the fitted gap and the
  counterfactual gap from the stratified ITS with its band, and the monthly SII.

Colours: :mod:`pipeline.palette` (Okabe & Ito 2008).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.palette import OKABE_ITO, SERIES_COLOURS
from pipeline.report.equity_tables import DIMENSION_LABELS
from pipeline.report.figures import LEGEND_POINTS, legend_outside, mark_starts, month_axis
from pipeline.stats.equity import OVERALL, EquityResult
from pipeline.stats.estimand_key import RATIO_SCALES

# one colour per dimension, in the order the forest plot groups them
DIMENSION_COLOURS = SERIES_COLOURS[:6]


def _forest_rows(result: EquityResult, outcome: str, estimand: str, phase: str | None):
    eff = result.stratum_effects
    rows = eff[(eff["outcome"] == outcome) & (eff["source"] == "its")
               & (eff["estimand"] == estimand)]
    if phase is not None:
        rows = rows[rows["phase"] == phase]
    elif len(rows):
        rows = rows[rows["phase"] == rows["phase"].iloc[0]]
    return rows


def forest_figure(result: EquityResult, outcome: str, label: str, estimand: str | None = None,
                  phase: str | None = None):
    """Forest plot of the stratum effects (one panel, strata grouped by dimension).

    ``estimand`` defaults to the level change on the natural scale (odds or rate ratio when
    the model has one). Each row is labelled with its adjusted p-value; the overall estimate
    is the dashed reference line.
    """
    import matplotlib.pyplot as plt

    eff = result.stratum_effects
    mine = eff[(eff["outcome"] == outcome) & (eff["source"] == "its")]
    if estimand is None:
        names = set(mine["estimand"])
        estimand = next((e for e in ("level_change_or", "level_change_rr") if e in names),
                        "level_change")
    rows = _forest_rows(result, outcome, estimand, phase)
    ratio = bool(len(rows)) and bool(rows["estimand_scale"].isin(RATIO_SCALES).all())
    null = 1.0 if ratio else 0.0
    fig_h = 1.2 + 0.34 * max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(8, fig_h))
    if rows.empty:
        ax.text(0.5, 0.5, "No stratum could be modelled", ha="center", transform=ax.transAxes)
        return fig
    y, ticks, labels = 0, [], []
    overall = rows[rows["dimension"] == OVERALL]
    dims = [d for d in rows["dimension"].unique() if d != OVERALL]
    for i, d in enumerate(dims):
        colour = DIMENSION_COLOURS[i % len(DIMENSION_COLOURS)]
        for r in rows[rows["dimension"] == d].itertuples(index=False):
            ax.errorbar(r.estimate, -y, xerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]],
                        fmt="o", color=colour, ms=4, capsize=2, lw=1.2)
            p = r.p_adjusted
            ptxt = "p(adj) n/a" if pd.isna(p) else ("p(adj) < 0.001" if p < 0.001
                                                     else f"p(adj) = {p:.3f}")
            ax.annotate(ptxt, (1.01, -y), xycoords=("axes fraction", "data"),
                        fontsize=LEGEND_POINTS, va="center")
            ticks.append(-y)
            labels.append(f"{DIMENSION_LABELS.get(d, d)}: {r.stratum}")
            y += 1
        y += 0.5
    ax.axvline(null, color="0.4", lw=0.8)
    if len(overall):
        # named in the caption, not in a legend over the rows
        ax.axvline(overall["estimate"].iloc[0], color=OKABE_ITO["black"], ls="--", lw=0.9)
    if ratio:
        ax.set_xscale("log")
    ax.set_yticks(ticks, labels, fontsize=LEGEND_POINTS)
    scale = rows["scale"].iloc[0]
    what = "Immediate (level) change" if estimand.startswith("level") else "Change"
    ax.set_xlabel(f"{what}, {scale} (95% CI; {1 - result.alpha:.0%} level)")
    phase_name = rows["phase"].iloc[0]
    ax.set_title(f"{label}: {what.lower()} at '{phase_name}' by group", fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    return fig


def gap_figure(gap_series: pd.DataFrame, outcome: str, label: str, alpha: float = 0.05,
               phase_starts=(), most: str = "1", least: str = "5",
               start_names: dict | None = None):
    """The gap over time: observed Q1 - Q5, fitted, and the counterfactual gap from the
    stratified ITS with its band; below it the monthly SII (most - least deprived) with its
    interval. Percentage points on the y axes.

    ``gap_series`` is the published ``equity_gap_series`` table (:func:`published_tables`):
    observed points and SII come from published counts and are blank where one is hidden, so
    the picture shows exactly what the table gives.
    """
    import matplotlib.pyplot as plt

    gs = gap_series
    gs = gs[gs["outcome"] == outcome] if not gs.empty else gs
    has_sii = not gs.empty and "sii" in gs.columns and gs["sii"].notna().any()
    fig, axes = plt.subplots(2 if has_sii else 1, 1, figsize=(10, 6 if has_sii else 3.8),
                             sharex=True, squeeze=False)
    ax = axes[0, 0]
    if gs.empty:
        ax.text(0.5, 0.5, "The gap could not be modelled", ha="center", transform=ax.transAxes)
        return fig
    gs = gs.assign(month=pd.to_datetime(gs["month"]))
    pp = 100.0
    ax.scatter(gs["month"], gs["gap_observed"] * pp, s=12, color=OKABE_ITO["blue"], alpha=0.7,
               label=f"observed gap (Q{most} - Q{least})")
    ax.plot(gs["month"], gs["gap_fitted"] * pp, color=OKABE_ITO["blue"], lw=1.8,
            label="fitted gap (stratified ITS)")
    post = ~np.isclose(gs["gap_fitted"].to_numpy(float), gs["gap_counterfactual"].to_numpy(float))
    if post.any():
        first = int(np.argmax(post))
        cf = gs.iloc[max(first - 1, 0):]
        ax.plot(cf["month"], cf["gap_counterfactual"] * pp, color=OKABE_ITO["red"],
                ls="--", lw=1.6, label="counterfactual gap (no intervention)")
        ax.fill_between(cf["month"], cf["gap_cf_low"] * pp, cf["gap_cf_high"] * pp,
                        color=OKABE_ITO["red"], alpha=0.15, lw=0,
                        label=f"counterfactual {1 - alpha:.0%} CI")
    ax.axhline(0, color="0.5", lw=0.7)
    for a in axes[:, 0]:
        mark_starts(a, phase_starts, start_names if a is ax else None)
    ax.set_ylabel(f"Gap, Q{most} - Q{least}\n(percentage points)")
    ax.set_title(f"{label}: gap between most (IMD {most}) and least (IMD {least}) deprived fifths",
                 fontsize=9)
    legend_outside(ax)
    if has_sii:
        bx = axes[1, 0]
        bx.plot(gs["month"], gs["sii"] * pp, color=OKABE_ITO["green"], lw=1.2, marker="o", ms=3,
                label="SII (most - least deprived)")
        bx.fill_between(gs["month"], gs["sii_low"] * pp, gs["sii_high"] * pp,
                        color=OKABE_ITO["green"], alpha=0.15, lw=0, label="95% CI")
        bx.axhline(0, color="0.5", lw=0.7)
        bx.set_ylabel("Slope index of inequality\n(percentage points)")
        legend_outside(bx)
    axes[-1, 0].set_xlabel("Month")
    month_axis(axes[-1, 0])
    fig.tight_layout()
    return fig
