"""The report's result sections, displayed in the notebook: figures, tables and their words.

Each ``show_*`` displays one section of a :class:`~pipeline.report.story.Story` from the
evaluation result; the words come from :mod:`~pipeline.report.methods_text` and the tables from
:mod:`~pipeline.report.tables`. Nothing here fits a model or reads a data file (docs/adr/0140).
"""

from __future__ import annotations

from IPython.display import HTML, Markdown, display

from pipeline import config
from pipeline.report import figures, methods_text, spc_figure, staff_process, staggered_section
from pipeline.report.tables import effects_table, group_table, html_table

OLS_NOTE = ("Its changes are in percentage points of the monthly percentage. Plain Newey-West "
            "intervals are too narrow in series this short (85% coverage in our simulations), "
            "so these use a small-sample correction with Satterthwaite degrees of freedom (Bell "
            "& McCaffrey 2002; Imbens & Kolesár 2016), which kept 95% intervals at 94-95% "
            "coverage.")


def show_its(story, outcome: config.Outcome) -> None:
    """One outcome's segmented regression: impact figure, estimates, model checks, and the
    OLS/Newey-West alternative."""
    result = story.ev.its[outcome.key]
    display(Markdown(f"### {outcome.label}"))
    if (note := methods_text.measured_from_note(story, outcome)):
        display(Markdown(note))
    if (rates := methods_text.rate_note(story, outcome)):
        display(Markdown(rates))
    per = story.per(outcome)
    figures.show(figures.impact_figure(result, story.cfg, outcome.label, story.rule,
                                       outcome.events, per),
                 alt=figures.impact_alt_text(result, story.cfg, outcome.label, story.rule,
                                             outcome.events),
                 caption="Top: observed, fitted and counterfactual (dashed, with its 95% "
                         "band); dotted lines mark the start(s). Middle: observed minus "
                         f"counterfactual. Bottom: the running total in {outcome.events}.",
                 data=f"plots/{outcome.key}.csv")
    if result.spec.design != "single":
        figures.show(figures.its_figure(result, story.cfg, outcome.label, story.rule, per),
                     alt=f"{outcome.label} by series, with fitted lines and "
                         "counterfactuals from the pooled model.",
                     caption="Each series of the pooled model.")
    display(HTML(effects_table(story, outcome.key, per=per)))
    d = result.diagnostics
    checks = (f"Model checks: Durbin-Watson {d['durbin_watson']:.2f}; Ljung-Box p "
              f"{d['ljung_box_p']:.3f}; dispersion {d['dispersion']:.2f}.")
    display(Markdown(checks + "".join(f"\n- {w}" for w in d["warnings"])))
    ols = story.ev.ols.get(outcome.key)
    if ols is not None:
        display(Markdown(
            f"Alternative model, the linear segmented regression analysts know from Stata's "
            f"`itsa` (Linden 2015): {ols.method}. {OLS_NOTE}"))
        display(HTML(effects_table(story, outcome.key, story.ev.ols)))


def show_groups(story) -> None:
    """Each group of outcomes (e.g. the 7 areas of unmet need) as one compact table and a
    forest plot, instead of a full section per outcome (docs/adr/0077)."""
    cfg = story.cfg
    for group in story.ev.groups:
        members = [o for o in cfg.outcomes if o.group == group]
        table = group_table(story, group)
        scale = story.natural(members[0])[1]
        note = methods_text.measured_from_note(story, members[0])
        display(Markdown(f"### {group.replace('_', ' ').capitalize()}\n\n"
                         f"{len(members)} outcomes in one table. Immediate change: "
                         f"{scale} at the phase shown (95% CI); p-values adjusted across the "
                         f"{len(members)} ({cfg.multiplicity}). Each model is in "
                         "`tables/effects.csv`." + (f" {note}" if note else "")))
        figures.show(figures.group_forest(table, scale),
                     alt=f"Forest plot of the immediate change in each of {len(members)} "
                         "outcomes: " + "; ".join(
                             f"{r.outcome}: {r.estimate:.2f} ({r.ci_low:.2f} to "
                             f"{r.ci_high:.2f})" for r in table.itertuples()) + ".",
                     caption="Immediate change (ratio, 95% CI) by outcome; the dashed line "
                             "is no change.", data="tables/its_effects.csv")
        display(HTML(html_table(table)))


def show_staff(story) -> None:
    """Staff outcomes in their own section: about staff, not patients, so the same models
    but no equity breakdown by patient group (docs/adr/0076); then the staff process
    measures (docs/adr/0120). Nothing when there are none."""
    staff = story.reported_outcomes("staff")
    if staff:
        display(Markdown("### Staff outcomes\n\nOutcomes about staff, not patients (staff "
                         "trained as a share of staff in post, per "
                         f"{story.cfg.unit_label} and month), with the same models; they "
                         "have no equity breakdown by patient group."))
    for outcome in staff:
        show_its(story, outcome)
    show_staff_process(story)


