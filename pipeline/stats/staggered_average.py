"""The average of unit effects with stated weights, its intervals, and their heterogeneity.

Cochran's Q with the units' joint covariance and I^2 (Cochran 1954; Higgins & Thompson 2002),
the DerSimonian & Laird (1986) between-unit variance, the "units as a sample" interval with
Welch-Satterthwaite df, and the simpler weighted-mean intervals kept for the simulation
benchmark (Hartung & Knapp 2001). Why these intervals: :mod:`pipeline.stats.staggered`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..analysis_options import STAGGERED_WEIGHTS as WEIGHTS
from .its_estimands import quantile

INTERVALS = ("between", "dersimonian_laird", "within")


def heterogeneity(b: np.ndarray, V: np.ndarray) -> dict:
    """Wald test that every unit's change is the same: Cochran's Q with the units' joint
    covariance, ``Q = (D b)' (D V D')^-1 (D b)`` with ``D`` the differences from the first unit,
    chi-squared on k - 1 df (equal to :func:`pipeline.stats.equity.cochran_q` when ``V`` is
    diagonal; Cochran 1954), and ``I^2 = max(0, (Q - df) / Q)`` (Higgins & Thompson 2002)."""
    k = len(b)
    D = np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)])
    d = D @ b
    q = float(d @ np.linalg.solve(D @ V @ D.T, d))
    p = float(stats.chi2.sf(q, k - 1))
    return {"q": q, "df": k - 1, "p_value": p, "i2": max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0}


def sample_interval(average: dict, b, v, w, alpha: float = 0.05) -> dict:
    """The average's interval when the units are a sample of units: variance ``w' V w +
    tau^2 sum w^2`` (DerSimonian-Laird tau^2 from the unit estimates), t on the
    Welch-Satterthwaite df of the two parts (the first with its own df, tau^2 with k - 1)."""
    w = np.asarray(w, float)
    A = average["se"] ** 2
    B = dersimonian_laird_tau2(b, v) * float(np.sum(w**2))
    df_a = average["df"] if average["df"] is not None else 1e6
    df = (A + B) ** 2 / (A**2 / df_a + B**2 / (len(b) - 1))
    se = float(np.sqrt(A + B))
    q = quantile(alpha, df)
    est = average["estimate"]
    return {"estimate": est, "se": se, "df": float(df), "ci_low": est - q * se,
            "ci_high": est + q * se, "p_value": float(2 * stats.t.sf(abs(est / se), df))}


def unit_weights(exposure: np.ndarray, weights: str) -> np.ndarray:
    """Normalised weights: equal per unit, or in proportion to the post-period exposure."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights = {weights!r}; choose one of: {', '.join(WEIGHTS)}")
    w = np.ones(len(exposure)) if weights == "equal" else np.asarray(exposure, float)
    return w / w.sum()


def weighted_mean_interval(b, v, w, alpha: float = 0.05, interval: str = "between") -> dict:
    """Weighted mean of unit estimates ``b`` (variances ``v``) with weights ``w`` and its interval.

    ``interval``:

    * ``"between"`` (default): ``Var = k/(k-1) sum w^2 (b - b_w)^2``, t on k - 1 df (units as a
      random sample; Hartung & Knapp 2001 form for fixed weights);
    * ``"dersimonian_laird"``: ``Var = sum w^2 (v + tau^2_DL)``, normal quantile;
    * ``"within"``: ``Var = sum w^2 v``, normal quantile (these units' own average only; no
      between-unit spread).
    """
    b, v, w = (np.asarray(a, float) for a in (b, v, w))
    k = len(b)
    mean = float(w @ b)
    if interval == "between":
        var = k / (k - 1) * float(np.sum(w**2 * (b - mean) ** 2)) if k > 1 else float("nan")
        df = float(k - 1) if k > 1 else None
    elif interval == "dersimonian_laird":
        var, df = float(np.sum(w**2 * (v + dersimonian_laird_tau2(b, v)))), None
    elif interval == "within":
        var, df = float(np.sum(w**2 * v)), None
    else:
        raise ValueError(f"interval = {interval!r}; choose one of: {', '.join(INTERVALS)}")
    se = float(np.sqrt(var))
    q = quantile(alpha, df) if df is not None else float(stats.norm.isf(alpha / 2))
    z = mean / se if se > 0 else float("nan")
    p = 2 * (stats.t.sf(abs(z), df) if df is not None else stats.norm.sf(abs(z)))
    return {"estimate": mean, "se": se, "df": df, "ci_low": mean - q * se,
            "ci_high": mean + q * se, "p_value": float(p)}


def dersimonian_laird_tau2(b, v) -> float:
    """Between-unit variance by the method of moments (DerSimonian & Laird 1986)."""
    b, v = np.asarray(b, float), np.asarray(v, float)
    wi = 1 / v
    q = float(np.sum(wi * (b - np.sum(wi * b) / wi.sum()) ** 2))
    denom = wi.sum() - np.sum(wi**2) / wi.sum()
    return max(0.0, (q - (len(b) - 1)) / denom) if denom > 0 else 0.0
