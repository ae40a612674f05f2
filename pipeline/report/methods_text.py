"""How the numbers were made, in words: data, methods, limitations, provenance, notes.

Written from the evaluation result (``story.ev``): the fitted specs, the decisions the
evaluation recorded (:attr:`Evaluation.decisions`), the power figure, the SPC results. Change a
setting in params and these sentences follow (``tests/test_views.py``). Each function returns
text; none displays (docs/adr/0140).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline import config, disclosure, periods
from pipeline.evaluation.result import natural_scale
from pipeline.evaluation.series import treated_units
from pipeline.report import wording

DESIGN_TEXT = {
    "single": "one series summed over units, with a level and a slope change at each phase "
              "start",
    "staggered": "a staggered roll-out: every unit's own series in one model with unit fixed "
                 "effects, a common secular trend, and level and slope changes from each "
                 "unit's own start month",
    "controlled": "a controlled interrupted time series: the intervention units' series "
                  "against the comparator units' series, so the effects are differences in "
                  "level and slope change between the two",
}


def methods(story) -> str:
    """The methods section: the headline model, design, error structure with the decision
    behind it, before/after windows and tests, multiplicity and power."""
    ev = story.ev
    result = ev.its[story.cfg.headline.key]
    return "\n".join([
        f"- Model: {result.method}.",
        f"- Design: {DESIGN_TEXT[story.cfg.design]}.",
        f"- {spec_line(result.spec)}",
        "- Segmented regression after Wagner et al. (2002), Lopez Bernal, Cummins & "
        f"Gasparrini (2017) and Linden (2015). {errors_sentence(result)}",
        *[f"- {line}" for line in decision_lines(story)],
        "- Before/after: Wilson score intervals for each proportion and Newcombe's hybrid "
        "score interval for the difference (Newcombe 1998); chi-square test, or Fisher's "
        "exact test when an expected count is under 5.",
        "- " + wording.multiplicity_sentence(
            1 - story.cfg.alpha, ev.equity.adjustment_note if ev.equity else None),
        f"- {power_sentence(story)}",
    ])


def spec_line(spec) -> str:
    """The headline model's specification as fitted, in params' own keys."""
    def listed(values) -> str:
        return ", ".join(str(v) for v in values) if values else "none"

    errors = (f"`errors: {spec.errors}` (params: `{spec.errors_requested}`)"
              if spec.errors_requested not in (None, spec.errors) else f"`errors: {spec.errors}`")
    excluded = [f"{a} to {b}" if a != b else f"{a}" for a, b in spec.exclude_months]
    return (f"Specification of the headline model, as fitted: `family: {spec.family}`, "
            f"{errors}, `seasonality: {spec.seasonality}`, "
            f"`washout_months: {spec.washout_months}`, horizons {listed(spec.horizons)} "
            f"months, months excluded: {listed(excluded)}, covariates: "
            f"{listed(spec.covariates)}.")


def series_line(story, path) -> str:
    """The series the models were fitted to: its file, shape and columns."""
    series = story.ev.series
    try:
        shown = Path(path).resolve().relative_to(config.project_root()).as_posix()
    except ValueError:
        shown = Path(path).name
    return (f"The models' input: `{shown}`, {len(series):,} rows (one per month, "
            f"{story.cfg.unit_label}, group and outcome) in {series.shape[1]} columns: "
            + ", ".join(f"`{c}`" for c in series.columns) + ".")


def decision_lines(story) -> list[str]:
    """Each decision the evaluation recorded: what params asked, what was used, and why."""
    return [f"Decision, {d.topic}: params ask `{d.asked}`; used {d.chosen}"
            + ("." if d.reason.startswith("as params ask") else f": {d.reason}.")
            for d in story.ev.decisions]


def errors_sentence(result) -> str:
    """How this model's standard errors and intervals were made (from its spec and fit)."""
    spec = result.spec
    return wording.errors_sentence(spec.family, spec.errors, result.fit.hac_lags,
                                   spec.ar_order, result.fit.df)


