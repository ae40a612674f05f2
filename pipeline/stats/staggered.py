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

1. **Per-unit effects** (:func:`unit_effects`): for each treated unit a *stacked* data set,
   that unit's rows plus the clean controls' rows (each not-yet-treated unit before its own
   start, every never-treated unit throughout), fitted by the engine as a staggered design
   with only this unit's start: unit fixed effects, a common secular trend, and this unit's
   level and slope change against its own pre-period and the controls' trend.
2. **Average** (:func:`average_effects`): ``sum_j w_j b_j`` with weights chosen in params
   (``staggered: {weights: equal | exposure}``: equal per unit, or in proportion to the
   unit's denominator in its fitted post-period months). The wards are treated as a sample of
   the wards the training could reach, so the interval includes the spread between them:
   ``Var = k / (k - 1) * sum_j w_j^2 (b_j - b_w)^2`` (for equal weights the sample variance
   of the unit estimates over k; it contains both the between-unit variance and each unit's
   own sampling variance), with t quantiles on k - 1 df, the small-sample interval for a
   random-effects mean of Hartung & Knapp (2001) and IntHout, Ioannidis & Borm (2014), who
   found it near nominal with few studies where DerSimonian & Laird's (1986) normal interval is
   too narrow. ``benchmarks/staggered_simulation.py`` measures both (and the within-unit-only
   interval) on simulated roll-outs: see ``docs/adr/0060-staggered-per-unit-effects.md``.
3. **Heterogeneity** (:func:`heterogeneity`): Cochran's Q over the unit estimates and their
   variances, I^2 (Higgins & Thompson 2002) and the DerSimonian-Laird tau^2.
4. **Event study** (:func:`event_study`): effect by months since each unit's own start, pre-start
   months included as a check of parallel trends: per unit, the stacked data with one indicator
   per relative month (the month before the start is the reference), averaged across units as
   in 2.

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
DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-188.
Cochran WG. The combination of estimates from different experiments. Biometrics
1954;10:101-129.
Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med
2002;21:1539-1558.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from .equity import cochran_q
from .its_design import build_design, month_ordinal
from .its_estimands import quantile
from .its_fit import fit_model
from .its_spec import ITSSpec, validate_spec

WEIGHTS = ("equal", "exposure")
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
    """

    units: pd.DataFrame
    average: pd.DataFrame
    heterogeneity: pd.DataFrame
    pooled: pd.DataFrame
    weights: str
    method: str
    event_study: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        """Per-unit rows, the average and the pooled model in one tidy table (link scale):
        ``row, unit, start, estimand, estimate, ci_low, ci_high, p_value, weight, method``."""
        units = self.units.assign(row="unit", method="own stacked segmented model")
        average = self.average.assign(row="average", unit="all", start="",
                                      weight=1.0, method=self.method)
        pooled = self.pooled.assign(row="pooled (sensitivity)", unit="all", start="",
                                    weight=float("nan"))
        cols = ["row", "unit", "start", "estimand", "estimate", "ci_low", "ci_high", "p_value",
                "weight", "method"]
        return pd.concat([units[cols], average[cols], pooled[cols]], ignore_index=True)


def check_options(options: dict | None) -> dict:
    """Validate the ``staggered`` options of params (``weights``); return them with defaults."""
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise ValueError(f"staggered options must be a mapping such as {{weights: equal}}, got {options!r}")
    unknown = sorted(set(options) - {"weights"})
    if unknown:
        raise ValueError(f"unknown staggered option(s) {unknown}; the only option is 'weights'")
    weights = options.get("weights", "equal")
    if weights not in WEIGHTS:
        raise ValueError(f"staggered weights = {weights!r}; choose one of: {', '.join(WEIGHTS)}")
    return {"weights": weights}


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


def _unit_spec(spec: ITSSpec, unit: str) -> ITSSpec:
    return replace(spec, unit_starts={unit: spec.unit_starts[unit]})


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


def unit_effects(series: pd.DataFrame, spec) -> pd.DataFrame:
    """Each treated unit's level and slope change from its stacked model (see module doc).

    Parameters
    ----------
    series : DataFrame
        ``month, unit, numerator, denominator`` of every unit (as for
        :func:`pipeline.stats.its.fit_its`).
    spec : dict or ITSSpec
        A staggered ITS spec (``unit_starts``); its family, errors and washout are used as
        they are.

    Returns
    -------
    DataFrame
        ``unit, start, estimand, estimate, se, df, ci_low, ci_high, p_value, exposure``.
    """
    spec = spec if isinstance(spec, ITSSpec) else validate_spec(spec)
    if spec.design != "staggered":
        raise ValueError("per-unit staggered effects need a staggered spec (unit_starts)")
    present = set(series["unit"].astype(str))
    rows = []
    for unit, start in spec.unit_starts.items():
        if unit not in present:
            raise ValueError(f"unit {unit!r} of unit_starts has no rows in the series "
                             f"(units: {sorted(present)})")
        try:
            changes, design = change_rows(stacked_rows(series, spec, unit), _unit_spec(spec, unit))
        except ValueError as exc:
            raise ValueError(f"unit {unit!r}: {exc}") from None
        exposure = _exposure(design, unit)
        rows += [{"unit": unit, "start": str(start), **r, "exposure": exposure} for r in changes]
    return pd.DataFrame(rows)


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


def average_effects(units: pd.DataFrame, weights: str = "equal", alpha: float = 0.05,
                    interval: str = "between") -> pd.DataFrame:
    """The weighted average of the unit effects per estimand (see :func:`weighted_mean_interval`)."""
    rows = []
    for estimand, g in units.groupby("estimand", sort=False):
        w = unit_weights(g["exposure"].to_numpy(), weights)
        r = weighted_mean_interval(g["estimate"], g["se"] ** 2, w, alpha, interval)
        rows.append({"estimand": estimand, **r, "weights": weights, "interval": interval,
                     "k": len(g)})
    return pd.DataFrame(rows)


def heterogeneity(units: pd.DataFrame) -> pd.DataFrame:
    """Cochran's Q test that the units' changes are equal, I^2 and tau^2, per estimand."""
    rows = []
    for estimand, g in units.groupby("estimand", sort=False):
        b, v = g["estimate"].to_numpy(), g["se"].to_numpy() ** 2
        q, df, p, i2 = cochran_q(b, v)
        rows.append({"estimand": estimand, "q": q, "df": df, "p_value": p, "i2": i2,
                     "tau2": dersimonian_laird_tau2(b, v)})
    return pd.DataFrame(rows)


def method_sentence(weights: str, k: int) -> str:
    """The method in one sentence (for tables and reports)."""
    named = "equal weight per unit" if weights == "equal" else \
        "units weighted by their post-start denominators (exposure)"
    return (f"Each of the {k} units' own segmented model against its pre-period and the "
            f"not-yet-treated units (stacked design), averaged with {named}; interval from the "
            f"spread between units, t on {k - 1} df (Hartung-Knapp)")


def evaluate_staggered(series: pd.DataFrame, spec, weights: str = "equal",
                       pooled: pd.DataFrame | None = None,
                       with_event_study: bool = False) -> StaggeredResult:
    """Per-unit effects, their average, heterogeneity and the pooled model beside them.

    ``pooled``: the pooled model's effects table (``fit_its(series, spec).effects``), shown as
    the sensitivity row; fitted here when not given. ``with_event_study``: add
    :func:`event_study` with the same weights.
    """
    spec = spec if isinstance(spec, ITSSpec) else validate_spec(spec)
    units = unit_effects(series, spec)
    w = {}
    for estimand, g in units.groupby("estimand", sort=False):
        w.update(dict(zip(g.index, unit_weights(g["exposure"].to_numpy(), weights))))
    units["weight"] = pd.Series(w)
    average = average_effects(units, weights, spec.alpha)
    if pooled is None:
        from .its import fit_its

        pooled = fit_its(series, spec).effects
    pooled = pooled[pooled["estimand"].isin(CHANGES)].reset_index(drop=True)
    events = event_study(series, spec, weights) if with_event_study else None
    return StaggeredResult(units.drop(columns="exposure"), average, heterogeneity(units), pooled,
                           weights, method_sentence(weights, units["unit"].nunique()), events)


def _event_series(series: pd.DataFrame, spec: ITSSpec, unit: str, window) -> tuple:
    """Stacked rows of ``unit`` with one indicator column per relative month in ``window``."""
    rows = stacked_rows(series, spec, unit)
    start = month_ordinal(spec.unit_starts[unit])
    rel = _ordinals(rows) - start
    own = rows["unit"].astype(str).to_numpy() == unit
    lo, hi = window
    keep = ~own | (rel <= hi)
    rows, rel, own = rows[keep].reset_index(drop=True), rel[keep], own[keep]
    first_post = spec.washout_months  # first fitted post month: the level term's own month
    names = {}
    for e in range(lo, hi + 1):
        if e in (-1, first_post) or (0 <= e < first_post):
            continue
        col = f"event_{e}".replace("-", "m")
        rows[col] = (own & (rel == e)).astype(float)
        if rows[col].any():
            names[e] = col
    return rows, names, first_post


def event_study(series: pd.DataFrame, spec, weights: str = "equal",
                window: tuple[int, int] = EVENT_WINDOW) -> pd.DataFrame:
    """Effect by months since each unit's start, averaged over units (Sun & Abraham 2021 style).

    Per unit, the stacked data (its rows up to ``window[1]`` months after the start, the clean
    controls' rows) are fitted by the engine with the unit's level change and one indicator per
    relative month ``e`` in ``window`` (the month before the start, ``e = -1``, is the
    reference; months before ``window[0]`` stay in the unit's pre-period). The effect at
    ``e >= 0`` is the level change plus that month's indicator, at ``e < -1`` the indicator: the
    gap between the unit and its counterfactual trend, which should be near 0 before the start
    if trends were parallel. Month-by-month unit effects are averaged as in
    :func:`average_effects`.

    Returns
    -------
    DataFrame
        ``event_time, estimate, se, df, ci_low, ci_high, p_value, k, weights`` (link scale;
        ``event_time`` 0 is the start month; the reference month -1 is 0 by definition).
    """
    spec = spec if isinstance(spec, ITSSpec) else validate_spec(spec)
    per_unit = []
    for unit in spec.unit_starts:
        rows, names, first_post = _event_series(series, spec, unit, window)
        one = replace(_unit_spec(spec, unit), covariates=tuple(names.values()),
                      phases=tuple(replace(p, change="level", ramp_months=0) for p in spec.phases))
        design = build_design(rows, one)
        fit = fit_model(design, one)
        eye = np.eye(len(fit.params))
        level = eye[design.contrasts[0][2]]
        vectors = {first_post: level}
        for e, col in names.items():
            vec = eye[design.names.index(col)]
            vectors[e] = vec + level if e >= 0 else vec
        exposure = _exposure(design, unit)
        for r in _contrast_rows(design, fit, one, vectors):
            per_unit.append({"unit": unit, **r, "exposure": exposure})
    table = pd.DataFrame(per_unit).rename(columns={"estimand": "event_time"})
    rows = []
    for e, g in table.groupby("event_time", sort=True):
        w = unit_weights(g["exposure"].to_numpy(), weights)
        interval = "between" if len(g) > 1 else "within"
        rows.append({"event_time": int(e), **weighted_mean_interval(
            g["estimate"], g["se"] ** 2, w, spec.alpha, interval), "k": len(g), "weights": weights})
    rows.append({"event_time": -1, "estimate": 0.0, "se": 0.0, "df": None, "ci_low": 0.0,
                 "ci_high": 0.0, "p_value": float("nan"), "k": len(spec.unit_starts),
                 "weights": weights})
    return pd.DataFrame(rows).sort_values("event_time").reset_index(drop=True)
