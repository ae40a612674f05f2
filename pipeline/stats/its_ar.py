"""AR(1) errors for every ITS family: REML, Kenward-Roger covariance, Satterthwaite df.

Monthly counts and proportions are autocorrelated (staffing, case mix and recording drift
slowly), and a GLM that treats months as independent gives intervals that are too narrow
(simulated coverage of a nominal 95% interval 89% at lag-1 correlation 0.3, 77% at 0.6; see
``docs/adr/0045-ar1-working-correlation-default.md``). This module fits the segmented
regression with an AR(1) working correlation between months, for any family:

1. **Working response.** The GLM is first fitted with independent errors (IRLS, or OLS for
   gaussian). At its estimates, the IRLS working response ``z = eta + (y - mu) / (dmu/deta)``
   and working weights ``w`` (``den p (1 - p)`` binomial, ``mu`` Poisson, ``mu / (1 + alpha
   mu)`` NB2, 1 gaussian) define a linear model on the link scale,
   ``sqrt(w) z = sqrt(w) X beta + e``, ``Var(e) = sigma^2 R(rho)`` with
   ``R_st = rho^|m_s - m_t|`` inside a series and 0 across series (calendar distance, so
   washout and excluded months are gaps). This is the one-step quasi-likelihood estimator with
   an AR(1) working correlation (Zeger 1988; Liang & Zeger 1986 with one cluster per series),
   and the "GLS on the working response" step of penalised quasi-likelihood (Breslow &
   Clayton 1993). ``sigma^2`` plays the role of the quasi-likelihood dispersion, so
   overdispersion is allowed for in every family.
2. **REML.** ``rho`` is estimated by restricted maximum likelihood (Patterson & Thompson 1971;
   Turner et al. 2021 found REML the least biased for short ITS), ``sigma^2`` and ``beta`` by
   GLS given ``rho``. The AR(1) process is Markov, so the likelihood is evaluated by the
   Prais-Winsten whitening ``(e_t - rho^d e_{t-1}) / sqrt(1 - rho^{2d})`` (``d`` the months
   since the previous fitted month of the same series) in O(n k), and maximised over
   ``atanh(rho)`` by successively finer batched grids (:func:`reml_rho`). The estimate is
   then corrected for its small-sample bias towards zero, ``rho + 2 rho / n``
   (:func:`bias_corrected_rho`; Cheang & Reinsel 2000), and the fit uses the corrected value.
3. **Small-sample inference** (``ar_small_sample: "kr"``, the default for AR(1) by REML): the
   plug-in covariance ``Phi = sigma^2 (X' R^-1 X)^-1`` ignores the uncertainty of ``rho``;
   the Kenward & Roger (1997) adjusted covariance ``Phi_A = Phi + 2 Lambda`` adds it, and each
   contrast ``c' beta`` (level change, slope change, every delta-method gradient and
   counterfactual month) gets its own Satterthwaite df
   ``nu = 2 (c' Phi c)^2 / (g' A g)``, bounded to ``[1, n - k - 1]``, with ``g`` the gradient of ``c' Phi c`` in
   ``(sigma^2, rho)`` and ``A`` the inverse of the REML information (Satterthwaite 1946;
   Giesbrecht & Burns 1985; the method Turner et al. 2021 recommend for short series). With
   ``V = sigma^2 R(rho)`` the terms of Kenward & Roger's ``Lambda`` that involve ``sigma^2``
   cancel, leaving ``Lambda = sigma^2 A_rho,rho F (N - M F M) F`` with
   ``F = (X' R^-1 X)^-1``, ``M = X' R^-1 R' R^-1 X``, ``N = X' R^-1 R' R^-1 R' R^-1 X`` and
   ``R' = dR/drho`` (the second-derivative term ``R_ij`` is omitted, as in most software
   for linear covariance structures). Derivatives in ``rho`` and the REML information are
   taken by central differences (step ``STEP`` = 0.01 in ``rho``; see :func:`reml_rho`).

Measured (``benchmarks/its_simulation.py --table autocorrelation``, 2,000 series a row):
coverage 93-97% and type I error 3-7% at 48 months for latent AR(1) correlation 0 to 0.6 in
the quasi-binomial and quasi-Poisson models the reports use, for the level change, the slope
change and the 12-month difference; the table (``benchmarks/out/its_autocorrelation.md``)
marks the designs that miss it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEP = 1e-2  # finite-difference step in rho for Kenward-Roger (see reml_rho's notes)
RHO_MAX = 0.999


def ar1_structure(m: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Months since the previous fitted row of the same series (``d``), and which rows start
    a series (rows ordered by series then month)."""
    first = np.r_[True, groups[1:] != groups[:-1]]
    d = np.r_[1, np.diff(m)].astype(float)
    d[first] = 1.0
    return d, first


