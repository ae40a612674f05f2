"""Report section of the models params add beside the segmented regression.

* ``model: structural`` (docs/adr/0115): per outcome, the effects table in the segmented
  model's words and the three CausalImpact panels (observed against the counterfactual forecast
  with its prediction interval; pointwise effect; cumulative effect);
* ``synthetic_control: true`` (docs/adr/0117): the weights over the comparators, the pre-period
  fit (RMSPE), the treated series against its synthetic control, the gap beside the placebo
  gaps, and the placebo-in-space p-value with the smallest p-value these units allow.

Disclosure (docs/adr/0022): a single month's observed value is never published from exact
counts. The one-month rows of the structural model (``abs_diff_h*``, ``rel_diff_h*``) are
restated from the published counts (observed minus the model's forecast; blank where a count is
hidden), the figures draw observed points and the cumulative effect from the published counts,
and the synthetic control's monthly series is drawn, not tabled. Estimates pooled over the post
period (average and cumulative effect, the synthetic control's average gap, RMSPE) stay on the
exact counts, as the segmented model's do.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.config import Disclosure
from pipeline.palette import OKABE_ITO
from pipeline.report.publish import with_published_observed, write_csv

WORDS = {
    "average_effect": "average effect over the post period (percentage points)",
    "average_rel_effect": "average relative change (%)",
    "cumulative_excess": "cumulative effect (events)",
}
HORIZON_WORDS = {"abs_diff": "effect in month {h} (percentage points)",
                 "rel_diff": "relative change in month {h} (%)"}


def published_structural_effects(result, rule: Disclosure) -> pd.DataFrame:
    """The structural effects as published: one-month rows restated from published counts."""
    table = result.effects.copy()
    series = with_published_observed(result.series, rule)
    post = series[~series["in_fit"]].reset_index(drop=True)
    for i, row in table.iterrows():
        kind, _, h = row["estimand"].rpartition("_h")
        if kind not in HORIZON_WORDS:
            continue
        m = post.iloc[int(h) - 1]
        obs, cf = m["observed"], m["counterfactual"]
        if kind == "abs_diff":
            values = (obs - cf, obs - m["cf_high"], obs - m["cf_low"])
        elif m["cf_low"] > 0:
            values = (obs / cf - 1, obs / m["cf_high"] - 1, obs / m["cf_low"] - 1)
        else:
            values = (np.nan,) * 3
        p = result.month_p_value(int(h), obs)
        table.loc[i, ["estimate", "ci_low", "ci_high", "p_value"]] = [*values, p]
    return table


def structural_display(result, rule: Disclosure) -> pd.DataFrame:
    """Readable rows: what, estimate and 95% CI on the reader's scale, p-value."""
    table = published_structural_effects(result, rule)
    rows = []
    for r in table.itertuples(index=False):
        kind, _, h = r.estimand.rpartition("_h")
        if kind in HORIZON_WORDS:
            what = HORIZON_WORDS[kind].format(h=h)
        else:
            what = WORDS.get(r.estimand, r.estimand)
        factor = 1 if r.estimand == "cumulative_excess" else 100
        digits = 0 if factor == 1 else 1
        rows.append({"what": what, "estimate": _fmt(r.estimate * factor, digits),
                     "95% CI": f"{_fmt(r.ci_low * factor, digits)} to "
                               f"{_fmt(r.ci_high * factor, digits)}",
                     "p-value": "" if pd.isna(r.p_value) else
                     ("< 0.001" if r.p_value < 0.001 else f"{r.p_value:.3f}")})
    return pd.DataFrame(rows)


def _fmt(value, digits):
    if pd.isna(value):
        return "[c]"
    text = f"{value:,.{digits}f}"
    return "0" if text.strip("-0.,") == "" else text  # never "-0.0"


