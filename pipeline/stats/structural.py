"""Structural time-series counterfactual: CausalImpact's approach with statsmodels.

A state-space model (local level or local linear trend, optional trigonometric seasonal,
optional regressors with coefficients in the state vector) is fitted by maximum likelihood to
the months BEFORE the first start only; the Kalman filter then forecasts the post-period
counterfactual from the pre-period alone, with its prediction interval. The effect in month
``t`` is observed minus forecast; the average and cumulative effects use the joint forecast
covariance of the post months, so their intervals are exact for the fitted model (no
simulation: deterministic). This is the frequentist, plug-in twin of Brodersen et al. (2015):
CausalImpact samples the posterior of the variances, we treat their maximum-likelihood
estimates as known (intervals therefore a little narrower in short series; the measured
coverage is in ``benchmarks/structural_simulation.py`` and ``docs/statistics.md``).

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

from .its_estimands import COLUMNS
from .its_spec import ITSSpec, validate_spec

TRENDS = ("local_level", "local_linear_trend")
STRUCTURAL_DEFAULTS = {"trend": "local_level", "seasonal": None, "harmonics": None}
MIN_PRE_MONTHS = 12
DIFF_SCALE = "difference in proportion"


def check_options(options: dict | None) -> dict:
    """Validate the ``structural`` options: ``trend`` (``local_level`` or
    ``local_linear_trend``), ``seasonal`` (None or a period in months, e.g. 12) and
    ``harmonics`` (trigonometric pairs, default all: period // 2)."""
    options = dict(options or {})
    unknown = set(options) - set(STRUCTURAL_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown structural option(s) {sorted(unknown)}; allowed: "
                         f"{sorted(STRUCTURAL_DEFAULTS)}")
    out = {**STRUCTURAL_DEFAULTS, **options}
    if out["trend"] not in TRENDS:
        raise ValueError(f"structural trend {out['trend']!r} is not one of {list(TRENDS)}")
    if out["seasonal"] is not None:
        if not isinstance(out["seasonal"], int) or isinstance(out["seasonal"], bool) \
                or out["seasonal"] < 2:
            raise ValueError("structural seasonal should be a period in months (e.g. 12) or "
                             f"null, not {out['seasonal']!r}")
        h = out["harmonics"] if out["harmonics"] is not None else out["seasonal"] // 2
        if not isinstance(h, int) or not 1 <= h <= out["seasonal"] // 2:
            raise ValueError(f"structural harmonics should be 1..{out['seasonal'] // 2}")
        out["harmonics"] = h
    elif out["harmonics"] is not None:
        raise ValueError("structural harmonics given without a seasonal period")
    return out


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


def _normal_row(estimand, est, se, alpha, scale, low=None, high=None) -> dict:
    z = stats.norm.ppf(1 - alpha / 2)
    if low is None:
        low, high = est - z * se, est + z * se
    p = 2 * stats.norm.sf(abs(est / se)) if se > 0 else np.nan
    return {"estimand": estimand, "phase": "overall", "estimate": est, "ci_low": low,
            "ci_high": high, "p_value": p, "scale": scale}


def _relative(estimand, obs, cf, se, alpha) -> dict | None:
    """obs / cf - 1 with the counterfactual's interval carried through (monotone in cf)."""
    z = stats.norm.ppf(1 - alpha / 2)
    lo, hi = cf - z * se, cf + z * se
    if cf <= 0 or lo <= 0:
        return None
    row = _normal_row(estimand, obs / cf - 1, se, alpha,
                      "relative change (observed / counterfactual - 1)",
                      obs / hi - 1, obs / lo - 1)
    row["p_value"] = 2 * stats.norm.sf(abs((obs - cf) / se))
    return row


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
    cf, cov = forecast_covariance(res, post_idx)
    sd = np.sqrt(np.diag(cov))
    alpha = its.alpha
    z = stats.norm.ppf(1 - alpha / 2)
    den = frame["denominator"].to_numpy(float)
    obs_post, den_post = observed[post_idx], den[post_idx]

    rows = []
    for h in its.horizons:
        if h > len(post_idx):
            continue
        i = h - 1
        eff = obs_post[i] - cf[i]
        rows.append(_normal_row(f"abs_diff_h{h}", eff, sd[i], alpha, DIFF_SCALE,
                                obs_post[i] - (cf[i] + z * sd[i]),
                                obs_post[i] - (cf[i] - z * sd[i])))
        rel = _relative(f"rel_diff_h{h}", obs_post[i], cf[i], sd[i], alpha)
        if rel:
            rows.append(rel)
    w = den_post / den_post.sum()
    cf_mean, se_mean = float(w @ cf), float(np.sqrt(w @ cov @ w))
    obs_mean = float(w @ obs_post)
    total = den_post.sum()
    rows.append(_normal_row("cumulative_excess", total * (obs_mean - cf_mean), total * se_mean,
                            alpha, "events (observed minus counterfactual)"))
    rows.append(_normal_row("average_effect", obs_mean - cf_mean, se_mean, alpha,
                            f"mean {DIFF_SCALE} over the post period"))
    rel = _relative("average_rel_effect", obs_mean, cf_mean, se_mean, alpha)
    if rel:
        rel["scale"] = ("relative change over the post period (mean observed / mean "
                        "counterfactual - 1)")
        rows.append(rel)
    method = describe(opts, names, n_pre)
    for r in rows:
        r["method"], r["n"] = method, n
    effects = pd.DataFrame(rows, columns=COLUMNS)

    fitted = np.full(n, np.nan)
    fitted[pre] = res.smoother_results.smoothed_forecasts[0, pre]
    counterfactual, low, high = (np.full(n, np.nan) for _ in range(3))
    counterfactual[post_idx], low[post_idx], high[post_idx] = cf, cf - z * sd, cf + z * sd
    pointwise = np.full((3, n), np.nan)
    pointwise[:, post_idx] = [obs_post - cf, obs_post - cf - z * sd, obs_post - cf + z * sd]
    ones = np.tril(np.ones((len(post_idx), len(post_idx))))
    d = ones * den_post  # row k sums months 1..k of the post period
    cum = d @ (obs_post - cf)
    cum_sd = np.sqrt(np.einsum("ij,jk,ik->i", d, cov, d))
    cumulative = np.full((3, n), np.nan)
    cumulative[:, post_idx] = [cum, cum - z * cum_sd, cum + z * cum_sd]
    table = pd.DataFrame({
        "month": months.dt.to_timestamp(), "numerator": frame["numerator"].to_numpy(),
        "denominator": den, "observed": observed, "fitted": fitted,
        "counterfactual": counterfactual, "cf_low": low, "cf_high": high, "in_fit": pre,
        "pointwise": pointwise[0], "pointwise_low": pointwise[1],
        "pointwise_high": pointwise[2], "cumulative": cumulative[0],
        "cumulative_low": cumulative[1], "cumulative_high": cumulative[2],
    })
    return StructuralResult(effects=effects, series=table,
                            parameters=_parameters(res, names), diagnostics=_diagnose(res, n_pre,
                                                                                     n - n_pre),
                            spec=its, options=opts, method=method)


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
            "counterfactual forecast with its prediction interval, variances treated as known "
            "(Brodersen et al. 2015; Durbin & Koopman 2012)")


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
