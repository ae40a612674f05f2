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
   (docs/adr/0095). A stacked design per unit (:func:`stacked_rows`) gives the same point
   estimates in spirit, but its unit estimates share control rows without a covariance
   between them; the joint fit has it.
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
3. **Heterogeneity** (:func:`heterogeneity`): Cochran's Q over the unit estimates with their
   joint covariance, I^2 (Higgins & Thompson 2002) and the DerSimonian-Laird tau^2.
4. **Event study** (:func:`event_study`): effect by months since each unit's own start from one
   joint fit with an indicator per unit and relative month (the month before the start is the
   reference), averaged across units as one contrast with its Kenward-Roger SE; pre-start
   months included, with a joint Wald test that they are zero (:func:`pretrend_test`),
   averaged and unit by unit.

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

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..analysis_options import STAGGERED_TRENDS as TRENDS
from ..analysis_options import STAGGERED_WEIGHTS as WEIGHTS  # noqa: F401 (re-export)
from ..analysis_options import check_staggered_options as check_options  # noqa: F401
from .its_design import build_design
from .its_estimands import quantile
from .its_fit import fit_model
from .its_input import month_ordinal
from .its_spec import ITSSpec, validate_spec

INTERVALS = ("between", "dersimonian_laird", "within")
CHANGES = ("level_change", "slope_change")
EVENT_WINDOW = (-12, 12)  # relative months shown in the event study (0 = the start month)


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
        :func:`event_study` of the same data, when asked for.
    pretrend : dict or None
        :func:`pretrend_test` of the event study's pre-start months, when asked for.
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


def _starts(spec: ITSSpec) -> dict[str, int]:
    return {u: month_ordinal(s) for u, s in spec.unit_starts.items()}


def _ordinals(series: pd.DataFrame) -> np.ndarray:
    months = pd.to_datetime(series["month"]).dt.to_period("M")
    return (months.dt.year * 12 + months.dt.month - 1).to_numpy(dtype=np.int64)


def stacked_rows(series: pd.DataFrame, spec: ITSSpec, unit: str) -> pd.DataFrame:
    """``unit``'s rows plus its clean controls' rows: each other treated unit before its own
    start (not yet treated) and every unit without a start (never treated) throughout."""
    starts = _starts(spec)
    m = _ordinals(series)
    names = series["unit"].astype(str).to_numpy()
    own_start = np.array([starts.get(u, np.iinfo(np.int64).max) for u in names])
    keep = (names == unit) | (m < own_start)
    return series[keep].reset_index(drop=True)


def _contrast_rows(design, fit, spec: ITSSpec, vectors: dict) -> list[dict]:
    """Estimate, SE, df, interval and p-value of named contrast vectors of one fit."""
    G = np.array(list(vectors.values()))
    ses, dfs = fit.se_df(G)
    rows = []
    for i, name in enumerate(vectors):
        df = None if dfs is None else float(np.broadcast_to(dfs, (len(G),))[i])
        est, se = float(G[i] @ fit.params), float(ses[i])
        q = quantile(spec.alpha, df)
        p = 2 * (stats.t.sf(abs(est / se), df) if df is not None else stats.norm.sf(abs(est / se)))
        rows.append({"estimand": name, "estimate": est, "se": se, "df": df,
                     "ci_low": est - q * se, "ci_high": est + q * se, "p_value": float(p)})
    return rows


def _exposure(design, unit: str) -> float:
    """The unit's denominator over its fitted post-period months (the exposure weight)."""
    rows = (design.keys == unit) & design.fit_rows & (design.event_time >= 1)
    return float(design.den[rows].sum())


