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
* When the residuals are autocorrelated (Ljung-Box p < 0.05) and the errors ignore it
  (``independent``, or Newey-West for a GLM family), how much too narrow the intervals are:
  the AR(1) working-correlation model of :mod:`pipeline.stats.its_ar` is fitted to the same
  data and the ratio of its Kenward-Roger standard error of the first level change to the
  reported one is given, with the coverage a nominal 95% interval then has under that model
  and the coverage measured in simulation (:data:`SIMULATED_COVERAGE`).
* ``verdict``: one line in plain language summing these up.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .its_design import Design
from .its_fit import Fit
from .its_glm import working_response
from .its_input import month_label
from .its_spec import ITSSpec

ALPHA_DIAG = 0.05
# Coverage of nominal 95% intervals for the level change of a 48-month quasi-binomial ITS
# (start month 25, 1,000 a month, 20% baseline, latent AR(1) on the logit scale with SD 0.15)
# with independent errors, by latent lag-1 correlation: benchmarks/its_simulation.py, 2,000
# series per row (docs/statistics.md section 3; a test checks these against its output).
SIMULATED_COVERAGE = {0.3: 0.891, 0.6: 0.757}
# Coverage of nominal 95% intervals with ``errors: auto`` (AR(1), bias-corrected REML,
# Kenward-Roger) at latent lag-1 correlation 0.6, by the table's family and series length
# (start in the middle), per estimand: benchmarks/out/its_autocorrelation.json (a test
# checks these against it). Binomial and Poisson fits equal their quasi twins under AR errors.
AUTO_COVERAGE_AT_06 = {
    ("quasibinomial", 24): {"level_change": 0.9385, "slope_change": 0.9365,
        "abs_diff_h12": 0.9340},
    ("quasibinomial", 48): {"level_change": 0.9450, "slope_change": 0.9335,
        "abs_diff_h12": 0.9370},
    ("quasibinomial", 120): {"level_change": 0.9510, "slope_change": 0.9340,
        "abs_diff_h12": 0.9530},
    ("quasipoisson", 24): {"level_change": 0.9390, "slope_change": 0.9350,
        "abs_diff_h12": 0.9355},
    ("quasipoisson", 48): {"level_change": 0.9385, "slope_change": 0.9305,
        "abs_diff_h12": 0.9340},
    ("quasipoisson", 120): {"level_change": 0.9320, "slope_change": 0.9200,
        "abs_diff_h12": 0.9340},
    ("negbin", 24): {"level_change": 0.9340, "slope_change": 0.9300,
        "abs_diff_h12": 0.9250},
    ("negbin", 48): {"level_change": 0.9350, "slope_change": 0.9230,
        "abs_diff_h12": 0.9290},
    ("negbin", 120): {"level_change": 0.9320, "slope_change": 0.9200,
        "abs_diff_h12": 0.9340},
    ("gaussian", 24): {"level_change": 0.9380, "slope_change": 0.9530,
        "abs_diff_h12": 0.9520},
    ("gaussian", 48): {"level_change": 0.9540, "slope_change": 0.9520,
        "abs_diff_h12": 0.9530},
    ("gaussian", 120): {"level_change": 0.9670, "slope_change": 0.9700,
        "abs_diff_h12": 0.9640},
}
TARGET_COVERAGE = (0.93, 0.97)  # the band the benchmark table holds designs to
HIGH_CORRELATION = 0.45  # fitted AR(1) correlation above which the report quotes that shortfall
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
        if ignores_autocorrelation(spec):
            handled["independent"] = handled["hac"] = "intervals too narrow (see warnings)"
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
            elif spec.errors == "ar":
                parts.append(f"{size} overdispersion ({disp:.2g}) handled by the AR model's "
                             "estimated scale")
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


def _first_change(design: Design, k: int) -> np.ndarray | None:
    """Contrast vector of the first phase's level change (else its first change term)."""
    if not design.contrasts:
        return None
    idx = next((i for name, _, i in design.contrasts if name == "level_change"),
               design.contrasts[0][2])
    vec = np.zeros(k)
    vec[idx] = 1.0
    return vec


