"""Slope and relative index of inequality (SII, RII) following PHE / PHEindicatormethods.

Method (Low & Low 2004; PHE "Technical Guide: Calculating the slope index of inequality";
``PHEindicatormethods::phe_sii``):

* quantiles are ordered from 1 = most deprived to K = least deprived; each gets the relative
  rank (ridit) ``b_k``: the midpoint of its range in the cumulative population distribution
  (``FindXValues``: ``b_1 = a_1 / 2``, ``b_k = a_1 + ... + a_{k-1} + a_k / 2``), where ``a_k`` is
  the quantile's share of the population;
* the regression ``Y_k sqrt(a_k) = beta_0 sqrt(a_k) + beta_1 b_k sqrt(a_k)`` (no intercept;
  i.e. weighted least squares with weights ``a_k``) is fitted; the **SII** is the slope
  ``beta_1``: the modelled difference between the least deprived end (rank 1) and the most
  deprived end (rank 0); the **RII** is ``(beta_0 + beta_1) / beta_0``, the ratio of the
  fitted values at ranks 1 and 0. A ``multiplier`` rescales the SII (e.g. 100 for
  percentage points); a negative multiplier also inverts the RII, as in ``phe_sii``.
* confidence intervals by simulation: each quantile's value is drawn ``repetitions`` times
  from a normal distribution with its standard error, on the log scale for rates
  (``value_type=1``) and the logit scale for proportions (``value_type=2``), back-
  transformed, and the regression refitted; the limits are the order statistics at
  positions ``round(R alpha/2)`` and ``round(R (1 - alpha/2))`` of the sorted simulated SIIs
  (RIIs). When the standard error is not given it is derived from 95% confidence limits on
  the transformed scale, ``(T(upper) - T(lower)) / (2 * 1.959964)``; for proportions from
  counts the limits are Wilson's.

**Transformed SII** (``transform=True``, ``phe_sii(transform = TRUE)``, PHEindicatormethods
2.x; recommended by UKHSA for rates and proportions, whose relation to rank is rarely linear):
the regression is fitted to ``log`` rates (``value_type=1``) or ``logit`` proportions
(``value_type=2``); with intercept ``c_0`` and slope ``c_1`` on that scale,
``SII = T^-1(c_0 + c_1) - T^-1(c_0)`` and ``RII = T^-1(c_0 + c_1) / T^-1(c_0)`` (fitted values
at ranks 1 and 0, back-transformed) and the intercept is ``T^-1(c_0)``. The simulated slopes stay
on the transformed scale; each limit ``s`` of the slope is mapped back about the fitted midpoint
``h = c_0 + c_1 / 2``: ``T^-1(h + s/2) - T^-1(h - s/2)`` (and the ratio for the RII), as the
package does.

The simulation is seeded (``seed``), so results are reproducible. An analytic alternative
(``method="analytic"``), used for the monthly SII series, propagates the same per-quantile
variances through the (linear) weighted least-squares slope by the delta method.

References
----------
Low A, Low A. Measuring the gap: quantifying and comparing local health inequalities.
J Public Health 2004;26:388-395.
Public Health England. Technical Guide: Calculating the slope index of inequality. 2017.
Public Health England / UKHSA. PHEindicatormethods (R package), ``phe_sii``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

Z95 = float(stats.norm.ppf(0.975))


def ridit_midpoints(population) -> np.ndarray:
    """Relative rank of each ordered quantile: cumulative population share at its midpoint."""
    pop = np.asarray(population, dtype=float)
    if pop.ndim != 1 or pop.size < 2 or (pop <= 0).any() or not np.isfinite(pop).all():
        raise ValueError("populations must be a 1-D sequence of at least 2 positive numbers")
    share = pop / pop.sum()
    return np.cumsum(share) - share / 2


def _design(population) -> tuple[np.ndarray, np.ndarray]:
    share = np.asarray(population, dtype=float) / np.sum(population)
    b = ridit_midpoints(population)
    m = np.vstack([np.sqrt(share), b * np.sqrt(share)])  # 2 x K, as phe_sii's SimulationFunc
    return share, m


def _fit(values: np.ndarray, population) -> np.ndarray:
    """Least-squares coefficients (intercept, slope) for each column of ``values`` (K x R)."""
    share, m = _design(population)
    solver = np.linalg.solve(m @ m.T, m)  # (M M')^-1 M, 2 x K
    return solver @ (values * np.sqrt(share)[:, None])


def sii_point(values, population, multiplier: float = 1.0) -> dict:
    """SII, RII and intercept of ordered quantile values (no interval)."""
    y = np.asarray(values, dtype=float)
    if y.shape != np.shape(population) or not np.isfinite(y).all():
        raise ValueError("values must be finite and match the populations one to one")
    intercept, slope = _fit(y[:, None], population)[:, 0]
    rii = (intercept + slope) / intercept if intercept != 0 else float("nan")
    if multiplier < 0:
        rii = 1 / rii
    return {"sii": float(multiplier * slope), "rii": float(rii),
            "intercept": float(multiplier * intercept)}


_TRANSFORMS = {
    0: (lambda v: v, lambda v: v),
    1: (np.log, np.exp),
    2: (lambda p: np.log(p / (1 - p)), lambda e: 1 / (1 + np.exp(-e))),
}


def _se_from_limits(lower, upper, value_type: int) -> np.ndarray:
    fwd = _TRANSFORMS[value_type][0]
    return (fwd(np.asarray(upper, float)) - fwd(np.asarray(lower, float))) / (2 * Z95)


def simulate_sii(values, population, se=None, lower_cl=None, upper_cl=None, value_type: int = 0,
                 repetitions: int = 100_000, seed: int = 0,
                 transform: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Simulated (SII, RII) draws, ``phe_sii``'s ``SimulationFunc`` (multiplier 1).

    With ``transform=True`` the draws are not back-transformed: the slopes are on the log
    (logit) scale and the second array is ``(c_0 + c_1) / c_0`` on that scale (unused).
    """
    if value_type not in _TRANSFORMS:
        raise ValueError("value_type must be 0 (normal), 1 (rate) or 2 (proportion)")
    if repetitions < 1000:
        raise ValueError("repetitions must be at least 1000 (as phe_sii)")
    y = np.asarray(values, dtype=float)
    if se is None:
        if lower_cl is None or upper_cl is None:
            raise ValueError("give se, or lower_cl and upper_cl (95% limits)")
        se = _se_from_limits(lower_cl, upper_cl, value_type)
    se = np.asarray(se, dtype=float)
    if (se < 0).any() or not np.isfinite(se).all():
        raise ValueError("standard errors must be finite and non-negative")
    fwd, back = _TRANSFORMS[value_type]
    rng = np.random.default_rng(seed)
    draws = rng.normal(fwd(y)[:, None], se[:, None], size=(y.size, repetitions))
    if not transform:
        draws = back(draws)
    intercept, slope = _fit(draws, population)
    return slope, (intercept + slope) / intercept


