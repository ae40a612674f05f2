"""Figures of a report, drawn from result objects and already disclosure-controlled.

Colours come from :mod:`pipeline.palette` (Okabe-Ito, safe for the common colour-vision
deficiencies); axes are labelled with units. Observed points are computed from the published
(rounded) counts and are not drawn where a count is hidden, exactly as in the figure's data
file under ``plots/`` (docs/adr/0022). Every figure is shown through :func:`show`, which
embeds it as a PNG with alt text and a caption.

Figures are embedded as SVG, sharp on high-density screens and in print. Their bytes depend
only on the picture: ids come from a fixed ``svg.hashsalt``, the date and creator are not
written, text is drawn as paths from the fonts matplotlib ships (``svg.fonttype: path``), and
coordinates are written to a fixed precision, so reruns give byte-identical reports
(docs/adr/0102). Legends are at least 9 pt and sit outside the data; start lines are labelled.
"""

from __future__ import annotations

import base64
import html
import io
import re
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.config import Disclosure, Intervention
from pipeline.palette import OKABE_ITO
from pipeline.report.publish import with_published_observed
from pipeline.stats.its import ITSResult

GROUP_COLOURS = [OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["green"],
                 OKABE_ITO["purple"], OKABE_ITO["red"]]

plt.rcParams.update({
    "figure.dpi": 96, "savefig.dpi": 96, "font.size": 10, "axes.spines.top": False,
    "axes.spines.right": False, "legend.fontsize": 9, "svg.hashsalt": "pipeline-report",
    "svg.fonttype": "path",
})
LEGEND_POINTS = 9  # the smallest legend and label text on a figure (issue 11)
SVG_METADATA = {"Date": None, "Creator": None}


_LONG_DECIMAL = re.compile(rb"-?\d+\.\d{3,}")
SVG_DECIMALS = 2  # 0.01 pt, far below what a screen or printer shows


def _coarser(match: re.Match) -> bytes:
    text = f"{float(match.group()):.{SVG_DECIMALS}f}".rstrip("0").rstrip(".")
    return (text if text not in ("-0", "") else "0").encode()


def svg_bytes(fig: Figure) -> bytes:
    """``fig`` as SVG whose bytes depend only on the picture (no date, no creator, fixed ids).

    Hashed ids are renamed by order (:func:`_renamed_ids`), and coordinates are written to
    :data:`SVG_DECIMALS` decimals (matplotlib writes 6). Data that
    differ in their last bits between BLAS kernels, and matplotlib's transforms (a BLAS matrix
    product), move a coordinate by about 1e-11 pt: at 6 decimals that flipped a digit in one
    figure of the pulmonary rehab report on three of four kernels; at 2 a flip needs a
    coordinate within 1e-11 of a rounding edge (docs/adr/0102, docs/adr/0030).
    """
    buffer = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "pipeline-report", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata=SVG_METADATA, bbox_inches="tight")
    return _renamed_ids(_coarser_coordinates(buffer.getvalue()))


_SCALES = re.compile(rb"((?:scale|matrix)\([^)]*\))")


def _coarser_coordinates(svg: bytes) -> bytes:
    """Coordinates to :data:`SVG_DECIMALS` decimals; scale factors and matrices (a glyph's
    ``scale(0.015625)``, from the font size, not from data) are kept as written."""
    parts = _SCALES.split(svg)
    parts[::2] = [_LONG_DECIMAL.sub(_coarser, part) for part in parts[::2]]
    return b"".join(parts)


_HASHED_ID = re.compile(rb"\b([mp])[0-9a-f]{10}\b")


def _renamed_ids(svg: bytes) -> bytes:
    """Matplotlib names clip paths and markers by a hash of their coordinates at full
    precision (``p4b5a6067ad``), so a last-bit difference in an axes box renames them; they
    are renamed here in order of first appearance (``p1``, ``m1``, ...), which depends only on
    the figure's structure."""
    names: dict[bytes, bytes] = {}

    def rename(match: re.Match) -> bytes:
        old = match.group()
        if old not in names:
            kind = match.group(1)
            names[old] = kind + str(sum(k[:1] == kind for k in names) + 1).encode()
        return names[old]

    return _HASHED_ID.sub(rename, svg)