def _ci_df(design: Design, fit: Fit) -> float | None:
    """The t df of the intervals; with per-contrast Satterthwaite df
    (``hac_small_sample: "bm"``, ``ar_small_sample: "kr"``) that of the first phase's level
    change (else its first contrast)."""
    if fit.df is None:
        return None
    vec = _first_change(design, len(fit.params))
    if (fit.bm is None and fit.contrasts is None) or vec is None:
        return float(fit.df)
    return float(np.atleast_1d(fit.se_df(vec)[1])[0])


def ignores_autocorrelation(spec: ITSSpec) -> bool:
    """Errors whose intervals do not allow for autocorrelation in series of ordinary length:
    independent errors, and Newey-West for the GLM families (n/(n-p) correction only)."""
    return spec.errors == "independent" or (
        spec.errors == "hac" and not (spec.base_family == "gaussian"
                                      and spec.hac_small_sample == "bm"))


def autocorrelation_cost(design: Design, fit: Fit, spec: ITSSpec) -> dict | None:
    """How much too narrow the reported interval of the first level change is, judged by the
    AR(1) working-correlation model (Kenward-Roger SE) fitted to the same data.

    Returns ``{"rho", "se_ratio", "coverage"}``: the REML lag-1 correlation, the ratio of
    the AR(1) standard error to the reported one, and the probability that the reported
    nominal ``1 - alpha`` interval covers the truth if the AR(1) standard error is right
    (``2 Phi(q / ratio) - 1``, q the reported interval's quantile); None without a change
    term or when the AR(1) fit fails.
    """
    from .its_ar import fit_ar1_working
    from .its_estimands import quantile

    rows = design.fit_rows
    X = design.X[rows]
    vec = _first_change(design, X.shape[1])
    if vec is None:
        return None
    z, w = working_response(X, design.num[rows], design.den[rows], fit.params, spec,
                            fit.nb_alpha)
    try:
        ar = fit_ar1_working(X, z, w, design.m[rows], design.keys[rows])
    except (np.linalg.LinAlgError, ValueError):
        return None
    se_ar = float(np.sqrt(ar.contrasts.var_df(vec[None, :])[0][0]))
    se, df = fit.se_df(vec)
    ratio = se_ar / float(se[0])
    q = quantile(spec.alpha, None if df is None else float(np.atleast_1d(df)[0]))
    return {"rho": ar.rho, "se_ratio": ratio,
            "coverage": float(2 * special.ndtr(q / ratio) - 1)}


def _autocorrelation_warning(lb_p: float, cost: dict | None, spec: ITSSpec) -> str:
    what = ("independent-errors" if spec.errors == "independent" else "Newey-West")
    text = (f"autocorrelation detected (Ljung-Box p={lb_p:.3g}): the {what} intervals are too "
            "narrow")
    if cost is not None and cost["se_ratio"] > 1:
        text += (f"; an AR(1) model of the same data (lag-1 correlation {cost['rho']:.2f}) "
                 f"gives the level change a standard error {cost['se_ratio']:.2g} times as "
                 f"large, so the nominal {1 - spec.alpha:.0%} interval covers about "
                 f"{cost['coverage']:.0%}")
    sim = SIMULATED_COVERAGE
    auto = AUTO_COVERAGE_AT_06[("quasibinomial", 48)]
    text += (" (in simulation of 48-month series, independent-errors "
             f"95% intervals covered {sim[0.3]:.0%} at lag-1 correlation 0.3 and "
             f"{sim[0.6]:.0%} at 0.6); use errors: auto (AR(1) errors with Kenward-Roger "
             f"intervals, which covered {min(auto.values()):.1%} to {max(auto.values()):.1%} "
             "at 0.6)")
    return text


