"""Residual diagnostics of an ITS fit, reported rather than hidden.

* Durbin & Watson (1950) statistic of the Pearson residuals, differences taken within each
  series (about 2 without lag-1 autocorrelation).
* Ljung & Box (1978) portmanteau test of the Pearson residuals of each series (the same
  statistic as statsmodels ``acorr_ljungbox``), lags ``min(12, max(1, T // 4))``; with
  several series the smallest p-value is Bonferroni-adjusted.
* Breusch (1978) - Godfrey (1978) LM test for the Gaussian single-series model with
  independent or HAC errors (as statsmodels ``acorr_breusch_godfrey``).
* Pearson dispersion X2/(n-p) (1 for a correctly specified Poisson or binomial model).
* Influential months: Cook's distance ``D_i = r_i^2 h_i / (phi k (1 - h_i)^2)`` with Pearson
  residual ``r_i``, leverage ``h_i`` of the (weighted) hat matrix, ``k`` coefficients and the
  model's scale ``phi`` (Pearson dispersion for quasi and Gaussian models, else 1), as
  statsmodels' ``get_influence().cooks_distance``; a month is flagged when ``D_i > 4/n``
  (Bollen & Jackman 1990). With AR errors the whitened residuals and GLS leverages are used.
* Months per segment (refused under 3 and warned under 8 by the design step).
* ``verdict``: one line in plain language summing these up.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .its_design import Design, month_label
from .its_fit import Fit
from .its_spec import ITSSpec

ALPHA_DIAG = 0.05
OVERDISPERSION = 1.5
SHORT_SEGMENT = 8


def ljung_box(resid: np.ndarray, lags: int) -> tuple[float, float]:
    """Ljung-Box Q and its chi-square p-value on ``lags`` degrees of freedom."""
    e = resid - resid.mean()
    n = len(e)
    denom = e @ e
    r = np.array([e[k:] @ e[:-k] for k in range(1, lags + 1)]) / denom
    q = n * (n + 2) * np.sum(r**2 / (n - np.arange(1, lags + 1)))
    return float(q), float(special.chdtrc(lags, q))


def durbin_watson_within(resid: np.ndarray, groups: np.ndarray) -> float:
    """Durbin-Watson statistic with differences taken inside each series only."""
    same = groups[1:] == groups[:-1]
    diff = (resid[1:] - resid[:-1])[same]
    return float(diff @ diff / (resid @ resid))


def breusch_godfrey(resid: np.ndarray, X: np.ndarray, lags: int) -> tuple[float, float]:
    """Breusch-Godfrey LM statistic ``n R^2`` and chi-square p-value (lags padded with 0)."""
    n = len(resid)
    lagged = np.column_stack([np.r_[np.zeros(k), resid[:-k]] for k in range(1, lags + 1)])
    Z = np.column_stack([X, lagged])
    coef, *_ = np.linalg.lstsq(Z, resid, rcond=None)
    u = resid - Z @ coef
    centred = resid - resid.mean()
    r2 = 1 - (u @ u) / (centred @ centred)
    lm = n * r2
    return float(lm), float(special.chdtrc(lags, lm))


def cooks_distance(pearson: np.ndarray, hat: np.ndarray, scale: float, k: int) -> np.ndarray:
    """Cook's distance from Pearson residuals and leverages."""
    return pearson**2 * hat / (scale * k * (1 - hat) ** 2)


def _scale(fit: Fit, spec: ITSSpec) -> float:
    if spec.errors == "ar" or spec.family == "negbin":
        return 1.0
    if spec.quasi or spec.base_family == "gaussian":
        return fit.dispersion
    return 1.0


def verdict(d: dict, spec: ITSSpec, fit: Fit) -> str:
    """One-line plain-language summary of the model checks."""
    parts = []
    if d["ljung_box_p"] < ALPHA_DIAG:
        hac = (f"equal-weighted cosine HAC errors ({fit.hac_lags} df)" if spec.hac_kernel == "ewc"
               else f"Newey-West errors ({fit.hac_lags} lags)")
        handled = {"hac": f"handled by {hac}",
                   "ar": f"AR({spec.ar_order}) errors used, residual autocorrelation remains"}
        parts.append(f"autocorrelation detected (Ljung-Box p={d['ljung_box_p']:.2g}), "
                     + handled.get(spec.errors, "standard errors may be too small"))
    elif spec.errors == "ar":
        parts.append(f"no autocorrelation left after AR({spec.ar_order}) errors")
    else:
        parts.append("no autocorrelation detected")
    disp = d["dispersion"]
    if spec.family == "negbin":
        parts.append(f"overdispersion modelled by the negative binomial (alpha {fit.nb_alpha:.2g})")
    elif spec.base_family != "gaussian":
        if disp > OVERDISPERSION:
            size = "marked" if disp > 3 else "mild"
            if spec.quasi:
                parts.append(f"{size} overdispersion ({disp:.2g}) handled by quasi-likelihood")
            elif spec.errors == "hac":
                parts.append(f"{size} overdispersion ({disp:.2g}) handled by the Newey-West sandwich")
            else:
                parts.append(f"{size} overdispersion ({disp:.2g}) NOT handled: use the quasi family")
        else:
            parts.append("no overdispersion")
    infl = d["influential_months"]
    if infl:
        shown = ", ".join(infl[:4]) + (", ..." if len(infl) > 4 else "")
        parts.append(f"{len(infl)} influential month{'s' if len(infl) > 1 else ''} ({shown})")
    else:
        parts.append("no influential months")
    short = [s for s in d["points_per_segment"] if s["months"] < SHORT_SEGMENT]
    if short:
        parts.append(f"{len(short)} segment(s) shorter than {SHORT_SEGMENT} months")
    return "Model checks: " + "; ".join(parts)


