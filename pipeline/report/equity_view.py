"""The equity section, displayed: the gap's answer, forest plot, gap figure and tables.

Views of the equity result the evaluation built (``story.ev.equity``; docs/equity.md) and of
its published tables (:attr:`Story.equity_tables`); the sentences come from
:mod:`~pipeline.report.summary_text` and :mod:`~pipeline.report.equity_answer`. Nothing here
fits a model or reads a data file (docs/adr/0140).
"""

from __future__ import annotations

from IPython.display import HTML, Markdown, display

from pipeline import periods
from pipeline.evaluation.series import equity_outcomes
from pipeline.report import equity_answer, equity_figures, equity_tables, figures, summary_text
from pipeline.report.tables import html_table, on_percent_scale, without_link_twins
from pipeline.stats.estimand_key import RATIO_SCALES


def show_equity(story) -> None:
    """Forest plot by stratum, the gap over time with its counterfactual, the tables."""
    show_target_group(story)
    res, outcome = story.ev.equity, story.cfg.headline
    label = outcome.label
    display(Markdown(f"**{summary_text.equity_sentence(story)}**"))
    effects = res.stratum_effects
    rows = effects[(effects["outcome"] == outcome.key) & (effects["source"] == "its")
                   & (effects["quantity"] == "level_change")
                   & (effects["phase"] == story.first_phase())
                   & (effects["dimension"] != "all")]
    shown = ", ".join(f"{r.dimension} {r.stratum}: {r.estimate:.2f} ({r.ci_low:.2f} to "
                      f"{r.ci_high:.2f})" for r in rows.itertuples()
                      if r.estimand_scale in RATIO_SCALES)
    figures.show(equity_figures.forest_figure(res, outcome.key, label),
                 alt=f"Forest plot of the immediate change in {label} by group "
                     f"(estimate and 95% CI): {shown}.",
                 caption="Immediate change by stratum, with p-values adjusted for multiple "
                         f"comparisons ({res.adjustment_note.rstrip('.')}); the solid line "
                         "is no change and the dashed line the estimate for all patients.",
                 data="tables/equity_stratum_effects.csv")
    starts = sorted({p.start for p in story.cfg.phases} | set((story.cfg.unit_starts or {})
                                                             .values()))
    tables = story.equity_tables
    most, least = res.most, res.least
    figures.show(equity_figures.gap_figure(tables["equity_gap_series"], outcome.key, label,
                                           res.alpha, starts, most, least,
                                           figures.start_labels(story.cfg, starts)),
                 alt=f"The gap in {label} between IMD quintile {most} and quintile {least} "
                     f"by month, observed and fitted, with the counterfactual gap. "
                     f"{summary_text.equity_sentence(story)}",
                 caption=f"Gap = most deprived (quintile {most}) minus least deprived "
                         f"(quintile {least}), in percentage points; below, the slope index "
                         "of inequality.", data="tables/equity_gap_series.csv")
    gaps = tables["equity_gaps"]
    gaps = gaps[gaps["outcome"] == outcome.key] if not gaps.empty else gaps
    display(Markdown("**Inequality before and after** (absolute and relative gap, slope and "
                     "relative index of inequality; PHE method; from the published counts):"))
    display(HTML(html_table(on_percent_scale(gaps.drop(columns=["outcome"])),
                            "tables/equity_gaps.csv")
                 if len(gaps) else html_table(gaps)))
    change = res.gap_change[res.gap_change["outcome"] == outcome.key]
    primary = story.cfg.equity_primary
    display(Markdown(f"**Change in the gap** (stratified ITS: quintile {most} minus quintile "
                     f"{least}; and an ITS of the {periods.adjective(story.cfg.period)} SII). "
                     f"Pre-specified in params before the data were seen: the "
                     f"{primary.horizon}-{periods.noun(story.cfg.period)} difference of "
                     f"{equity_answer.estimand_name(primary.estimand, story.cfg.period)} "
                     "is the primary answer; every other row is secondary."))
    if len(change):
        change = on_percent_scale(without_link_twins(change))
    display(HTML(html_table(change.drop(columns=["outcome", "method"]),
                            "tables/equity_gap_change.csv")))
    het = res.heterogeneity[res.heterogeneity["outcome"] == outcome.key]
    method = het["method"].iloc[0] if len(het) else ""
    shown, verdict = equity_tables.heterogeneity_view(het, res.alpha)
    display(Markdown("**Does the effect differ between groups?** Test of heterogeneity "
                     f"across strata: {method}. {res.adjustment_note} {verdict}"))
    link = (f'<a href="{equity_tables.HETEROGENEITY_CSV}" download>all {len(het)} tests '
            f"(CSV)</a>")
    if len(shown):
        display(HTML(f"<figure>{html_table(shown)}<figcaption>Tests of heterogeneity with "
                     "evidence after adjustment, smallest adjusted p first: a test of "
                     "whether the change is the same in every stratum of the group. "
                     f"Download {link}.</figcaption></figure>"))
    else:
        display(HTML(f"<p>Download {link}.</p>"))
    others = [o for o in equity_outcomes(story.cfg) if o.key != outcome.key]
    if others:
        display(Markdown("**Other outcomes.**\n\n" + "\n".join(
            f"- {summary_text.equity_sentence(story, o)}" for o in others)))
    if res.warnings:
        display(Markdown("Strata not modelled: " + "; ".join(res.warnings[:8])
                         + ("; …" if len(res.warnings) > 8 else "") + "."))


def show_target_group(story) -> None:
    """The target group's answer for each outcome with its table of gap changes."""
    if story.ev.target_gap is None:
        return
    from pipeline import target_group

    label = target_group.describe(story.cfg)
    display(Markdown(f"### Target group: {label}\n\nThe target group's series against "
                     "everyone else's (the overall series minus the target group), each "
                     "with the same model; the change in the gap is the difference of their "
                     "estimates (docs/adr/0078)."))
    for o in equity_outcomes(story.cfg):
        text = target_group.answer(label, o.label, story.ev.target_gap,
                                   story.equity_tables["equity_before_after"], o.key,
                                   story.cfg.alpha)
        display(Markdown(text))
    change = story.ev.target_gap
    if len(change):
        change = on_percent_scale(without_link_twins(change))
        display(HTML(html_table(change.drop(columns=["method"]))))