def show_staff_process(story) -> None:
    """Process measures of the staff file (params' ``staff_process``, e.g. champions in
    post per service), a descriptive table by phase; no model (docs/adr/0120). Staff counts
    of a role, not patient counts, so shown unsuppressed (the ADR says why)."""
    cfg = story.cfg
    for key, label in cfg.staff_process.items():
        table = staff_process.process_table(story.ev.series, key, cfg.phases, cfg.unit_label)
        if table.empty:
            continue
        display(Markdown(f"### {label}\n\nA process measure, described and not modelled: "
                         f"the number in post in each {cfg.unit_label} in the last "
                         "month before the first phase and in the last month of each "
                         "phase, from the staff file. These are counts of staff in a role, "
                         "not of patients, so they are shown as reported."))
        display(HTML(html_table(table)))


def show_staggered(story) -> None:
    """Staggered roll-outs only: each unit's own effect, their average with its weights
    named, whether units differ, the event study and the pooled model as a sensitivity row
    (docs/adr/0060). Does nothing for other designs."""
    result = story.ev.staggered
    if result is None:
        return
    outcome, unit = story.cfg.headline, story.cfg.unit_label
    family = story.ev.its[outcome.key].spec.base_family
    display(Markdown(f"### Each {unit}'s own effect and their average ({outcome.label})"))
    display(Markdown(staggered_section.average_sentence(result, unit, family)))
    display(Markdown(staggered_section.heterogeneity_sentence(result, unit, story.cfg.alpha)))
    display(HTML(html_table(staggered_section.effects_table(result, family),
                            "tables/staggered_effects.csv")))
    display(Markdown(f"Method: {result.method}. The full table on the log scale is "
                     "`tables/staggered_effects.csv`."))
    if result.event_study is not None:
        args = (result.event_study, family, outcome.label, unit)
        figures.show(staggered_section.event_study_figure(*args),
                     alt=staggered_section.event_study_alt(*args),
                     caption=f"Effect by months since each {unit}'s own start, averaged "
                             f"over {unit}s with 95% intervals. Months before the start "
                             "check the trends were parallel: they should sit near no "
                             "change.")


def show_sensitivity(story) -> None:
    """The robustness table of the headline outcome, and what it says in one sentence."""
    table = story.ev.sensitivity
    level_name, name = story.natural(story.cfg.headline)
    shown = table[table["estimand"] == level_name]
    shown = shown.assign(note=shown["note"].fillna("").str.split(";").str[0])
    keep = ["variant", "description", "estimate", "ci_low", "ci_high", "p_value", "note"]
    display(Markdown(f"Immediate change, {name} (95% CI); the full table with the link scale "
                     "is `tables/robustness.csv`."))
    display(HTML(html_table(shown[keep], "tables/robustness.csv")))
    display(Markdown(methods_text.sensitivity_sentence(story)))


def show_spc(story, outcome: config.Outcome) -> None:
    """NHS "Making Data Count" view of ``outcome`` (the chart the evaluation drew from the
    published counts, :attr:`Evaluation.spc`) with the ITS counterfactual overlaid; when a
    month's count is hidden the chart is not drawn and the report says so (docs/spc.md)."""
    title = f"{outcome.label}: statistical process control"
    chart = story.ev.spc[outcome.key]
    result = chart.result
    if result is None:
        display(Markdown(
            f"**{title}.** Not drawn: {chart.hidden[0]} of {chart.hidden[1]} months rest on a "
            "count hidden by the disclosure rule, and a control chart needs every month. "
            "The ITS figure above shows the months that can be published."))
        return
    counterfactual = figures.treated_series(story.ev.its[outcome.key], story.cfg)
    per = story.per(outcome)
    ylabel = "Per cent of eligible (%)" if per == 100 else f"Rate per {per:,} population"
    fig = spc_figure.spc_figure(result, title, ylabel, counterfactual=counterfactual)
    figures.show(fig, alt=spc_figure.alt_text(result, title, unit="%"),
                 caption="Laney p'-chart: mean (solid) and process limits (dashed) "
                         f"{methods_text.spc_limits(chart)}; coloured points are special "
                         "causes (blue improvement, orange concern); the dashed line with a "
                         "band is the ITS counterfactual"
                         + ("; the dash-dot line is the target." if result.target is not None
                            else "."), data=f"plots/{outcome.key}.csv")
    display(Markdown(methods_text.spc_sentences(result)))