def download_link(path: str) -> str:
    """A link to a published file of the report folder (``tables/x.csv``), beside the table or
    figure it holds the numbers of, so a reader can take them away (issue 11)."""
    return (f'<span class="download">Download the numbers: <a href="{html.escape(path)}" '
            f'download>{html.escape(path)}</a></span>')


def show(fig: Figure, alt: str, caption: str = "", data: str | None = None) -> None:
    """Display ``fig`` as an embedded SVG with alt text (and close it); ``data`` names the
    published file (e.g. ``plots/bbv_test.csv``) holding the figure's numbers.

    Embedded as a data URI inside ``<img>`` so the HTML report travels as one file, the alt
    text is read by screen readers, and the ids of one figure cannot clash with another's.
    """
    from IPython.display import HTML, display

    data_uri = base64.b64encode(svg_bytes(fig)).decode("ascii")
    plt.close(fig)
    link = f" {download_link(data)}" if data else ""
    caption_html = (f"<figcaption>{html.escape(caption)}{link}</figcaption>"
                    if caption or data else "")
    display(HTML(f'<figure><img alt="{html.escape(alt)}" '
                 f'src="data:image/svg+xml;base64,{data_uri}">{caption_html}</figure>'))


def legend_outside(ax, **kwargs) -> None:
    """A legend to the right of the axes, outside the data, at :data:`LEGEND_POINTS`."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=LEGEND_POINTS, frameon=False, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kwargs)


def month_axis(ax) -> None:
    """Month ticks that never run into each other: at most 7, written concisely (2022, Jul)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def start_labels(cfg: Intervention, starts) -> dict:
    """What each start line is called: the phase's name, or the units starting that month."""
    if cfg.unit_starts:
        by_month: dict = {}
        for unit, start in sorted(cfg.unit_starts.items()):
            by_month.setdefault(pd.Timestamp(start), []).append(unit)
        return {pd.Timestamp(s): ", ".join(by_month.get(pd.Timestamp(s), [])) + " start"
                for s in starts}
    names = {pd.Timestamp(p.start): p.name for p in cfg.phases}
    return {pd.Timestamp(s): names.get(pd.Timestamp(s), f"{pd.Timestamp(s):%b %Y}")
            for s in starts}


def mark_starts(ax, starts, labels: dict | None = None) -> None:
    """Dotted start lines; with ``labels``, each named inside the top of the axes on a white
    box (staggered down when several), the late ones to the left of their line so none is
    cut off."""
    import matplotlib.dates as mdates

    starts = [pd.Timestamp(s) for s in starts]
    for start in starts:
        ax.axvline(start, color=OKABE_ITO["grey"], lw=1, ls=":")
    if not labels:
        return
    low, high = (mdates.num2date(x).replace(tzinfo=None) for x in ax.get_xlim())
    for i, start in enumerate(starts):
        right = (start - low) / (high - low) > 0.6
        ax.annotate(labels.get(start, ""), xy=(start, 0.98 - 0.09 * (i % 3)),
                    xycoords=("data", "axes fraction"), xytext=(-3 if right else 3, 0),
                    textcoords="offset points", ha="right" if right else "left", va="top",
                    fontsize=LEGEND_POINTS, color="#4c4c4c", annotation_clip=False, zorder=6,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.85})


def treated_series(result: ITSResult, cfg: Intervention) -> pd.DataFrame:
    """One monthly series of the units with the intervention, for the impact panels.

    Controlled designs keep the treated group; staggered designs pool units by denominator
    (each unit's counterfactual and band weighted by its share of the month's denominator).
    """
    series = result.series.copy()
    series["month"] = pd.to_datetime(series["month"])
    if "group" in series.columns:
        comparators = set(cfg.comparator_units or ())
        series = series[~series["group"].isin(comparators | {"comparator", "comparators"})]
    if "unit" in series.columns or "group" in series.columns:
        weights = series["denominator"] / series.groupby("month")["denominator"].transform("sum")
        weighted = series[["fitted", "counterfactual", "cf_low", "cf_high"]].mul(weights, axis=0)
        weighted[["month", "numerator", "denominator"]] = series[["month", "numerator",
                                                                   "denominator"]]
        series = weighted.groupby("month", as_index=False).sum()
        series["observed"] = series["numerator"] / series["denominator"]
    return series.sort_values("month").reset_index(drop=True)


