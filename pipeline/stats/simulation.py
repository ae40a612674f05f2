"""Simulated monthly series with known interruption effects (for tests and benchmarks).

The linear predictor on the link scale (logit for binomial, log for Poisson, identity for
Gaussian) is::

    eta_t = link(baseline) + trend * t + sum_k [level_k * L_kt + slope_k * S_kt]
            + amplitude * sin(2 pi month_t / 12) + u_t

with ``t = 1, 2, ...``, ``L_kt = 1[month >= start_k]`` and ``S_kt = months since start_k + 1``
(the coding of :mod:`pipeline.stats.its_design`), and ``u_t`` a stationary AR(1) process with
marginal SD ``sd`` and lag-1 correlation ``ar``. Outcomes:

* binomial: ``numerator ~ Binomial(denominator, p_t)``, with ``p_t ~ Beta`` of mean
  ``expit(eta_t)`` and intra-class correlation ``overdispersion`` when that is > 0
  (beta-binomial: the mean is kept, the variance inflated by ``1 + (n - 1) rho``);
* poisson: ``numerator ~ Poisson(denominator * mu_t)``, with gamma mixing of variance
  ``overdispersion * mu^2`` when > 0 (negative binomial);
* gaussian: ``numerator = denominator * eta_t`` (the proportion is ``eta_t``; ``sd`` > 0).

For non-Gaussian families the latent noise ``u_t`` (``sd`` > 0) attenuates marginal effects
slightly; use ``overdispersion`` for mean-preserving extra variation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LINKS = {
    "binomial": (lambda p: np.log(p / (1 - p)), lambda e: 1 / (1 + np.exp(-e))),
    "poisson": (np.log, np.exp),
    "gaussian": (lambda p: p, lambda e: e),
}


def _ar1(rng: np.random.Generator, n: int, sd: float, ar: float) -> np.ndarray:
    if sd == 0:
        return np.zeros(n)
    e = rng.normal(0.0, sd * np.sqrt(1 - ar**2), n)
    u = np.empty(n)
    u[0] = rng.normal(0.0, sd)
    for i in range(1, n):
        u[i] = ar * u[i - 1] + e[i]
    return u


def simulate_series(n_months: int = 48, start: str = "2019-01", phases=(),
                    baseline: float = 0.3, trend: float = 0.0, family: str = "binomial",
                    denominator=200, overdispersion: float = 0.0, sd: float = 0.0,
                    ar: float = 0.0, amplitude: float = 0.0, unit: str = "unit_1",
                    seed: int = 0, seasons: float = 12) -> pd.DataFrame:
    """Simulate one monthly series with known level and slope changes.

    Parameters
    ----------
    n_months : int
        Number of months.
    start : str
        First month, "YYYY-MM".
    phases : sequence of (start, level, slope)
        Interruptions: start month ("YYYY-MM") and the level and slope changes on the link
        scale (log odds ratio, log rate ratio, or absolute proportion).
    baseline : float
        Proportion (rate for Poisson) at ``t = 0`` on the natural scale.
    trend : float
        Pre-trend per month on the link scale.
    family : {"binomial", "poisson", "gaussian"}
    denominator : int or array of int
        Trials (population or person-time for Poisson) per month.
    overdispersion : float
        Beta-binomial intra-class correlation or negative-binomial alpha (0 = none).
    sd, ar : float
        Marginal SD and lag-1 autocorrelation of the AR(1) noise on the link scale.
    amplitude : float
        Seasonal sine amplitude on the link scale.
    seasons : float
        Steps per seasonal cycle: 12 (months; the sine follows the calendar month). Any other
        value (4 for quarters, 365.25 / 7 for ISO weeks) counts steps, so a series of another
        period is simulated one step per period and re-dated (docs/adr/0160).
    unit : str
    seed : int
        Seed of :func:`numpy.random.default_rng`: same arguments, same series.

    Returns
    -------
    DataFrame
        ``month, unit, numerator, denominator`` plus ``true_mean`` and
        ``true_counterfactual`` (noise-free proportion or rate with and without the effects).
    """
    if family not in LINKS:
        raise ValueError(f"family {family!r} is not one of {', '.join(LINKS)}")
    if family == "gaussian" and sd <= 0:
        raise ValueError("a gaussian series needs sd > 0")
    link, inverse = LINKS[family]
    rng = np.random.default_rng(seed)
    months = pd.period_range(start, periods=n_months, freq="M")
    t = np.arange(1, n_months + 1, dtype=float)
    position = months.month if seasons == 12 else t
    eta_cf = link(baseline) + trend * t + amplitude * np.sin(2 * np.pi * position / seasons)
    eta = eta_cf.copy()
    for phase_start, level, slope in phases:
        since = (months - pd.Period(phase_start, "M")).map(lambda d: d.n).to_numpy()
        post = since >= 0
        eta = eta + level * post + slope * np.where(post, since + 1, 0)
    den = np.broadcast_to(np.asarray(denominator), (n_months,)).astype(np.int64)
    noisy = eta + _ar1(rng, n_months, sd, ar)
    mean = inverse(noisy)
    if family == "binomial":
        if overdispersion > 0:
            k = 1 / overdispersion - 1
            mean = rng.beta(mean * k, (1 - mean) * k)
        numerator = rng.binomial(den, mean)
    elif family == "poisson":
        if overdispersion > 0:
            mean = rng.gamma(1 / overdispersion, mean * overdispersion)
        numerator = rng.poisson(den * mean)
    else:
        numerator = den * mean
    return pd.DataFrame({
        "month": months.to_timestamp(),
        "unit": unit,
        "numerator": numerator,
        "denominator": den,
        "true_mean": inverse(eta),
        "true_counterfactual": inverse(eta_cf),
    })


def simulate_panel(units: dict, seed: int = 0, **common) -> pd.DataFrame:
    """Stack :func:`simulate_series` for several units.

    Parameters
    ----------
    units : dict
        unit name -> dict of :func:`simulate_series` arguments overriding ``common``.
    seed : int
        Unit ``i`` (in dict order) is simulated with seed ``seed * 1000 + i``.
    """
    frames = [simulate_series(**{**common, **kwargs, "unit": name, "seed": seed * 1000 + i})
              for i, (name, kwargs) in enumerate(units.items())]
    return pd.concat(frames, ignore_index=True)