def _ci_df(design: Design, fit: Fit) -> float | None:
    """The t df of the intervals; with per-contrast Satterthwaite df
    (``hac_small_sample: "bm"``) that of the first phase's level change (else its first
    contrast)."""
    if fit.df is None:
        return None
    if fit.bm is None or not design.contrasts:
        return float(fit.df)
    idx = next((i for name, _, i in design.contrasts if name == "level_change"),
               design.contrasts[0][2])
    vec = np.zeros(len(fit.params))
    vec[idx] = 1.0
    return float(np.atleast_1d(fit.se_df(vec)[1])[0])


def diagnose(design: Design, fit: Fit, spec: ITSSpec) -> dict:
    """Diagnostics dict with plain-language ``warnings`` and a one-line ``verdict``.

    Returns
    -------
    dict
        ``n_obs``, ``n_params``, ``df_resid``, ``durbin_watson``, ``ljung_box_p``,
        ``ci_df`` (t degrees of freedom of the intervals; None: normal quantiles; with
        ``hac_small_sample: "bm"`` the Satterthwaite df of the first level change),
        ``ljung_box_lags``, ``breusch_godfrey_p`` (Gaussian single series with independent or
        HAC errors, else None), ``dispersion``, ``hac_lags``, ``nb_alpha``, ``ar_coefs``,
        ``cooks_distance`` (per fitted row), ``influential_months`` (labels, ``D > 4/n``),
        ``points_per_segment`` (list of dicts), ``warnings``, ``verdict``.
    """
    rows = design.fit_rows
    groups = design.keys[rows]
    resid = fit.pearson
    warnings = list(design.warnings)
    n, k = int(rows.sum()), int(design.X.shape[1])

    pvalues, lags_used = [], []
    bounds = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1, len(groups)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        e = resid[a:b]
        lags = min(12, max(1, len(e) // 4))
        pvalues.append(ljung_box(e, lags)[1])
        lags_used.append(lags)
    lb_p = float(min(1.0, min(pvalues) * len(pvalues)))

    bg_p = None
    if spec.base_family == "gaussian" and spec.design == "single" and spec.errors != "ar":
        bg_p = breusch_godfrey(resid, design.X[rows], lags_used[0])[1]

    cooks = cooks_distance(resid, fit.hat, _scale(fit, spec), k)
    flagged = np.flatnonzero(cooks > 4.0 / n)
    keys, months = design.keys[rows], design.m[rows]
    multi = spec.design != "single"
    influential = [(f"{keys[i]} " if multi else "") + month_label(int(months[i])) for i in flagged]

    if lb_p < ALPHA_DIAG:
        if spec.errors == "hac":
            warnings.append(
                f"autocorrelation detected (Ljung-Box p={lb_p:.3g}): "
                + (f"equal-weighted cosine HAC errors used ({fit.hac_lags} df)"
                   if spec.hac_kernel == "ewc" else
                   f"Newey-West errors used ({fit.hac_lags} lags"
                   + (", bias-reduced, Satterthwaite df)" if spec.hac_small_sample == "bm"
                      else ")"))
            )
        elif spec.errors == "ar":
            warnings.append(
                f"autocorrelation remains after AR({spec.ar_order}) errors (Ljung-Box p={lb_p:.3g}); "
                "consider a higher ar_order"
            )
        else:
            warnings.append(
                f"autocorrelation detected (Ljung-Box p={lb_p:.3g}): the independent-errors "
                "standard errors may be too small; consider errors='hac' (long series) or "
                "errors='ar' (gaussian)"
            )
    if spec.family in ("poisson", "binomial") and spec.errors != "hac" \
            and fit.dispersion > OVERDISPERSION:
        warnings.append(
            f"overdispersion (Pearson X2/df = {fit.dispersion:.3g}): the {spec.family} "
            f"standard errors are too small; consider family='quasi{spec.family}'"
            + (" or 'negbin'" if spec.family == "poisson" else "")
        )
    if spec.errors == "hac" and spec.hac_small_sample == "bm":
        pass  # bias-reduced Newey-West: met the coverage target in simulation (docs section 3)
    elif spec.errors == "hac":
        warnings.append(
            ("Equal-weighted cosine" if spec.hac_kernel == "ewc" else "Newey-West")
            + " intervals for level and slope changes are too narrow in series of "
            "ordinary length (simulated coverage of a nominal 95% interval: "
            + ("about 80% at 48 months, 87% at 120" if spec.hac_kernel == "ewc"
               else "about 86% at 48 months, 90% at 120, 91% at 240")
            + "); prefer errors='ar' (gaussian) or quasi-likelihood "
            "errors, and read these intervals as a lower bound on the uncertainty"
        )
    if not fit.converged:
        warnings.append("the model fit did not fully converge; treat the estimates with caution")
    out = {
        "n_obs": n,
        "n_params": k,
        "df_resid": int(fit.df_resid),
        "ci_df": _ci_df(design, fit),
        "durbin_watson": durbin_watson_within(resid, groups),
        "ljung_box_p": lb_p,
        "ljung_box_lags": int(max(lags_used)),
        "breusch_godfrey_p": bg_p,
        "dispersion": float(fit.dispersion),
        "hac_lags": fit.hac_lags,
        "nb_alpha": fit.nb_alpha,
        "ar_coefs": None if fit.ar_coefs is None else [float(c) for c in fit.ar_coefs],
        "cooks_distance": cooks,
        "influential_months": influential,
        "points_per_segment": design.segments,
        "warnings": warnings,
    }
    out["verdict"] = verdict(out, spec, fit)
    return out