class _AR1Problem:
    """GLS of ``y`` on ``X`` under AR(1) errors with gaps ``d``, by the Prais-Winsten
    transform: row t becomes ``(r_t - rho^d r_{t-1}) / sqrt(1 - rho^{2d})`` (rows starting a
    series unchanged). The lagged rows do not depend on ``rho`` and are built once."""

    def __init__(self, X, y, d, first):
        self.A = np.column_stack([X, y])
        self.prev = np.vstack([np.zeros((1, self.A.shape[1])), self.A[:-1]])
        self.d, self.first = d, first
        self.n, self.k = X.shape
        # Sums of products by gap, for the REML objective: with a = rho^d, s^2 = 1 - rho^2d,
        # sum_t w_t w_t' over rows with gap d is (AA_d - a (AP_d + PA_d) + a^2 PP_d) / s^2,
        # so a grid of rho costs a (G, 3 x gaps) @ (3 x gaps, q^2) product, not G
        # whitenings of the n x q data (rows starting a series add A_t A_t' unchanged).
        q = self.A.shape[1]
        rest = ~first
        self.gaps, index, self.gap_count = np.unique(d[rest], return_inverse=True,
                                                     return_counts=True)
        sums = np.zeros((3, len(self.gaps), q, q))
        A_rest, P_rest = self.A[rest], self.prev[rest]
        for j in range(len(self.gaps)):
            a_j, p_j = (A_rest, P_rest) if len(self.gaps) == 1 else (A_rest[index == j],
                                                                      P_rest[index == j])
            cross = a_j.T @ p_j
            sums[0, j], sums[1, j], sums[2, j] = a_j.T @ a_j, cross + cross.T, p_j.T @ p_j
        self.gap_sums = sums.reshape(3 * len(self.gaps), q * q)
        a0 = self.A[first]
        self.first_sum = (a0.T @ a0).reshape(q * q)

    def _whitened(self, rho):
        a = np.where(self.first, 0.0, rho ** self.d)
        s = np.where(self.first, 1.0, np.sqrt(1.0 - rho ** (2.0 * self.d)))
        return (self.A - a[:, None] * self.prev) / s[:, None], 2.0 * np.sum(np.log(s))

    def reml_objective(self, rhos: np.ndarray) -> np.ndarray:
        """``(n-k) log RSS(rho) + log det R + log det X'R^-1X`` (minus twice the profile
        REML log-likelihood up to a constant) for a vector of ``rho``, in one batched pass."""
        rhos = np.asarray(rhos, float)[:, None]
        a = rhos ** self.gaps  # (G, gaps)
        s2 = 1.0 - a * a
        coef = np.hstack([1.0 / s2, -a / s2, a * a / s2])  # (G, 3 x gaps)
        q = self.A.shape[1]
        gram = (coef @ self.gap_sums + self.first_sum).reshape(len(rhos), q, q)
        k = self.k
        L = np.linalg.cholesky(gram[:, :k, :k])
        b = np.linalg.solve(L, gram[:, :k, k:])[..., 0]
        rss = gram[:, k, k] - np.sum(b * b, axis=1)
        logdet = np.log(s2) @ self.gap_count + 2.0 * np.sum(
            np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)
        return (self.n - k) * np.log(rss) + logdet

    def gls(self, rho):
        """``beta, F = (X'R^-1X)^-1, RSS, f``, whitened design and residuals."""
        W, logdet_r = self._whitened(rho)
        Xs, ys = W[:, :-1], W[:, -1]
        info = Xs.T @ Xs
        F = np.linalg.inv(info)
        beta = F @ (Xs.T @ ys)
        e = ys - Xs @ beta
        return beta, F, float(e @ e), logdet_r + np.linalg.slogdet(info)[1], Xs, e


