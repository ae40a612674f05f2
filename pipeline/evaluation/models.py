"""The models of one evaluation, each fitted once from params and the series.

The segmented regression of each outcome in the design params describe, the OLS/Newey-West
alternative analysts know from Stata's ``itsa``, the staggered per-unit effects, the design's
power and the models params add beside the segmented regression (structural, synthetic control).
:func:`pipeline.evaluation.build.run` calls these; the report only reads what they return.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Intervention, Outcome
from pipeline.evaluation.series import data_spec, select, treated_units
from pipeline.stats.its import ITSResult, fit_its
from pipeline.stats.power import minimum_detectable_effect
from pipeline.analysis_options import check_staggered_options
from pipeline.stats.staggered import StaggeredResult, evaluate_staggered


def spec_of(cfg: Intervention, outcome: Outcome, series: pd.DataFrame,
            quality: dict | None = None) -> dict:
    """The ITS spec of one outcome: params' (:meth:`Intervention.its_spec`) with the keys that
    come from the data (months the prepare step excluded, covariates it added)."""
    return {**cfg.its_spec(outcome), **data_spec(series, quality)}


def fit_outcome(cfg: Intervention, outcome: Outcome, series: pd.DataFrame,
                dimension: str = "all", stratum: str = "all", quality: dict | None = None,
                **overrides) -> ITSResult:
    """One outcome's segmented regression in one stratum, with its spec from params and
    the data; ``overrides`` change spec keys (e.g. another family or error structure)."""
    spec = {**spec_of(cfg, outcome, series, quality), **overrides}
    rows = select(series, outcome.key, dimension, stratum)
    if outcome.measured_from is not None:
        rows = rows[rows["month"] >= outcome.measured_from].reset_index(drop=True)
    return fit_its(rows, spec)


def fit_ols_newey_west(cfg: Intervention, outcome: Outcome, series: pd.DataFrame,
                       quality: dict | None = None) -> ITSResult:
    """The classic alternative: OLS on the monthly proportion with Newey-West errors.

    Shown beside the GLM because analysts know it from Stata's ``itsa`` (Linden 2015). Plain
    Newey-West intervals are too narrow in short series (docs/adr/0007), so the engine's default
    small-sample correction (Bell-McCaffrey variance, Satterthwaite df) is kept.
    """
    return fit_outcome(cfg, outcome, series, quality=quality, family="gaussian", errors="hac")


def other_models(cfg: Intervention, series: pd.DataFrame, specs: dict) -> dict:
    """The models params add beside the segmented regression (docs/adr/0115, 0117): the
    structural counterfactual of every outcome (``model: structural``) and the synthetic
    control of the headline outcome (``synthetic_control: true``)."""
    from pipeline.other_models import fit_other_models

    return fit_other_models(cfg, series, specs, select)


def staggered_effects(cfg: Intervention, series: pd.DataFrame, spec: dict,
                      pooled: ITSResult) -> StaggeredResult | None:
    """Per-unit effects of the headline outcome, their average with the weights params name,
    the event study, and the pooled model as the sensitivity row (staggered designs only;
    docs/adr/0060)."""
    if cfg.design != "staggered":
        return None
    options = check_staggered_options(cfg.staggered)
    return evaluate_staggered(select(series, cfg.headline.key), spec, options["weights"],
                              pooled=pooled.effects, with_event_study=True,
                              trends=options["trends"])


def design_power(cfg: Intervention, series: pd.DataFrame, result: ITSResult) -> dict:
    """The smallest immediate change this design could detect with 80% power.

    A planning figure (simulation, :func:`pipeline.stats.power.minimum_detectable_effect`)
    for the headline outcome: this many months before and after the first start, the
    pre-period proportion, the mean monthly denominator and the dispersion seen here.
    """
    rows = select(series, cfg.headline.key)
    rows = rows[rows["unit"].isin(treated_units(cfg, rows["unit"].unique()))]
    monthly = rows.groupby("month")[["numerator", "denominator"]].sum()
    start = min(cfg.unit_starts.values()) if cfg.unit_starts else cfg.phases[0].start
    pre = monthly[monthly.index < start]
    family = result.spec.base_family
    return minimum_detectable_effect(
        n_pre=len(pre), n_post=len(monthly) - len(pre),
        baseline=float(pre["numerator"].sum() / pre["denominator"].sum()),
        denominator=float(monthly["denominator"].mean()),
        family=family, dispersion=max(float(result.diagnostics["dispersion"]), 1.0),
        alpha=cfg.alpha, seed=0,
    )