def _order_limits(draws: np.ndarray, alpha: float) -> tuple[float, float]:
    """Limits as phe_sii: sorted draws at positions round(R a/2) and round(R (1 - a/2))."""
    r = draws.size
    ordered = np.sort(draws)
    lo = int(round(r * alpha / 2))
    hi = int(round(r * (1 - alpha / 2)))
    return float(ordered[max(lo, 1) - 1]), float(ordered[min(hi, r) - 1])


def phe_sii(values, population, se=None, lower_cl=None, upper_cl=None, value_type: int = 0,
            confidence: float = 0.95, repetitions: int = 100_000, multiplier: float = 1.0,
            seed: int = 0, transform: bool = False) -> dict:
    """SII and RII with simulated confidence limits, as ``PHEindicatormethods::phe_sii``.

    Parameters
    ----------
    values : sequence
        Indicator value per quantile, ordered 1 = most deprived ... K = least deprived.
    population : sequence
        Quantile populations (denominators), all positive.
    se, lower_cl, upper_cl : sequence, optional
        Standard errors on the transformed scale, or 95% limits on the natural scale.
    value_type : {0, 1, 2}
        0 normal, 1 rate (log scale), 2 proportion (logit scale).
    confidence : float
        e.g. 0.95.
    repetitions : int
        Simulation draws (phe_sii's default 100,000).
    multiplier : float
        Rescales SII; negative also inverts RII.
    seed : int
        Seed of ``numpy.random.default_rng``.
    transform : bool
        Fit on the log (rates) or logit (proportions) scale and back-transform, as
        ``phe_sii(transform = TRUE)``; needs ``value_type`` 1 or 2 and the 95% limits (not
        ``se``), as the package.

    Returns
    -------
    dict
        ``sii, sii_low, sii_high, rii, rii_low, rii_high, intercept``.
    """
    if not 0.5 < confidence < 1:
        raise ValueError("confidence must be between 0.5 and 1, e.g. 0.95")
    if transform:
        return _transformed_sii(values, population, lower_cl, upper_cl, se, value_type,
                                confidence, repetitions, multiplier, seed)
    point = sii_point(values, population, multiplier)
    slope, rii = simulate_sii(values, population, se, lower_cl, upper_cl, value_type,
                              repetitions, seed)
    alpha = 1 - confidence
    s_lo, s_hi = sorted(multiplier * np.array(_order_limits(slope, alpha)))
    r_lo, r_hi = _order_limits(1 / rii if multiplier < 0 else rii, alpha)
    return {**point, "sii_low": float(s_lo), "sii_high": float(s_hi), "rii_low": r_lo,
            "rii_high": r_hi}


