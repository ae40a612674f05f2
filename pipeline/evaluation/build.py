"""Build one intervention's :class:`~pipeline.evaluation.result.Evaluation`: read, then fit once.

:func:`load_inputs` is the one place an evaluation reads files (params, the prepared series,
the prepare step's quality record, the disclosure rule); :func:`run` fits every model and makes
every decision the report shows from them. The notebook calls the two in turn, so a reviewer
sees where the data came from and where each number was made (docs/adr/0140).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import config
from pipeline.config import Disclosure, Intervention
from pipeline.intervention import crossed_name
from pipeline.evaluation.judgements import (confidence_evidence, control_chart, decisions,
                                            group_table, robustness)
from pipeline.evaluation.models import (design_power, fit_ols_newey_west, fit_outcome,
                                        other_models, spec_of, staggered_effects)
from pipeline.evaluation.result import Evaluation
from pipeline.evaluation.series import (before_after_table, equity_outcomes, load_series,
                                        measured, select)
from pipeline.stats.equity import evaluate_equity
from pipeline.stats.sensitivity import run_sensitivity


@dataclass(frozen=True)
class Inputs:
    """What an evaluation starts from: validated params, the prepared monthly series, the
    prepare step's quality record and the publication rule."""

    cfg: Intervention
    series: pd.DataFrame
    quality: dict
    rule: Disclosure
    series_path: Path
    simulated: bool = False  # the extract is simulated (params ``simulation.interventions``)


def load_inputs(key: str, root: Path | None = None) -> Inputs:
    """Read ``interventions.<key>`` and the disclosure rule from params.yaml, the series from
    ``data/processed/<key>/series.parquet`` and its ``quality.json`` (empty when absent)."""
    root = root or config.project_root()
    paths = config.paths(root)
    quality_path = paths.processed(key) / "quality.json"
    return Inputs(cfg=config.load_intervention(key, root), series=load_series(paths.series(key)),
                  quality=json.loads(quality_path.read_text()) if quality_path.exists() else {},
                  rule=config.load_disclosure(root), series_path=paths.series(key),
                  simulated=key in config.simulated_keys(root))


def evaluate(key: str, root: Path | None = None) -> Evaluation:
    """:func:`load_inputs` then :func:`run`: one intervention's evaluation from its key."""
    inputs = load_inputs(key, root)
    return run(inputs.cfg, inputs.series, inputs.quality, inputs.rule,
               simulated=inputs.simulated)


def run(cfg: Intervention, series: pd.DataFrame, quality: dict | None = None,
        rule: Disclosure | None = None, simulated: bool = False) -> Evaluation:
    """Every statistic of one intervention's report, in this order: the series from each
    outcome's ``measured_from``; each outcome's segmented regression with its spec (params, and
    the months and covariates the prepare step gave); the equity analysis reusing those fits;
    the OLS/Newey-West alternative; the headline's robustness variants, power and staggered
    effects; any structural or synthetic-control model; SPC charts on the published counts
    (``rule``; default: the rule's defaults); group tables; decisions and their reasons.
    """
    rule = rule or Disclosure()
    series = measured(cfg, series)
    specs = {o.key: spec_of(cfg, o, series, quality) for o in cfg.outcomes}
    its = {o.key: fit_outcome(cfg, o, series, quality=quality) for o in cfg.outcomes}
    equity, target_gap = equity_analysis(cfg, series, specs, its)
    ols = {o.key: fit_ols_newey_west(cfg, o, series, quality) for o in cfg.outcomes}
    headline = cfg.headline
    sensitivity = run_sensitivity(select(series, headline.key), specs[headline.key],
                                  cfg.sensitivity)
    checks = robustness(sensitivity)
    return Evaluation(
        cfg=cfg, series=series, before_after=before_after_table(cfg, series), its=its,
        equity=equity, ols=ols, sensitivity=sensitivity,
        power=design_power(cfg, series, its[headline.key]), target_gap=target_gap,
        staggered=staggered_effects(cfg, series, specs[headline.key], its[headline.key]),
        **other_models(cfg, series, specs),
        spc={o.key: control_chart(cfg, series, o, rule)
             for o in cfg.outcomes if o.group is None},
        groups={g: group_table(cfg, its, g)
                for g in dict.fromkeys(o.group for o in cfg.outcomes if o.group)},
        robustness=checks, confidence=confidence_evidence(cfg, its[headline.key], checks),
        decisions=decisions(cfg, its), quality=quality or {}, rule=rule, simulated=simulated)


def equity_analysis(cfg: Intervention, series: pd.DataFrame, specs: dict, its: dict):
    """The equity analysis (:func:`pipeline.stats.equity.evaluate_equity`) of the patients'
    outcomes by each dimension params name, reusing each outcome's overall fit; with a target
    group, its rows and its gap with everyone else (docs/adr/0078). ``(equity, target_gap)``."""
    strata = series
    extra = [crossed_name(p) for p in cfg.crossed]
    if cfg.target_group:
        from pipeline import target_group

        strata, extra = target_group.with_target_rows(cfg, series), [*extra,
                                                                   target_group.DIMENSION]
    equity = evaluate_equity(
        strata, {o.key: specs[o.key] for o in equity_outcomes(cfg)},
        dimensions=[*cfg.equity, *extra], plus_groups=list(cfg.plus_groups),
        multiplicity=cfg.multiplicity, alpha=cfg.alpha,
        before_after_months=(cfg.before_after.before_months, cfg.before_after.after_months),
        most=cfg.equity_primary.most, least=cfg.equity_primary.least,
        overall_fits=its,
    )
    target_gap = (target_group.gap_change(cfg, equity, equity_outcomes(cfg))
                  if cfg.target_group else None)
    return equity, target_gap