def _starts(cfg: Intervention, result: ITSResult | None = None) -> list:
    """Start months drawn: each unit's own start, else the phases the model has (an outcome
    collected from part-way through has only the later phases; docs/adr/0075)."""
    if cfg.unit_starts:
        return sorted(set(cfg.unit_starts.values()))
    if result is not None:
        return sorted({p.start.to_timestamp() for p in result.spec.phases})
    return sorted({p.start for p in cfg.phases})


def scale_labels(per: int) -> tuple[str, str]:
    """Axis labels of a series drawn per ``per``: the level and a difference in it.

    Proportions are drawn per 100 (a percentage, differences in percentage points); counts
    against a registered population per 1,000 population (docs/adr/0079)."""
    if per == 100:
        return "Per cent of eligible (%)", "percentage points"
    return f"Rate per {per:,} population", f"per {per:,} population"


def _draw_series(ax, series: pd.DataFrame, rule: Disclosure, colour: str, suffix: str = "",
                 per: int = 100):
    series = with_published_observed(series, rule)
    shown = series[series["observed"].notna()]
    ax.plot(shown["month"], shown["observed"] * per, "o", ms=3.5, color=colour, alpha=0.6,
            label=f"Observed{suffix}")
    ax.plot(series["month"], series["fitted"] * per, "-", color=colour, lw=2,
            label=f"Fitted{suffix}")
    post = series[~np.isclose(series["fitted"], series["counterfactual"])]
    if len(post):
        ax.plot(post["month"], post["counterfactual"] * per, "--", color=colour, lw=1.5,
                label=f"Counterfactual{suffix}")
        ax.fill_between(post["month"], post["cf_low"] * per, post["cf_high"] * per,
                        color=colour, alpha=0.15, lw=0, label=f"95% band{suffix}")


def its_figure(result: ITSResult, cfg: Intervention, label: str, rule: Disclosure,
               per: int = 100) -> Figure:
    """Observed monthly percentage (or rate per ``per``), fitted segments and the
    counterfactual with its band."""
    fig, ax = plt.subplots(figsize=(10, 4.2))
    series = result.series.copy()
    series["month"] = pd.to_datetime(series["month"])
    key = next((c for c in ("group", "unit") if c in series.columns), None)
    groups = list(series.groupby(key)) if key else [(None, series)]
    for i, (name, part) in enumerate(groups):
        _draw_series(ax, part, rule, GROUP_COLOURS[i % len(GROUP_COLOURS)],
                     f" ({name})" if name is not None else "", per)
    ax.set_xlabel("Month")
    ax.set_ylabel(scale_labels(per)[0])
    ax.set_title(label, loc="left", fontsize=11)
    month_axis(ax)
    starts = _starts(cfg, result)
    mark_starts(ax, starts, start_labels(cfg, starts))
    legend_outside(ax, ncol=2 if len(groups) > 3 else 1)
    fig.tight_layout()
    return fig


