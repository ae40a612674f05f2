"""The evaluation report as a story: each section of the notebook is one method here.

The notebook (``notebooks/evaluate.ipynb``) holds headings and calls; the sentences, tables and
figures come from here, written from the results, never typed by hand. Tables and figures pass
through :mod:`pipeline.disclosure` before they are shown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown, display

from pipeline import config, disclosure, periods
from pipeline.evaluation import (Evaluation, equity_outcomes, load_series, run, select,
                                 treated_units)
from pipeline.report import (equity_section, figures, history, index, manifest, publish,
                             spc_figure, staff_process, staggered_section, wording)
from pipeline.stats import spc

NATURAL = {"quasibinomial": ("_or", "odds ratio"), "binomial": ("_or", "odds ratio"),
           "poisson": ("_rr", "rate ratio"), "quasipoisson": ("_rr", "rate ratio"),
           "gaussian": ("", "difference")}
SHORT_PHASE_UNKNOWN = 99  # no segment record: no short-phase warning
SHOWN_ESTIMANDS = ("level_change", "slope_change", "abs_diff", "rel_diff", "cumulative_excess")


def html_table(table: pd.DataFrame, csv: str | None = None, period: str = "month") -> str:
    """A table as HTML for people: column names in words, proportions as percentages, p-values
    and other numbers in fixed notation (never 2.39e+03), in a box that scrolls sideways rather
    than overflowing the page. The CSV files under ``tables/`` keep the variable names; ``csv``
    names the one that holds this table's numbers, linked beside it."""
    shown = wording.readable_table(table, period)
    body = shown.to_html(index=False, border=0, na_rep="")
    link = f"<p>{figures.download_link(csv)}</p>" if csv else ""
    return f'<div class="table-wrap">{body}</div>{link}'


PROPORTION_SCALES = {"difference in proportion": "percentage points",
                     "mean difference in proportion over the post period": "percentage points",
                     "absolute difference in proportion": "percentage points",
                     "absolute difference in proportion per month": "percentage points per month",
                     "change in SII (proportion)": "change in SII (percentage points)",
                     "change in SII (proportion) per month":
                         "change in SII (percentage points per month)"}


def on_percent_scale(effects: pd.DataFrame) -> pd.DataFrame:
    """Effects whose scale is a difference in proportions, restated in percentage points."""
    out = effects.copy()
    scales = out["scale"].map(_percent_scale)
    rows = scales.notna()
    for column in ("estimate", "ci_low", "ci_high"):
        out[column] = out[column].astype(float)
        out.loc[rows, column] = out.loc[rows, column] * 100
    out.loc[rows, "scale"] = scales[rows]
    return out


RATE_SCALE = "difference in rate per unit of denominator"


def on_rate_scale(effects: pd.DataFrame, per: int) -> pd.DataFrame:
    """Differences in a rate (Poisson families) restated per ``per`` of the denominator (per
    1,000 population for a count against a registered population)."""
    out = effects.copy()
    rows = out["scale"] == RATE_SCALE
    for column in ("estimate", "ci_low", "ci_high"):
        out[column] = out[column].astype(float)
        out.loc[rows, column] = out.loc[rows, column] * per
    out.loc[rows, "scale"] = f"difference in rate per {per:,}"
    return out


RATE_PER = 1000  # a count against a registered population is shown per 1,000 (docs/adr/0079)
RATE_COLUMNS = ("before", "after", "difference", "difference_low", "difference_high")


def per_population(table: pd.DataFrame, per: int) -> pd.DataFrame:
    """Before/after rows of counts against a population, rates restated per ``per`` (1,000)
    under columns that say so (``before_per_1000``), so the page never shows a rate per person
    as a percentage. Hidden (non-numeric) cells are kept as they are."""
    out = table.copy()
    for column in RATE_COLUMNS:
        if column in out.columns:
            out[column] = [v * per if isinstance(v, (int, float)) and v == v else v
                           for v in out[column]]
    return out.rename(columns={c: f"{c}_per_{per}" for c in RATE_COLUMNS})


def _percent_scale(scale) -> str | None:
    """The percentage-point name of a proportion scale (None when it is not one); the gap's
    "difference (Q1 - Q5) in difference in proportion" keeps its quintiles."""
    if not isinstance(scale, str):
        return None
    if scale in PROPORTION_SCALES:
        return PROPORTION_SCALES[scale]
    other = re.fullmatch(r"(.+ per )(week|quarter|year)", scale)   # docs/adr/0160
    if other and other.group(1) + "month" in PROPORTION_SCALES:
        return PROPORTION_SCALES[other.group(1) + "month"].replace("month", other.group(2))
    gap = re.fullmatch(r"(difference \(Q\d - Q\d\)) in difference in proportion", scale)
    return f"{gap.group(1)} in percentage points" if gap else None


def without_link_twins(effects: pd.DataFrame) -> pd.DataFrame:
    """Each estimate once: a ratio row (``_or``/``_rr``) replaces its log-scale twin."""
    twins = {e.removesuffix("_or").removesuffix("_rr") for e in effects["estimand"]
             if e.endswith(("_or", "_rr"))}
    return effects[~effects["estimand"].isin(twins)]


def _short(table: pd.DataFrame, rows: pd.DataFrame) -> list[str]:
    """Labels of ``rows`` without the words every label of ``table`` starts with
    ("Unmet need recorded, housing" -> "housing")."""
    import os.path

    common = os.path.commonprefix(list(table["outcome"]))
    cut = common.rfind(", ") + 2 if ", " in common else 0
    return [wording.noun(label[cut:]) for label in rows["outcome"]]