def _transformed_sii(values, population, lower_cl, upper_cl, se, value_type: int,
                     confidence: float, repetitions: int, multiplier: float, seed: int) -> dict:
    """``phe_sii(transform = TRUE)``: the SII fitted on the log / logit scale (module notes)."""
    if value_type not in (1, 2):
        raise ValueError("transform=True needs value_type 1 (rate, log) or 2 (proportion, "
                         "logit), as phe_sii")
    if se is not None or lower_cl is None or upper_cl is None:
        raise ValueError("transform=True needs lower_cl and upper_cl (95% limits), not se, "
                         "as phe_sii")
    fwd, back = _TRANSFORMS[value_type]
    y = np.asarray(values, dtype=float)
    if value_type == 1 and (y <= 0).any():
        raise ValueError("a log-transformed SII needs every rate above zero")
    if value_type == 2 and ((y <= 0) | (y >= 1)).any():
        raise ValueError("a logit-transformed SII needs every proportion strictly between 0 "
                         "and 1")
    fitted = sii_point(fwd(y), population)
    c0, c1 = fitted["intercept"], fitted["sii"]
    slope, _ = simulate_sii(y, population, None, lower_cl, upper_cl, value_type, repetitions,
                            seed, transform=True)
    mid = c0 + c1 / 2

    def natural(s):  # fitted values at ranks 1 and 0 for a log/logit-scale slope s
        top, bottom = back(mid + s / 2), back(mid - s / 2)
        return top - bottom, top / bottom

    sii, rii = natural(c1)
    (d_lo, q_lo), (d_hi, q_hi) = (natural(s) for s in _order_limits(slope, 1 - confidence))
    s_lo, s_hi = sorted([multiplier * d_lo, multiplier * d_hi])
    if multiplier < 0:
        rii, q_lo, q_hi = 1 / rii, 1 / q_hi, 1 / q_lo
    return {"sii": float(multiplier * sii), "rii": float(rii),
            "intercept": float(back(c0) * abs(multiplier)), "sii_low": float(s_lo),
            "sii_high": float(s_hi), "rii_low": float(q_lo), "rii_high": float(q_hi)}


def proportion_se(numerator, denominator) -> tuple[np.ndarray, np.ndarray]:
    """Proportions and their logit-scale standard errors from Wilson 95% limits (PHE)."""
    x, n = np.asarray(numerator, float), np.asarray(denominator, float)
    if (n <= 0).any() or (x < 0).any() or (x > n).any():
        raise ValueError("need 0 <= numerator <= denominator and denominator > 0 in every quantile")
    p = x / n
    if ((x == 0) | (x == n)).any():
        raise ValueError("a quantile with 0% or 100% has no logit-scale standard error; "
                         "the SII of proportions needs 0 < numerator < denominator (as phe_sii)")
    lo, hi = proportion_confint(x, n, alpha=0.05, method="wilson")
    return p, _se_from_limits(lo, hi, 2)


