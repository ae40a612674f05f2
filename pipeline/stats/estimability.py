"""Is a segmented-regression model estimable? Explicit checks before and after the fit.

Why: a stratum with (near) separation used to drive IRLS to a numerically singular X'WX, and
what happened next depended on the CPU's BLAS kernel (AVX2 or AVX-512): ``np.linalg.solve``
raised "Singular matrix" on one, returned garbage on the other, and the exception's text went
into the report. Here every "not estimable" decision is taken by a check whose tolerance sits
many orders of magnitude above floating-point noise, so every kernel takes the same decision,
and the report carries a fixed reason code and fixed wording, never an exception's text
(docs/adr/0030-estimability-checks.md, docs/statistics.md section 2.10).

Checks, in the order the fit runs them (``family`` is the base family: ``gaussian``,
``poisson`` for the log-link families, ``binomial`` for the logit-link ones):

before the fit
    ``no_information``: every fitted month has denominator 0;
    ``segment_all_zero`` / ``segment_all_success`` (count families): a segment with its own
    level or slope term, or a series with its own intercept, has numerator 0 in every month,
    or numerator equal to denominator in every month (binomial): that term's estimate is
    infinite;
    ``rank_deficient``: the design on the months that carry information is rank-deficient:
    reciprocal condition number of the column-scaled design below :data:`RCOND_MIN`;
    ``separation`` (count families): complete or quasi-complete separation, found by the
    linear programme of Konis (2007) (as R's ``detectseparation``): a direction ``d`` with
    ``X d <= 0`` on months with no events, ``X d >= 0`` on months where every trial
    succeeded and ``X d = 0`` elsewhere, not identically 0, exists iff the maximum-likelihood
    estimate is infinite (Albert & Anderson 1984; Santner & Duffy 1986).
after the fit
    ``not_converged``: IRLS (or the negative binomial's profile likelihood) did not converge;
    ``extreme_linear_predictor``: a fitted month's linear predictor beyond :data:`ETA_MAX`
    (logit: fitted proportion within ``expit(-20) = 2e-9`` of 0 or 1; log link: fitted
    count below ``exp(-20) = 2e-9``): the estimate sits on the boundary of the parameter space;
    ``weighted_rank_deficient``: the IRLS-weighted design ``W^1/2 X`` at the estimate has a
    reciprocal condition number below :data:`RCOND_MIN` (the information matrix is singular
    to working precision, so its inverse, the covariance, is not determined).

References
----------
Albert A, Anderson JA. On the existence of maximum likelihood estimates in logistic regression
models. Biometrika 1984;71:1-10.
Santner TJ, Duffy DE. A note on A. Albert and J. A. Anderson's conditions for the existence of
maximum likelihood estimates in logistic regression models. Biometrika 1986;73:755-758.
Konis K. Linear programming algorithms for detecting separated data in binary logistic
regression models. DPhil thesis, University of Oxford, 2007.
Golub GH, Van Loan CF. Matrix Computations, 4th ed. 2013, sections 2.6 and 5.5 (rank by SVD).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

RCOND_MIN = 1e-8
"""Smallest reciprocal condition number (smallest / largest singular value, columns scaled to
unit length) of a design accepted as full rank. Singular values come with absolute errors of
about 1e-16 times the largest, so the computed ratio is exact to ~1e-16: the decision changes
between kernels only for a design within 1e-16 of the threshold, 8 orders of magnitude away.
Below it, half the 16 significant digits of double precision are lost to the conditioning of
the least-squares problem alone (Golub & Van Loan 2013, 5.3.8)."""

ETA_MAX = 20.0
"""Largest accepted absolute linear predictor (logit) or negative log fitted count (log link):
``expit(-20) = 2.1e-9``, a fitted proportion no series of fewer than 10^8 trials per month can
distinguish from 0 or 1."""

SEPARATION_MIN = 1e-6
"""Smallest optimum of the separation linear programme (columns scaled to max |x| = 1,
``|d_j| <= 1``) read as separation. HiGHS solves to feasibility 1e-7 per row; a separated
month contributes at least the smallest non-zero |x_ij d_j| of the optimum, in practice
above 1e-2."""

REASONS = {
    "no_information": "no month has a denominator above 0",
    "segment_all_zero": "a segment or series has no events in any fitted month, so its level, "
                        "slope or intercept is minus infinity",
    "segment_all_success": "in a segment or series every trial was a success in every fitted "
                           "month, so its level, slope or intercept is plus infinity",
    "rank_deficient": "the design is rank-deficient on the months with data (reciprocal "
                      "condition number below 1e-8): its terms cannot be told apart",
    "separation": "the events are separated by the design terms (quasi-complete separation): "
                  "some estimate is infinite",
    "not_converged": "the model fit did not converge",
    "extreme_linear_predictor": "fitted values reach the boundary (a fitted proportion within "
                                "2e-9 of 0 or 1, or a fitted count below 2e-9)",
    "weighted_rank_deficient": "the information matrix at the estimate is singular (reciprocal "
                               "condition number of the weighted design below 1e-8)",
}
"""Fixed wording of each reason code: the only text a report shows for it."""


class NotEstimable(ValueError):
    """A model that cannot be estimated from these data, for a fixed, documented reason.

    ``reason`` is a key of :data:`REASONS`, ``message`` its fixed wording; ``str(exc)`` is the
    message (no numbers from the fit, so it is the same on every CPU).
    """

    def __init__(self, reason: str):
        if reason not in REASONS:
            raise KeyError(f"unknown estimability reason {reason!r}")
        self.reason = reason
        self.message = REASONS[reason]
        super().__init__(self.message)


LINALG_FAILURE = "a numerical linear algebra step failed"


def failure_text(exc: Exception) -> str:
    """What a report says about a model that raised ``exc``.

    The fixed wording for :class:`NotEstimable` and for any remaining
    ``numpy.linalg.LinAlgError`` (whose text can differ between BLAS kernels); the message of
    other errors (input checks, whose text depends only on the data).
    """
    if isinstance(exc, NotEstimable):
        return exc.message
    if isinstance(exc, np.linalg.LinAlgError):
        return LINALG_FAILURE
    return str(exc)


def _scaled_svd(A: np.ndarray):
    """Column norms of ``A`` and the singular values and right vectors of ``A / norms``
    (None when a column is 0 or not finite, or there are fewer rows than columns)."""
    if A.shape[0] < A.shape[1]:
        return None
    norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    if not np.all(np.isfinite(norms)) or (norms == 0).any():
        return None
    _, s, vt = np.linalg.svd(A / norms, full_matrices=False)
    return norms, s, vt


def _rcond(svd) -> float:
    if svd is None or svd[1][0] <= 0:
        return 0.0
    return float(svd[1][-1] / svd[1][0])


def reciprocal_condition(A: np.ndarray) -> float:
    """Smallest over largest singular value of ``A`` with its columns scaled to unit length.

    Column scaling makes the measure blind to the units of each term (months vs indicators);
    a column of zeros gives 0.
    """
    return _rcond(_scaled_svd(A))


def check_rank(X: np.ndarray, reason: str = "rank_deficient") -> None:
    """Raise :class:`NotEstimable` when ``X`` is rank-deficient to :data:`RCOND_MIN`."""
    if reciprocal_condition(X) < RCOND_MIN:
        raise NotEstimable(reason)


def _boundary_rows(num, den, family):
    """Months with no events (``low``) and, for binomial, with every trial a success (``high``)."""
    low = num <= 0
    high = (num >= den) if family == "binomial" else np.zeros(len(num), dtype=bool)
    return low, high


def check_segments(num, den, family, segments) -> None:
    """All-zero / all-success groups of months that have a term of their own.

    ``segments`` holds one or more labellings of the fitted months as integer codes (a 1-D
    array, or a 2-D array with one labelling per row, as :func:`segment_labels` gives); None
    skips the check.
    """
    if segments is None or family == "gaussian":
        return
    low, high = _boundary_rows(num, den, family)
    for codes in np.atleast_2d(np.asarray(segments, dtype=np.int64)):
        size = int(codes.max()) + 1 if len(codes) else 0
        months = np.bincount(codes, minlength=size)
        has_data = (np.bincount(codes, den, minlength=size) > 0) & (months > 0)
        if (has_data & (np.bincount(codes, low, minlength=size) == months)).any():
            raise NotEstimable("segment_all_zero")
        if (has_data & (np.bincount(codes, high, minlength=size) == months)).any():
            raise NotEstimable("segment_all_success")


def separated(X: np.ndarray, num: np.ndarray, den: np.ndarray, family: str) -> bool:
    """Quasi-complete separation by the linear programme of Konis (2007).

    Maximise ``sum_high (X d) - sum_low (X d)`` subject to ``X d <= 0`` on months with no
    events, ``X d >= 0`` on months with all successes (binomial), ``X d = 0`` on the others
    and ``-1 <= d <= 1``, with the columns of X scaled to max |x| = 1. The optimum is 0
    without separation and positive with it. HiGHS (scipy's ``linprog``) uses no BLAS.
    """
    low, high = _boundary_rows(num, den, family)
    if not (low.any() or high.any()):
        return False
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    inner = ~(low | high)
    # maximise sum_high Xd - sum_low Xd  <=>  minimise (sum_low X - sum_high X) d
    c = Xs[low].sum(axis=0) - Xs[high].sum(axis=0)
    A_ub = np.vstack([Xs[low], -Xs[high]])
    res = optimize.linprog(c, A_ub=A_ub if len(A_ub) else None,
                           b_ub=np.zeros(len(A_ub)) if len(A_ub) else None,
                           A_eq=Xs[inner] if inner.any() else None,
                           b_eq=np.zeros(int(inner.sum())) if inner.any() else None,
                           bounds=[(-1.0, 1.0)] * X.shape[1], method="highs")
    return bool(res.status == 0 and -res.fun > SEPARATION_MIN)


def check_before_fit(X, num, den, family, segments=None) -> None:
    """Every check that needs no fit (module notes); raises :class:`NotEstimable`."""
    informative = den > 0
    if not informative.any():
        raise NotEstimable("no_information")
    if family != "gaussian":
        seg = (None if segments is None
               else np.atleast_2d(np.asarray(segments, dtype=np.int64))[:, informative])
        check_segments(num[informative], den[informative], family, seg)
    check_rank(X[informative])
    if family != "gaussian" and separated(X[informative], num[informative], den[informative],
                                          family):
        raise NotEstimable("separation")


def check_after_fit(X, eta, den, weight, family, converged) -> np.ndarray:
    """Convergence, boundary fitted values and the weighted rank at the estimate.

    Returns the inverse information ``(X'WX)^-1`` from the singular value decomposition that
    the rank check computes (``D^-1 V S^-2 V' D^-1`` for ``W^1/2 X D^-1 = U S V'``, ``D`` the
    column norms): no normal equations, whose condition number is the square of the design's.
    """
    if not converged:
        raise NotEstimable("not_converged")
    informative = den > 0
    if family == "binomial":
        extreme = np.abs(eta[informative]) > ETA_MAX
    else:  # log link: log fitted count
        extreme = eta[informative] + np.log(den[informative]) < -ETA_MAX
    if extreme.any():
        raise NotEstimable("extreme_linear_predictor")
    svd = _scaled_svd(X[informative] * np.sqrt(weight[informative])[:, None])
    if _rcond(svd) < RCOND_MIN:
        raise NotEstimable("weighted_rank_deficient")
    norms, s, vt = svd
    return (vt.T / s ** 2) @ vt / np.outer(norms, norms)


def segment_labels(design, spec) -> np.ndarray:
    """Codes of the groups of fitted months that have a term of their own, for
    :func:`check_segments`: a 2 x (fitted rows) integer array.

    Row 0 codes the series (each has its intercept or unit effect); row 1 the phase group:
    months whose latest started phase is k (0 before any start) get the level and slope of
    phase k, per series, or pooled over the units in the staggered design, whose level and
    slope are shared.
    """
    rows = design.fit_rows
    X = design.X[rows]
    _, series = np.unique(design.keys[rows].astype(str), return_inverse=True)
    latest = np.zeros(len(series), dtype=np.int64)
    for k, phase in enumerate(spec.phases, start=1):
        cols = [i for i, n in enumerate(design.names)
                if n in (f"level[{phase.name}]", f"slope[{phase.name}]")]
        if cols:
            latest = np.where((X[:, cols] != 0).any(axis=1), k, latest)
    pooled = spec.design == "staggered"
    phase = latest if pooled else latest * (int(series.max()) + 1) + series
    return np.stack([series.astype(np.int64), phase])