def change_rows(series: pd.DataFrame, spec: ITSSpec) -> tuple[list[dict], object]:
    """Level and slope change (link scale) of one engine fit, without the series table.

    The engine's design and fit (:func:`~pipeline.stats.its_design.build_design`,
    :func:`~pipeline.stats.its_fit.fit_model`) and its per-contrast SE and df; the same
    numbers as ``fit_its(series, spec).effects`` at a fraction of the cost (no counterfactual
    band per month), which matters for one fit per unit and per simulated panel.
    """
    design = build_design(series, spec)
    fit = fit_model(design, spec)
    eye = np.eye(len(fit.params))
    vectors = {estimand: eye[idx] for estimand, _, idx in design.contrasts}
    return _contrast_rows(design, fit, spec, vectors), design


def _interactions(series: pd.DataFrame, spec: ITSSpec, trends: str = "unit",
                  changes: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """The series with each later unit's own level and slope columns (the first unit's are
    the engine's level and slope terms): ``level[u]`` = 1 from u's start, ``slope[u]`` = months
    since u's start + 1 (the coding of :mod:`pipeline.stats.its_design`); with
    ``trends="unit"`` also ``time[u]``, months since the first month for every unit but the
    engine's reference unit (the first by name), so that each unit has its own secular trend.
    ``changes=False``: the level columns only (the event study's)."""
    if trends not in TRENDS:
        raise ValueError(f"trends = {trends!r}; choose one of: {', '.join(TRENDS)}")
    starts = _starts(spec)
    m = _ordinals(series)
    names = series["unit"].astype(str).to_numpy()
    added = {}
    for unit in list(starts)[1:]:
        since = m - starts[unit]
        own = (names == unit) & (since >= 0)
        added[f"level[{unit}]"] = own.astype(float)
        if changes and spec.phases[0].has_slope:
            added[f"slope[{unit}]"] = np.where(own, since + 1, 0).astype(float)
    if trends == "unit":
        for unit in sorted(set(names))[1:]:
            added[f"time[{unit}]"] = np.where(names == unit, m - m.min() + 1, 0).astype(float)
    return with_columns(series, added), list(added)


def with_columns(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """``frame`` with new columns added in one step (no fragmented frame)."""
    return pd.concat([frame.reset_index(drop=True),
                      pd.DataFrame(columns, index=range(len(frame)))], axis=1)


def _check_units(series: pd.DataFrame, spec: ITSSpec) -> None:
    present = set(series["unit"].astype(str))
    missing = [u for u in spec.unit_starts if u not in present]
    if missing:
        raise ValueError(f"unit(s) {missing} of unit_starts have no rows in the series "
                         f"(units: {sorted(present)})")


def joint_fit(series: pd.DataFrame, spec: ITSSpec, trends: str = "unit"):
    """One engine fit with every unit's own level and slope change (see :func:`unit_effects`).

    Returns ``(fit, design, joint spec, contrasts)`` with ``contrasts[estimand]`` the units x
    parameters matrix whose rows give each unit's own change.
    """
    _check_units(series, spec)
    data, columns = _interactions(series, spec, trends)
    joint = replace(spec, covariates=(*spec.covariates, *columns))
    design = build_design(data, joint)
    fit = fit_model(design, joint)
    eye = np.eye(len(fit.params))
    contrasts = {}
    for estimand, _, idx in design.contrasts:
        term = estimand.removesuffix("_change")
        rows = [eye[idx] + (eye[design.names.index(f"{term}[{u}]")] if i else 0.0)
                for i, u in enumerate(spec.unit_starts)]
        contrasts[estimand] = np.array(rows)
    return fit, design, joint, contrasts


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
        :func:`sample_interval`); and :func:`heterogeneity`.
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
    w = unit_weights(np.array([_exposure(design, u) for u in units]), weights)
    rows, averages, tests = [], [], []
    for estimand, G in contrasts.items():
        named = {(u, estimand): G[i] for i, u in enumerate(units)}
        per_unit = _contrast_rows(design, fit, joint, named)
        for r, (u, _) in zip(per_unit, named):
            rows.append({"unit": u, "start": str(spec.unit_starts[u]), **r,
                         "estimand": estimand, "weight": w[units.index(u)]})
        avg = _contrast_rows(design, fit, joint, {estimand: w @ G})[0]
        averages.append({**avg, "weights": weights, "interval": "these units", "k": len(units)})
        b = G @ fit.params
        v = np.array([r["se"] for r in per_unit]) ** 2
        averages.append({"estimand": estimand, **sample_interval(avg, b, v, w, spec.alpha),
                         "weights": weights, "interval": "units as a sample", "k": len(units)})
        tests.append({"estimand": estimand, **heterogeneity(b, G @ fit.cov @ G.T),
                      "tau2": dersimonian_laird_tau2(b, v)})
    return pd.DataFrame(rows), pd.DataFrame(averages), pd.DataFrame(tests)


def heterogeneity(b: np.ndarray, V: np.ndarray) -> dict:
    """Wald test that every unit's change is the same: Cochran's Q with the units' joint
    covariance, ``Q = (D b)' (D V D')^-1 (D b)`` with ``D`` the differences from the first unit,
    chi-squared on k - 1 df (equal to :func:`pipeline.stats.equity.cochran_q` when ``V`` is
    diagonal; Cochran 1954), and ``I^2 = max(0, (Q - df) / Q)`` (Higgins & Thompson 2002)."""
    k = len(b)
    D = np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)])
    d = D @ b
    q = float(d @ np.linalg.solve(D @ V @ D.T, d))
    p = float(stats.chi2.sf(q, k - 1))
    return {"q": q, "df": k - 1, "p_value": p, "i2": max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0}


