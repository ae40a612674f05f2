"""Model fitting and covariance for the ITS engine (numpy; statsmodels only for checks).

Families (McCullagh & Nelder 1989):

* ``gaussian``: ordinary least squares on the proportion ``numerator / denominator``;
* ``poisson`` / ``quasipoisson``: log link, offset ``log(denominator)`` (population or
  person-time), quasi = covariance scaled by the Pearson dispersion X2/(n-p);
* ``negbin``: negative binomial NB2 (variance ``mu + alpha mu^2``), log link with offset,
  ``alpha`` estimated by maximum likelihood (profile likelihood: IRLS for beta at each alpha,
  Brent's method on log alpha); the covariance is the inverse observed information of
  (beta, alpha), as statsmodels' ``NegativeBinomial`` (Cameron & Trivedi 2013, ch. 3), times
  the Pearson dispersion X2/(n-p) of the NB fit with ``negbin_scale="pearson"`` (the default;
  R's ``summary.glm`` of a ``glm(family = negative.binomial(theta))``), as is with ``"none"``;
* ``binomial`` / ``quasibinomial``: logit link, ``numerator`` successes of ``denominator``
  trials, quasi as above.

GLMs are fitted by iteratively reweighted least squares to ``max |change in beta| < 1e-11``
(the same estimates as statsmodels' GLM to well below 1e-8), each step a least-squares solve
on ``W^1/2 X`` (never the normal equations). Whether a model is estimable is decided by the
explicit checks of :mod:`pipeline.stats.estimability` before and after the fit (all-zero or
all-success segments, rank, separation, convergence, boundary fitted values), which raise
:class:`~pipeline.stats.estimability.NotEstimable` with a fixed reason: the decision does not
depend on the CPU's BLAS kernel.

Errors:

* ``independent``: model-based covariance, scaled by X2/(n-p) for quasi families and the
  residual variance for OLS.
* ``hac``: the Newey & West (1987) sandwich with Bartlett weights ``1 - l/(L+1)`` (lags summed
  within each series only, as statsmodels' ``"hac-panel"``). Default lags (``hac_lags=None``):
  ``floor(4 (T/100)^(2/9))`` with T the longest series (Newey & West 1994), e.g. 3 for 48
  months. With ``hac_small_sample`` (default) the sandwich is multiplied by n/(n-p) and
  intervals use t quantiles on n-p df (statsmodels ``use_correction=True, use_t=True``);
  without it, it equals statsmodels' ``cov_type="HAC"``. A sandwich is robust to
  over-dispersion, so quasi and plain families give the same HAC covariance.
* ``hac`` with ``hac_small_sample="bm"`` (the default for gaussian with the Bartlett kernel):
  the Newey-West variance of each contrast (level change, slope change, each delta-method
  gradient, each counterfactual month) is divided by its expectation under a working i.i.d.
  model and multiplied by the true variance under that model (Bell & McCaffrey 2002 bias
  reduction, applied to the HAC meat), and its interval uses t quantiles on that contrast's
  Satterthwaite df (Bell & McCaffrey 2002; Imbens & Kolesar 2016), see :class:`BMContrasts`.
  Default lags ``round(1.3 sqrt(T))`` (Lazarus, Lewis & Stock 2021), 9 for 48 months.
  ``Fit.cov`` stays the n/(n-p) Newey-West matrix (the one-matrix summary); the effects and
  the counterfactual band use :meth:`Fit.se_df`. OLS only: the GLM families keep n/(n-p).
* ``hac`` with ``hac_kernel="ewc"``: the equal-weighted cosine estimator of Lazarus, Lewis,
  Stock & Watson (2018): ``Omega = (1/nu) sum_j Lambda_j Lambda_j'`` with
  ``Lambda_j = sqrt(2/T) sum_t cos(pi j (t - 1/2) / T) z_t`` for j = 1..nu, computed within each
  series and summed; t quantiles on nu df (fixed-b theory, exact t_nu in the limit); default
  ``nu = round(0.4 T^(2/3))`` (their recommendation; 5 for 48 months), ``hac_lags`` sets nu.
* ``ar`` for every family with ``ar_small_sample: "kr"`` (the default for AR(1) by REML, and
  what ``errors: auto`` resolves to): an AR(1) working correlation between months on the
  IRLS working response, REML for the correlation, Kenward & Roger (1997) covariance and a
  Satterthwaite df per contrast (:mod:`pipeline.stats.its_ar`; Zeger 1988; Turner et al.
  2021). ``Fit.cov`` is the Kenward-Roger covariance; effects use :meth:`Fit.se_df`.
* ``ar`` (gaussian, ``ar_small_sample: "none"``): regression with AR(p) errors by generalised least squares, the AR
  coefficients estimated by restricted maximum likelihood (``ar_method="reml"``, the default;
  Turner et al. 2021 found REML the least biased in short series) or maximum likelihood
  (``"ml"``, the estimates of statsmodels' ``SARIMAX(y, exog=X, order=(p, 0, 0))``). The AR
  correlation uses the calendar distance between months, so washout and excluded months are
  gaps, not neighbours, and series never correlate with each other. REML intervals use t
  quantiles on n-p-ar_order df.

Quantiles (``spec.ci_quantile``, default by family and errors, see
:func:`pipeline.stats.its_spec.default_ci_quantile`): ``"t"`` uses t on ``Fit.df`` degrees of
freedom: n - p for gaussian and the quasi families (R's ``summary.glm`` for quasi families),
n - p - 1 for negbin (alpha is estimated too), n - p - ar_order for AR errors, n - p for
Newey-West and nu for EWC; ``"normal"`` uses normal quantiles (poisson and binomial by default,
and the Sicily paper's published intervals).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special
from scipy.linalg import solve_triangular

from .estimability import NotEstimable, check_after_fit, check_before_fit, segment_labels
from .its_design import Design
from .its_spec import ITSSpec

FAMILY_LABELS = {
    "gaussian": "linear regression (OLS)",
    "poisson": "Poisson GLM (log link, offset)",
    "quasipoisson": "quasi-Poisson GLM (log link, offset)",
    "negbin": "negative binomial (NB2) GLM (log link, offset, ML dispersion)",
    "binomial": "binomial GLM (logit link)",
    "quasibinomial": "quasi-binomial GLM (logit link)",
}
TOL, MAXITER = 1e-11, 100


@dataclass(kw_only=True)
class Fit:
    """Fitted coefficients, covariance and per-row quantities on the fitted rows.

    ``df`` is the t degrees of freedom of the intervals (None: normal quantiles); ``hat`` the
    leverages; ``nb_alpha`` the NB2 dispersion; ``ar_coefs`` the AR coefficients.
    """

    params: np.ndarray
    cov: np.ndarray
    dispersion: float
    df_resid: int
    pearson: np.ndarray
    hac_lags: int | None
    df: float | None = None
    hat: np.ndarray | None = None
    nb_alpha: float | None = None
    ar_coefs: np.ndarray | None = None
    converged: bool = True
    _results: object = field(default=None, repr=False)
    _make_results: object = field(default=None, repr=False)
    bm: "BMContrasts | None" = field(default=None, repr=False)
    contrasts: object = field(default=None, repr=False)  # per-contrast var/df (its_ar)

    def se_df(self, G: np.ndarray) -> tuple[np.ndarray, np.ndarray | float | None]:
        """Standard errors and t df of the contrasts ``G @ params`` (rows of ``G``).

        By default ``sqrt(diag(G cov G'))`` and the fit's single ``df``; with the bias-reduced
        HAC (``hac_small_sample: "bm"``) each contrast gets its own variance and
        Satterthwaite df (:class:`BMContrasts`), None when ``df`` is None (normal quantiles).
        """
        G = np.atleast_2d(G)
        provider = self.bm if self.bm is not None else self.contrasts
        if provider is not None:
            var, df = provider.var_df(G)
            return np.sqrt(var), (df if self.df is not None else None)
        return np.sqrt(np.einsum("ij,jk,ik->i", G, self.cov, G)), self.df

    @property
    def results(self):
        """The statsmodels results object of the same model (built on first use)."""
        if self._results is None and self._make_results is not None:
            self._results = self._make_results()
        return self._results


def inverse_link(eta: np.ndarray, family: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean per unit of denominator and its derivative with respect to ``eta``."""
    if family == "binomial":
        p = special.expit(eta)
        return p, p * (1.0 - p)
    if family == "poisson":
        p = np.exp(eta)
        return p, p
    return eta, np.ones_like(eta)


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


# --- GLM by IRLS --------------------------------------------------------------------------

def _start_eta(num, den, family):
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
        eta = _start_eta(num, den, family)
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


def _nb_loglike(num, mu, alpha):
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
        return -_nb_loglike(num, den * np.exp(X @ beta), a)

    res = optimize.minimize_scalar(negll, bounds=(np.log(1e-8), np.log(1e3)), method="bounded",
                                   options={"xatol": 1e-10})
    alpha = float(np.exp(res.x))
    beta, converged = irls(X, num, den, "poisson", beta=state["beta"], nb_alpha=alpha)
    return beta, alpha, converged and bool(res.success)


# --- gaussian with AR(p) errors -----------------------------------------------------------

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


def _ar_gls(phi, X, y, dist, same, reml):
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
        out = _ar_gls(pacf_to_ar(r), X, y, dist, same, reml)
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
    _, beta, xtx, e, rss, Xs, _ = _ar_gls(phi, X, y, dist, same, reml)
    n, k = X.shape
    sigma2 = rss / (n - k) if reml else rss / n
    bread = np.linalg.inv(xtx)
    hat = np.einsum("ij,jk,ik->i", Xs, bread, Xs)
    return beta, bread * sigma2, phi, e, hat, sigma2, ok


# --- the public step ------------------------------------------------------------------------

def fit_arrays(X, num, den, groups, m, spec: ITSSpec, make_results: bool = True,
               segments=None) -> Fit:
    """Fit the segmented regression on fitted rows given as arrays (no pandas).

    Parameters
    ----------
    X : ndarray (n, k)
        Design of the fitted rows, ordered by series then month.
    num, den : ndarray (n,)
        Numerator and denominator.
    groups : ndarray (n,)
        Series label of each row (lags and AR correlation stay within a series).
    m : ndarray (n,)
        Month ordinals (for the AR correlation).
    spec : ITSSpec
    segments : ndarray, optional
        Labels of the groups of rows with a term of their own
        (:func:`pipeline.stats.estimability.segment_labels`) for the all-zero check.

    Raises
    ------
    NotEstimable
        From the checks of :mod:`pipeline.stats.estimability`, before and after the fit.
    """
    family = spec.base_family
    check_before_fit(X, num, den, family, segments)
    if spec.errors == "ar" and spec.ar_small_sample == "kr":
        return fit_ar1_arrays(X, num, den, groups, m, spec, make_results)
    n, k = X.shape
    df_resid = n - k
    hac_lags, t_df, nb_alpha, ar_coefs, converged = None, None, None, None, True
    bm = None
    if family == "gaussian":
        y = num / den
        if spec.errors == "ar":
            params, cov, ar_coefs, e, hat, sigma2, converged = fit_ar(
                X, y, m, groups, spec.ar_order, spec.ar_method)
            pearson = e / np.sqrt(sigma2)
            dispersion = float(sigma2)
            t_df = n - k - spec.ar_order if spec.ci_quantile == "t" else None
            return Fit(params=params, cov=cov, dispersion=dispersion, df_resid=df_resid,
                       pearson=pearson, hac_lags=None, df=t_df, hat=hat, ar_coefs=ar_coefs,
                       converged=converged,
                       _make_results=((lambda: _sm_results(X, num, den, spec, params))
                                      if make_results else None))
        xtx_inv = np.linalg.inv(X.T @ X)
        params = xtx_inv @ (X.T @ y)
        resid = y - X @ params
        weight = np.ones_like(y)
        pearson = resid
        bread = xtx_inv
    else:
        if spec.family == "negbin":
            params, nb_alpha, converged = fit_negbin(X, num, den)
        else:
            params, converged = irls(X, num, den, family)
        if not np.all(np.isfinite(params)):
            raise NotEstimable("not_converged")
        eta = X @ params
        p, dp = inverse_link(eta, family)
        if spec.family == "negbin":
            mu = den * p
            weight = mu / (1 + nb_alpha * mu)
            resid = num - mu
            pearson = resid / np.sqrt(mu + nb_alpha * mu ** 2)
        else:
            weight = den * dp  # IRLS working weight for the canonical link (count scale)
            resid = num - den * p  # score residual (count scale)
            pearson = resid / np.sqrt(den * (p if family == "poisson" else p * (1 - p)))
        bread = check_after_fit(X, eta, den, weight, family, converged)  # (X'WX)^-1
    dispersion = float(pearson @ pearson / df_resid) if df_resid > 0 else float("nan")
    hat = np.einsum("ij,jk,ik->i", X * np.sqrt(weight)[:, None], bread,
                    X * np.sqrt(weight)[:, None])
    t_df = df_resid  # degrees of freedom of t quantiles, when spec.ci_quantile == "t"
    if spec.errors == "hac":
        longest = int(max(np.unique(groups, return_counts=True)[1]))
        score_resid = resid if spec.family != "negbin" else resid / (1 + nb_alpha * den * p)
        scores = X * score_resid[:, None]
        if spec.hac_kernel == "ewc":
            hac_lags = spec.hac_lags if spec.hac_lags is not None else default_ewc_df(longest)
            hac_lags = max(1, hac_lags)
            cov = bread @ ewc_meat(scores, groups, hac_lags) @ bread
            t_df = hac_lags
        elif spec.hac_small_sample == "bm":
            hac_lags = spec.hac_lags if spec.hac_lags is not None else default_bm_lags(longest)
            cov = bread @ newey_west_meat(scores, groups, hac_lags) @ bread
            if df_resid > 0:
                cov = cov * n / df_resid  # the matrix (for .cov); contrasts use bm below
            bm = BMContrasts.build(X, bread, resid, groups, hac_lags)
        else:
            hac_lags = spec.hac_lags if spec.hac_lags is not None else default_hac_lags(longest)
            cov = bread @ newey_west_meat(scores, groups, hac_lags) @ bread
            if spec.hac_small_sample and df_resid > 0:
                cov = cov * n / df_resid
    elif spec.family == "negbin":
        cov = np.linalg.inv(-_nb_hessian_sm(X, num, den, params, nb_alpha))[:k, :k]
        if spec.negbin_scale == "pearson":
            cov = cov * dispersion  # Pearson X2/(n-p) of the NB fit
        t_df = df_resid - 1  # alpha is estimated as well
    else:
        scale = dispersion if (spec.quasi or family == "gaussian") else 1.0
        cov = bread * scale
    if spec.ci_quantile != "t" or t_df <= 0:
        t_df = None
    maker = (lambda: _sm_results(X, num, den, spec, params, nb_alpha)) if make_results else None
    return Fit(params=params, cov=cov, dispersion=dispersion, df_resid=df_resid,
               pearson=pearson, hac_lags=hac_lags, df=t_df, hat=hat, nb_alpha=nb_alpha,
               ar_coefs=ar_coefs, converged=converged, _make_results=maker, bm=bm)


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


def fit_ar1_arrays(X, num, den, groups, m, spec: ITSSpec, make_results: bool = True) -> Fit:
    """Any family with an AR(1) working correlation (``errors: ar``, ``ar_small_sample:
    "kr"``): the independent-errors fit gives the IRLS working response and weights, then
    :func:`pipeline.stats.its_ar.fit_ar1_working` refits them by GLS with the REML AR(1)
    correlation and the Kenward-Roger covariance (module notes there).

    The independent-errors fit passes the same estimability checks as every other fit
    (:func:`check_after_fit`; the caller ran :func:`check_before_fit`), so a separated or
    degenerate stratum is refused with its reason before the AR step, on every CPU alike.
    """
    from .its_ar import fit_ar1_working

    n, k = X.shape
    nb_alpha, converged, params = None, True, None
    if spec.base_family != "gaussian":
        if spec.family == "negbin":
            params, nb_alpha, converged = fit_negbin(X, num, den)
        else:
            params, converged = irls(X, num, den, spec.base_family)
        if not np.all(np.isfinite(params)):
            raise NotEstimable("not_converged")
        eta = X @ params
        p, dp = inverse_link(eta, spec.base_family)
        weight = (den * p / (1 + nb_alpha * den * p) if spec.family == "negbin"
                  else den * dp)
        check_after_fit(X, eta, den, weight, spec.base_family, converged)
    z, w = working_response(X, num, den, params, spec, nb_alpha)
    ar = fit_ar1_working(X, z, w, m, groups, spec.ar_small_sample)
    t_df = n - k - 1 if (spec.ci_quantile == "t" and n - k - 1 > 0) else None
    maker = (lambda: _sm_results(X, num, den, spec, ar.params, nb_alpha)) if make_results else None
    return Fit(params=ar.params, cov=ar.cov, dispersion=ar.sigma2, df_resid=n - k,
               pearson=ar.resid, hac_lags=None, df=t_df, hat=ar.hat, nb_alpha=nb_alpha,
               ar_coefs=np.array([ar.rho]), converged=converged and ar.converged,
               _make_results=maker, contrasts=ar.contrasts)


def _nb_hessian_sm(X, num, den, params, alpha):
    """Observed Hessian of NB2 in (beta, alpha), from statsmodels' analytic formulas."""
    import statsmodels.api as sm

    model = sm.NegativeBinomial(num, X, offset=np.log(den), loglike_method="nb2")
    # A new nb2 model takes its last parameter as log(alpha) (the parameterisation it fits
    # in) and returns the Hessian in (beta, alpha): pass log(alpha), without touching the
    # model's private _transparams flag.
    return model.hessian(np.r_[params, np.log(alpha)])


def _sm_results(X, num, den, spec, params, nb_alpha=None):
    """statsmodels results object of the same model, started at our estimates."""
    import statsmodels.api as sm

    family = spec.base_family
    if family == "gaussian":
        return sm.OLS(num / den, X).fit()
    if spec.family == "negbin":
        model = sm.NegativeBinomial(num, X, offset=np.log(den), loglike_method="nb2")
        return model.fit(start_params=np.r_[params, nb_alpha], disp=0, maxiter=50)
    if family == "poisson":
        model = sm.GLM(num, X, family=sm.families.Poisson(), offset=np.log(den))
    else:
        model = sm.GLM(num / den, X, family=sm.families.Binomial(), var_weights=den)
    return model.fit(start_params=params, tol=1e-12, maxiter=200)


def fit_model(design: Design, spec: ITSSpec) -> Fit:
    """Fit the segmented regression on the design's fitted rows.

    Returns
    -------
    Fit
        Coefficients, covariance per ``spec.errors`` (see module notes), Pearson dispersion
        and residuals, leverages, and (on first use) the statsmodels results object.
    """
    rows = design.fit_rows
    return fit_arrays(design.X[rows], design.num[rows], design.den[rows],
                      design.keys[rows], design.m[rows], spec,
                      segments=segment_labels(design, spec))
