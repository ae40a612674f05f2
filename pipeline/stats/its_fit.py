"""Model fitting and covariance for the ITS engine (statsmodels array API).

Families (McCullagh & Nelder 1989):

* ``gaussian``: ordinary least squares on the proportion ``numerator / denominator``;
* ``poisson`` / ``quasipoisson``: log link, offset ``log(denominator)`` (population or
  person-time), quasi = covariance scaled by the Pearson dispersion X2/(n-p);
* ``binomial`` / ``quasibinomial``: logit link, ``numerator`` successes of ``denominator``
  trials, quasi as above.

Errors: ``independent`` (model-based covariance, scaled by X2/(n-p) for quasi families and
the residual variance for OLS) or ``hac``: the Newey & West (1987) sandwich with Bartlett
weights ``1 - l/(L+1)``, no small-sample correction, as statsmodels' ``cov_type="HAC"``
(lags summed within each series only, as its ``"hac-panel"``). A sandwich is robust to
over-dispersion, so quasi and plain families give the same HAC covariance. Default lags
(``hac_lags=None``): ``floor(4 (T/100)^(2/9))`` with T the longest series (Newey & West
1994), e.g. 3 for 48 months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm

from .its_design import Design
from .its_spec import ITSSpec

FAMILY_LABELS = {
    "gaussian": "linear regression (OLS)",
    "poisson": "Poisson GLM (log link, offset)",
    "quasipoisson": "quasi-Poisson GLM (log link, offset)",
    "binomial": "binomial GLM (logit link)",
    "quasibinomial": "quasi-binomial GLM (logit link)",
}


@dataclass
class Fit:
    """Fitted coefficients, covariance and per-row quantities on the fitted rows."""

    params: np.ndarray
    cov: np.ndarray
    dispersion: float
    df_resid: int
    pearson: np.ndarray
    hac_lags: int | None
    results: object


def inverse_link(eta: np.ndarray, family: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean per unit of denominator and its derivative with respect to ``eta``."""
    if family == "binomial":
        p = 1.0 / (1.0 + np.exp(-eta))
        return p, p * (1.0 - p)
    if family == "poisson":
        p = np.exp(eta)
        return p, p
    return eta, np.ones_like(eta)


def default_hac_lags(n_time: int) -> int:
    """Newey & West (1994) plug-in lag: ``floor(4 * (n/100) ** (2/9))``."""
    return int(np.floor(4 * (n_time / 100) ** (2 / 9)))


def newey_west_meat(scores: np.ndarray, groups: np.ndarray, lags: int) -> np.ndarray:
    """Newey-West (Bartlett kernel) sum of score outer products within groups.

    Parameters
    ----------
    scores : ndarray, shape (n, p)
        Per-observation score contributions, rows ordered by group then time.
    groups : ndarray, shape (n,)
        Series label of each row; lagged products never cross series.
    lags : int
        Maximum lag L; lag l gets weight ``1 - l / (L + 1)``.
    """
    meat = scores.T @ scores
    for lag in range(1, lags + 1):
        same = groups[lag:] == groups[:-lag]
        if not same.any():
            break
        a, b = scores[lag:][same], scores[:-lag][same]
        gamma = a.T @ b
        meat += (1.0 - lag / (lags + 1.0)) * (gamma + gamma.T)
    return meat


def fit_model(design: Design, spec: ITSSpec) -> Fit:
    """Fit the segmented regression on the design's fitted rows.

    Returns
    -------
    Fit
        Coefficients, covariance per ``spec.errors`` (see module notes), Pearson dispersion
        and residuals, and the statsmodels results object (model-based, scale 1 for GLMs).
    """
    rows = design.frame["in_fit"].to_numpy()
    X = design.X[rows]
    num = design.frame["numerator"].to_numpy()[rows]
    den = design.frame["denominator"].to_numpy()[rows]
    family = spec.base_family
    if family == "gaussian":
        y = num / den
        results = sm.OLS(y, X).fit()
        weight = np.ones_like(y)
        resid = y - results.fittedvalues
        pearson = resid
    else:
        if family == "poisson":
            model = sm.GLM(num, X, family=sm.families.Poisson(), offset=np.log(den))
        else:
            model = sm.GLM(num / den, X, family=sm.families.Binomial(), var_weights=den)
        results = model.fit(tol=1e-12, maxiter=200)
        p, dp = inverse_link(X @ results.params, family)
        weight = den * dp  # IRLS working weight for the canonical link (count scale)
        resid = num - den * p  # score residual (count scale)
        pearson = resid / np.sqrt(den * (p if family == "poisson" else p * (1 - p)))
    params = np.asarray(results.params)
    n, k = X.shape
    df_resid = n - k
    dispersion = float(pearson @ pearson / df_resid) if df_resid > 0 else float("nan")
    bread = np.linalg.inv(X.T @ (weight[:, None] * X))
    lags = None
    if spec.errors == "hac":
        groups = design.frame["key"].to_numpy()[rows]
        longest = int(max(np.unique(groups, return_counts=True)[1]))
        lags = spec.hac_lags if spec.hac_lags is not None else default_hac_lags(longest)
        cov = bread @ newey_west_meat(X * resid[:, None], groups, lags) @ bread
    else:
        scale = dispersion if (spec.quasi or family == "gaussian") else 1.0
        cov = bread * scale
    return Fit(params, cov, dispersion, df_resid, pearson, lags, results)
