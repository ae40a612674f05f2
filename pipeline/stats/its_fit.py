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
  Satterthwaite df (Bell & McCaffrey 2002; Imbens & Kolesar 2016), see
  :class:`~pipeline.stats.its_hac.BMContrasts`.
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

from .estimability import NotEstimable, check_after_fit, check_before_fit, segment_labels
from .its_ar_errors import fit_ar
from .its_design import Design
from .its_glm import fit_negbin, inverse_link, irls, working_response
from .its_hac import (BMContrasts, default_bm_lags, default_ewc_df, default_hac_lags, ewc_meat,
                      newey_west_meat)
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
        Satterthwaite df (:class:`~pipeline.stats.its_hac.BMContrasts`), None when ``df`` is
        None (normal quantiles).
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
