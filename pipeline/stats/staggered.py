"""Staggered roll-out when units differ: per-unit effects first, then an average with chosen weights.

The pooled staggered model of :mod:`pipeline.stats.its_design` (unit fixed effects, a common
trend, one level and one slope term relative to each unit's own start) is a two-way
fixed-effects regression. When units respond differently it estimates a weighted average of
the units' effects with weights set by the timing and the variance of the treatment indicator,
not by anyone's choice, and already-treated units act as controls for later ones, so the
weights can even be negative (Goodman-Bacon 2021; de Chaisemartin & D'Haultfoeuille 2020).
The remedy in that literature is to estimate each cohort's own effect against clean controls
only (never-treated and not-yet-treated units) and then to average those effects with weights
stated in advance (Callaway & Sant'Anna 2021; Sun & Abraham 2021, for the event study).

This module does the same with the project's segmented-regression engine, so that proportions
keep their link (quasi-binomial logit) and the errors the engine uses (``errors: auto``: AR(1)
working correlation, Kenward-Roger covariance, Satterthwaite df):

1. **Per-unit effects** (:func:`unit_effects`): one engine fit of every unit with unit fixed
   effects, a secular trend and a level and slope term *per unit* from its own start. Each
   unit's post-start months are explained by its own terms, so no already-treated unit is a
   control: the interacted form of Sun & Abraham (2021). The counterfactual trend is each
   unit's own (``staggered: {trends: unit}``, the default: the segmented regression of each
   unit against its own pre-period, Lopez Bernal et al. 2017, sharing seasonality, dispersion
   and error correlation) or one trend shared by the units and learnt from months before each
   unit's start (``trends: common``: the not-yet-treated and never-treated rows, the clean
   controls of Callaway & Sant'Anna 2021), which is biased when wards' baseline trends differ
   (docs/adr/0095). A stacked design per unit
   (:func:`~pipeline.stats.staggered_design.stacked_rows`) gives the same point estimates in
   spirit, but its unit estimates share control rows without a covariance between them; the
   joint fit has it.
2. **Average** (:func:`unit_effects`): ``sum_j w_j b_j`` with weights chosen in params
   (``staggered: {weights: equal | exposure}``: equal per unit, or in proportion to the
   unit's denominator in its fitted post-period months), with two intervals:
   *these units* (``w' V w`` from the joint covariance, Kenward-Roger/Satterthwaite df: the
   average effect in the units evaluated, the report's headline) and *units as a sample*
   (adds the between-unit variance ``tau^2 sum w^2``, DerSimonian & Laird 1986, with
   Welch-Satterthwaite df: the expected effect in a new unit). Chosen by simulation
   (``benchmarks/staggered_simulation.py``; ``docs/adr/0060-staggered-per-unit-effects.md``):
   with five units, intervals built on the spread between units alone (the t interval on the
   unit estimates, Hartung & Knapp 2001) missed the average when the wards' effects were
   correlated through the shared trend, and over-covered these wards' own average.
3. **Heterogeneity** (:func:`~pipeline.stats.staggered_average.heterogeneity`): Cochran's Q
   over the unit estimates with their joint covariance, I^2 (Higgins & Thompson 2002) and the
   DerSimonian-Laird tau^2.
4. **Event study** (:func:`~pipeline.stats.staggered_event_study.event_study`): effect by
   months since each unit's own start from one joint fit with an indicator per unit and
   relative month (the month before the start is the reference), averaged across units as one
   contrast with its Kenward-Roger SE; pre-start months included, with a joint Wald test that
   they are zero (:func:`~pipeline.stats.staggered_event_study.pretrend_test`), averaged and
   unit by unit.

References
----------
Goodman-Bacon A. Difference-in-differences with variation in treatment timing. J Econom
2021;225:254-277.
Callaway B, Sant'Anna PHC. Difference-in-differences with multiple time periods. J Econom
2021;225:200-230.
Sun L, Abraham S. Estimating dynamic treatment effects in event studies with heterogeneous
treatment effects. J Econom 2021;225:175-199.
de Chaisemartin C, D'Haultfoeuille X. Two-way fixed effects estimators with heterogeneous
treatment effects. Am Econ Rev 2020;110:2964-2996.
Hartung J, Knapp G. A refined method for the meta-analysis of controlled clinical trials with
binary outcome. Stat Med 2001;20:3875-3889.
IntHout J, Ioannidis JPA, Borm GF. The Hartung-Knapp-Sidik-Jonkman method for random effects
meta-analysis is straightforward and considerably outperforms the standard DerSimonian-Laird
method. BMC Med Res Methodol 2014;14:25.
Lopez Bernal J, Cummins S, Gasparrini A. Interrupted time series regression for the evaluation
of public health interventions: a tutorial. Int J Epidemiol 2017;46:348-355.
Kenward MG, Roger JH. Small sample inference for fixed effects from restricted maximum
likelihood. Biometrics 1997;53:983-997.
Roth J. Pretest with caution: event-study estimates after testing for parallel trends. Am Econ
Rev Insights 2022;4:305-322.
DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-188.
Cochran WG. The combination of estimates from different experiments. Biometrics
1954;10:101-129.
Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med
2002;21:1539-1558.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .its_spec import ITSSpec, validate_spec
from .staggered_average import (dersimonian_laird_tau2, heterogeneity, sample_interval,
                                unit_weights)
from .staggered_design import contrast_rows, joint_fit, unit_exposure
from .staggered_event_study import event_study

CHANGES = ("level_change", "slope_change")


@dataclass
class StaggeredResult:
    """Per-unit effects, their average with stated weights, heterogeneity, pooled model.

    Attributes
    ----------
    units : DataFrame
        ``unit, start, estimand, estimate, se, df, ci_low, ci_high, p_value, weight``: each
        treated unit's own level and slope change (link scale) from its stacked model.
    average : DataFrame
        ``estimand, estimate, se, df, ci_low, ci_high, p_value, weights, interval, k``.
    heterogeneity : DataFrame
        ``estimand, q, df, p_value, i2, tau2`` (Cochran's Q across units).
    pooled : DataFrame
        The pooled staggered model's level and slope change (the sensitivity row).
    weights : str
        ``"equal"`` or ``"exposure"``.
    method : str
        One sentence naming the method.
    event_study : DataFrame or None
        :func:`~pipeline.stats.staggered_event_study.event_study` of the same data, when asked for.
    pretrend : dict or None
        :func:`~pipeline.stats.staggered_event_study.pretrend_test`
        of the event study's pre-start months, when asked for.
    trends : str
        ``"unit"`` or ``"common"`` (the counterfactual trend, :func:`unit_effects`).
    """

    units: pd.DataFrame
    average: pd.DataFrame
    heterogeneity: pd.DataFrame
    pooled: pd.DataFrame
    weights: str
    method: str
    event_study: pd.DataFrame | None = None
    pretrend: dict | None = None
    trends: str = "unit"

    def table(self) -> pd.DataFrame:
        """Per-unit rows, the average and the pooled model in one tidy table (link scale):
        ``row, unit, start, estimand, estimate, ci_low, ci_high, p_value, weight, method``."""
        units = self.units.assign(row="unit", method="own level and slope in the joint model")
        average = self.average.assign(row="average, " + self.average["interval"], unit="all",
                                      start="", weight=1.0, method=self.method)
        pooled = self.pooled.assign(row="pooled (sensitivity)", unit="all", start="",
                                    weight=float("nan"))
        cols = ["row", "unit", "start", "estimand", "estimate", "ci_low", "ci_high", "p_value",
                "weight", "method"]
        return pd.concat([units[cols], average[cols], pooled[cols]], ignore_index=True)


def unit_effects(series: pd.DataFrame, spec, weights: str = "equal",
                 trends: str = "unit") -> tuple[pd.DataFrame, ...]:
    """Each treated unit's own level and slope change, and their weighted average.

    One engine fit of every unit's rows with unit fixed effects, the secular trend (and
    seasonality) and a level and a slope term *per unit* from its own start: each unit's
    post-start months are explained by its own terms, so no already-treated unit serves as a
    control (the forbidden comparisons of the pooled model: Goodman-Bacon 2021; de Chaisemartin
    & D'Haultfoeuille 2020). This is the interacted ("saturated") model of Sun & Abraham (2021)
    and Wooldridge's extended two-way fixed effects, with the engine's link, family and errors.

    ``trends``: ``"unit"`` (the default) gives every unit its own secular trend, so each
    unit's counterfactual is the extrapolation of its own pre-start months (the segmented
    regression of each unit, Lopez Bernal et al. 2017) and the other units share only the
    seasonality, dispersion and error correlation; ``"common"`` shares one trend between units,
    learnt from months before each unit's start (not-yet-treated and never-treated rows, the
    clean controls of Callaway & Sant'Anna 2021), which is more precise but biased when units'
    baseline trends differ (parallel trends fails; ``benchmarks/staggered_simulation.py``,
    docs/adr/0095). One fit gives the full covariance of the unit effects, so the average
    ``sum_j w_j b_j`` gets its own SE and Kenward-Roger/Satterthwaite df from the same contrast
    machinery as every ITS estimate.

    Parameters
    ----------
    series : DataFrame
        ``month, unit, numerator, denominator`` of every unit (as for
        :func:`pipeline.stats.its.fit_its`).
    spec : dict or ITSSpec
        A staggered ITS spec (``unit_starts``).
    weights : {"equal", "exposure"}
    trends : {"unit", "common"}

    Returns
    -------
    (units, average, heterogeneity) : DataFrames
        ``unit, start, estimand, estimate, se, df, ci_low, ci_high, p_value, weight``;
        ``estimand, estimate, se, df, ci_low, ci_high, p_value, weights, interval, k`` with two
        rows per estimand: ``interval = "these units"`` (the average of these units' effects:
        ``w' V w`` from the joint covariance, its Satterthwaite df; the report's headline) and
        ``"units as a sample"`` (a new unit's expected effect: ``w' V w + tau^2 sum w^2``,
        :func:`~pipeline.stats.staggered_average.sample_interval`);
        and :func:`~pipeline.stats.staggered_average.heterogeneity`.
    """
    spec = spec if isinstance(spec, ITSSpec) else validate_spec(spec)
    if spec.design != "staggered":
        raise ValueError("per-unit staggered effects need a staggered spec (unit_starts)")
    if spec.period != "month":
        raise ValueError(
            "unit_effects (the heterogeneity-robust staggered estimator) is for monthly series; "
            f"spec['period'] is {spec.period!r}. Fit the pooled staggered model with fit_its")
    fit, design, joint, contrasts = joint_fit(series, spec, trends)
    units = list(spec.unit_starts)
    w = unit_weights(np.array([unit_exposure(design, u) for u in units]), weights)
    rows, averages, tests = [], [], []
    for estimand, G in contrasts.items():
        named = {(u, estimand): G[i] for i, u in enumerate(units)}
        per_unit = contrast_rows(design, fit, joint, named)
        for r, (u, _) in zip(per_unit, named):
            rows.append({"unit": u, "start": str(spec.unit_starts[u]), **r,
                         "estimand": estimand, "weight": w[units.index(u)]})
        avg = contrast_rows(design, fit, joint, {estimand: w @ G})[0]
        averages.append({**avg, "weights": weights, "interval": "these units", "k": len(units)})
        b = G @ fit.params
        v = np.array([r["se"] for r in per_unit]) ** 2
        averages.append({"estimand": estimand, **sample_interval(avg, b, v, w, spec.alpha),
                         "weights": weights, "interval": "units as a sample", "k": len(units)})
        tests.append({"estimand": estimand, **heterogeneity(b, G @ fit.cov @ G.T),
                      "tau2": dersimonian_laird_tau2(b, v)})
    return pd.DataFrame(rows), pd.DataFrame(averages), pd.DataFrame(tests)


def method_sentence(weights: str, k: int, trends: str = "unit") -> str:
    """The method in one sentence (for tables and reports)."""
    named = "equal weight per unit" if weights == "equal" else \
        "units weighted by their post-start denominators (exposure)"
    counterfactual = ("each unit's own trend before its start" if trends == "unit" else
                      "a trend shared by the units, from months before each unit's start")
    return (f"One segmented model with each of the {k} units' own level and slope change from "
            f"its own start (counterfactual: {counterfactual}), averaged with {named}; "
            f"interval from the units' joint covariance")


def evaluate_staggered(series: pd.DataFrame, spec, weights: str = "equal",
                       pooled: pd.DataFrame | None = None,
                       with_event_study: bool = False, trends: str = "unit") -> StaggeredResult:
    """Per-unit effects, their average, heterogeneity and the pooled model beside them.

    ``pooled``: the pooled model's effects table (``fit_its(series, spec).effects``), shown as
    the sensitivity row; fitted here when not given. ``with_event_study``: add
    :func:`~pipeline.stats.staggered_event_study.event_study`
    (and its joint pre-start test) with the same weights and trends.
    """
    spec = spec if isinstance(spec, ITSSpec) else validate_spec(spec)
    units, average, tests = unit_effects(series, spec, weights, trends)
    if pooled is None:
        from .its import fit_its

        pooled = fit_its(series, spec).effects
    pooled = pooled[pooled["estimand"].isin(CHANGES)].reset_index(drop=True)
    events, pretrend = (event_study(series, spec, weights, trends=trends, with_test=True)
                        if with_event_study else (None, None))
    return StaggeredResult(units, average, tests, pooled, weights,
                           method_sentence(weights, units["unit"].nunique(), trends), events,
                           pretrend, trends)