def sample_interval(average: dict, b, v, w, alpha: float = 0.05) -> dict:
    """The average's interval when the units are a sample of units: variance ``w' V w +
    tau^2 sum w^2`` (DerSimonian-Laird tau^2 from the unit estimates), t on the
    Welch-Satterthwaite df of the two parts (the first with its own df, tau^2 with k - 1)."""
    w = np.asarray(w, float)
    A = average["se"] ** 2
    B = dersimonian_laird_tau2(b, v) * float(np.sum(w**2))
    df_a = average["df"] if average["df"] is not None else 1e6
    df = (A + B) ** 2 / (A**2 / df_a + B**2 / (len(b) - 1))
    se = float(np.sqrt(A + B))
    q = quantile(alpha, df)
    est = average["estimate"]
    return {"estimate": est, "se": se, "df": float(df), "ci_low": est - q * se,
            "ci_high": est + q * se, "p_value": float(2 * stats.t.sf(abs(est / se), df))}


def unit_weights(exposure: np.ndarray, weights: str) -> np.ndarray:
    """Normalised weights: equal per unit, or in proportion to the post-period exposure."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights = {weights!r}; choose one of: {', '.join(WEIGHTS)}")
    w = np.ones(len(exposure)) if weights == "equal" else np.asarray(exposure, float)
    return w / w.sum()


def weighted_mean_interval(b, v, w, alpha: float = 0.05, interval: str = "between") -> dict:
    """Weighted mean of unit estimates ``b`` (variances ``v``) with weights ``w`` and its interval.

    ``interval``:

    * ``"between"`` (default): ``Var = k/(k-1) sum w^2 (b - b_w)^2``, t on k - 1 df (units as a
      random sample; Hartung & Knapp 2001 form for fixed weights);
    * ``"dersimonian_laird"``: ``Var = sum w^2 (v + tau^2_DL)``, normal quantile;
    * ``"within"``: ``Var = sum w^2 v``, normal quantile (these units' own average only; no
      between-unit spread).
    """
    b, v, w = (np.asarray(a, float) for a in (b, v, w))
    k = len(b)
    mean = float(w @ b)
    if interval == "between":
        var = k / (k - 1) * float(np.sum(w**2 * (b - mean) ** 2)) if k > 1 else float("nan")
        df = float(k - 1) if k > 1 else None
    elif interval == "dersimonian_laird":
        var, df = float(np.sum(w**2 * (v + dersimonian_laird_tau2(b, v)))), None
    elif interval == "within":
        var, df = float(np.sum(w**2 * v)), None
    else:
        raise ValueError(f"interval = {interval!r}; choose one of: {', '.join(INTERVALS)}")
    se = float(np.sqrt(var))
    q = quantile(alpha, df) if df is not None else float(stats.norm.isf(alpha / 2))
    z = mean / se if se > 0 else float("nan")
    p = 2 * (stats.t.sf(abs(z), df) if df is not None else stats.norm.sf(abs(z)))
    return {"estimate": mean, "se": se, "df": df, "ci_low": mean - q * se,
            "ci_high": mean + q * se, "p_value": float(p)}


def dersimonian_laird_tau2(b, v) -> float:
    """Between-unit variance by the method of moments (DerSimonian & Laird 1986)."""
    b, v = np.asarray(b, float), np.asarray(v, float)
    wi = 1 / v
    q = float(np.sum(wi * (b - np.sum(wi * b) / wi.sum()) ** 2))
    denom = wi.sum() - np.sum(wi**2) / wi.sum()
    return max(0.0, (q - (len(b) - 1)) / denom) if denom > 0 else 0.0


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
    :func:`event_study` (and its joint pre-start test) with the same weights and trends.
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


def _event_columns(series: pd.DataFrame, spec: ITSSpec, window, trends: str):
    """The series for the event study: each unit's rows up to ``window[1]`` months after its
    start (all rows of never-treated units), each later unit's own level column, the unit
    trends when ``trends="unit"``, and one indicator per unit and relative month ``e`` in
    ``window`` except the reference ``e = -1``, the level term's own month (the first fitted
    post month) and washout months. Returns ``(rows, columns, indicators, first_post)`` with
    ``indicators[(unit, e)]`` the column name."""
    starts = _starts(spec)
    names = series["unit"].astype(str).to_numpy()
    rel = _ordinals(series) - np.array([starts.get(u, np.iinfo(np.int64).max // 2) for u in names])
    lo, hi = window
    keep = ~np.isin(names, list(starts)) | (rel <= hi)
    rows, rel, names = series[keep].reset_index(drop=True), rel[keep], names[keep]
    rows, columns = _interactions(rows, spec, trends, changes=False)
    first_post = spec.washout_months
    indicators, added = {}, {}
    for unit in starts:
        for e in range(lo, hi + 1):
            if e in (-1, first_post) or (0 <= e < first_post):
                continue
            hit = (names == unit) & (rel == e)
            if hit.any():
                indicators[(unit, e)] = f"event[{unit}, {e}]"
                added[indicators[(unit, e)]] = hit.astype(float)
    return with_columns(rows, added), [*columns, *added], indicators, first_post


def event_study(series: pd.DataFrame, spec, weights: str = "equal",
                window: tuple[int, int] = EVENT_WINDOW, trends: str = "unit",
                with_test: bool = False):
    """Effect by months since each unit's start, averaged over units (Sun & Abraham 2021).

    One engine fit of every unit (its rows up to ``window[1]`` months after its own start;
    never-treated units throughout) with the design of :func:`unit_effects` where each unit's
    slope change is replaced by one indicator per relative month: the unit's own level change
    stands for its first fitted post month, and ``event[u, e]`` for every other month ``e`` in
    ``window`` except ``e = -1``, the reference (the interacted event study of Sun & Abraham
    2021, Wooldridge's extended TWFE, on the engine's link and errors). Months before
    ``window[0]`` stay in each unit's pre-period and give its counterfactual (its own trend when
    ``trends="unit"``). Unit ``u``'s effect at ``e >= 0`` is its level change plus
    ``event[u, e]``, at ``e < -1`` the indicator alone: the gap between the unit and its
    counterfactual, which should be near 0 before the start if the counterfactual is right.
    The average over units with the chosen weights is one contrast of the joint fit, with its
    Kenward-Roger SE and Satterthwaite df (the "these units" interval of :func:`unit_effects`).

    ``with_test=True`` also returns :func:`pretrend_test` of the pre-start months shown.

    Returns
    -------
    DataFrame (and dict when ``with_test``)
        ``event_time, estimate, se, df, ci_low, ci_high, p_value, k, weights`` (link scale;
        ``event_time`` 0 is the start month; the reference month -1 is 0 by definition).
    """
    spec = spec if isinstance(spec, ITSSpec) else validate_spec(spec)
    _check_units(series, spec)
    rows, columns, indicators, first_post = _event_columns(series, spec, window, trends)
    one = replace(spec, covariates=(*spec.covariates, *columns),
                  phases=tuple(replace(p, change="level", ramp_months=0) for p in spec.phases))
    with warnings.catch_warnings():  # the engine adds the indicator columns one by one
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        design = build_design(rows, one)
    fit = fit_model(design, one)
    eye = np.eye(len(fit.params))
    units = list(spec.unit_starts)
    level = {u: eye[design.contrasts[0][2]] + (eye[design.names.index(f"level[{u}]")] if i else 0)
             for i, u in enumerate(units)}
    exposure = np.array([_exposure(design, u) for u in units])
    vectors, present = {}, {}
    for e in sorted({first_post, *(e for _, e in indicators)}):
        per_unit = {u: (level[u] if e >= 0 else 0) + (eye[design.names.index(indicators[(u, e)])]
                                                      if (u, e) in indicators else 0)
                    for u in units if (u, e) in indicators or e == first_post}
        w = unit_weights(exposure[[units.index(u) for u in per_unit]], weights)
        vectors[e] = w @ np.array(list(per_unit.values()))
        present[e] = len(per_unit)
    out = [{"event_time": int(r.pop("estimand")), **r, "k": present[e], "weights": weights}
           for e, r in zip(vectors, _contrast_rows(design, fit, one, vectors))]
    out.append({"event_time": -1, "estimate": 0.0, "se": 0.0, "df": None, "ci_low": 0.0,
                "ci_high": 0.0, "p_value": float("nan"), "k": len(units), "weights": weights})
    table = pd.DataFrame(out).sort_values("event_time").reset_index(drop=True)
    if not with_test:
        return table
    pre = [e for e in vectors if e < -1]
    each = [eye[design.names.index(col)] for (_, e), col in indicators.items() if e < -1]
    return table, {"months": pre,
                   "average": pretrend_test(fit, np.array([vectors[e] for e in pre])),
                   "each": pretrend_test(fit, np.array(each))}


def pretrend_test(fit, L: np.ndarray) -> dict:
    """Joint test that the pre-start effects ``L b`` are all zero (a parallel-trends check).

    Wald statistic ``W = (L b)' (L Phi L')^-1 (L b)`` with ``Phi`` the fit's covariance (the
    Kenward-Roger adjusted one under ``errors: auto``), referred as ``F = W / q`` to
    F(q, nu) with ``nu`` the smallest Satterthwaite df of the ``q`` contrasts (a conservative
    stand-in for the Kenward & Roger 1997 scaled F), or ``W`` to chi-squared on q df when the
    fit uses normal quantiles. The pre-trend test of event studies (Sun & Abraham 2021; Roth
    2022 on its low power: a pass is no proof of parallel trends). :func:`event_study` runs it
    on the averaged months (what its figure shows; departures of units in opposite directions
    cancel there) and on every unit's own months (which sees them).
    """
    b = L @ fit.params
    q = len(L)
    W = float(b @ np.linalg.solve(L @ fit.cov @ L.T, b))
    _, dfs = fit.se_df(L)
    if dfs is None:
        return {"q": q, "stat": W, "df": None, "statistic": "chi-squared",
                "p_value": float(stats.chi2.sf(W, q))}
    nu = float(np.min(np.broadcast_to(dfs, (q,))))
    return {"q": q, "stat": W / q, "df": nu, "statistic": "F",
            "p_value": float(stats.f.sf(W / q, q, nu))}