def reml_rho(problem: _AR1Problem, grid: int = 33, refine: int = 9,
             passes: int = 4) -> tuple[float, bool]:
    """REML estimate of the AR(1) ``rho`` (sigma^2 profiled out).

    Minimises :meth:`_AR1Problem.reml_objective` over ``u = atanh(rho)`` on a grid of
    ``grid`` points over ``|rho| <= 0.999`` (which also guards against a local minimum),
    then ``passes`` finer grids of ``refine`` points around the best point, each 4 times
    finer (batched: a handful of numpy calls instead of a scalar optimiser's 20 evaluations).
    Returns ``rho`` and whether the minimum is inside the bounds.

    The estimate is the best point of the last grid (``u`` to within 4.6e-4, far inside
    ``rho``'s standard error), with no interpolation between points: the objective's
    rounding noise (about 1e-11 on 48 months, and it differs between OpenBLAS kernels) is
    then about 1e-6 of the difference between neighbouring grid points, so the same data give
    the same ``rho`` on every CPU. A parabola through the last points would move ``rho`` by
    that noise and every published digit with it (docs/adr/0030). For the same reason the
    Kenward-Roger derivatives in ``rho`` use a step of ``STEP`` = 0.01, not 1e-4: a second
    difference divides the noise by the step squared.
    """
    bound = np.arctanh(RHO_MAX)
    u = np.linspace(-bound, bound, grid)
    step = u[1] - u[0]
    values = _finite(problem.reml_objective(np.tanh(u)))
    best = int(np.argmin(values))
    centre = u[best]
    interior = 0 < best < grid - 1
    for _ in range(passes):
        step /= 4.0
        u = centre + step * np.arange(-(refine // 2), refine // 2 + 1)
        u = u[np.abs(u) <= bound]
        values = _finite(problem.reml_objective(np.tanh(u)))
        best = int(np.argmin(values))
        centre = u[best]
    return float(np.tanh(centre)), bool(interior)


def bias_corrected_rho(rho: float, n: int) -> float:
    """The REML AR(1) correlation with its small-sample bias removed: ``rho + 2 rho / n``.

    The REML estimate of the AR(1) coefficient of regression errors is biased towards zero
    by about ``2 rho / n`` (n the fitted months): Cheang & Reinsel (2000) show that REML
    removes most of the extra bias that estimating the regression adds to maximum likelihood
    and least squares (``-(1 + 3 rho) / n`` with a mean alone), leaving approximately the
    known-mean bias ``-2 rho / n`` (Marriott & Pope 1954; White 1961). Checked on this
    module's design (48 months, intercept, trend, level and slope change; 400 Gaussian AR(1)
    series): mean REML estimate 0.005, 0.293 and 0.577 at rho 0, 0.3 and 0.6 (bias -0.023
    at 0.6 against -0.025 predicted). Too small a ``rho`` makes the intervals of slope
    changes too narrow; the correction lifted simulated coverage of the quasi-binomial slope
    change at lag-1 correlation 0.6 from 92.8% to 93.3% (docs/adr/0090). With several series
    ``n`` is their total length (the bias of a pooled estimate falls with the total). The
    result stays inside the grid's bounds, less two Kenward-Roger steps.
    """
    return float(np.clip(rho + 2.0 * rho / n, -RHO_MAX + 2 * STEP, RHO_MAX - 2 * STEP))


def _finite(values: np.ndarray) -> np.ndarray:
    """Objective values with NaN (a residual sum of squares that cancelled to below zero in a
    series fitted exactly) as +inf: ``argmin`` would otherwise return the first NaN."""
    return np.where(np.isnan(values), np.inf, values)


@dataclass
class ARContrasts:
    """Kenward-Roger variance and Satterthwaite df of linear contrasts of the AR(1) GLS fit.

    ``F`` is ``(X'R^-1X)^-1`` at the REML ``rho``, ``dF`` its derivative in ``rho``,
    ``sigma2`` the REML scale, ``A`` the 2 x 2 covariance of ``(sigma2, rho)`` (inverse REML
    information) and ``Lam`` Kenward & Roger's bias correction (module notes).
    """

    F: np.ndarray
    dF: np.ndarray
    sigma2: float
    A: np.ndarray | None
    Lam: np.ndarray
    df_max: float

    def __post_init__(self):
        self._forms = np.stack([self.F, self.Lam, self.dF])  # one einsum for all three

    def var_df(self, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Adjusted variances and Satterthwaite df of the contrasts in the rows of ``G``."""
        quad, lam, dquad = np.einsum("ij,sjk,ik->si", G, self._forms, G)
        plug = self.sigma2 * quad
        var = plug + 2.0 * lam
        if self.A is None:
            return var, np.full(len(G), self.df_max)
        g0, g1 = quad, self.sigma2 * dquad  # gradient of c' Phi c in (sigma^2, rho)
        spread = self.A[0, 0] * g0 * g0 + 2.0 * self.A[0, 1] * g0 * g1 + self.A[1, 1] * g1 * g1
        with np.errstate(divide="ignore", invalid="ignore"):
            df = np.where(spread > 0, 2.0 * plug ** 2 / spread, self.df_max)
        return var, np.clip(df, 1.0, self.df_max)


@dataclass
class AR1Fit:
    """Result of :func:`fit_ar1_working`: the GLS estimates and everything :class:`Fit` needs."""

    params: np.ndarray
    cov: np.ndarray
    sigma2: float
    rho: float
    resid: np.ndarray  # whitened residuals / sigma (diagnostics)
    hat: np.ndarray
    contrasts: ARContrasts | None
    converged: bool
    rho_reml: float  # the REML estimate before the bias correction (``rho`` is after it)


def _kr_lambda(X, rho, m, groups, F, sigma2, a_rr):
    """Kenward & Roger's Lambda for ``V = sigma^2 R(rho)`` (module notes), dense in n."""
    dist = np.abs(m[:, None] - m[None, :]).astype(float)
    same = groups[:, None] == groups[None, :]
    R = np.where(same, rho ** dist, 0.0)
    dR = np.where(same & (dist > 0), dist * rho ** np.maximum(dist - 1.0, 0.0), 0.0)
    Z = np.linalg.solve(R, dR @ np.linalg.solve(R, X))  # R^-1 R' R^-1 X
    M = X.T @ Z
    N = Z.T @ (R @ Z)
    return sigma2 * a_rr * F @ (N - M @ F @ M) @ F


def fit_ar1_working(X, z, w, m, groups, small_sample: str = "kr") -> AR1Fit:
    """Segmented regression of the working response ``z`` (weights ``w``) with AR(1) errors.

    Parameters
    ----------
    X : ndarray (n, k)
        Design of the fitted rows, ordered by series then month.
    z, w : ndarray (n,)
        IRLS working response and weights at the independent-errors estimates (``y`` and 1
        for gaussian).
    m, groups : ndarray (n,)
        Month ordinals and series labels (the correlation follows calendar distance within a
        series; series are independent).
    small_sample : {"kr", "none"}
        Kenward-Roger covariance with Satterthwaite df per contrast, or the plug-in REML
        covariance (the caller then uses t on n - k - 1 df).
    """
    n, k = X.shape
    sw = np.sqrt(w)
    Xw, zw = X * sw[:, None], z * sw
    problem = _AR1Problem(Xw, zw, *ar1_structure(m, groups))
    rho_reml, ok = reml_rho(problem)
    rho = bias_corrected_rho(rho_reml, n)
    beta, F, rss, f, Xs, e = problem.gls(rho)
    sigma2 = rss / (n - k)
    hat = np.einsum("ij,jk,ik->i", Xs, F, Xs)
    cov = sigma2 * F
    contrasts = None
    if small_sample == "kr":
        r = float(np.clip(rho, -RHO_MAX + 2 * STEP, RHO_MAX - 2 * STEP))
        _, Fp, rp, fp, _, _ = problem.gls(r + STEP)
        _, Fm, rm, fm, _, _ = problem.gls(r - STEP)
        r1 = (rp - rm) / (2 * STEP)
        r2 = (rp - 2 * rss + rm) / STEP ** 2
        f2 = (fp - 2 * f + fm) / STEP ** 2
        # REML log-likelihood l = -(1/2)[(n-k) log s2 + f(rho) + RSS(rho)/s2]: minus Hessian
        info = np.array([[0.5 * (n - k) / sigma2 ** 2, -0.5 * r1 / sigma2 ** 2],
                         [-0.5 * r1 / sigma2 ** 2, 0.5 * (f2 + r2 / sigma2)]])
        A = None
        if np.all(np.isfinite(info)) and np.linalg.det(info) > 0 and info[1, 1] > 0:
            A = np.linalg.inv(info)
        Lam = np.zeros_like(F) if A is None else _kr_lambda(Xw, rho, m, groups, F, sigma2,
                                                            A[1, 1])
        contrasts = ARContrasts(F, (Fp - Fm) / (2 * STEP), sigma2, A, Lam, float(n - k - 1))
        cov = cov + 2.0 * Lam
    return AR1Fit(beta, cov, float(sigma2), rho, e / np.sqrt(sigma2), hat, contrasts, ok,
                  rho_reml)


def ar1_se_ratio(X, z, w, m, groups, G: np.ndarray) -> tuple[np.ndarray, float]:
    """How much wider the AR(1) (Kenward-Roger) standard errors of the contrasts ``G`` are
    than the independent-errors quasi-likelihood ones, and the REML ``rho``: used by the
    diagnostics to say how much too narrow independent-errors intervals are."""
    ar = fit_ar1_working(X, z, w, m, groups)
    xtw = X.T * w
    bread = np.linalg.inv(xtw @ X)
    beta = bread @ (xtw @ z)
    resid = (z - X @ beta) * np.sqrt(w)
    dispersion = resid @ resid / (len(z) - X.shape[1])
    se_ind = np.sqrt(dispersion * np.einsum("ij,jk,ik->i", G, bread, G))
    se_ar = np.sqrt(ar.contrasts.var_df(G)[0])
    return se_ar / se_ind, ar.rho
