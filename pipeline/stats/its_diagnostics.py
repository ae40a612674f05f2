"""Residual diagnostics of an ITS fit, reported rather than hidden.

* Durbin & Watson (1950) statistic of the Pearson residuals, differences taken within each
  series (about 2 without lag-1 autocorrelation).
* Ljung & Box (1978) portmanteau test of the Pearson residuals of each series (the same
  statistic as statsmodels ``acorr_ljungbox``), lags ``min(12, max(1, T // 4))``; with
  several series the smallest p-value is Bonferroni-adjusted.
* Breusch (1978) - Godfrey (1978) LM test for the Gaussian single-series model.
* Pearson dispersion X2/(n-p) (1 for a correctly specified Poisson or binomial model).
* Months per segment (refused under 3 and warned under 8 by the design step).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .its_design import Design
from .its_fit import Fit
from .its_spec import ITSSpec

ALPHA_DIAG = 0.05
OVERDISPERSION = 1.5


def ljung_box(resid: np.ndarray, lags: int) -> tuple[float, float]:
    """Ljung-Box Q and its chi-square p-value on ``lags`` degrees of freedom."""
    e = resid - resid.mean()
    n = len(e)
    denom = e @ e
    r = np.array([e[k:] @ e[:-k] / denom for k in range(1, lags + 1)])
    q = n * (n + 2) * np.sum(r**2 / (n - np.arange(1, lags + 1)))
    return float(q), float(stats.chi2.sf(q, lags))


def durbin_watson_within(resid: np.ndarray, groups: np.ndarray) -> float:
    """Durbin-Watson statistic with differences taken inside each series only."""
    same = groups[1:] == groups[:-1]
    diff = (resid[1:] - resid[:-1])[same]
    return float(diff @ diff / (resid @ resid))


def diagnose(design: Design, fit: Fit, spec: ITSSpec) -> dict:
    """Diagnostics dict with plain-language ``warnings``.

    Returns
    -------
    dict
        ``n_obs``, ``n_params``, ``df_resid``, ``durbin_watson``, ``ljung_box_p``,
        ``ljung_box_lags``, ``breusch_godfrey_p`` (Gaussian single series, else None),
        ``dispersion``, ``hac_lags``, ``points_per_segment`` (list of dicts), ``warnings``.
    """
    rows = design.frame["in_fit"].to_numpy()
    groups = design.frame["key"].to_numpy()[rows]
    resid = fit.pearson
    warnings = list(design.warnings)

    pvalues, lags_used = [], []
    for g in dict.fromkeys(groups):
        e = resid[groups == g]
        lags = min(12, max(1, len(e) // 4))
        pvalues.append(ljung_box(e, lags)[1])
        lags_used.append(lags)
    lb_p = float(min(1.0, min(pvalues) * len(pvalues)))

    bg_p = None
    if spec.base_family == "gaussian" and spec.design == "single":
        from statsmodels.stats.diagnostic import acorr_breusch_godfrey

        bg_p = float(acorr_breusch_godfrey(fit.results, nlags=lags_used[0], result_object=False)[1])

    if lb_p < ALPHA_DIAG:
        if spec.errors == "hac":
            warnings.append(
                f"autocorrelation detected (Ljung-Box p={lb_p:.3g}): Newey-West errors used "
                f"({fit.hac_lags} lags)"
            )
        else:
            warnings.append(
                f"autocorrelation detected (Ljung-Box p={lb_p:.3g}): the independent-errors "
                "standard errors may be too small; consider errors='hac'"
            )
    if spec.family in ("poisson", "binomial") and fit.dispersion > OVERDISPERSION:
        warnings.append(
            f"overdispersion (Pearson X2/df = {fit.dispersion:.3g}): the {spec.family} "
            f"standard errors are too small; consider family='quasi{spec.family}'"
        )
    return {
        "n_obs": int(rows.sum()),
        "n_params": int(design.X.shape[1]),
        "df_resid": int(fit.df_resid),
        "durbin_watson": durbin_watson_within(resid, groups),
        "ljung_box_p": lb_p,
        "ljung_box_lags": int(max(lags_used)),
        "breusch_godfrey_p": bg_p,
        "dispersion": float(fit.dispersion),
        "hac_lags": fit.hac_lags,
        "points_per_segment": design.segments,
        "warnings": warnings,
    }
