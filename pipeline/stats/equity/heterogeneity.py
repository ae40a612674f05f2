"""Does the intervention's effect differ across the strata of a dimension?

The Wald test of stratum-specific against common level (and slope) changes, computed as the
multivariate Cochran's Q of the stratum estimates and their covariances (docs/adr/0010;
``docs/equity.md``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

METHOD = ("Wald test of stratum-specific vs common change (multivariate Cochran's Q on the "
          "stratified ITS, link scale)")


def cochran_q(estimates: np.ndarray, covariances: np.ndarray) -> tuple[float, int, float, float]:
    """Multivariate Cochran's Q: Wald test that k-vectors of S independent strata are equal.

    ``Q = sum_s (b_s - b)' V_s^-1 (b_s - b)`` with ``b`` the inverse-variance-weighted
    mean; ``Q ~ chi2(k (S - 1))`` under homogeneity. Identical to the Wald test of the
    stratum x change interactions in a joint model of the strata's series with stratum-
    specific nuisance terms (intercept, trend, seasonality, dispersion) and a block-diagonal
    covariance (docs/adr/0010). Returns ``(Q, df, p, I^2)``; ``I^2 = max(0, (Q - df) / Q)``
    (Higgins & Thompson 2002).
    """
    b = np.asarray(estimates, float)
    V = np.asarray(covariances, float)
    if b.ndim == 1:
        b, V = b[:, None], V.reshape(-1, 1, 1)
    W = np.linalg.inv(V)
    pooled = np.linalg.solve(W.sum(0), np.einsum("sij,sj->i", W, b))
    d = b - pooled
    q = float(np.einsum("si,sij,sj->", d, W, d))
    df = int(b.shape[1] * (b.shape[0] - 1))
    p = float(stats.chi2.sf(q, df)) if df > 0 else float("nan")
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    return q, df, p, i2


def change_coefficients(spec, phase) -> dict:
    """``{estimand: coefficient name}`` of a phase's level and slope change (the ``group:``
    interaction in a controlled design)."""
    prefix = "group:" if spec.design == "controlled" else ""
    names = {}
    if phase.has_level:
        names["level_change"] = f"{prefix}level[{phase.name}]"
    if phase.has_slope:
        names["slope_change"] = f"{prefix}slope[{phase.name}]"
    return names


def heterogeneity_rows(fits: dict, outcome: str, dims, spec) -> list:
    """One row per dimension x phase x change (and the joint level-and-slope test) with two
    or more fitted strata. ``fits`` maps ``(outcome, dimension, stratum)`` to a fit with
    ``params`` and ``cov`` (:class:`pipeline.stats.its.StratumFit` or ``ITSResult``)."""
    rows = []
    for d in dims:
        strata = {s: r for (o, dd, s), r in fits.items() if o == outcome and dd == d}
        if len(strata) < 2:
            continue
        for phase in spec.phases:
            names = change_coefficients(spec, phase)
            tests = [(k, [v]) for k, v in names.items()]
            if len(names) == 2:
                tests.append(("level_and_slope_change", list(names.values())))
            for estimand, cols in tests:
                b = np.array([r.params[cols].to_numpy() for r in strata.values()])
                V = np.array([r.cov.loc[cols, cols].to_numpy() for r in strata.values()])
                q, df, p, i2 = cochran_q(b, V)
                rows.append({"outcome": outcome, "dimension": d, "phase": phase.name,
                             "estimand": estimand, "statistic": q, "df": df, "p_value": p,
                             "i_squared": i2, "n_strata": len(strata),
                             "strata": ", ".join(strata), "method": METHOD})
    return rows