def impact_figure(result: ITSResult, cfg: Intervention, label: str,
                  rule: Disclosure, events: str = "events", per: int = 100) -> Figure:
    """Three panels in the manner of CausalImpact (Brodersen et al. 2015).

    1. the observed series, the fitted model and the counterfactual with its 95% band;
    2. the pointwise effect, observed minus counterfactual, in percentage points (observed
       from the published counts; a gap where a count is hidden);
    3. the cumulative effect in the outcome's events (``events``, e.g. "BBV tests"): the
       running sum of the published denominator
       times the model's effect (fitted minus counterfactual), as the ``cumulative_excess``
       estimand sums it. Bands come from the counterfactual's band (coefficient uncertainty),
       summed month by month: an approximation, the exact interval of the total is the
       ``cumulative_excess`` row of the effects table.
    """
    series = with_published_observed(treated_series(result, cfg), rule)
    first = min(_starts(cfg, result))
    post = series[series["month"] >= first]
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True,
                             gridspec_kw={"height_ratios": [2, 1, 1]})
    _draw_series(axes[0], series, rule, OKABE_ITO["blue"], per=per)
    level_label, difference_label = scale_labels(per)
    axes[0].set_ylabel(level_label)
    axes[0].set_title(label, loc="left", fontsize=11)
    legend_outside(axes[0])

    point = (post["observed"] - post["counterfactual"]) * per
    low = (post["observed"] - post["cf_high"]) * per
    high = (post["observed"] - post["cf_low"]) * per
    axes[1].plot(post["month"], point, color=OKABE_ITO["red"], lw=1.5)
    axes[1].fill_between(post["month"], low, high, color=OKABE_ITO["red"], alpha=0.15, lw=0)
    axes[1].axhline(0, color=OKABE_ITO["grey"], lw=1)
    axes[1].set_ylabel(f"Pointwise effect\n({difference_label})")

    people = post["denominator"].fillna(0)
    cumulative = (people * (post["fitted"] - post["counterfactual"])).cumsum()
    cum_low = (people * (post["fitted"] - post["cf_high"])).cumsum()
    cum_high = (people * (post["fitted"] - post["cf_low"])).cumsum()
    axes[2].plot(post["month"], cumulative, color=OKABE_ITO["green"], lw=1.5)
    axes[2].fill_between(post["month"], cum_low, cum_high, color=OKABE_ITO["green"],
                         alpha=0.15, lw=0)
    axes[2].axhline(0, color=OKABE_ITO["grey"], lw=1)
    axes[2].set_ylabel("Cumulative effect\n" + textwrap.fill(f"({events})", 24))
    axes[2].set_xlabel("Month")
    month_axis(axes[2])
    fig.align_ylabels(axes)
    starts = _starts(cfg, result)
    for i, ax in enumerate(axes):
        mark_starts(ax, starts, start_labels(cfg, starts) if i == 0 else None)
        if cfg.before_after.washout_months:
            for start in _starts(cfg, result):
                ax.axvspan(start, start + pd.DateOffset(months=cfg.before_after.washout_months),
                           color=OKABE_ITO["grey"], alpha=0.1, lw=0)
    fig.tight_layout()
    return fig


def impact_alt_text(result: ITSResult, cfg: Intervention, label: str,
                    rule: Disclosure, events: str = "events") -> str:
    series = with_published_observed(treated_series(result, cfg), rule)
    first = min(_starts(cfg, result))
    pre, post = series[series["month"] < first], series[series["month"] >= first]
    return (
        f"Three-panel chart of {label}, monthly from {series['month'].min():%B %Y} to "
        f"{series['month'].max():%B %Y}. Top: the observed percentage averaged "
        f"{pre['observed'].mean() * 100:.1f}% before {first:%B %Y} and "
        f"{post['observed'].mean() * 100:.1f}% after; the counterfactual (the earlier trend "
        f"continued) ends at {post['counterfactual'].iloc[-1] * 100:.1f}% against a fitted "
        f"{post['fitted'].iloc[-1] * 100:.1f}%. Middle: the monthly difference between observed "
        f"and counterfactual. Bottom: the running total of that difference in {events}."
    )


def group_forest(table: pd.DataFrame, scale: str) -> Figure:
    """One row per outcome of a group (:func:`pipeline.evaluation.judgements.group_table`):
    the immediate change and its 95% CI on a log axis, no change marked; adjusted p-values
    at the right. Why one figure: seven areas read at a glance, where seven full sections
    would not (docs/adr/0077)."""
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.36 * max(len(table), 1)))
    for y, r in enumerate(table.itertuples(index=False)):
        ax.errorbar(r.estimate, -y, xerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]],
                    fmt="o", color="#0072B2", ms=4, capsize=2, lw=1.2)
        p = r.p_adjusted
        ax.annotate("p(adj) n/a" if pd.isna(p) else ("p(adj) < 0.001" if p < 0.001
                                                     else f"p(adj) = {p:.3f}"),
                    (1.01, -y), xycoords=("axes fraction", "data"), fontsize=LEGEND_POINTS,
                    va="center")
    ax.axvline(1.0, color="0.4", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(plt.FormatStrFormatter("%g"))
    ax.set_yticks([-y for y in range(len(table))], list(table["outcome"]), fontsize=LEGEND_POINTS)
    ax.set_xlabel(scale.capitalize())
    fig.tight_layout()
    return fig
