"""The report's context: one evaluation result with what publishing adds (version, history).

The notebook (``notebooks/evaluate.ipynb``) builds the result with :mod:`pipeline.evaluation`
and wraps it here; the views take a :class:`Story` and return text
(:mod:`~pipeline.report.summary_text`, :mod:`~pipeline.report.methods_text`), HTML tables
(:mod:`~pipeline.report.tables`) or display a section (:mod:`~pipeline.report.sections`,
:mod:`~pipeline.report.equity_view`). Nothing in :mod:`pipeline.report` fits a model or reads a
data file: the numbers are the result's (docs/adr/0140; ``tests/test_views.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from pipeline import config
from pipeline.evaluation import Evaluation, Inputs, rate_per
from pipeline.evaluation.result import level_change_name, natural_scale
from pipeline.report import equity_tables, history, manifest, publish, wording


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
    def of(cls, ev: Evaluation, inputs: Inputs, root: Path | None = None) -> "Story":
        """The report of ``ev``: its manifest (hashes of code, params and the series file) and
        the version history of the published report extended by this version."""
        root = root or config.project_root()
        paths = config.paths(root)
        key = ev.cfg.key
        story = cls(cfg=ev.cfg, rule=inputs.rule, ev=ev,
                    manifest=manifest.build(ev.cfg, inputs.rule, paths, [inputs.series_path]),
                    quality=inputs.quality, history=[], simulated=inputs.simulated)
        previous = history.load(paths.report(key) / "history.json")
        story.history = history.updated(previous, story.manifest, story.headline_metrics())
        return story

    # -- lookups into the result (no statistics) ----------------------------------------------
    def natural(self, outcome: config.Outcome) -> tuple[str, str]:
        """The level change's name on the outcome's natural scale (``level_change_or``) and
        the name of that scale; controlled designs compare two ratios."""
        name = natural_scale(outcome.family)[1]
        if self.cfg.design == "controlled":
            name = f"ratio of {name}s, intervention against comparator {self.cfg.unit_label}s"
        return level_change_name(outcome.family), name

    def effect(self, outcome_key: str, estimand: str, phase: str | None = None,
               results: dict | None = None) -> pd.Series:
        return self.ev.effect(outcome_key, estimand, phase, results)

    def first_phase(self) -> str:
        return self.cfg.phases[0].name

    def level(self, outcome: config.Outcome, phase: str | None = None) -> pd.Series:
        """The immediate change of ``outcome`` on its natural scale (default: first phase)."""
        return self.effect(outcome.key, self.natural(outcome)[0],
                           phase or self.first_phase())

    def horizon(self, outcome_key: str) -> int | None:
        names = set(self.ev.its[outcome_key].effects["estimand"])
        shown = [h for h in self.cfg.horizons if f"abs_diff_h{h}" in names]
        return max(shown) if shown else None

    def compared(self) -> str:
        """What the headline is compared with: the earlier trend, or the comparator units."""
        return wording.reference(self.cfg.design, self.cfg.unit_label)

    @staticmethod
    def per(outcome: config.Outcome) -> int:
        """Percentages (100) or a rate per 1,000 population (docs/adr/0079)."""
        return rate_per(outcome)

    def reported_outcomes(self, population: str | None = None) -> list[config.Outcome]:
        """Outcomes with a section of their own (grouped outcomes share one table), of one
        population if given."""
        return [o for o in self.cfg.outcomes if o.group is None
                and (population is None or o.population == population)]

    def headline_before_after(self) -> pd.Series | None:
        """The headline outcome's overall row of the published before/after table."""
        table = self.published_before_after
        rows = table[(table["outcome"] == self.cfg.headline.key)
                     & (table["dimension"] == "all")]
        if rows.empty or isinstance(rows.iloc[0]["before"], str):
            return None  # hidden by the disclosure rule
        return rows.iloc[0]

    @cached_property
    def published_before_after(self) -> pd.DataFrame:
        """The before/after table as published (suppressed, rounded, restated)."""
        return publish.published_before_after(self.ev, self.rule)

    @cached_property
    def equity_tables(self) -> dict[str, pd.DataFrame]:
        """The equity tables as published (computed once: shown here, written to tables/)."""
        return equity_tables.published_tables(self.ev.equity, self.rule, self.ev.series)

    def headline_metrics(self) -> dict:
        """The headline outcome's first-phase level change, rounded as published."""
        outcome = self.cfg.headline
        level_name, _ = self.natural(outcome)
        row = self.level(outcome)
        return publish._clean({f"{outcome.key}.{level_name}": {
            "estimate": row["estimate"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}})

    def publish(self, output_dir: str | Path) -> None:
        """Write tables, metrics, plot data, manifest, history and the index summary."""
        from pipeline.report import summary_text

        out = config.project_root() / output_dir
        publish.write_all(self.ev, self.rule, self.manifest, out, self.equity_tables)
        (out / "history.json").write_text(history.dumps(self.history), encoding="utf-8")
        summary = {"headline": summary_text.summary_line(self),
                   "equity": summary_text.equity_line(self),
                   "confidence": summary_text.confidence(self).level}
        (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")
