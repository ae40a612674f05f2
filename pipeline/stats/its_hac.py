"""Newey-West, bias-reduced Newey-West and EWC covariance for the ITS engine (``errors: hac``).

The method notes (defaults, small-sample corrections, quantiles) are in
:mod:`pipeline.stats.its_fit`; this module holds the lag rules, the kernels' "meat" matrices
and the per-contrast Bell & McCaffrey (2002) variance and df (:class:`BMContrasts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def default_hac_lags(n_time: int) -> int:
    """Newey & West (1994) plug-in lag: ``floor(4 * (n/100) ** (2/9))``."""
    return int(np.floor(4 * (n_time / 100) ** (2 / 9)))


def default_ewc_df(n_time: int) -> int:
    """Lazarus, Lewis, Stock & Watson (2018) rule for the EWC df: ``nu = 0.4 T^(2/3)``, rounded
    (at least 1)."""
    return max(1, int(round(0.4 * n_time ** (2 / 3))))


def default_bm_lags(n_time: int) -> int:
    """Bandwidth of the bias-reduced Newey-West (``hac_small_sample: "bm"``):
    ``round(1.3 sqrt(T))`` (Lazarus, Lewis & Stock 2021 recommend ``1.3 sqrt(T)`` for
    Newey-West with fixed-b critical values), e.g. 9 for 48 months, 14 for 120."""
    return max(1, int(round(1.3 * np.sqrt(n_time))))


def bartlett_weights(groups: np.ndarray, lags: int) -> np.ndarray:
    """n x n Bartlett weights ``1 - |i-j|/(L+1)`` for rows of the same series (rows in time
    order), 0 across series: ``sum_ij K_ij z_i z_j'`` is :func:`newey_west_meat`."""
    n = len(groups)
    d = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    K = np.clip(1.0 - d / (lags + 1.0), 0.0, None)
    return K * (groups[:, None] == groups[None, :])


@dataclass
class BMContrasts:
    """Bias-reduced Newey-West variance and Satterthwaite df of linear contrasts of OLS.

    For a contrast ``c'beta`` let ``a = X (X'X)^-1 c`` and ``D = diag(a)``. The Newey-West
    variance is the quadratic form ``V = (a*e)' K (a*e) = e' A e`` with ``A = D K D``, ``K`` the
    Bartlett weights and ``e`` the OLS residuals. Under the working model
    ``y ~ N(X beta, sigma^2 I)``, ``e = M y`` with ``M = I - H``, so
    ``E[V] = sigma^2 tr(AM)`` while the true variance of the estimate is ``sigma^2 a'a``: the
    bias-reduced variance (Bell & McCaffrey 2002, applied to the HAC meat) is
    ``V a'a / tr(AM)``, unbiased under the working model. Its Satterthwaite df is
    ``nu = 2 E[V]^2 / Var[V] = tr(AM)^2 / tr((AM)^2)`` (Bell & McCaffrey 2002; Imbens &
    Kolesar 2016). With ``M = I - QQ'`` (Q an orthonormal basis of X) and ``S = DQ``:
    ``tr(AM) = sum_i K_ii a_i^2 - tr(S'KS)`` and
    ``tr((AM)^2) = (a^2)'(K o K)(a^2) - 2 ||DKS||_F^2 + ||S'KS||_F^2``, O(n^2 k) per contrast.
    Scale-free, so sigma^2 need not be estimated.
    """

    X: np.ndarray
    bread: np.ndarray
    resid: np.ndarray
    K: np.ndarray
    Q: np.ndarray

    @classmethod
    def build(cls, X, bread, resid, groups, lags):
        return cls(X, bread, resid, bartlett_weights(groups, lags), np.linalg.qr(X)[0])

    def var_df(self, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bias-reduced variances and Satterthwaite df of the contrasts in the rows of G."""
        K, Q = self.K, self.Q
        A = self.X @ (self.bread @ G.T)  # (n, m): column j is a for contrast j
        U = A * self.resid[:, None]
        nw = np.sum(U * (K @ U), axis=0)
        n, m = A.shape
        k = Q.shape[1]
        S = A[:, :, None] * Q[:, None, :]  # (n, m, k)
        KS = (K @ S.reshape(n, m * k)).reshape(n, m, k)
        SKS = np.einsum("nmk,nml->mkl", S, KS)  # (m, k, k)
        A2 = A * A
        t1 = np.diag(K) @ A2 - np.einsum("mkk->m", SKS)
        t2 = (np.sum(A2 * ((K * K) @ A2), axis=0)
              - 2 * np.sum((A[:, :, None] * KS) ** 2, axis=(0, 2))
              + np.sum(SKS ** 2, axis=(1, 2)))
        aa = A2.sum(axis=0)
        ok = (t1 > 0) & (t2 > 0)
        var = np.where(ok, nw * aa / np.where(ok, t1, 1.0), nw)
        df = np.where(ok, t1 * t1 / np.where(ok, t2, 1.0), np.nan)
        return var, df


def ewc_meat(scores: np.ndarray, groups: np.ndarray, nu: int) -> np.ndarray:
    """Equal-weighted cosine (EWC) long-run variance of the score sum, within groups.

    For each series of length T (rows in time order), ``(2/nu) sum_{j=1..nu} c_j c_j'`` with
    ``c_j = sum_t cos(pi j (t - 1/2) / T) z_t``: T times the Lazarus et al. (2018) estimator,
    on the same scale as :func:`newey_west_meat` (sum of score outer products). Series are
    treated as independent and their contributions summed.
    """
    meat = np.zeros((scores.shape[1], scores.shape[1]))
    _, start, counts = np.unique(groups, return_index=True, return_counts=True)
    for a, T in zip(start, counts):
        z = scores[a:a + T]
        t = np.arange(1, T + 1) - 0.5
        j = np.arange(1, nu + 1)
        C = np.cos(np.pi * np.outer(j, t) / T)  # (nu, T)
        lam = C @ z  # (nu, p)
        meat += (2.0 / nu) * lam.T @ lam
    return meat


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
