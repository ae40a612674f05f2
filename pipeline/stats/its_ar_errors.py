"""Gaussian regression with AR(p) errors by generalised least squares (``errors: ar`` with
``ar_small_sample: "none"``), the AR coefficients by REML or ML.

Turner et al. (2021) found REML the least biased in short series; ML gives statsmodels'
``SARIMAX(y, exog=X, order=(p, 0, 0))`` estimates. The AR correlation uses the calendar
distance between months, so gaps are gaps and series never correlate with each other (method
notes in :mod:`pipeline.stats.its_fit`; AR(1) for every family: :mod:`pipeline.stats.its_ar`).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.linalg import solve_triangular


def pacf_to_ar(r: np.ndarray) -> np.ndarray:
    """AR coefficients from partial autocorrelations (Durbin-Levinson; stationary if |r| < 1)."""
    phi = np.array([])
    for k, rk in enumerate(r):
        phi = np.r_[phi - rk * phi[::-1], rk] if k else np.array([rk])
    return phi


def ar_acf(phi: np.ndarray, nlags: int) -> np.ndarray:
    """Autocorrelations 0..nlags of a stationary AR(p) (Yule-Walker recursion)."""
    p = len(phi)
    if p == 1:
        return phi[0] ** np.arange(nlags + 1)
    # solve the Yule-Walker equations for rho_1..rho_p, then recurse
    A = np.eye(p)
    b = np.zeros(p)
    for k in range(1, p + 1):  # rho_k = sum_j phi_j rho_{|k-j|}
        for j in range(1, p + 1):
            lag = abs(k - j)
            if lag == 0:
                b[k - 1] += phi[j - 1]
            else:
                A[k - 1, lag - 1] -= phi[j - 1]
    rho = np.r_[1.0, np.linalg.solve(A, b)]
    out = np.empty(max(nlags + 1, p + 1))
    out[:p + 1] = rho
    for k in range(p + 1, len(out)):
        out[k] = phi @ out[k - 1:k - p - 1:-1]
    return out[:nlags + 1]


def ar_gls(phi, X, y, dist, same, reml):
    acf = ar_acf(phi, int(dist.max()))
    V = np.where(same, acf[dist], 0.0)
    try:
        L = np.linalg.cholesky(V)
    except np.linalg.LinAlgError:
        return None
    both = solve_triangular(L, np.column_stack([X, y]), lower=True, check_finite=False)
    Xs, ys = both[:, :-1], both[:, -1]
    xtx = Xs.T @ Xs
    beta = np.linalg.solve(xtx, Xs.T @ ys)
    e = ys - Xs @ beta
    rss = float(e @ e)
    n, k = X.shape
    logdet = 2 * np.sum(np.log(np.diag(L)))
    if reml:
        obj = (n - k) * np.log(rss / (n - k)) + logdet + np.linalg.slogdet(xtx)[1]
    else:
        obj = n * np.log(rss / n) + logdet
    return obj, beta, xtx, e, rss, Xs, L


def fit_ar(X, y, m, groups, order, method):
    """Regression with AR(``order``) errors by GLS; AR coefficients by REML or ML.

    Returns ``beta, cov, phi, whitened residuals / sigma, hat, sigma2, converged``.
    """
    dist = np.abs(m[:, None] - m[None, :]).astype(int)
    same = groups[:, None] == groups[None, :]
    reml = method == "reml"

    def objective(u):
        r = np.tanh(np.atleast_1d(u))
        out = ar_gls(pacf_to_ar(r), X, y, dist, same, reml)
        return np.inf if out is None else out[0]

    if order == 1:
        res = optimize.minimize_scalar(objective, bounds=(-3.8, 3.8), method="bounded",
                                       options={"xatol": 1e-7})
        u, ok = np.atleast_1d(res.x), res.success
    else:
        res = optimize.minimize(objective, np.zeros(order), method="Nelder-Mead",
                                options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
        u, ok = res.x, res.success
    phi = pacf_to_ar(np.tanh(u))
    _, beta, xtx, e, rss, Xs, _ = ar_gls(phi, X, y, dist, same, reml)
    n, k = X.shape
    sigma2 = rss / (n - k) if reml else rss / n
    bread = np.linalg.inv(xtx)
    hat = np.einsum("ij,jk,ik->i", Xs, bread, Xs)
    return beta, bread * sigma2, phi, e, hat, sigma2, ok
