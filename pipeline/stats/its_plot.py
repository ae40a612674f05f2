"""Figures of one ITS fit: observed, fitted and counterfactual with its band; residuals.

Kept apart from :mod:`pipeline.stats.its` so the result object stays small; matplotlib is
imported only when a figure is drawn. Colours from :mod:`pipeline.palette`.
"""

from __future__ import annotations

import numpy as np

from ..palette import SERIES_COLOURS as PALETTE


def _by_time(result):
    """The series table with its time column (``month``, or the period's name) as ``month``."""
    return result.series.rename(columns={result.spec.period: "month"})


def plot_residuals(result, ax=None):
    """Pearson residuals of the fitted months against time, influential months marked.

    With AR errors the residuals are the whitened (innovation) ones. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 3.5))
    else:
        fig = ax.figure
    s = _by_time(result)
    s = s[s["in_fit"]].reset_index(drop=True)
    resid = np.asarray(result.fit.pearson)
    key = next((c for c in ("unit", "group") if c in s.columns), None)
    groups = s.groupby(key, sort=True).indices.items() if key else [(None, np.arange(len(s)))]
    for i, (name, idx) in enumerate(groups):
        ax.plot(s["month"].iloc[idx], resid[idx], marker="o", ms=3, lw=0.8,
                color=PALETTE[i % len(PALETTE)], label=name)
    cooks = result.diagnostics["cooks_distance"]
    flag = cooks > 4.0 / len(cooks)
    if flag.any():
        ax.scatter(s["month"][flag], resid[flag], s=60, facecolors="none",
                   edgecolors=PALETTE[1], label="influential (Cook's D > 4/n)")
    ax.axhline(0, color="0.4", lw=0.8)
    for start in phase_starts(result):
        ax.axvline(start, color="0.35", ls=":", lw=1)
    ax.set_xlabel("Month")
    ax.set_ylabel("Pearson residual")
    ax.set_title(result.diagnostics["verdict"], fontsize=8, loc="left")
    if key or flag.any():
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig

def plot(result, ax=None):
    """Observed points, fitted line, counterfactual with its band and phase starts.

    Parameters
    ----------
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    s = _by_time(result)
    key = next((c for c in ("unit", "group") if c in s.columns), None)
    groups = s.groupby(key, sort=True) if key else [(None, s)]
    for i, (name, g) in enumerate(groups):
        colour = PALETTE[i % len(PALETTE)]
        label = f" ({name})" if name is not None else ""
        ax.scatter(g["month"], g["observed"], s=14, color=colour, alpha=0.7,
                   label=f"observed{label}")
        ax.plot(g["month"], g["fitted"], color=colour, lw=1.8, label=f"fitted{label}")
        post = g["counterfactual"].to_numpy() != g["fitted"].to_numpy()
        if post.any():
            first = np.argmax(post)
            cf = g.iloc[max(first - 1, 0):]
            ax.plot(cf["month"], cf["counterfactual"], color=colour, lw=1.5, ls="--",
                    label=f"counterfactual{label}")
            ax.fill_between(cf["month"], cf["cf_low"], cf["cf_high"], color=colour,
                            alpha=0.15, lw=0)
    for j, start in enumerate(phase_starts(result)):
        ax.axvline(start, color="0.35", ls=":", lw=1, label="intervention start" if j == 0 else None)
    ax.set_xlabel("Month")
    ax.set_ylabel("Rate per unit of denominator" if result.spec.base_family == "poisson"
                  else "Proportion")
    ax.legend(fontsize=7, frameon=False, ncol=2)
    fig.tight_layout()
    return fig


def phase_starts(result) -> list:
    """The interruption months to mark: each unit's own start (staggered) or each phase's."""
    months = (result.spec.unit_starts or {}).values() if result.spec.design == "staggered" \
        else [p.start for p in result.spec.phases]
    return sorted({m.to_timestamp() for m in months})
