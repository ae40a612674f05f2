"""GLM fitting for the ITS engine: IRLS (Poisson, binomial, NB2 at a fixed dispersion), NB2 by
profile maximum likelihood and the IRLS working response.

McCullagh & Nelder (1989) section 2.5 (IRLS, working response); Cameron & Trivedi (2013)
ch. 3 (NB2). The family notes and convergence rule are in :mod:`pipeline.stats.its_fit`.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

from .its_spec import ITSSpec

TOL, MAXITER = 1e-11, 100


def inverse_link(eta: np.ndarray, family: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean per unit of denominator and its derivative with respect to ``eta``."""
    if family == "binomial":
        p = special.expit(eta)
        return p, p * (1.0 - p)
    if family == "poisson":
        p = np.exp(eta)
        return p, p
    return eta, np.ones_like(eta)


def start_eta(num, den, family):
    if family == "poisson":
        return np.log((num + 0.5) / den)
    return special.logit((num + 0.5) / (den + 1.0))


def weighted_step(X, eta, num, den, family, nb_alpha=0.0):
    """One IRLS step: the weighted least-squares solution for the working response.

    Solved as least squares on ``W^1/2 X`` (LAPACK's SVD-based ``gelsd``), not by the normal
    equations ``X'WX b = X'Wz``: squaring the design squares its condition number, and on a
    nearly singular X'WX ``np.linalg.solve`` raised or returned garbage depending on the BLAS
    kernel. Whether the model is estimable at all is decided by
    :mod:`pipeline.stats.estimability`, not by this solve. Returns ``beta, weight``.
    """
    p, dp = inverse_link(eta, family)
    if family == "poisson":
        mu = den * p
        w = mu / (1.0 + nb_alpha * mu)
        dmu = np.maximum(mu, 1e-300)  # d mu / d eta on the count scale
    else:
        mu = den * p
        w = den * dp
        dmu = np.maximum(w, 1e-300)
    sw = np.sqrt(w)
    zw = np.where(w > 0, sw * eta + sw * (num - mu) / dmu, 0.0)  # W^1/2 working response
    beta = np.linalg.lstsq(X * sw[:, None], zw, rcond=None)[0]
    return beta, w


def irls(X, num, den, family, beta=None, nb_alpha=0.0):
    """IRLS for the log-link (Poisson, NB2 with fixed ``nb_alpha``) or logit-link binomial.

    Returns ``beta, converged``; converged means ``max |change in beta| < TOL (1 + max |beta|)``
    within ``MAXITER`` iterations (non-finite iterates stop the loop unconverged).
    """
    if beta is None:
        eta = start_eta(num, den, family)
    else:
        eta = X @ beta
    converged = False
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        for _ in range(MAXITER):
            new, _ = weighted_step(X, eta, num, den, family, nb_alpha)
            if not np.all(np.isfinite(new)):
                break
            if beta is not None and np.max(np.abs(new - beta)) < TOL * (1 + np.max(np.abs(new))):
                beta, converged = new, True
                break
            beta = new
            eta = X @ beta
    if beta is None:  # the very first step was not finite
        beta = np.full(X.shape[1], np.nan)
    return beta, converged


def nb_loglike(num, mu, alpha):
    r = 1.0 / alpha
    return float(np.sum(special.gammaln(num + r) - special.gammaln(r) - special.gammaln(num + 1)
                        + r * np.log(r / (r + mu)) + num * np.log(mu / (r + mu))))


def fit_negbin(X, num, den):
    """NB2 by profile maximum likelihood. Returns ``beta, alpha, converged``."""
    offset_beta, _ = irls(X, num, den, "poisson")
    state = {"beta": offset_beta}

    def negll(log_alpha):
        a = np.exp(log_alpha)
        beta, _ = irls(X, num, den, "poisson", beta=state["beta"], nb_alpha=a)
        state["beta"] = beta
        return -nb_loglike(num, den * np.exp(X @ beta), a)

    res = optimize.minimize_scalar(negll, bounds=(np.log(1e-8), np.log(1e3)), method="bounded",
                                   options={"xatol": 1e-10})
    alpha = float(np.exp(res.x))
    beta, converged = irls(X, num, den, "poisson", beta=state["beta"], nb_alpha=alpha)
    return beta, alpha, converged and bool(res.success)


def working_response(X, num, den, params, spec: ITSSpec, nb_alpha=None):
    """IRLS working response ``z = eta + (y - mu) / (dmu/deta)`` and weights ``w`` at
    ``params`` (McCullagh & Nelder 1989, section 2.5): ``den p (1 - p)`` binomial, ``mu``
    Poisson, ``mu / (1 + alpha mu)`` NB2; the proportion and 1 for gaussian."""
    family = spec.base_family
    if family == "gaussian":
        return num / den, np.ones(len(num))
    eta = X @ params
    p, dp = inverse_link(eta, family)
    mu = den * p
    w = mu / (1 + nb_alpha * mu) if spec.family == "negbin" else den * dp
    return eta + (num - mu) / np.maximum(den * dp, 1e-300), w
