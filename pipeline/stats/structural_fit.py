"""The state-space layer of the structural model: statsmodels ``UnobservedComponents`` fitted by
maximum likelihood, its regression coefficients as Durbin & Koopman print them, and the exact
joint forecast covariance of the months after the data (used by
:mod:`pipeline.stats.structural_mixture` and :mod:`pipeline.stats.structural`).

References
----------
Durbin J, Koopman SJ. Time Series Analysis by State Space Methods, 2nd ed. Oxford University
Press 2012 (chapters 3, 4, 6; sec. 4.11 for forecasting; the seat-belt illustration of 8.2).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

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
    return maximise_likelihood(model)


def maximise_likelihood(model):
    """Nelder-Mead from two starts (the variance of the first differences and a tenth of it),
    each polished by BFGS; the best log likelihood is kept (see :func:`unobserved_components`)."""
    scale = float(np.nanvar(np.diff(np.asarray(model.endog[:, 0], float)))) or 1e-4
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
    H = _three_d(ssm["obs_cov"])[0, 0]  # (time,) or (1,) when time-invariant

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
        cov[i, i] += H[t if len(H) > 1 else 0]
    return mean, cov