def structural_figure(result, label: str, rule: Disclosure, events: str = "events") -> Figure:
    """Three panels in the manner of CausalImpact (Brodersen et al. 2015), from published counts
    where a count enters: observed and counterfactual forecast (95% prediction interval);
    pointwise effect; cumulative effect (published events minus the forecast's, band from the
    joint forecast covariance)."""
    s = with_published_observed(result.series, rule)
    s["month"] = pd.to_datetime(s["month"])
    post = s[~s["in_fit"]]
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True,
                             gridspec_kw={"height_ratios": [2, 1, 1]})
    ax = axes[0]
    ax.plot(s["month"], s["observed"] * 100, "o", ms=3, color=OKABE_ITO["black"],
            label="observed (published counts)")
    ax.plot(s["month"], s["fitted"] * 100, color=OKABE_ITO["blue"], lw=1.2,
            label="model before the start")
    ax.plot(post["month"], post["counterfactual"] * 100, color=OKABE_ITO["orange"], lw=1.5,
            ls="--", label="forecast without the change")
    ax.fill_between(post["month"], post["cf_low"] * 100, post["cf_high"] * 100,
                    color=OKABE_ITO["orange"], alpha=0.2, lw=0, label="95% prediction interval")
    ax.set_ylabel("Per cent (%)")
    ax.set_title(label, loc="left", fontsize=11)
    ax.legend(fontsize=7, ncol=2, frameon=False, loc="upper left")
    axes[1].plot(post["month"], (post["observed"] - post["counterfactual"]) * 100,
                 color=OKABE_ITO["red"], lw=1.5)
    axes[1].fill_between(post["month"], (post["observed"] - post["cf_high"]) * 100,
                         (post["observed"] - post["cf_low"]) * 100, color=OKABE_ITO["red"],
                         alpha=0.15, lw=0)
    axes[1].set_ylabel("Pointwise effect\n(percentage points)")
    cumulative = (post["numerator"] - post["denominator"] * post["counterfactual"]).cumsum()
    half = (result.series.loc[~result.series["in_fit"], "cumulative_high"]
            - result.series.loc[~result.series["in_fit"], "cumulative"]).to_numpy()
    axes[2].plot(post["month"], cumulative, color=OKABE_ITO["green"], lw=1.5)
    axes[2].fill_between(post["month"], cumulative - half, cumulative + half,
                         color=OKABE_ITO["green"], alpha=0.15, lw=0)
    axes[2].set_ylabel(f"Cumulative effect\n({events})")
    axes[2].set_xlabel("Month")
    start = post["month"].min()
    for a in axes:
        a.axvline(start, color=OKABE_ITO["grey"], lw=1, ls=":")
    for a in axes[1:]:
        a.axhline(0, color=OKABE_ITO["grey"], lw=1)
    fig.tight_layout()
    return fig


def structural_sentence(result, rule: Disclosure) -> str:
    """The average effect in words, with the model named and its pre-period fit."""
    rows = published_structural_effects(result, rule).set_index("estimand")
    avg = rows.loc["average_effect"]
    d = result.diagnostics
    verdict = ("the interval excludes no change" if avg["ci_low"] > 0 or avg["ci_high"] < 0
               else "the interval includes no change")
    return (f"Against a structural time-series forecast fitted to the {d['n_pre']} months "
            f"before the start, the average effect over the {d['n_post']} months after was "
            f"{_fmt(avg['estimate'] * 100, 1)} percentage points (95% CI "
            f"{_fmt(avg['ci_low'] * 100, 1)} to {_fmt(avg['ci_high'] * 100, 1)}): {verdict}. "
            "The interval allows for the uncertainty of how fast the level drifts (Ljung-Box "
            f"p of the pre-period one-step errors {d['ljung_box_p']:.2f}).")


def synthetic_control_sentence(result, unit_label: str) -> str:
    """The gap, the pre-period fit and the placebo p-value, with what it can and cannot say."""
    eff = result.effects.set_index("estimand")
    gap = eff.loc["average_gap", "estimate"] * 100
    text = (f"The synthetic control, a weighted average of the comparator {unit_label}s chosen "
            f"to track the intervention before the start (pre-period RMSPE "
            f"{result.pre_rmspe * 100:.1f} percentage points), gives an average gap after the "
            f"start of {_fmt(gap, 1)} percentage points. Placebo test in space: the "
            f"intervention ranks {result.rank} of {result.n_units} by the ratio of post- to "
            f"pre-period error, p = {result.p_value:.3f}.")
    if result.smallest_possible_p > 0.05:
        text += (f" With {result.n_units - 1} comparators the smallest p-value possible is "
                 f"{result.smallest_possible_p:.2f}: this test cannot reach 5%, so the synthetic "
                 "control is a robustness check of the size and direction of the effect, not a "
                 "test of it.")
    return text


