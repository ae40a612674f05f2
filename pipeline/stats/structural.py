"""Structural time-series counterfactual: CausalImpact's approach with statsmodels.

A state-space model (local level or local linear trend, optional trigonometric seasonal,
optional regressors with coefficients in the state vector) is fitted by maximum likelihood to
the months BEFORE the first start only; the Kalman filter then forecasts the post-period
counterfactual from the pre-period alone, with its prediction interval. The effect in month
``t`` is observed minus forecast; the average and cumulative effects use the joint forecast
covariance of the post months (no simulation: deterministic). CausalImpact (Brodersen et al.
2015) samples the posterior of the variances; plugging in their maximum-likelihood estimates
covered only 82% in our simulation (the level variance of a short pre-period is often
estimated as 0), so the level SD is integrated over a uniform prior on a grid
(:class:`LevelMixture`), the other variances at their maximum-likelihood values. The measured
coverage is in ``benchmarks/model_simulation.py`` and ``docs/statistics.md``.

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
Harvey AC, Durbin J. The effects of seat belt legislation on British road casualties: a case
study in structural time series modelling. J R Stat Soc A 1986;149:187-227.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..analysis_options import check_structural_options as check_options
from .its_estimands import COLUMNS
from .its_spec import ITSSpec, validate_spec

MIN_PRE_MONTHS = 12
DIFF_SCALE = "difference in proportion"


# ---------------------------------------------------------------------------------------------
# The state-space fit (shared by the counterfactual and the published seat-belt reference)


def unobserved_components(y: np.ndarray, exog: np.ndarray | None, trend: str = "local_level",
                          seasonal: int | None = None, harmonics: int | None = None):
    """statsmodels ``UnobservedComponents`` fitted by maximum likelihood.

    Regression coefficients sit in the state vector with a diffuse prior
    (``mle_regression=False``, as Durbin & Koopman 2012 sec. 6.2.2), so their estimates and
    root mean square errors are the smoothed state at the last month, as DK print them.
    Missing ``y`` (NaN) months are forecast by the filter. The likelihood is maximised by
    Nelder-Mead from two starting points then polished by BFGS, and the best is kept: the
    variance likelihood of short series is flat, and one quasi-Newton run from one start
    stopped early on the seat-belt data (a log likelihood 4e-5 below the optimum).
    """
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    level = {"local_level": "llevel", "local_linear_trend": "lltrend"}[trend]
    kwargs = {}
    if seasonal:
        kwargs["freq_seasonal"] = [{"period": seasonal,
                                    "harmonics": harmonics or seasonal // 2}]
    model = UnobservedComponents(np.asarray(y, float), level=level, exog=exog,
                                 mle_regression=False, use_exact_diffuse=True, **kwargs)
    scale = float(np.nanvar(np.diff(np.asarray(y, float)))) or 1e-4
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the best optimum is kept
        for factor in (1.0, 0.1):
            start = np.full(model.k_params, scale * factor)
            rough = model.fit(start_params=start, method="nm", maxiter=4000, disp=False)
            res = model.fit(start_params=rough.params, method="bfgs", maxiter=500,
                            disp=False)
            if best is None or res.llf > best.llf + 1e-9:
                best = res
    return best


def regression_coefficients(res, names: list[str]) -> pd.DataFrame:
    """Coefficients of the regressors: the smoothed state at the last month and its root
    mean square error (DK 2012 sec. 6.2.2), with a normal Wald interval."""
    k = len(names)
    est = res.smoothed_state[-k:, -1]
    rmse = np.sqrt(np.diag(res.smoothed_state_cov[-k:, -k:, -1]))
    z = stats.norm.ppf(0.975)
    return pd.DataFrame({"term": names, "estimate": est, "rmse": rmse,
                         "ci_low": est - z * rmse, "ci_high": est + z * rmse})


def _three_d(matrix) -> np.ndarray:
    """A system matrix with its time axis (statsmodels drops it when time-invariant)."""
    matrix = np.asarray(matrix, float)
    return matrix if matrix.ndim == 3 else matrix[:, :, None]


def forecast_covariance(res, months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and JOINT covariance of ``y`` in ``months`` (indices after the last observed
    month, where ``y`` is NaN), given the observed months only.

    With no observation after month n the filter only propagates: the predicted state of
    month t has covariance P_t and Cov(alpha_t, alpha_s) = P_t (T^(s-t))' for s > t, so
    Cov(y_t, y_s) = Z_t P_t (T^(s-t))' Z_s' (+ H when t = s; DK 2012 sec. 4.11).
    """
    ssm = res.model.ssm
    design = _three_d(ssm["design"])
    T = _three_d(ssm["transition"])[:, :, 0]
    H = float(_three_d(ssm["obs_cov"])[0, 0, 0])

    def Z(t):
        return design[0, :, t if design.shape[2] > 1 else 0]

    mean = np.array([Z(t) @ res.predicted_state[:, t] for t in months])
    n = len(months)
    cov = np.empty((n, n))
    for i, t in enumerate(months):
        left = Z(t) @ res.predicted_state_cov[:, :, t]  # Z_t P_t
        power = np.eye(T.shape[0])
        for j in range(i, n):
            if j > i:
                power = T @ power  # T^(s-t)
            cov[i, j] = cov[j, i] = left @ power.T @ Z(months[j])
        cov[i, i] += H
    return mean, cov


