"""Structural time-series counterfactual: CausalImpact's approach with statsmodels.

A state-space model (local level or local linear trend, optional trigonometric seasonal,
optional regressors with coefficients in the state vector) is fitted by maximum likelihood to
the months BEFORE the first start only; the Kalman filter then forecasts the post-period
counterfactual from the pre-period alone, with its prediction interval. The effect in month
``t`` is observed minus forecast; the average and cumulative effects use the joint forecast
covariance of the post months (no simulation: deterministic). CausalImpact (Brodersen et al.
2015) samples the posterior of the variances; plugging in their maximum-likelihood estimates
covered only 82-83% in our simulation (the level variance of a short pre-period is often
estimated as 0), so the forecast is integrated over the likelihood-ratio confidence
distribution of the level SD (a frequentist predictive distribution, Lawless & Fredette 2005;
:mod:`pipeline.stats.structural_mixture`), the other variances at their maximum-likelihood
values. Alternatives measured: docs/adr/0165; coverage: ``benchmarks/model_simulation.py`` and
``docs/statistics.md`` sec. 2.14.

For a controlled design the comparator units' monthly proportions are the regressors, as
CausalImpact uses control series: the comparators carry what the treated series would have
done. Covariate columns of the series (``covariate_*``) are added as regressors too.

The model runs on the monthly proportion (numerator / denominator of the treated units
summed), so every effect is a difference in proportion and the cumulative effect is in
events, the same scales as the segmented regression's ``abs_diff_h*``, ``average_effect`` and
``cumulative_excess`` rows (:mod:`pipeline.stats.its_estimands`).

References
----------
Brodersen KH, Gallusser F, Koehler J, Remy N, Scott SL. Inferring causal impact using Bayesian
structural time-series models. Ann Appl Stat 2015;9:247-274.
Durbin J, Koopman SJ. Time Series Analysis by State Space Methods, 2nd ed. Oxford University
Press 2012 (chapters 3, 4, 7; the seat-belt illustration of section 8.2).
Lawless JF, Fredette M. Frequentist prediction intervals and predictive distributions.
Biometrika 2005;92:529-542.
Harvey AC, Durbin J. The effects of seat belt legislation on British road casualties: a case
study in structural time series modelling. J R Stat Soc A 1986;149:187-227.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis_options import check_structural_options as check_options
from .its_estimands import COLUMNS
from .its_spec import ITSSpec, validate_spec
from .structural_fit import regression_coefficients, unobserved_components
from .structural_mixture import LevelMixture, level_mixture

MIN_PRE_MONTHS = 12
DIFF_SCALE = "difference in proportion"


# ---------------------------------------------------------------------------------------------
# The counterfactual of an intervention


@dataclass
class StructuralResult:
    """Result of :func:`fit_structural`; the same tables as :class:`~pipeline.stats.its.ITSResult`
    where the report reads them.

    Attributes
    ----------
    effects : DataFrame
        Columns :data:`pipeline.stats.its_estimands.COLUMNS`: ``abs_diff_h{h}``,
        ``rel_diff_h{h}``, ``average_effect``, ``average_rel_effect``, ``cumulative_excess``.
    series : DataFrame
        ``month, numerator, denominator, observed, fitted, counterfactual, cf_low, cf_high,
        in_fit`` (``in_fit``: the pre-period months the model was fitted to; ``fitted`` is the
        smoothed signal there and NaN after), plus the three-panel figure data ``pointwise``,
        ``pointwise_low``, ``pointwise_high``, ``cumulative``, ``cumulative_low``,
        ``cumulative_high`` (NaN before the start).
    parameters : DataFrame
        Variances (``sigma2.*``) and regression coefficients with their root mean square error.
    diagnostics : dict
        ``n_pre``, ``n_post``, ``llf``, ``aic``, ``ljung_box_p`` of the standardised one-step
        prediction errors of the pre-period (after the diffuse months).
    """

    effects: pd.DataFrame
    series: pd.DataFrame
    parameters: pd.DataFrame
    diagnostics: dict
    spec: ITSSpec
    options: dict
    method: str
    mixture: "LevelMixture | None" = None

    def month_p_value(self, h: int, observed: float) -> float:
        """Two-sided p-value of ``observed`` in post month ``h`` (1 = start month) against the
        counterfactual's predictive distribution (the report restates one-month rows from
        published counts with it)."""
        return self.mixture.month_p_value(h - 1, observed)


def treated_and_regressors(series: pd.DataFrame, spec: ITSSpec) -> tuple[pd.DataFrame, list]:
    """Monthly treated counts and the regressor columns (comparators' proportions and
    covariates), one row per month."""
    frame = series.copy()
    frame["month"] = pd.PeriodIndex(pd.to_datetime(frame["month"]), freq="M")
    comparators = set(spec.comparator_units or ())
    unit = frame["unit"].astype(str) if "unit" in frame else pd.Series("all", index=frame.index)
    treated = frame[~unit.isin(comparators)]
    out = treated.groupby("month")[["numerator", "denominator"]].sum()
    names = []
    for c in sorted(comparators):
        rows = frame[unit == c].groupby("month")[["numerator", "denominator"]].sum()
        name = f"comparator {c}"
        out[name] = rows["numerator"] / rows["denominator"]
        names.append(name)
    for c in spec.covariates:
        out[c] = treated.groupby("month")[c].first()
        names.append(c)
    out = out.sort_index()
    if out[names].isna().any().any():
        bad = out.index[out[names].isna().any(axis=1)][0]
        raise ValueError(f"structural model: a regressor is missing in month {bad} (every "
                         "comparator needs every month)")
    return out.reset_index(), names


def fit_structural(series: pd.DataFrame, spec: dict, options: dict | None = None
                   ) -> StructuralResult:
    """Fit the structural model to the months before the first start and estimate the effect.

    ``series``: ``month, [unit,] numerator, denominator`` and any covariates; ``spec``: the ITS
    spec dict (phases, comparator_units, horizons, alpha, covariates are used); ``options``:
    see :func:`check_options`. Staggered designs are refused (no single pre-period).
    """
    its = validate_spec(spec)
    opts = check_options(options)
    if its.design == "staggered":
        raise ValueError("the structural model needs one start month: a staggered roll-out "
                         "has none (fit the segmented model, or one unit at a time)")
    frame, names = treated_and_regressors(series, its)
    start = its.phases[0].start
    months = frame["month"]
    pre = (months < start).to_numpy()
    n_pre, n = int(pre.sum()), len(frame)
    if n_pre < MIN_PRE_MONTHS:
        raise ValueError(f"structural model: {n_pre} months before {start} (at least "
                         f"{MIN_PRE_MONTHS} are needed to estimate its variances)")
    if n_pre == n:
        raise ValueError(f"structural model: no month from {start} on in the series")
    if (frame["denominator"] <= 0).any():
        bad = frame.loc[frame["denominator"] <= 0, "month"].iloc[0]
        raise ValueError(f"structural model: denominator 0 in month {bad}")
    observed = (frame["numerator"] / frame["denominator"]).to_numpy(float)
    y = np.where(pre, observed, np.nan)
    exog = frame[names].to_numpy(float) if names else None
    res = unobserved_components(y, exog, opts["trend"], opts["seasonal"], opts["harmonics"])
    post_idx = np.flatnonzero(~pre)
    mix = level_mixture(res, post_idx, float(np.nanstd(y[pre], ddof=1)),
                        float(np.nanstd(np.diff(y[pre]))))
    alpha = its.alpha
    den = frame["denominator"].to_numpy(float)
    obs_post, den_post = observed[post_idx], den[post_idx]
    k = len(post_idx)
    w = den_post / den_post.sum()
    d = np.tril(np.ones((k, k))) * den_post  # row j sums months 1..j of the post period
    # linear combinations of the counterfactual: each month, the weighted mean, the running sums
    combos = np.vstack([np.eye(k), w[None, :], d])
    cf, low, high, cdf = mix.combinations(combos, alpha)
    observed_combo = combos @ obs_post

    def effect_row(estimand, j, scale):
        o = observed_combo[j]
        return {"estimand": estimand, "phase": "overall", "estimate": o - cf[j],
                "ci_low": o - high[j], "ci_high": o - low[j], "p_value": cdf(j, o),
                "scale": scale}

    def relative_row(estimand, j, scale):
        o = observed_combo[j]
        if low[j] <= 0:
            return None
        return {"estimand": estimand, "phase": "overall", "estimate": o / cf[j] - 1,
                "ci_low": o / high[j] - 1, "ci_high": o / low[j] - 1, "p_value": cdf(j, o),
                "scale": scale}

    rows = []
    for h in its.horizons:
        if h <= k:
            rows.append(effect_row(f"abs_diff_h{h}", h - 1, DIFF_SCALE))
            rows.append(relative_row(f"rel_diff_h{h}", h - 1,
                                     "relative change (observed / counterfactual - 1)"))
    cumulative_row = effect_row("cumulative_excess", 2 * k, "events (observed minus "
                                "counterfactual)")
    rows.append(cumulative_row)
    rows.append(effect_row("average_effect", k, f"mean {DIFF_SCALE} over the post period"))
    rows.append(relative_row("average_rel_effect", k, "relative change over the post period "
                             "(mean observed / mean counterfactual - 1)"))
    rows = [r for r in rows if r is not None]
    method = describe(opts, names, n_pre)
    for r in rows:
        r["method"], r["n"] = method, n
    effects = pd.DataFrame(rows, columns=COLUMNS)

    def spread(values):
        out = np.full(n, np.nan)
        out[post_idx] = values
        return out

    fitted = np.full(n, np.nan)
    fitted[pre] = res.smoother_results.smoothed_forecasts[0, pre]
    month_cf, month_low, month_high = cf[:k], low[:k], high[:k]
    cum_obs = observed_combo[k + 1:]
    table = pd.DataFrame({
        "month": months.dt.to_timestamp(), "numerator": frame["numerator"].to_numpy(),
        "denominator": den, "observed": observed, "fitted": fitted,
        "counterfactual": spread(month_cf), "cf_low": spread(month_low),
        "cf_high": spread(month_high), "in_fit": pre,
        "pointwise": spread(obs_post - month_cf), "pointwise_low": spread(obs_post - month_high),
        "pointwise_high": spread(obs_post - month_low),
        "cumulative": spread(cum_obs - cf[k + 1:]),
        "cumulative_low": spread(cum_obs - high[k + 1:]),
        "cumulative_high": spread(cum_obs - low[k + 1:]),
    })
    return StructuralResult(effects=effects, series=table,
                            parameters=_parameters(res, names),
                            diagnostics={**_diagnose(res, n_pre, n - n_pre),
                                         "level_sd_mle": float(np.sqrt(mix.mle_level)),
                                         "level_sd_confidence_mean": mix.mean_level_sd},
                            spec=its, options=opts, method=method, mixture=mix)


def describe(opts: dict, names: list[str], n_pre: int) -> str:
    """One line naming the model, as the methods text quotes it."""
    parts = ["local level" if opts["trend"] == "local_level" else "local linear trend"]
    if opts["seasonal"]:
        parts.append(f"trigonometric seasonal (period {opts['seasonal']}, "
                     f"{opts['harmonics']} harmonics)")
    if names:
        parts.append("regressors: " + ", ".join(names))
    return ("Structural time series (" + "; ".join(parts) + ") fitted by maximum likelihood "
            f"(Kalman filter, exact diffuse start) to the {n_pre} months before the start; "
            "counterfactual forecast with its prediction interval, the level SD integrated over "
            "its likelihood-ratio confidence distribution (Brodersen et al. 2015; Durbin & "
            "Koopman 2012; Lawless & Fredette 2005)")


def _parameters(res, names: list[str]) -> pd.DataFrame:
    variances = pd.DataFrame({"term": list(res.model.param_names),
                              "estimate": np.asarray(res.params, float),
                              "rmse": np.nan, "ci_low": np.nan, "ci_high": np.nan})
    if not names:
        return variances
    return pd.concat([variances, regression_coefficients(res, names)], ignore_index=True)


def _diagnose(res, n_pre: int, n_post: int) -> dict:
    from statsmodels.stats.diagnostic import acorr_ljungbox

    d = int(res.nobs_diffuse)
    resid = np.asarray(res.standardized_forecasts_error[0, d:n_pre], float)
    resid = resid[np.isfinite(resid)]
    lags = max(1, min(12, len(resid) // 4))
    lb = acorr_ljungbox(resid, lags=[lags]) if len(resid) > lags + 2 else None
    return {"n_pre": n_pre, "n_post": n_post, "llf": float(res.llf), "aic": float(res.aic),
            "ljung_box_p": float(lb["lb_pvalue"].iloc[0]) if lb is not None else np.nan,
            "ljung_box_lags": lags}