def synthetic_control_figure(result, label: str, rule: Disclosure, treated_counts: pd.DataFrame
                             ) -> Figure:
    """Treated (published counts) against its synthetic control; the gap beside placebo gaps."""
    s = result.series.copy()
    counts = with_published_observed(treated_counts, rule).set_index("month")
    s["period"] = pd.to_datetime(s["period"])
    s["shown"] = counts.reindex(s["period"])["observed"].to_numpy()
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    axes[0].plot(s["period"], s["shown"] * 100, color=OKABE_ITO["black"], lw=1.5,
                 label="intervention (published counts)")
    axes[0].plot(s["period"], s["synthetic"] * 100, color=OKABE_ITO["orange"], lw=1.5, ls="--",
                 label="synthetic control")
    axes[0].set_ylabel("Per cent (%)")
    axes[0].set_title(label, loc="left", fontsize=11)
    axes[0].legend(fontsize=8, frameon=False)
    gaps = result.placebo_gaps
    when = pd.to_datetime(gaps.index)
    for unit in gaps.columns[1:]:
        axes[1].plot(when, gaps[unit] * 100, color=OKABE_ITO["grey"], lw=0.8, alpha=0.7)
    axes[1].plot(s["period"], (s["shown"] - s["synthetic"]) * 100, color=OKABE_ITO["red"],
                 lw=1.8, label="intervention minus synthetic")
    axes[1].plot([], [], color=OKABE_ITO["grey"], lw=0.8, label="placebos (each comparator)")
    axes[1].axhline(0, color=OKABE_ITO["grey"], lw=1)
    axes[1].set_ylabel("Gap (percentage points)")
    axes[1].legend(fontsize=8, frameon=False)
    start = s.loc[s["post"], "period"].min()
    for a in axes:
        a.axvline(start, color=OKABE_ITO["grey"], lw=1, ls=":")
    fig.tight_layout()
    return fig


def write_tables(ev, rule: Disclosure, out_dir: Path) -> None:
    """``tables/structural_effects.csv`` and ``tables/synthetic_control_*.csv`` when params
    asked for these models (model estimates; one-month rows from published counts)."""
    structural = {k: r for k, r in (getattr(ev, "structural", None) or {}).items()
                  if not isinstance(r, str)}  # a string: the reason an outcome was not fitted
    if structural:
        frames = [published_structural_effects(r, rule).assign(outcome=k)
                  for k, r in structural.items()]
        table = pd.concat(frames, ignore_index=True).rename(columns={"n": "n_months"})
        write_csv(table[["outcome", *[c for c in table.columns if c != "outcome"]]],
                  out_dir / "tables" / "structural_effects.csv")
    sc = getattr(ev, "synthetic_control", None)
    if sc is not None:
        write_csv(sc.weights, out_dir / "tables" / "synthetic_control_weights.csv")
        eff = sc.effects[sc.effects["estimand"] != "final_gap"]  # one month: not published
        eff = eff.rename(columns={"n": "n_months"})
        write_csv(eff, out_dir / "tables" / "synthetic_control_effects.csv")
        write_csv(sc.placebos, out_dir / "tables" / "synthetic_control_placebos.csv")


def show(story) -> None:
    """The notebook's "Other models" section: nothing unless params asked for a model here."""
    from IPython.display import HTML, Markdown, display

    from pipeline.evaluation import treated_monthly
    from pipeline.report import figures
    from pipeline.report.tables import html_table as _table_html

    ev, cfg, rule = story.ev, story.cfg, story.rule
    structural = getattr(ev, "structural", None) or {}
    sc = getattr(ev, "synthetic_control", None)
    if not structural and sc is None:
        display(Markdown("No other model was requested for this intervention (params: "
                         "`model: structural`, `synthetic_control: true`)."))
        return
    for outcome in cfg.outcomes:
        result = structural.get(outcome.key)
        if result is None:
            continue
        if isinstance(result, str):
            display(Markdown(f"### Structural time series: {outcome.label}\n\n"
                             f"The structural model was {result}."))
            continue
        display(Markdown(f"### Structural time series: {outcome.label}"))
        display(Markdown(structural_sentence(result, rule)))
        display(HTML(_table_html(structural_display(result, rule))))
        display(Markdown(f"Method: {result.method}. Table: `tables/structural_effects.csv`."))
        figures.show(structural_figure(result, outcome.label, rule, outcome.events),
                     alt=f"Three panels for {outcome.label}: observed percentages against the "
                         "structural model's forecast without the change and its 95% "
                         "prediction interval; the monthly effect; the cumulative effect in "
                         f"{outcome.events}.",
                     caption="Structural time-series counterfactual (CausalImpact's panels).")
    if sc is not None:
        outcome = cfg.headline
        display(Markdown(f"### Synthetic control (robustness check): {outcome.label}"))
        display(Markdown(synthetic_control_sentence(sc, cfg.unit_label)))
        weights = sc.weights.assign(weight=sc.weights["weight"].map(lambda w: f"{w:.3f}"))
        display(HTML(_table_html(weights)))
        display(Markdown(f"Method: {sc.method}. Tables: `tables/synthetic_control_*.csv`."))
        counts = treated_monthly(cfg, ev.series, outcome.key)
        figures.show(synthetic_control_figure(sc, outcome.label, rule, counts),
                     alt=f"Two panels for {outcome.label}: the intervention's monthly "
                         "percentage against its synthetic control, and the gap between them "
                         "beside each comparator's placebo gap.",
                     caption="Synthetic control and placebo gaps (Abadie et al. 2010).")