def power_sentence(story) -> str:
    """What this design could detect: the planning figure, stated after the fact."""
    p = story.ev.power
    if not p:
        return "Power was not computed."
    ratio_name = natural_scale(story.cfg.headline.family)[1]
    article = "an" if ratio_name[0] in "aeiou" else "a"
    scale = (f"{article} {ratio_name} of {p['mde_ratio']:.2f}" if p.get("mde_ratio")
             else f"{p['mde_link']:.3f}")
    return (f"Power: with these months and monthly numbers, an immediate change of {scale} "
            f"(about {p['mde_absolute'] * 100:.1f} percentage points) in the headline outcome "
            f"would be detected {p['target_power']:.0%} of the time at the {p['alpha']:g} "
            f"level ({p['n_sims']} simulations of {p['model']}).")


def limitations(story) -> str:
    """What the design cannot rule out, with the short segments of this run named."""
    short = wording.SHORT_SEGMENT_MONTHS
    segments = [s for result in story.ev.its.values()
                for s in result.diagnostics.get("points_per_segment", [])
                if s["months"] < short]
    named = sorted({f"“{s['segment']}” ({periods.plural(s['months'], story.cfg.period)})"
                    for s in segments})
    where = (f"here: {', '.join(named)}." if named
             else "no segment in this report is that short.")
    return "\n".join([
        "- Interrupted time series attributes a change at the start date to the "
        "intervention; anything else that changed at the same time (staffing, coding, case "
        "mix) would be attributed too. The findings are associations, not proof of cause.",
        "- Estimates rest on the pre-intervention trend continuing; the counterfactual band "
        "widens with distance from the start for that reason.",
        f"- Segments shorter than {short} months give unstable slope estimates; {where}",
        "- Counts are shown after disclosure control (small numbers suppressed, others "
        "rounded); the models use the unrounded monthly totals.",
    ])


def data(story) -> str:
    """The data section: period, units, eligible records, quality notes, the rule."""
    series = story.ev.series
    units = sorted(series["unit"].unique())
    treated = treated_units(story.cfg, units)
    comparators = [u for u in units if u not in treated]
    months = series["month"].nunique()
    overall = series[(series["dimension"] == "all")
                     & (series["outcome"] == story.cfg.headline.key)]
    total = disclosure.publish_count(int(overall["denominator"].sum()), story.rule)
    lines = [
        f"- Period: {series['month'].min():%B %Y} to {series['month'].max():%B %Y} "
        f"({months} months).",
        f"- {story.cfg.unit_label.capitalize()}s with the intervention: {', '.join(treated)}.",
    ]
    if comparators:
        lines.append(f"- Comparator {story.cfg.unit_label}s: {', '.join(comparators)}.")
    lines.append(f"- Eligible records for the headline outcome: {wording.number(total)}"
                 if isinstance(total, int) else "- Eligible records: [c]")
    lines += quality_notes(story)
    lines.append(f"- {disclosure.stamp(story.rule, secondary=True)}")
    return "\n".join(lines)


def quality_notes(story) -> list[str]:
    """Data-quality notes from the prepare step, with counts disclosure-controlled."""
    q = story.quality
    if not q:
        return ["- No data-quality record was found for this extract."]

    def count(value) -> str:
        return wording.number(disclosure.publish_count(value, story.rule))

    notes = [f"- Records read: {count(q.get('rows_read', 0))}; used: "
             f"{count(q.get('rows_used', 0))}; outside the window and excluded: "
             f"{count(q.get('rows_outside_window', 0))}."]
    if q.get("ignored_columns"):
        notes.append("- Columns present but not used: "
                     + ", ".join(f"`{c}`" for c in q["ignored_columns"]) + ".")
    return notes