def _simulated_design(spec: ITSSpec, months: int) -> tuple[str, int]:
    """The row of :data:`AUTO_COVERAGE_AT_06` nearest this fit: its family (binomial and
    Poisson as their quasi twins) and the simulated series length closest to ``months``."""
    family = {"binomial": "quasibinomial", "poisson": "quasipoisson"}.get(spec.family,
                                                                           spec.family)
    lengths = sorted({t for f, t in AUTO_COVERAGE_AT_06 if f == family})
    return family, min(lengths, key=lambda t: (abs(t - months), t))


def _high_correlation_warning(rho: float, spec: ITSSpec, months: int) -> str:
    """What the simulation says about AR(1) intervals when months are strongly correlated:
    the coverage measured at correlation 0.6 for the nearest simulated design, and in words
    which estimands fall short of 93% there, or are wider than needed (above 97%), or that a
    series shorter than any simulated one, or a correlation above 0.6, was not measured."""
    family, length = _simulated_design(spec, months)
    c = AUTO_COVERAGE_AT_06[(family, length)]
    names = {"level_change": "the immediate change", "slope_change": "the change in trend",
             "abs_diff_h12": "the 12-month difference"}
    text = (f"months are strongly correlated (fitted AR(1) correlation {rho:.2f}): in simulation "
            f"of {length}-month series ({family} model) at correlation 0.6 these intervals covered "
            + ", ".join(f"{c[e]:.1%} for {names[e]}" for e in names) + " (nominal 95%)")
    short = [names[e] for e in names if c[e] < TARGET_COVERAGE[0]]
    wide = [names[e] for e in names if c[e] > TARGET_COVERAGE[1]]
    if short:
        text += (f": read {' and '.join(short)} as too narrow (below 93%: this design does "
                 "not reach the 93-97% target)")
    if wide:
        text += (f"{'; ' if short else ': '}read {' and '.join(wide)} as wider than needed "
                 "(above 97%)")
    if not short and not wide:
        text += ", inside the 93-97% target"
    if months < length:
        text += f"; this series ({months} months) is shorter than any simulated, so expect less"
    if rho > 0.7:
        text += "; coverage at correlation above 0.6 was not measured and is likely lower"
    return text


def diagnose(design: Design, fit: Fit, spec: ITSSpec) -> dict:
    """Diagnostics dict with plain-language ``warnings`` and a one-line ``verdict``.

    Returns
    -------
    dict
        ``n_obs``, ``n_params``, ``df_resid``, ``durbin_watson``, ``ljung_box_p``,
        ``ci_df`` (t degrees of freedom of the intervals; None: normal quantiles; with
        ``hac_small_sample: "bm"`` or ``ar_small_sample: "kr"`` the Satterthwaite df of the
        first level change), ``autocorrelation_cost`` (None, or when autocorrelation is
        detected and the errors ignore it, :func:`autocorrelation_cost`),
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
    influential = [(f"{keys[i]} " if multi else "") + month_label(int(months[i]), spec.period) for i in flagged]

    cost = None
    if lb_p < ALPHA_DIAG and ignores_autocorrelation(spec):
        cost = autocorrelation_cost(design, fit, spec)
        warnings.append(_autocorrelation_warning(lb_p, cost, spec))
    elif lb_p < ALPHA_DIAG:
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
                + ("consider a higher ar_order" if spec.base_family == "gaussian" else
                   "the intervals may still be too narrow; consider seasonality or a "
                   "gaussian model of the proportion with a higher ar_order")
            )
    if spec.family in ("poisson", "binomial") and spec.errors not in ("hac", "ar") \
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
    if spec.errors == "ar" and fit.ar_coefs is not None and len(fit.ar_coefs) \
            and float(fit.ar_coefs[0]) >= HIGH_CORRELATION:
        longest = int(max(np.unique(groups, return_counts=True)[1]))
        warnings.append(_high_correlation_warning(float(fit.ar_coefs[0]), spec, longest))
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
        "autocorrelation_cost": cost,
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