# ---------------------------------------------------------------------------------------------
# Uncertainty of the level variance: a mixture over a grid of level SDs

LEVEL_GRID = 41


@dataclass
class LevelMixture:
    """The counterfactual's predictive distribution with the level SD integrated out.

    The level variance of a short pre-period is poorly determined and its maximum-likelihood
    estimate is often 0 (a boundary), which makes the forecast interval of a random-walk level
    stop widening with the horizon: plug-in intervals covered 82% in our simulation. As
    CausalImpact integrates over its posterior, we integrate the level SD over a uniform prior
    on [0, SD of the pre-period's first differences] on a 41-point grid, the other variances at
    their maximum-likelihood values: each grid point's forecast is normal, the mixture weights
    are the likelihoods. Intervals are the mixture's quantiles (bisection: deterministic).
    Measured: conservative (coverage of the average effect 100%, type I 0.7-2.0%; docs/
    statistics.md sec. 2.14); the prior is the open question (docs/adr/0115).
    """

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, k) forecast means of the post months
    covs: np.ndarray  # (K, k, k) joint forecast covariances
    mle_level: float
    mean_level_sd: float

    def combinations(self, A: np.ndarray, alpha: float):
        """Mean, lower and upper ``alpha/2`` quantiles of ``A @ y_cf`` and a p-value function."""
        mu = self.means @ A.T  # (K, J)
        sd = np.sqrt(np.einsum("jm,kmn,jn->kj", A, self.covs, A))
        mean = self.weights @ mu
        low = _mixture_quantile(self.weights, mu, sd, alpha / 2)
        high = _mixture_quantile(self.weights, mu, sd, 1 - alpha / 2)

        def p_value(j: int, observed: float) -> float:
            if not np.isfinite(observed):
                return np.nan
            f = float(self.weights @ stats.norm.cdf((observed - mu[:, j]) / sd[:, j]))
            return min(1.0, 2 * min(f, 1 - f))

        return mean, low, high, p_value

    def month_p_value(self, i: int, observed: float) -> float:
        A = np.zeros((1, self.means.shape[1]))
        A[0, i] = 1.0
        return self.combinations(A, 0.05)[3](0, observed)


def _mixture_quantile(weights, mu, sd, prob, iterations=200):
    lo = (mu - 12 * sd).min(axis=0)
    hi = (mu + 12 * sd).max(axis=0)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        below = weights @ stats.norm.cdf((mid[None, :] - mu) / sd) < prob
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        if np.all(hi - lo <= 1e-13 * np.maximum(1.0, np.abs(hi))):
            break
    return (lo + hi) / 2


def level_mixture(res, post_idx: np.ndarray, diff_sd: float) -> LevelMixture:
    """Forecasts on a grid of level SDs, weighted by their likelihood (see LevelMixture)."""
    model = res.model
    base = np.asarray(res.params, float)
    i = list(model.param_names).index("sigma2.level")
    top = max(diff_sd, 2 * np.sqrt(base[i]))
    sds = np.linspace(0.0, top, LEVEL_GRID)
    llf, means, covs = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sd in sds:
            params = base.copy()
            params[i] = sd * sd
            r = model.filter(params)
            mean, cov = forecast_covariance(r, post_idx)
            llf.append(r.llf)
            means.append(mean)
            covs.append(cov)
    llf = np.asarray(llf)
    weights = np.exp(llf - llf.max())
    weights /= weights.sum()
    return LevelMixture(weights=weights, means=np.asarray(means), covs=np.asarray(covs),
                        mle_level=float(base[i]), mean_level_sd=float(weights @ sds))


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
    mix = level_mixture(res, post_idx, float(np.nanstd(np.diff(y[pre]))))
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
                                         "level_sd_posterior_mean": mix.mean_level_sd},
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
            "a uniform prior (Brodersen et al. 2015; Durbin & Koopman 2012)")


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