def provenance(story) -> str:
    """What made this report: version, code, params, input and package hashes, the rule."""
    m = story.manifest
    inputs = "\n".join(f"  - `{p}`: sha256 `{h[:16]}…`" for p, h in m["inputs"].items())
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return "\n".join([
        f"- Report version: `{m['version']}` (a hash of everything below).",
        f"- Code (package `pipeline` and the notebook): sha256 `{m['code']['sha256'][:16]}…`",
        f"- Parameters (`interventions.{story.cfg.key}`): sha256 "
        f"`{m['params']['sha256'][:16]}…`",
        f"- Inputs:\n{inputs}",
        f"- Packages: {packages}.",
        f"- {disclosure.stamp(story.rule, secondary=True)}",
    ])


def measured_from_note(story, outcome: config.Outcome) -> str | None:
    """For a measure collected from part-way through: where its series starts, which
    phases are not evaluated for it and what the evaluated one is compared with."""
    if outcome.measured_from is None:
        return None
    kept = story.cfg.phases_of(outcome)
    dropped = [p for p in story.cfg.phases if p not in kept]
    return (f"Collected from {outcome.measured_from:%B %Y}: the series starts there, so "
            + (", ".join(f"“{p.name}”" for p in dropped) + " (at or before that month) "
               "cannot be evaluated for this measure, and " if dropped else "")
            + f"“{kept[0].name}” ({kept[0].start:%B %Y}) is compared with the months from "
            f"{outcome.measured_from:%B %Y} before it (docs/adr/0075).")


def rate_note(story, outcome: config.Outcome) -> str | None:
    """For a count against a population (docs/adr/0079): the rate per 1,000 population
    before and after, from the published counts, and how it was modelled."""
    if outcome.population_table is None:
        return None
    ba = story.published_before_after
    row = ba[(ba["outcome"] == outcome.key) & (ba["dimension"] == "all")]
    per = []
    for when in ("before", "after"):
        x = row[f"numerator_{when}"].iloc[0] if len(row) else "[c]"
        n = row[f"denominator_{when}"].iloc[0] if len(row) else "[c]"
        per.append("[c]" if isinstance(x, str) or isinstance(n, str) or not n
                   else f"{1000 * x / n:.2f}")
    return (f"A count against a registered population (`{outcome.population_table.name}`),"
            f" modelled as a rate with log(population) as the offset. Rate per 1,000 "
            f"population a month: {per[0]} before the start, {per[1]} after (published "
            "counts); figures and tables give the rate per 1,000 too.")


def spc_limits(chart) -> str:
    """How the chart's limits were made, in words."""
    if chart.rebased:
        return "rebased at each start"
    return f"from the baseline before {pd.Timestamp(chart.limits_from):%B %Y}, carried forward"


def spc_sentences(result) -> str:
    """The chart's variation and assurance in words; without a target, that no assurance
    can be given."""
    notes = " ".join(f"Note: {w}." for w in result.warnings)
    assurance = (result.assurance_note if result.target is not None else
                 "Assurance: no target is set for this outcome (params `target`), so no "
                 "assurance can be given.")
    return (f"{result.summary_sentence} Variation: {result.variation_label}. {assurance} "
            f"{notes}").rstrip()


def sensitivity_sentence(story) -> str:
    """What the robustness variants say about the headline's immediate change."""
    checks = story.ev.robustness
    parts = [
        "The immediate change keeps its direction and its verdict (interval excluding no "
        "change, or not) in every variant." if checks.agrees else
        "The immediate change does not keep the same direction or verdict in every "
        "variant: read the headline with that in mind.",
        "No placebo start date in the pre-period shows a change, as expected."
        if checks.placebo_significant is False else
        "A placebo start date in the pre-period also shows a change: the pre-period trend "
        "may not be stable." if checks.placebo_significant else "",
    ]
    if checks.unfitted:
        parts.append(f"Not fitted (too few {periods.noun(story.cfg.period)}s): "
                     + ", ".join(checks.unfitted) + ".")
    return f"{checks.fitted} variants fitted. " + " ".join(p for p in parts if p)
