"""Simulation-based power and minimum detectable level change of a single-series ITS.

``minimum_detectable_effect(...)`` simulates monthly series of the given length with a level
change of known size at the start of the post period, fits the segmented regression
``time + level + slope`` (the engine's coding) to every series, and records how often the
level change is significant at ``alpha``. Power is estimated on a grid of effect sizes (link
scale: log odds ratio, log rate ratio or absolute proportion) built around the analytic
standard error, with common random numbers across the grid (the same noise for every effect
size, so the curve is smooth); the minimum detectable effect (MDE) is the smallest effect
whose power reaches the target, by linear interpolation on the monotone (running-maximum)
curve.

Data and model by family:

* ``binomial``: successes of ``denominator`` trials, proportion ``baseline`` before; with
  ``dispersion`` phi > 1, beta-binomial with the same variance inflation
  ``1 + (n - 1) rho = phi``; fitted by quasi-binomial (binomial when phi = 1).
* ``poisson``: counts with exposure ``denominator`` and rate ``baseline``; with phi > 1,
  negative binomial with ``1 + alpha mu = phi``; fitted by quasi-Poisson (Poisson if phi = 1).
* ``gaussian``: proportion ``baseline`` plus AR(1) noise of marginal SD ``sd`` and lag-1
  correlation ``ar``; fitted by OLS when ``ar = 0``, else by GLS with AR(1) errors whose
  coefficient is estimated by REML on a grid of 79 values (vectorised across series; the
  engine's ``errors: ar`` optimises it continuously).

All fits are vectorised across the simulated series (batched IRLS, no pandas), so 200
simulations x 11 grid points take a second or two. Deterministic given ``seed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

FAMILIES = ("binomial", "poisson", "gaussian")


def _design(n_pre: int, n_post: int) -> np.ndarray:
    n = n_pre + n_post
    t = np.arange(1, n + 1, dtype=float)
    level = (t > n_pre).astype(float)
    slope = np.where(t > n_pre, t - n_pre, 0.0)
    return np.column_stack([np.ones(n), t, level, slope])


def _batched_irls(X, Y, D, family, maxiter=50, tol=1e-9):
    """IRLS for many series sharing X: Y, D are (S, n). Returns beta (S, k) and the bread."""
    if family == "poisson":
        eta = np.log((Y + 0.5) / D)
    else:
        eta = special.logit((Y + 0.5) / (D + 1.0))
    beta = None
    for _ in range(maxiter):
        if family == "poisson":
            mu = D * np.exp(eta)
            w = mu
            z = eta + (Y - mu) / mu
        else:
            p = special.expit(eta)
            w = D * p * (1 - p)
            z = eta + (Y - D * p) / np.maximum(w, 1e-300)
        xtwx = np.einsum("sn,nk,nl->skl", w, X, X)
        xtwz = np.einsum("sn,nk->sk", w * z, X)
        new = np.linalg.solve(xtwx, xtwz[..., None])[..., 0]
        done = beta is not None and np.max(np.abs(new - beta)) < tol
        beta = new
        eta = beta @ X.T
        if done:
            break
    if family == "poisson":
        mu = D * np.exp(eta)
        w, var = mu, mu
    else:
        p = special.expit(eta)
        mu, w, var = D * p, D * p * (1 - p), D * p * (1 - p)
    bread = np.linalg.inv(np.einsum("sn,nk,nl->skl", w, X, X))
    pearson = (Y - mu) / np.sqrt(var)
    return beta, bread, pearson


def _ar1_noise(rng, shape, sd, ar):
    S, n = shape
    e = rng.normal(0.0, sd * np.sqrt(1 - ar**2), (S, n))
    u = np.empty((S, n))
    u[:, 0] = rng.normal(0.0, sd, S)
    for i in range(1, n):
        u[:, i] = ar * u[:, i - 1] + e[:, i]
    return u


def _gls_ar1_reml(X, Y):
    """GLS with AR(1) errors, rho by REML on a grid, for every row of Y: beta and SEs (S, k)."""
    S, n = Y.shape
    k = X.shape[1]
    lags = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    best_obj = np.full(S, np.inf)
    best_beta = np.zeros((S, k))
    best_se = np.zeros((S, k))
    for rho in np.linspace(-0.95, 0.95, 79):
        L = np.linalg.cholesky(rho ** lags)
        Linv = np.linalg.inv(L)
        Xs = Linv @ X
        Ys = Y @ Linv.T
        xtx_inv = np.linalg.inv(Xs.T @ Xs)
        beta = Ys @ (Xs @ xtx_inv)
        resid = Ys - beta @ Xs.T
        rss = np.sum(resid**2, axis=1)
        obj = (n - k) * np.log(rss / (n - k)) + 2 * np.sum(np.log(np.diag(L))) \
            + np.linalg.slogdet(Xs.T @ Xs)[1]
        better = obj < best_obj
        best_obj = np.where(better, obj, best_obj)
        best_beta[better] = beta[better]
        best_se[better] = np.sqrt(np.outer(rss[better] / (n - k), np.diag(xtx_inv)))
    return best_beta, best_se


def _simulate_power(effects, X, n_pre, family, baseline, denominator, dispersion, sd, ar,
                    trend, alpha, n_sims, seed):
    """Power at each effect size (common random numbers across effects)."""
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    level_col, t = X[:, 2], X[:, 1]
    D = np.broadcast_to(np.asarray(denominator, dtype=float), (n,))
    # the noise: uniform draws reused for every effect size (common random numbers)
    u_mix = rng.random((n_sims, n))
    u_count = rng.random((n_sims, n))
    noise = _ar1_noise(rng, (n_sims, n), sd, ar) if family == "gaussian" else None
    powers = []
    df = n - X.shape[1]
    for delta in effects:
        if family == "gaussian":
            mean = baseline + trend * t + delta * level_col
            Y = mean + noise
            if ar == 0:
                xtx_inv = np.linalg.inv(X.T @ X)
                beta = Y @ (X @ xtx_inv)
                resid = Y - beta @ X.T
                s2 = np.sum(resid**2, axis=1) / df
                se = np.sqrt(s2 * xtx_inv[2, 2])
                stat = beta[:, 2] / se
            else:
                beta, se_all = _gls_ar1_reml(X, Y)
                stat = beta[:, 2] / se_all[:, 2]
                df = n - X.shape[1] - 1
            crit = special.stdtrit(df, 1 - alpha / 2)
        else:
            if family == "binomial":
                p = special.expit(special.logit(baseline) + trend * t + delta * level_col)
                if dispersion > 1:
                    rho = (dispersion - 1) / np.maximum(D - 1, 1)
                    kappa = 1 / rho - 1
                    p = special.betaincinv(p * kappa, (1 - p) * kappa, u_mix)
                else:
                    p = np.broadcast_to(p, (n_sims, n))
                Y = special.bdtrik(u_count, D, p)  # inverse binomial CDF (continuous)
                Y = np.floor(np.clip(Y, 0, D))
            else:
                mu = D * np.exp(np.log(baseline) + trend * t + delta * level_col)
                if dispersion > 1:
                    a = (dispersion - 1) / mu
                    mu = special.gammaincinv(1 / a, u_mix) * a * mu
                else:
                    mu = np.broadcast_to(mu, (n_sims, n))
                Y = np.floor(special.pdtrik(u_count, mu))
                Y = np.maximum(Y, 0)
            Y = np.nan_to_num(Y)
            beta, bread, pearson = _batched_irls(X, Y, np.broadcast_to(D, Y.shape), family)
            scale = np.sum(pearson**2, axis=1) / df if dispersion > 1 else np.ones(n_sims)
            se = np.sqrt(bread[:, 2, 2] * scale)
            stat = beta[:, 2] / se
            crit = special.ndtri(1 - alpha / 2)
        powers.append(float(np.mean(np.abs(stat) > crit)))
    return np.array(powers)


def _analytic_se(X, family, baseline, denominator, dispersion, sd, ar):
    n = X.shape[0]
    D = np.broadcast_to(np.asarray(denominator, dtype=float), (n,))
    if family == "binomial":
        w = D * baseline * (1 - baseline)
    elif family == "poisson":
        w = D * baseline
    else:
        w = np.full(n, 1 / sd**2)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    inflate = dispersion if family != "gaussian" else (1 + ar) / (1 - ar)
    return float(np.sqrt(cov[2, 2] * inflate))


def minimum_detectable_effect(n_pre: int, n_post: int, baseline: float, denominator,
                              family: str = "binomial", dispersion: float = 1.0,
                              sd: float | None = None, ar: float = 0.0, trend: float = 0.0,
                              alpha: float = 0.05, power: float = 0.8, n_sims: int = 200,
                              n_grid: int = 11, seed: int = 0) -> dict:
    """Simulated minimum detectable level change of a single-series ITS.

    Parameters
    ----------
    n_pre, n_post : int
        Months before and from the interruption (each >= 3).
    baseline : float
        Pre-period proportion (binomial, gaussian) or rate per unit of denominator (poisson).
    denominator : int or array
        Trials or exposure per month.
    family : {"binomial", "poisson", "gaussian"}
    dispersion : float
        Variance inflation phi >= 1 (binomial/poisson); the model is then quasi-likelihood.
    sd, ar : float
        Gaussian only: marginal SD of the monthly proportion noise and its lag-1
        autocorrelation (0 <= ar < 0.95).
    trend : float
        Pre-trend per month on the link scale.
    alpha, power : float
        Two-sided significance level and target power.
    n_sims, n_grid : int
        Simulated series per grid point and number of grid points.
    seed : int

    Returns
    -------
    dict
        ``mde_link`` (log OR / log RR / absolute), ``mde_ratio`` (odds or rate ratio; None for
        gaussian), ``mde_absolute`` (difference in the first post month's proportion or rate),
        ``power_curve`` (DataFrame: ``effect_link, effect_ratio, effect_absolute, power,
        mc_se``), ``analytic_se``, ``n_sims``, ``seed``, ``alpha``, ``target_power``,
        ``model``, ``note``.

    Examples
    --------
    >>> out = minimum_detectable_effect(24, 24, baseline=0.3, denominator=200, n_sims=50,
    ...                                 seed=1)
    >>> 1.0 < out["mde_ratio"] < 2.0
    True
    """
    if family not in FAMILIES:
        raise ValueError(f"family = {family!r} must be one of {', '.join(FAMILIES)}")
    for name, value in (("n_pre", n_pre), ("n_post", n_post)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 3:
            raise ValueError(f"{name} = {value!r} must be an integer >= 3 (months)")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha = {alpha!r} and power = {power!r} must be strictly between 0 and 1")
    if family == "binomial" and not 0 < baseline < 1:
        raise ValueError(f"baseline = {baseline!r} must be a proportion strictly between 0 and 1")
    if family == "poisson" and not baseline > 0:
        raise ValueError(f"baseline = {baseline!r} must be a positive rate")
    if np.any(np.asarray(denominator) <= 0):
        raise ValueError("denominator must be positive")
    if dispersion < 1:
        raise ValueError(f"dispersion = {dispersion!r} must be >= 1 (1 = none)")
    if family == "gaussian":
        if sd is None or sd <= 0:
            raise ValueError("a gaussian power calculation needs sd > 0 (SD of the monthly proportion)")
        if not 0 <= ar < 0.95:
            raise ValueError(f"ar = {ar!r} must be in [0, 0.95)")
    elif ar:
        raise ValueError("ar applies to the gaussian family only; use dispersion for counts")
    if int(n_sims) < 10 or int(n_grid) < 3:
        raise ValueError("n_sims must be >= 10 and n_grid >= 3")

    X = _design(n_pre, n_post)
    se0 = _analytic_se(X, family, baseline, denominator, dispersion, sd or 1.0, ar)
    z = special.ndtri(1 - alpha / 2) + special.ndtri(power)
    effects = np.linspace(0, 1.6 * z * se0, n_grid)
    pw = _simulate_power(effects, X, n_pre, family, baseline, denominator, dispersion,
                         sd or 0.0, ar, trend, alpha, int(n_sims), seed)
    mono = np.maximum.accumulate(pw)
    if family == "binomial":
        ratio = np.exp(effects)
        base_post = special.expit(special.logit(baseline) + trend * (n_pre + 1))
        absolute = special.expit(special.logit(base_post) + effects) - base_post
    elif family == "poisson":
        ratio = np.exp(effects)
        base_post = baseline * np.exp(trend * (n_pre + 1))
        absolute = base_post * (ratio - 1)
    else:
        ratio, absolute = None, effects
    curve = pd.DataFrame({"effect_link": effects,
                          "effect_ratio": ratio if ratio is not None else np.nan,
                          "effect_absolute": absolute, "power": pw,
                          "mc_se": np.sqrt(pw * (1 - pw) / n_sims)})
    note = ""
    if mono[-1] < power:
        mde = np.nan
        note = f"power {power:.0%} not reached within the grid (max {mono[-1]:.0%})"
    else:
        j = int(np.argmax(mono >= power))
        if j == 0:
            mde = float(effects[0])
        else:
            f = (power - mono[j - 1]) / max(mono[j] - mono[j - 1], 1e-12)
            mde = float(effects[j - 1] + f * (effects[j] - effects[j - 1]))
    if family == "binomial":
        mde_ratio = float(np.exp(mde))
        mde_abs = float(special.expit(special.logit(base_post) + mde) - base_post)
    elif family == "poisson":
        mde_ratio = float(np.exp(mde))
        mde_abs = float(base_post * (np.exp(mde) - 1))
    else:
        mde_ratio, mde_abs = None, mde
    model = {"binomial": "quasi-binomial GLM" if dispersion > 1 else "binomial GLM",
             "poisson": "quasi-Poisson GLM" if dispersion > 1 else "Poisson GLM",
             "gaussian": "OLS" if ar == 0 else "GLS with AR(1) errors (REML)"}[family]
    return {"mde_link": mde, "mde_ratio": mde_ratio, "mde_absolute": mde_abs,
            "power_curve": curve, "analytic_se": se0, "n_sims": int(n_sims), "seed": seed,
            "alpha": alpha, "target_power": power,
            "model": f"segmented {model}: time + level + slope, {n_pre} + {n_post} months",
            "note": note}


__all__ = ["minimum_detectable_effect"]
