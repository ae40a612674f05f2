"""The evaluation report as a story: each section of the notebook is one method here.

The notebook (``notebooks/evaluate.ipynb``) holds headings and calls; the sentences, tables and
figures come from here, written from the results, never typed by hand. Tables and figures pass
through :mod:`pipeline.disclosure` before they are shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Markdown, display

from pipeline import config, disclosure
from pipeline.evaluation import Evaluation, load_series, run, treated_units
from pipeline.report import figures, manifest, publish, wording

NATURAL = {"quasibinomial": ("_or", "odds ratio"), "binomial": ("_or", "odds ratio"),
           "poisson": ("_rr", "rate ratio"), "quasipoisson": ("_rr", "rate ratio"),
           "gaussian": ("", "difference")}
SHOWN_ESTIMANDS = ("level_change", "slope_change", "abs_diff", "rel_diff", "cumulative_excess")


def _html_table(table: pd.DataFrame) -> str:
    return table.to_html(index=False, border=0, na_rep="", float_format=lambda v: f"{v:.3g}")


@dataclass
class Story:
    cfg: config.Intervention
    rule: config.Disclosure
    ev: Evaluation
    manifest: dict

    @classmethod
    def load(cls, key: str) -> "Story":
        root = config.project_root()
        paths = config.paths(root)
        cfg = config.load_intervention(key, root)
        rule = config.load_disclosure(root)
        series = load_series(paths.series(key))
        return cls(cfg=cfg, rule=rule, ev=run(cfg, series),
                   manifest=manifest.build(cfg, rule, paths, [paths.series(key)]))

    # -- helpers ------------------------------------------------------------------------------
    def _natural(self, outcome: config.Outcome) -> tuple[str, str]:
        return NATURAL[outcome.family]

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
        shown = [h for h in self.cfg.its.horizons if f"abs_diff_h{h}" in names]
        return max(shown) if shown else None

    # -- sections -----------------------------------------------------------------------------
    def header(self) -> str:
        cfg = self.cfg
        phases = "; ".join(f"{p.name} from {p.start:%B %Y}" for p in cfg.phases)
        return "\n".join([
            f"# {cfg.title}",
            "",
            f"**Question.** {cfg.question}",
            "",
            f"**Report version** `{self.manifest['version']}` · intervention key `{cfg.key}` · "
            f"design: {cfg.design} · window {cfg.window.start:%B %Y} to {cfg.window.end:%B %Y} · "
            f"phases: {phases}.",
        ])

    def summary(self) -> str:
        outcome = self.cfg.headline
        suffix, ratio_name = self._natural(outcome)
        level = self._effect(outcome.key, f"level_change{suffix}", self._first_phase())
        when = f"the start of {self.cfg.phases[0].name} ({self.cfg.phases[0].start:%B %Y})"
        lines = [wording.ratio_sentence(outcome.label, level["estimate"],
                                        level["ci_low"], level["ci_high"], ratio_name, when)]
        horizon = self._horizon(outcome.key)
        if horizon:
            diff = self._effect(outcome.key, f"abs_diff_h{horizon}")
            lines.append(wording.difference_sentence(outcome.label, diff["estimate"],
                                                     diff["ci_low"], diff["ci_high"], horizon))
        lines.append(self.equity_sentence())
        warnings = self.ev.its[outcome.key].diagnostics["warnings"]
        if warnings:
            lines.append("Model checks to bear in mind: " + "; ".join(warnings) + ".")
        lines.append("These are associations in observational data, not proof of cause.")
        return "\n\n".join(f"- {line}" if i else f"**Headline: {outcome.label}.**\n\n- {line}"
                           for i, line in enumerate(lines))

    def equity_sentence(self) -> str:
        outcome = self.cfg.headline
        suffix, ratio_name = self._natural(outcome)
        if not {"1", "5"} <= set(self.ev.imd):
            return "The breakdown by deprivation was not available for this outcome."
        pick = [self._effect(outcome.key, f"level_change{suffix}", self._first_phase(),
                             self.ev.imd[q]) for q in ("1", "5")]
        return wording.gap_sentence(*[(r["estimate"], r["ci_low"], r["ci_high"]) for r in pick],
                                    ratio_name)

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
        lines.append(f"- Eligible records for the headline outcome: {total:,}"
                     if isinstance(total, int) else "- Eligible records: [c]")
        lines.append(f"- {disclosure.stamp(self.rule)}")
        return "\n".join(lines)

    def units_table(self) -> str:
        """Totals per unit and outcome, disclosure-controlled."""
        rows = self.ev.series[self.ev.series["dimension"] == "all"]
        table = rows.groupby(["unit", "outcome"], as_index=False)[["numerator", "denominator"]].sum()
        published = disclosure.publish_table(table, self.rule, ["numerator", "denominator"])
        return _html_table(published)

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
            "Gasparrini (2017) and Linden (2015). Quasi-binomial models scale the variance by "
            "the Pearson dispersion; Newey-West standard errors allow for autocorrelation.",
            "- Before/after: Wilson score intervals for each proportion and Newcombe's hybrid "
            "score interval for the difference (Newcombe 1998); chi-square test, or Fisher's "
            "exact test when an expected count is under 5.",
            f"- Confidence level {1 - self.cfg.its.alpha:.0%}. No adjustment for multiple "
            "comparisons in this version: read stratum results as descriptive.",
        ])

    def before_after_table(self) -> str:
        table = publish.published_before_after(self.ev, self.rule)
        overall = table[table["dimension"].isin(["all", "imd_quintile"])]
        keep = ["outcome", "dimension", "stratum", "numerator_before", "denominator_before",
                "before", "numerator_after", "denominator_after", "after", "difference",
                "difference_low", "difference_high", "p_value", "test"]
        return _html_table(overall[[c for c in keep if c in overall.columns]])

    def effects_table(self, outcome_key: str) -> str:
        effects = self.ev.its[outcome_key].effects
        shown = effects[effects["estimand"].str.startswith(SHOWN_ESTIMANDS)]
        return _html_table(shown[["estimand", "phase", "estimate", "ci_low", "ci_high",
                                  "p_value", "scale"]])

    def show_its(self, outcome: config.Outcome) -> None:
        result = self.ev.its[outcome.key]
        display(Markdown(f"### {outcome.label}"))
        fig = figures.its_figure(result, self.cfg, outcome.label, self.rule)
        plt.show()
        plt.close(fig)
        display(HTML(self.effects_table(outcome.key)))
        d = result.diagnostics
        checks = (f"Model checks: Durbin-Watson {d['durbin_watson']:.2f}; Ljung-Box p "
                  f"{d['ljung_box_p']:.3f}; dispersion {d['dispersion']:.2f}.")
        display(Markdown(checks + "".join(f"\n- {w}" for w in d["warnings"])))

    def imd_table(self) -> pd.DataFrame:
        outcome = self.cfg.headline
        suffix, _ = self._natural(outcome)
        rows = [self._effect(outcome.key, f"level_change{suffix}", self._first_phase(), r)
                .rename(None).to_frame().T.assign(stratum=q) for q, r in self.ev.imd.items()]
        return pd.concat(rows, ignore_index=True)[["stratum", "estimate", "ci_low", "ci_high",
                                                   "p_value"]].astype({"estimate": float,
                                                                       "ci_low": float,
                                                                       "ci_high": float,
                                                                       "p_value": float})

    def show_equity(self) -> None:
        if not self.ev.imd:
            display(Markdown("No IMD quintile breakdown is configured for this intervention."))
            return
        outcome = self.cfg.headline
        _, ratio_name = self._natural(outcome)
        table = self.imd_table()
        fig = figures.forest_figure(table, f"{outcome.label}: immediate change by IMD quintile",
                                    f"{ratio_name.capitalize()} (95% CI)")
        plt.show()
        plt.close(fig)
        display(HTML(_html_table(table)))
        display(Markdown(self.equity_sentence()))

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
            f"- {disclosure.stamp(self.rule)}",
        ])

    def publish(self, output_dir: str | Path) -> None:
        """Write tables, metrics, plot data, manifest and the index summary."""
        out = config.project_root() / output_dir
        publish.write_all(self.ev, self.rule, self.manifest, out)
        summary = {"headline": self.summary_line()}
        (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")

    def summary_line(self) -> str:
        outcome = self.cfg.headline
        suffix, ratio_name = self._natural(outcome)
        level = self._effect(outcome.key, f"level_change{suffix}", self._first_phase())
        return (f"{outcome.label}: immediate change {ratio_name} {wording.fmt(level['estimate'])} "
                f"({wording.interval(level['ci_low'], level['ci_high'])})")