def sii_proportions(numerator, denominator, confidence: float = 0.95,
                    repetitions: int = 100_000, multiplier: float = 1.0, seed: int = 0,
                    method: str = "simulation") -> dict:
    """SII/RII of proportions ``numerator / denominator`` by quantile (``value_type = 2``).

    ``method="simulation"`` is phe_sii; ``"analytic"`` is the delta-method alternative (fast,
    for monthly series): the SII is linear in the values, so its variance is
    ``g' diag(var p_k) g`` with ``var p_k`` from the logit-scale SE, ``(p(1-p) se)^2``; the RII
    interval is formed on the log scale from the joint variance of intercept and slope.
    """
    p, se = proportion_se(numerator, denominator)
    if method == "simulation":
        return phe_sii(p, denominator, se=se, value_type=2, confidence=confidence,
                       repetitions=repetitions, multiplier=multiplier, seed=seed)
    if method != "analytic":
        raise ValueError("method must be 'simulation' or 'analytic'")
    share, m = _design(denominator)
    solver = np.linalg.solve(m @ m.T, m) * np.sqrt(share)[None, :]  # coefficients = solver @ p
    var_p = (p * (1 - p) * se) ** 2
    cov = solver @ np.diag(var_p) @ solver.T
    point = sii_point(p, denominator, multiplier)
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    se_sii = float(np.sqrt(cov[1, 1]))
    b0, b1 = solver @ p
    # log RII = log(b0 + b1) - log(b0): gradient (1/(b0+b1) - 1/b0, 1/(b0+b1))
    g = np.array([1 / (b0 + b1) - 1 / b0, 1 / (b0 + b1)])
    se_log_rii = float(np.sqrt(g @ cov @ g))
    rii = (b0 + b1) / b0
    r_lo, r_hi = rii * np.exp(-z * se_log_rii), rii * np.exp(z * se_log_rii)
    if multiplier < 0:
        r_lo, r_hi = 1 / r_hi, 1 / r_lo
    s_lo, s_hi = sorted([multiplier * (b1 - z * se_sii), multiplier * (b1 + z * se_sii)])
    return {**point, "sii_low": float(s_lo), "sii_high": float(s_hi), "rii_low": float(r_lo),
            "rii_high": float(r_hi), "sii_se": abs(multiplier) * se_sii}


def sii_change(before: tuple, after: tuple, confidence: float = 0.95,
               repetitions: int = 100_000, multiplier: float = 1.0, seed: int = 0) -> dict:
    """Change in the SII (after - before) and ratio of RIIs (after / before) by simulation.

    ``before`` and ``after`` are ``(numerators, denominators)`` by quantile, from independent
    windows; each is simulated as in :func:`phe_sii` and the limits are taken from the
    simulated differences (ratios).
    """
    draws = []
    for i, (x, n) in enumerate((before, after)):
        p, se = proportion_se(x, n)
        draws.append(simulate_sii(p, n, se=se, value_type=2, repetitions=repetitions,
                                  seed=seed + i))
    (s0, r0), (s1, r1) = draws
    alpha = 1 - confidence
    p0, _ = proportion_se(*before)
    p1, _ = proportion_se(*after)
    d_lo, d_hi = sorted(multiplier * np.array(_order_limits(s1 - s0, alpha)))
    ratio = r0 / r1 if multiplier < 0 else r1 / r0  # a negative multiplier inverts the RII
    q_lo, q_hi = _order_limits(ratio, alpha)
    b, a = sii_point(p0, before[1], multiplier), sii_point(p1, after[1], multiplier)
    return {"sii_change": a["sii"] - b["sii"], "sii_change_low": float(d_lo),
            "sii_change_high": float(d_hi), "rii_ratio": a["rii"] / b["rii"],
            "rii_ratio_low": q_lo, "rii_ratio_high": q_hi}