@dataclass
class Story:
    cfg: config.Intervention
    rule: config.Disclosure
    ev: Evaluation
    manifest: dict
    quality: dict
    history: list
    simulated: bool = False  # the extract is simulated (params ``simulation.interventions``)

    @classmethod
    def load(cls, key: str) -> "Story":
        root = config.project_root()
        paths = config.paths(root)
        cfg = config.load_intervention(key, root)
        rule = config.load_disclosure(root)
        series = load_series(paths.series(key))
        quality_path = paths.processed(key) / "quality.json"
        quality = json.loads(quality_path.read_text()) if quality_path.exists() else {}
        story = cls(cfg=cfg, rule=rule, ev=run(cfg, series, quality),
                    manifest=manifest.build(cfg, rule, paths, [paths.series(key)]),
                    quality=quality, history=[],
                    simulated=key in config.simulated_keys(root))
        previous = history.load(paths.report(key) / "history.json")
        story.history = history.updated(previous, story.manifest, story.headline_metrics())
        return story

    # -- helpers ------------------------------------------------------------------------------
    def _natural(self, outcome: config.Outcome) -> tuple[str, str]:
        """Estimand suffix and the name of its scale; controlled designs compare two ratios."""
        suffix, name = NATURAL[outcome.family]
        if self.cfg.design == "controlled":
            name = f"ratio of {name}s, intervention against comparator {self.cfg.unit_label}s"
        return suffix, name

    def _effect(self, outcome_key: str, estimand: str, phase: str | None = None,
                result=None) -> pd.Series:
        effects = (result or self.ev.its[outcome_key]).effects
        rows = effects[effects["estimand"] == estimand]
        if phase is not None:
            rows = rows[rows["phase"] == phase]
        return rows.iloc[0]

    def _first_phase(self) -> str:
        return self.cfg.phases[0].name

    def _horizon(self, outcome_key: str) -> int | None:
        names = set(self.ev.its[outcome_key].effects["estimand"])
        shown = [h for h in self.cfg.horizons if f"abs_diff_h{h}" in names]
        return max(shown) if shown else None

    # -- sections -----------------------------------------------------------------------------
    def header(self) -> str:
        cfg = self.cfg
        phases = "; ".join(f"{p.name} from {p.start:%B %Y}" for p in cfg.phases)
        if cfg.unit_starts:
            starts = sorted(cfg.unit_starts.values())
            phases += (f" (each {cfg.unit_label}'s own start, {starts[0]:%B %Y} to "
                       f"{starts[-1]:%B %Y})")
        return "\n".join([
            f"# {cfg.title}",
            "",
            *([wording.SIMULATED_BANNER, ""] if self.simulated else []),
            f"**Report version** `{self.manifest['version']}` · intervention key `{cfg.key}` · "
            f"design: {cfg.design} · window {cfg.window.start:%B %Y} to {cfg.window.end:%B %Y} · "
            f"phases: {phases}.",
            "",
            f"**Data source** {self.data_source()} · data to {self.data_to():%B %Y} (the report's "
            "date: it is rebuilt when the data change and carries no clock time).",
        ])

    def data_source(self) -> str:
        """Where the records came from, as params name it: the extract file or the database
        table (never its URL, which holds a password; docs/databases.md)."""
        if self.cfg.source:
            return f"table `{self.cfg.source['table']}` in a database"
        return f"`{self.cfg.raw['extract']}`" + (" (simulated)" if self.simulated else "")

    def data_to(self) -> pd.Timestamp:
        """The latest month of the data: the report's date (dates come from the data)."""
        return pd.Timestamp(self.ev.series["month"].max())

    def headline_metrics(self) -> dict:
        """The headline outcome's first-phase level change, rounded as published."""
        outcome = self.cfg.headline
        suffix, _ = self._natural(outcome)
        row = self._effect(outcome.key, f"level_change{suffix}", self._first_phase())
        return publish._clean({f"{outcome.key}.level_change{suffix}": {
            "estimate": row["estimate"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}})

    def confidence(self) -> wording.Confidence:
        outcome = self.cfg.headline
        suffix, _ = self._natural(outcome)
        null = 0.0 if outcome.family == "gaussian" else 1.0
        level = self._effect(outcome.key, f"level_change{suffix}", self._first_phase())
        d = self.ev.its[outcome.key].diagnostics
        points = min((p.get("months", p.get("n", 99)) for p in d.get("points_per_segment", [])),
                     default=99)
        agrees, placebo = self.robustness()
        return wording.confidence(
            ci_excludes_null=not (level["ci_low"] <= null <= level["ci_high"]),
            min_points_per_segment=int(points),
            autocorrelated=d["ljung_box_p"] < 0.05,
            sensitivity_agrees=agrees,
            placebo_significant=placebo,
            period=self.cfg.period,
        )

    def _link_rows(self) -> pd.DataFrame:
        """Robustness rows on the link scale (one per fitted variant)."""
        table = self.ev.sensitivity
        return table[(table["estimand"] == "level_change") & table["estimate"].notna()]

    def robustness(self) -> tuple[bool | None, bool | None]:
        """Do the variants agree with the primary model, and does any placebo show a change?

        Agreement: every fitted non-placebo variant has the primary estimate's sign and the
        same verdict on whether its 95% interval excludes zero.
        """
        rows = self._link_rows()
        if rows.empty:
            return None, None
        significant = (rows["ci_low"] > 0) | (rows["ci_high"] < 0)
        placebo = rows["variant"].str.startswith("placebo")
        primary = rows[rows["variant"] == "primary"].iloc[0]
        primary_sig = primary["ci_low"] > 0 or primary["ci_high"] < 0
        others = rows[~placebo]
        agrees = bool(((others["estimate"] > 0) == (primary["estimate"] > 0)).all()
                      and (significant[~placebo] == primary_sig).all())
        return agrees, bool(significant[placebo].any()) if placebo.any() else None

    def show_sensitivity(self) -> None:
        """The robustness table of the headline outcome, and what it says in one sentence."""
        table = self.ev.sensitivity
        suffix, _ = self._natural(self.cfg.headline)
        shown = table[table["estimand"] == f"level_change{suffix}"]
        shown = shown.assign(note=shown["note"].fillna("").str.split(";").str[0])
        keep = ["variant", "description", "estimate", "ci_low", "ci_high", "p_value", "note"]
        display(Markdown(f"Immediate change, {self._natural(self.cfg.headline)[1]} (95% CI); "
                         "the full table with the link scale is `tables/robustness.csv`."))
        display(HTML(html_table(shown[keep], "tables/robustness.csv")))
        agrees, placebo = self.robustness()
        rows = self._link_rows()
        unfitted = table.loc[table["estimate"].isna(), "variant"].unique()
        parts = [
            "The immediate change keeps its direction and its verdict (interval excluding no "
            "change, or not) in every variant." if agrees else
            "The immediate change does not keep the same direction or verdict in every "
            "variant: read the headline with that in mind.",
            "No placebo start date in the pre-period shows a change, as expected."
            if placebo is False else
            "A placebo start date in the pre-period also shows a change: the pre-period trend "
            "may not be stable." if placebo else "",
        ]
        if len(unfitted):
            parts.append(f"Not fitted (too few {periods.noun(self.cfg.period)}s): "
                         + ", ".join(unfitted) + ".")
        display(Markdown(f"{len(rows)} variants fitted. " + " ".join(p for p in parts if p)))

    def show_staggered(self) -> None:
        """Staggered roll-outs only: each unit's own effect, their average with its weights
        named, whether units differ, the event study and the pooled model as a sensitivity row
        (docs/adr/0060). Does nothing for other designs."""
        result = self.ev.staggered
        if result is None:
            return
        outcome, unit = self.cfg.headline, self.cfg.unit_label
        family = self.ev.its[outcome.key].spec.base_family
        display(Markdown(f"### Each {unit}'s own effect and their average ({outcome.label})"))
        display(Markdown(staggered_section.average_sentence(result, unit, family)))
        display(Markdown(staggered_section.heterogeneity_sentence(result, unit, self.cfg.alpha)))
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

    def _compared(self) -> str:
        """What the headline is compared with: the earlier trend, or the comparator units."""
        return wording.reference(self.cfg.design, self.cfg.unit_label)

    def _start_phrase(self) -> str:
        """When the headline's immediate change happens, true of the design.

        A staggered roll-out has no single start month: each unit's own start is named as a
        range.
        """
        first = self.cfg.phases[0]
        if self.cfg.unit_starts:
            starts = sorted(self.cfg.unit_starts.values())
            return (f"each {self.cfg.unit_label}'s own start of “{first.name}” "
                    f"({starts[0]:%B %Y} to {starts[-1]:%B %Y}),")
        return f"the start of the first phase, “{first.name}” ({first.start:%B %Y}),"

    def _headline_before_after(self) -> pd.Series | None:
        """The headline outcome's overall row of the published before/after table."""
        table = publish.published_before_after(self.ev, self.rule)
        rows = table[(table["outcome"] == self.cfg.headline.key)
                     & (table["dimension"] == "all")]
        if rows.empty or isinstance(rows.iloc[0]["before"], str):
            return None  # hidden by the disclosure rule
        return rows.iloc[0]

    def first_phase_months(self) -> int:
        """Fitted months of the headline's first phase (shortest series when there are several)."""
        segments = self.ev.its[self.cfg.headline.key].diagnostics.get("points_per_segment", [])
        months = [s["months"] for s in segments
                  if s["segment"] == self._first_phase() and s["series"] != "comparator"]
        return min(months) if months else SHORT_PHASE_UNKNOWN

    def headline_sentences(self) -> list[str]:
        """The answer on the scale people use: percentages before and after, the difference in
        percentage points at the largest horizon, extra events in counts; the ratio second."""
        outcome = self.cfg.headline
        what = wording.noun(outcome.label)
        compared = self._compared()
        answer = []
        ba = self._headline_before_after()
        if ba is not None:
            window = self.cfg.before_after
            answer.append(wording.before_after_sentence(what, ba["before"], ba["after"],
                                                        window.before_months,
                                                        window.after_months))
        horizon = self._horizon(outcome.key)
        if horizon:
            diff = self._effect(outcome.key, f"abs_diff_h{horizon}")
            answer.append(wording.difference_sentence(what, diff["estimate"], diff["ci_low"],
                                                      diff["ci_high"], horizon,
                                                      outcome.improvement, compared,
                                                      self.cfg.period))
        excess = self._effect(outcome.key, "cumulative_excess")
        answer.append(wording.cumulative_sentence(excess["estimate"], excess["ci_low"],
                                                  excess["ci_high"], outcome.events, compared))
        suffix, ratio_name = self._natural(outcome)
        level = self._effect(outcome.key, f"level_change{suffix}", self._first_phase())
        answer.append(wording.ratio_sentence(what, level["estimate"], level["ci_low"],
                                             level["ci_high"], ratio_name, self._start_phrase(),
                                             outcome.improvement))
        warning = wording.short_phase_warning(self._first_phase(), self.first_phase_months(),
                                              self.cfg.period)
        if warning:
            answer.append(warning)
        return answer

    def summary(self) -> str:
        """The commissioner's page: question, answer, size, equity, confidence and why."""
        outcome = self.cfg.headline
        what = wording.noun(outcome.label)
        d = self.ev.its[outcome.key].diagnostics
        autocorrelation = wording.autocorrelation_sentence(
            d["ljung_box_p"], self.ev.its[outcome.key].spec.errors)
        harms = self.equity_alerts()
        lines = [
            f"**Question.** {self.cfg.question}",
            "",
            f"**Answer for the headline outcome, {what}.**",
            "",
            *[f"- {sentence}" for sentence in self.headline_sentences()],
            "",
            f"**Equity.** {self.equity_sentence()}"
            + (f" {disagreement}" if (disagreement := self.equity_disagreement()) else ""),
            *([""] + [f"**Warning (equity).** {h}" for h in harms] if harms else []),
            *([""] + [target] if (target := self.target_answer()) else []),
            *[line for text in self.other_answers() for line in ("", text)],
            "",
            f"**{self.confidence().sentence()}**"
            + (f" {autocorrelation}" if autocorrelation else ""),
            "",
            "These are associations in observational data: they show what changed after the "
            "start, not proof that the intervention caused it.",
        ]
        return "\n".join(lines)

    def target_answer(self) -> str | None:
        """Did the gap between the params' target group and everyone else narrow? (headline
        outcome; docs/adr/0078)"""
        if self.ev.target_gap is None:
            return None
        from pipeline import target_group

        return target_group.answer(target_group.describe(self.cfg), self.cfg.headline.label,
                                   self.ev.target_gap, self.equity_tables["equity_before_after"],
                                   self.cfg.headline.key, self.cfg.alpha)

    def show_target_group(self) -> None:
        """The target group's answer for each outcome with its table of gap changes."""
        if self.ev.target_gap is None:
            return
        from pipeline import target_group

        label = target_group.describe(self.cfg)
        display(Markdown(f"### Target group: {label}\n\nThe target group's series against "
                         "everyone else's (the overall series minus the target group), each "
                         "with the same model; the change in the gap is the difference of their "
                         "estimates (docs/adr/0078)."))
        for o in equity_outcomes(self.cfg):
            text = target_group.answer(label, o.label, self.ev.target_gap,
                                       self.equity_tables["equity_before_after"], o.key,
                                       self.cfg.alpha)
            display(Markdown(text))
        change = self.ev.target_gap
        if len(change):
            change = on_percent_scale(without_link_twins(change))
            display(HTML(html_table(change.drop(columns=["method"]))))

    def other_answers(self) -> list[str]:
        """One line for the staff outcomes and one per group of outcomes (e.g. the 7 areas of
        unmet need): the immediate change at the first phase each is evaluated at."""
        lines = []
        staff = self.reported_outcomes("staff")
        if staff:
            parts = []
            for o in staff:
                suffix, name = self._natural(o)
                changes = []
                for phase in self.cfg.phases_of(o):
                    level = self._effect(o.key, f"level_change{suffix}", phase.name)
                    changes.append(f"at “{phase.name}” {wording.fmt(level['estimate'])} "
                                   f"({wording.interval(level['ci_low'], level['ci_high'])})")
                parts.append(f"{wording.noun(o.label)}: " + ", ".join(changes))
            lines.append(f"**Staff.** Immediate change ({name}, 95% CI) in "
                         + "; ".join(parts) + ".")
        for group in dict.fromkeys(o.group for o in self.cfg.outcomes if o.group):
            table = self.group_table(group)
            rose = table[(table["p_adjusted"] < self.cfg.alpha) & (table["estimate"] > 1)]
            fell = table[(table["p_adjusted"] < self.cfg.alpha) & (table["estimate"] < 1)]
            name = group.replace("_", " ").capitalize()
            text = (f"**{name}.** At “{table['phase'].iloc[0]}”, a clear rise (adjusted "
                    f"p < {self.cfg.alpha:g}) in {len(rose)} of {len(table)}"
                    + (": " + ", ".join(_short(table, rose)) if len(rose) else ""))
            if len(fell):
                text += "; a clear fall in " + ", ".join(_short(table, fell))
            lines.append(text + ".")
        return lines

    def equity_sentence(self, outcome: config.Outcome | None = None) -> str:
        """Did the gap between the most and least deprived fifths narrow? (docs/equity.md)"""
        outcome = outcome or self.cfg.headline
        against = ("the earlier trends" if self.cfg.design != "controlled"
                   else f"the same fifths in {self._compared()}")
        primary = self.cfg.equity_primary
        return equity_section.gap_sentence(self.ev.equity, outcome.key, outcome.label,
                                           horizon=primary.horizon,
                                           improvement=outcome.improvement, against=against,
                                           estimand=primary.estimand,
                                           smallest_effect=primary.smallest_effect)

    def gap_answers(self) -> dict[str, equity_section.GapAnswer]:
        """Each outcome's equity answer (outcomes whose gap could not be modelled are left out)."""
        primary = self.cfg.equity_primary
        answers = {o.key: equity_section.gap_answer(self.ev.equity, o.key, primary.horizon,
                                                    improvement=o.improvement,
                                                    estimand=primary.estimand,
                                                    smallest_effect=primary.smallest_effect)
                   for o in equity_outcomes(self.cfg)} if self.ev.equity else {}
        return {k: a for k, a in answers.items() if a is not None}

    def equity_disagreement(self) -> str | None:
        """Secondary equity estimates of the headline outcome that disagree with the primary."""
        outcome = self.cfg.headline
        primary = self.gap_answers().get(outcome.key)
        if primary is None:
            return None
        secondary = equity_section.secondary_answers(
            self.ev.equity, outcome.key, self.equity_tables["equity_gaps"], outcome.improvement,
            self.cfg.equity_primary)
        return equity_section.disagreement_sentence(primary, secondary)

    def equity_alerts(self) -> list[str]:
        """A sentence for every outcome whose gap moved clearly against the most deprived.

        Always shown in the summary and the index, whether or not it is the headline outcome.
        """
        labels = {o.key: o.label for o in self.cfg.outcomes}
        return [f"{labels[k]}: the gap moved against the most deprived. {a.short()}."
                for k, a in self.gap_answers().items() if a.against_most_deprived]

    def equity_line(self) -> str:
        """The equity answer for the index: the headline's verdict, then any harm warning."""
        answer = self.gap_answers().get(self.cfg.headline.key)
        text = (f"{self.cfg.headline.label}: {answer.short()}." if answer
                else f"Not estimated (quintile {self.cfg.equity_primary.most} or "
                     f"{self.cfg.equity_primary.least} too sparse).")
        alerts = self.equity_alerts()
        return text + "".join(f" {index.HARM} {a}" for a in alerts)

    def data(self) -> str:
        series = self.ev.series
        units = sorted(series["unit"].unique())
        treated = treated_units(self.cfg, units)
        comparators = [u for u in units if u not in treated]
        months = series["month"].nunique()
        overall = series[(series["dimension"] == "all")
                         & (series["outcome"] == self.cfg.headline.key)]
        total = disclosure.publish_count(int(overall["denominator"].sum()), self.rule)
        lines = [
            f"- Period: {series['month'].min():%B %Y} to {series['month'].max():%B %Y} "
            f"({months} months).",
            f"- {self.cfg.unit_label.capitalize()}s with the intervention: {', '.join(treated)}.",
        ]
        if comparators:
            lines.append(f"- Comparator {self.cfg.unit_label}s: {', '.join(comparators)}.")
        lines.append(f"- Eligible records for the headline outcome: {wording.number(total)}"
                     if isinstance(total, int) else "- Eligible records: [c]")
        lines += self.quality_notes()
        lines.append(f"- {disclosure.stamp(self.rule, secondary=True)}")
        return "\n".join(lines)

    def quality_notes(self) -> list[str]:
        """Data-quality notes from the prepare step, with counts disclosure-controlled."""
        q = self.quality
        if not q:
            return ["- No data-quality record was found for this extract."]
        count = lambda v: wording.number(disclosure.publish_count(v, self.rule))  # noqa: E731
        notes = [f"- Records read: {count(q.get('rows_read', 0))}; used: "
                 f"{count(q.get('rows_used', 0))}; outside the window and excluded: "
                 f"{count(q.get('rows_outside_window', 0))}."]
        if q.get("ignored_columns"):
            notes.append("- Columns present but not used: "
                          + ", ".join(f"`{c}`" for c in q["ignored_columns"]) + ".")
        return notes

    def units_table(self) -> str:
        """Totals per unit and outcome, disclosure-controlled."""
        rows = self.ev.series[self.ev.series["dimension"] == "all"]
        table = rows.groupby(["unit", "outcome"], as_index=False)[["numerator", "denominator"]].sum()
        published = disclosure.publish_table(table, self.rule, ["numerator", "denominator"])
        return html_table(published, "tables/monthly_series.csv")

    def methods(self) -> str:
        result = self.ev.its[self.cfg.headline.key]
        design_text = {
            "single": "one series summed over units, with a level and a slope change at each "
                      "phase start",
            "staggered": "a staggered roll-out: every unit's own series in one model with unit "
                         "fixed effects, a common secular trend, and level and slope changes "
                         "from each unit's own start month",
            "controlled": "a controlled interrupted time series: the intervention units' series "
                          "against the comparator units' series, so the effects are differences "
                          "in level and slope change between the two",
        }[self.cfg.design]
        return "\n".join([
            f"- Model: {result.method}.",
            f"- Design: {design_text}.",
            "- Segmented regression after Wagner et al. (2002), Lopez Bernal, Cummins & "
            f"Gasparrini (2017) and Linden (2015). {self.errors_sentence(result)}",
            "- Before/after: Wilson score intervals for each proportion and Newcombe's hybrid "
            "score interval for the difference (Newcombe 1998); chi-square test, or Fisher's "
            "exact test when an expected count is under 5.",
            "- " + wording.multiplicity_sentence(
                1 - self.cfg.alpha, self.ev.equity.adjustment_note if self.ev.equity else None),
            f"- {self.power_sentence()}",
        ])

    @staticmethod
    def errors_sentence(result) -> str:
        """How this model's standard errors and intervals were made (from its spec and fit)."""
        spec = result.spec
        return wording.errors_sentence(spec.family, spec.errors, result.fit.hac_lags,
                                       spec.ar_order, result.fit.df)

    def power_sentence(self) -> str:
        """What this design could detect: the planning figure, stated after the fact."""
        p = self.ev.power
        if not p:
            return "Power was not computed."
        _, ratio_name = NATURAL[self.cfg.headline.family]
        article = "an" if ratio_name[0] in "aeiou" else "a"
        scale = (f"{article} {ratio_name} of {p['mde_ratio']:.2f}" if p.get("mde_ratio")
                 else f"{p['mde_link']:.3f}")
        return (f"Power: with these months and monthly numbers, an immediate change of {scale} "
                f"(about {p['mde_absolute'] * 100:.1f} percentage points) in the headline outcome "
                f"would be detected {p['target_power']:.0%} of the time at the {p['alpha']:g} "
                f"level ({p['n_sims']} simulations of {p['model']}).")

    def before_after_table(self) -> str:
        """The published before/after table: proportions in per cent; a count against a
        registered population in a second table, per 1,000 population (docs/adr/0079)."""
        table = publish.published_before_after(self.ev, self.rule)
        overall = table[table["dimension"].isin(["all", "imd_quintile"])]
        keep = ["outcome", "dimension", "stratum", "numerator_before", "denominator_before",
                "before", "numerator_after", "denominator_after", "after", "difference",
                "difference_low", "difference_high", "p_value", "test"]
        overall = overall[[c for c in keep if c in overall.columns]]
        rates = [o.key for o in self.cfg.outcomes if self.per(o) != 100]
        rate = overall["outcome"].isin(rates)
        html = html_table(overall[~rate]) if (~rate).any() else ""
        if rate.any():
            html += html_table(per_population(overall[rate], RATE_PER))
        html += f"<p>{figures.download_link('tables/before_after.csv')}</p>"
        return html

    @staticmethod
    def per(outcome: config.Outcome) -> int:
        """Proportions are shown per 100 (percentages); counts against a registered
        population per 1,000 population (docs/adr/0079)."""
        return RATE_PER if outcome.population_table is not None else 100

    def effects_table(self, outcome_key: str, results: dict | None = None,
                      per: int = 100) -> str:
        """The model's estimates, each once: ratio rows replace their log-scale twins;
        differences in proportions in percentage points, differences in a rate per ``per``."""
        effects = (results or self.ev.its)[outcome_key].effects
        shown = effects[effects["estimand"].str.startswith(SHOWN_ESTIMANDS)]
        shown = on_rate_scale(on_percent_scale(without_link_twins(shown)), per)
        return html_table(shown[["estimand", "phase", "estimate", "ci_low", "ci_high",
                                  "p_value", "scale"]], "tables/its_effects.csv", self.cfg.period)

    def reported_outcomes(self, population: str | None = None) -> list[config.Outcome]:
        """Outcomes with a section of their own (grouped outcomes share one table:
        :meth:`show_groups`), of one population if given."""
        return [o for o in self.cfg.outcomes if o.group is None
                and (population is None or o.population == population)]

    def measured_from_note(self, outcome: config.Outcome) -> str | None:
        """For a measure collected from part-way through: where its series starts, which
        phases are not evaluated for it and what the evaluated one is compared with."""
        if outcome.measured_from is None:
            return None
        kept = self.cfg.phases_of(outcome)
        dropped = [p for p in self.cfg.phases if p not in kept]
        return (f"Collected from {outcome.measured_from:%B %Y}: the series starts there, so "
                + (", ".join(f"“{p.name}”" for p in dropped) + " (at or before that month) "
                   "cannot be evaluated for this measure, and " if dropped else "")
                + f"“{kept[0].name}” ({kept[0].start:%B %Y}) is compared with the months from "
                f"{outcome.measured_from:%B %Y} before it (docs/adr/0075).")

    def rate_note(self, outcome: config.Outcome) -> str | None:
        """For a count against a population (docs/adr/0079): the rate per 1,000 population
        before and after, from the published counts, and how it was modelled."""
        if outcome.population_table is None:
            return None
        ba = publish.published_before_after(self.ev, self.rule)
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

    def group_table(self, group: str) -> pd.DataFrame:
        """One row per outcome of ``group``: before and after percentages, the immediate change
        at its first evaluated phase (odds or rate ratio, 95% CI) and its p-value adjusted
        across the group (the intervention's multiplicity method)."""
        from pipeline.stats.multiplicity import adjust

        ba = publish.published_before_after(self.ev, self.rule)
        rows = []
        for o in (o for o in self.cfg.outcomes if o.group == group):
            suffix, _ = self._natural(o)
            phase = self.cfg.phases_of(o)[0].name
            level = self._effect(o.key, f"level_change{suffix}", phase)
            mine = ba[(ba["outcome"] == o.key) & (ba["dimension"] == "all")]
            rows.append({"outcome": o.label, "phase": phase,
                         "before": mine["before"].iloc[0] if len(mine) else None,
                         "after": mine["after"].iloc[0] if len(mine) else None,
                         "estimate": level["estimate"], "ci_low": level["ci_low"],
                         "ci_high": level["ci_high"], "p_value": level["p_value"]})
        table = pd.DataFrame(rows)
        table["p_adjusted"] = adjust(table["p_value"].to_numpy(float), self.cfg.multiplicity,
                                     self.cfg.alpha)[0]
        return table

    def show_groups(self) -> None:
        """Each group of outcomes (e.g. the 7 areas of unmet need) as one compact table and a
        forest plot, instead of a full section per outcome (docs/adr/0077)."""
        groups = list(dict.fromkeys(o.group for o in self.cfg.outcomes if o.group))
        for group in groups:
            members = [o for o in self.cfg.outcomes if o.group == group]
            table = self.group_table(group)
            display(Markdown(f"### {group.replace('_', ' ').capitalize()}\n\n"
                             f"{len(members)} outcomes in one table. Immediate change: "
                             f"{self._natural(members[0])[1]} at the phase shown (95% CI); "
                             f"p-values adjusted across the {len(members)} "
                             f"({self.cfg.multiplicity}). Each model is in "
                             "`tables/effects.csv`."
                             + (f" {note}" if (note := self.measured_from_note(members[0]))
                                else "")))
            figures.show(figures.group_forest(table, self._natural(members[0])[1]),
                         alt=f"Forest plot of the immediate change in each of {len(members)} "
                             "outcomes: " + "; ".join(
                                 f"{r.outcome}: {r.estimate:.2f} ({r.ci_low:.2f} to "
                                 f"{r.ci_high:.2f})" for r in table.itertuples()) + ".",
                         caption="Immediate change (ratio, 95% CI) by outcome; the dashed line "
                                 "is no change.", data="tables/its_effects.csv")
            display(HTML(html_table(table)))

    def show_staff(self) -> None:
        """Staff outcomes in their own section: about staff, not patients, so the same models
        but no equity breakdown by patient group (docs/adr/0076); then the staff process
        measures (docs/adr/0120). Nothing when there are none."""
        staff = self.reported_outcomes("staff")
        if staff:
            display(Markdown("### Staff outcomes\n\nOutcomes about staff, not patients (staff "
                             "trained as a share of staff in post, per "
                             f"{self.cfg.unit_label} and month), with the same models; they "
                             "have no equity breakdown by patient group."))
        for outcome in staff:
            self.show_its(outcome)
        self.show_staff_process()

    def show_staff_process(self) -> None:
        """Process measures of the staff file (params' ``staff_process``, e.g. champions in
        post per service), a descriptive table by phase; no model (docs/adr/0120). Staff counts
        of a role, not patient counts, so shown unsuppressed (the ADR says why)."""
        for key, label in self.cfg.staff_process.items():
            table = staff_process.process_table(self.ev.series, key, self.cfg.phases,
                                                self.cfg.unit_label)
            if table.empty:
                continue
            display(Markdown(f"### {label}\n\nA process measure, described and not modelled: "
                             f"the number in post in each {self.cfg.unit_label} in the last "
                             "month before the first phase and in the last month of each "
                             "phase, from the staff file. These are counts of staff in a role, "
                             "not of patients, so they are shown as reported."))
            display(HTML(html_table(table)))

    def show_its(self, outcome: config.Outcome) -> None:
        result = self.ev.its[outcome.key]
        display(Markdown(f"### {outcome.label}"))
        if (note := self.measured_from_note(outcome)):
            display(Markdown(note))
        if (rates := self.rate_note(outcome)):
            display(Markdown(rates))
        per = self.per(outcome)
        figures.show(figures.impact_figure(result, self.cfg, outcome.label, self.rule,
                                           outcome.events, per),
                     alt=figures.impact_alt_text(result, self.cfg, outcome.label, self.rule,
                                                 outcome.events),
                     caption="Top: observed, fitted and counterfactual (dashed, with its 95% "
                             "band); dotted lines mark the start(s). Middle: observed minus "
                             f"counterfactual. Bottom: the running total in {outcome.events}.",
                     data=f"plots/{outcome.key}.csv")
        if result.spec.design != "single":
            figures.show(figures.its_figure(result, self.cfg, outcome.label, self.rule, per),
                         alt=f"{outcome.label} by series, with fitted lines and "
                             "counterfactuals from the pooled model.",
                         caption="Each series of the pooled model.")
        display(HTML(self.effects_table(outcome.key, per=per)))
        d = result.diagnostics
        checks = (f"Model checks: Durbin-Watson {d['durbin_watson']:.2f}; Ljung-Box p "
                  f"{d['ljung_box_p']:.3f}; dispersion {d['dispersion']:.2f}.")
        display(Markdown(checks + "".join(f"\n- {w}" for w in d["warnings"])))
        ols = self.ev.ols.get(outcome.key)
        if ols is not None:
            display(Markdown(
                f"Alternative model, the linear segmented regression analysts know from Stata's "
                f"`itsa` (Linden 2015): {ols.method}. Its changes are in percentage points of "
                "the monthly percentage. Plain Newey-West intervals are too narrow in series this "
                "short (85% coverage in our simulations), so these use a small-sample "
                "correction with Satterthwaite degrees of freedom (Bell & McCaffrey 2002; "
                "Imbens & Kolesár 2016), which kept 95% intervals at 94-95% coverage."))
            display(HTML(self.effects_table(outcome.key, self.ev.ols)))

    def treated_monthly(self, outcome_key: str) -> pd.DataFrame:
        """Monthly totals of the units with the intervention (unrounded: pass them through
        :func:`pipeline.report.publish.with_published_observed` before showing them)."""
        rows = select(self.ev.series, outcome_key)
        rows = rows[rows["unit"].isin(treated_units(self.cfg, rows["unit"].unique()))]
        return rows.groupby("month", as_index=False)[["numerator", "denominator"]].sum()

    def spc_view(self, outcome: config.Outcome, *, rebase: bool = False):
        """The SPC chart of ``outcome`` and how its limits were made, or the months hidden.

        Returns ``(result, limits, hidden)``: the :class:`~pipeline.stats.spc.SPCResult`
        (None when a month's published count is hidden), the limits in words, and the hidden
        months. The target of the assurance icon is the outcome's ``target`` in params.
        """
        monthly = publish.with_published_observed(self.treated_monthly(outcome.key), self.rule)
        hidden = monthly.loc[monthly["numerator"].isna(), "month"]
        if len(hidden):
            return None, "", (len(hidden), len(monthly))
        starts = sorted({s for s in (self.cfg.unit_starts or {}).values()}
                        or {p.start for p in self.cfg.phases_of(outcome)})
        if rebase:
            how = {"rebase_at": [starts[0]] if self.cfg.unit_starts else starts}
            limits = "rebased at each start"
        else:
            how = {"baseline_before": starts[0]}
            limits = f"from the baseline before {pd.Timestamp(starts[0]):%B %Y}, carried forward"
        per = self.per(outcome)
        result = spc.spc_chart(monthly[["month", "numerator", "denominator"]], "pprime",
                               improvement=outcome.improvement, target=outcome.target,
                               per=None if per == 100 else per, period=self.cfg.period,
                               **how)
        return result, limits, None

    @staticmethod
    def spc_sentences(result) -> str:
        """The chart's variation and assurance in words; without a target, that no assurance
        can be given."""
        notes = " ".join(f"Note: {w}." for w in result.warnings)
        assurance = (result.assurance_note if result.target is not None else
                     "Assurance: no target is set for this outcome (params `target`), so no "
                     "assurance can be given.")
        return (f"{result.summary_sentence} Variation: {result.variation_label}. {assurance} "
                f"{notes}").rstrip()

    def show_spc(self, outcome: config.Outcome, *, rebase: bool = False) -> None:
        """NHS "Making Data Count" view: a Laney p'-chart whose centre line and limits come
        from the baseline (the months before the first start) and are carried forward, so the
        months after the start are judged against the baseline and a sustained change shows
        as special cause improvement or concern (direction from the outcome's
        ``improvement``), with the ITS counterfactual overlaid, and the assurance icon against
        the outcome's ``target`` when params give one (docs/spc.md, docs/adr/0080, 0101).
        ``rebase=True`` gives the older view, limits recalculated at each phase start.

        Drawn from the published (rounded) monthly counts, like every observed figure; when a
        month's count is hidden the chart is not drawn (runs, trends and moving ranges need
        every month, and limits from the unrounded counts would show the hidden month's
        denominator), and the report says so.
        """
        title = f"{outcome.label}: statistical process control"
        result, limits, hidden = self.spc_view(outcome, rebase=rebase)
        if result is None:
            display(Markdown(
                f"**{title}.** Not drawn: {hidden[0]} of {hidden[1]} months rest on a "
                "count hidden by the disclosure rule, and a control chart needs every month. "
                "The ITS figure above shows the months that can be published."))
            return
        counterfactual = figures.treated_series(self.ev.its[outcome.key], self.cfg)
        per = self.per(outcome)
        ylabel = ("Per cent of eligible (%)" if per == 100
                  else f"Rate per {per:,} population")
        fig = spc_figure.spc_figure(result, title, ylabel, counterfactual=counterfactual)
        figures.show(fig, alt=spc_figure.alt_text(result, title, unit="%"),
                     caption=f"Laney p'-chart: mean (solid) and process limits (dashed) {limits}; "
                             "coloured points are special causes (blue improvement, orange "
                             "concern); the dashed line with a band is the ITS counterfactual"
                             + ("; the dash-dot line is the target." if result.target is not None
                                else "."), data=f"plots/{outcome.key}.csv")
        display(Markdown(self.spc_sentences(result)))

    def show_equity(self) -> None:
        """Forest plot by stratum, the gap over time with its counterfactual, the tables."""
        self.show_target_group()
        res, outcome = self.ev.equity, self.cfg.headline
        label = outcome.label
        display(Markdown(f"**{self.equity_sentence()}**"))
        effects = res.stratum_effects
        rows = effects[(effects["outcome"] == outcome.key) & (effects["source"] == "its")
                       & effects["estimand"].str.startswith("level_change")
                       & (effects["phase"] == self._first_phase())
                       & (effects["dimension"] != "all")]
        shown = ", ".join(f"{r.dimension} {r.stratum}: {r.estimate:.2f} ({r.ci_low:.2f} to "
                          f"{r.ci_high:.2f})" for r in rows.itertuples()
                          if r.estimand.endswith(("_or", "_rr")))
        figures.show(equity_section.forest_figure(res, outcome.key, label),
                     alt=f"Forest plot of the immediate change in {label} by group "
                         f"(estimate and 95% CI): {shown}.",
                     caption="Immediate change by stratum, with p-values adjusted for multiple "
                             f"comparisons ({res.adjustment_note.rstrip('.')}); the solid line "
                             "is no change and the dashed line the estimate for all patients.",
                     data="tables/equity_stratum_effects.csv")
        starts = sorted({p.start for p in self.cfg.phases} | set((self.cfg.unit_starts or {})
                                                                 .values()))
        tables = self.equity_tables
        most, least = res.most, res.least
        figures.show(equity_section.gap_figure(tables["equity_gap_series"], outcome.key, label,
                                               res.alpha, starts, most, least,
                                               figures.start_labels(self.cfg, starts)),
                     alt=f"The gap in {label} between IMD quintile {most} and quintile {least} "
                         f"by month, observed and fitted, with the counterfactual gap. "
                         f"{self.equity_sentence()}",
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
        primary = self.cfg.equity_primary
        display(Markdown(f"**Change in the gap** (stratified ITS: quintile {most} minus quintile "
                         f"{least}; and an ITS of the {periods.adjective(self.cfg.period)} SII). "
                         f"Pre-specified in params before the data were seen: the "
                         f"{primary.horizon}-{periods.noun(self.cfg.period)} difference of "
                         f"{equity_section.estimand_name(primary.estimand, self.cfg.period)} "
                         "is the primary "
                         "answer; every other row is secondary."))
        if len(change):
            change = on_percent_scale(without_link_twins(change))
        display(HTML(html_table(change.drop(columns=["outcome", "method"]),
                                "tables/equity_gap_change.csv")))
        het = res.heterogeneity[res.heterogeneity["outcome"] == outcome.key]
        method = het["method"].iloc[0] if len(het) else ""
        shown, verdict = equity_section.heterogeneity_view(het, res.alpha)
        display(Markdown("**Does the effect differ between groups?** Test of heterogeneity "
                         f"across strata: {method}. {res.adjustment_note} {verdict}"))
        link = (f'<a href="{equity_section.HETEROGENEITY_CSV}" download>all {len(het)} tests '
                f"(CSV)</a>")
        if len(shown):
            display(HTML(f"<figure>{html_table(shown)}<figcaption>Tests of heterogeneity with "
                         "evidence after adjustment, smallest adjusted p first: a test of "
                         "whether the change is the same in every stratum of the group. "
                         f"Download {link}.</figcaption></figure>"))
        else:
            display(HTML(f"<p>Download {link}.</p>"))
        others = [o for o in equity_outcomes(self.cfg) if o.key != outcome.key]
        if others:
            display(Markdown("**Other outcomes.**\n\n" + "\n".join(
                f"- {self.equity_sentence(o)}" for o in others)))
        if res.warnings:
            display(Markdown("Strata not modelled: " + "; ".join(res.warnings[:8])
                             + ("; …" if len(res.warnings) > 8 else "") + "."))

    @cached_property
    def equity_tables(self) -> dict[str, pd.DataFrame]:
        """The equity tables as published (computed once: shown here, written to tables/)."""
        return equity_section.published_tables(self.ev.equity, self.rule, self.ev.series)

    def limitations(self) -> str:
        """What the design cannot rule out, with the short segments of this run named."""
        short = wording.SHORT_SEGMENT_MONTHS
        segments = [s for result in self.ev.its.values()
                    for s in result.diagnostics.get("points_per_segment", [])
                    if s["months"] < short]
        named = sorted({f"“{s['segment']}” ({periods.plural(s['months'], self.cfg.period)})"
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

    @staticmethod
    def glossary() -> str:
        """The glossary section (terms defined once; the page links their first uses)."""
        from pipeline.report.glossary import glossary_html

        return glossary_html()

    def provenance(self) -> str:
        m = self.manifest
        inputs = "\n".join(f"  - `{p}`: sha256 `{h[:16]}…`" for p, h in m["inputs"].items())
        packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
        return "\n".join([
            f"- Report version: `{m['version']}` (a hash of everything below).",
            f"- Code (package `pipeline` and the notebook): sha256 `{m['code']['sha256'][:16]}…`",
            f"- Parameters (`interventions.{self.cfg.key}`): sha256 "
            f"`{m['params']['sha256'][:16]}…`",
            f"- Inputs:\n{inputs}",
            f"- Packages: {packages}.",
            f"- {disclosure.stamp(self.rule, secondary=True)}",
        ])

    def history_table(self) -> str:
        """Every version of this report, newest first, with what each changed."""
        rows = [{"#": r["number"], "version": r["version"], "what changed": history.describe(r)}
                for r in reversed(self.history)]
        return html_table(pd.DataFrame(rows), "history.json")

    def publish(self, output_dir: str | Path) -> None:
        """Write tables, metrics, plot data, manifest and the index summary."""
        out = config.project_root() / output_dir
        publish.write_all(self.ev, self.rule, self.manifest, out, self.equity_tables)
        (out / "history.json").write_text(history.dumps(self.history), encoding="utf-8")
        summary = {"headline": self.summary_line(), "equity": self.equity_line(),
                   "confidence": self.confidence().level}
        (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")

    def summary_line(self) -> str:
        """The headline for the index: percentages before and after, the difference in points
        at the largest horizon with its CI, then the ratio."""
        outcome = self.cfg.headline
        parts = []
        ba = self._headline_before_after()
        if ba is not None:
            parts.append(f"{wording.percent(ba['before'])} before, "
                         f"{wording.percent(ba['after'])} after")
        horizon = self._horizon(outcome.key)
        if horizon:
            diff = self._effect(outcome.key, f"abs_diff_h{horizon}")
            parts.append(f"{wording.points(diff['estimate'])} at {horizon} months against "
                         f"{self._compared().removesuffix(' predicts')} "
                         f"({wording.interval(diff['ci_low'] * 100, diff['ci_high'] * 100, 1)})")
        suffix, ratio_name = self._natural(outcome)
        level = self._effect(outcome.key, f"level_change{suffix}", self._first_phase())
        parts.append(f"immediate change {ratio_name} {wording.fmt(level['estimate'])} "
                     f"({wording.interval(level['ci_low'], level['ci_high'])})")
        return f"{outcome.label}: " + "; ".join(parts)
