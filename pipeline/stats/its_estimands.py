"""Estimands of an ITS fit: the tidy effects table and the fitted/counterfactual series.

Estimands (one row each; Wald intervals ``estimate +/- q SE`` on the link scale with two-sided
p-values, q a t or normal quantile as below; Lopez Bernal et al. 2017):

``pre_trend`` and, per phase, ``level_change`` and ``slope_change`` (per month)
    coefficients on the link scale (log odds, log rate, or absolute proportion for
    Gaussian), with natural-scale twins ``*_or`` (odds ratio, binomial families) or ``*_rr``
    (rate ratio, Poisson families) obtained by exponentiating estimate and limits. Gaussian
    models have no twin (the link scale is already absolute). For a controlled ITS these
    are the ``group:`` interactions (differences from the comparator) and ``pre_trend`` is
    the treated series' own pre-trend.
``post_trend`` per phase with a slope change
    the (treated) trend per month in that phase: ``pre_trend`` plus the slope changes of the
    phases started by then, with its interval from the covariance of the sum (the
    post-intervention trend ``itsa``'s ``posttrend`` option reports, Linden 2015), and its
    natural-scale twin. For a controlled ITS it is the treated series' own trend (time +
    group:time + the slope terms of both the comparators and the difference).
``abs_diff_h{h}`` and ``rel_diff_h{h}`` for each horizon ``h``
    fitted minus counterfactual proportion (or rate per unit of denominator) in the ``h``-th
    month of the post period counted from the FIRST phase start (the start month is
    ``h = 1``; in a staggered roll-out each unit's own start, with units pooled by their
    denominators), and the relative change ``fitted / counterfactual - 1``. The
    counterfactual sets every change term to 0, so with several phases it is the total effect
    of the phases started by then. Horizons past the data are skipped with a warning.
``cumulative_excess``
    extra events over the fitted post-period months: ``sum(denominator * (p_fitted -
    p_counterfactual))``.
``average_effect`` and ``average_rel_effect``
    the average effect over the fitted post-period months: denominator-weighted mean of
    ``p_fitted - p_counterfactual`` (``cumulative_excess`` / total post denominator), and the
    relative change of the weighted means ``mean fitted / mean counterfactual - 1``.

With ``spec.ci_quantile == "t"`` (the default for gaussian, quasipoisson, quasibinomial and
negbin, for HAC with the small-sample correction or the EWC kernel and for REML AR errors)
every interval and p-value here, the delta-method ones and the counterfactual band included,
uses t quantiles on the fit's df (``Fit.df``); with ``"normal"`` (the default for poisson and
binomial) normal ones. With ``hac_small_sample: "bm"`` (gaussian + HAC default) and with AR(1)
errors and ``ar_small_sample: "kr"`` (``errors: auto``: Kenward-Roger variance) the SE and the
t df come from :meth:`Fit.se_df` per contrast: each coefficient its own Satterthwaite df,
each delta-method estimand the df of its gradient, each counterfactual month its own.

Intervals for these functions of the coefficients use the delta method (Oehlert 1992) from
the coefficient covariance: exact-form gradients, no simulation, so results are
deterministic. The relative change is computed on the log scale and back-transformed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import special

from pipeline import periods

from .estimand_key import KEY_COLUMNS, Estimand, horizons_as_floats
from .its_design import Design
from .its_fit import FAMILY_LABELS, Fit
from .its_glm import inverse_link
from .its_input import month_label
from .its_spec import ITSSpec

COLUMNS = ["estimand", "phase", "estimate", "ci_low", "ci_high", "p_value", "method", "n", "scale"]
# The effects table of an ITS fit: COLUMNS and the estimand's structured key (quantity,
# estimand_scale, horizon: pipeline.stats.estimand_key, docs/adr/0150), which readers filter
# on instead of parsing the estimand's name.
EFFECTS_COLUMNS = [*COLUMNS, *KEY_COLUMNS]
# Per-row standard error (link scale, before any back-transform) and t df (None: normal) of
# every estimand: kept beside the effects so that a contrast of two fits (the equity gap
# change) combines the real SEs and dfs instead of reading them back from interval widths.
INFERENCE_COLUMNS = ["estimand", "phase", "se", "df"]
SCALES = {  # link-scale label, natural-scale twin (estimand_key scale), natural-scale label
    "binomial": ("log odds ratio", "odds_ratio", "odds ratio"),
    "poisson": ("log rate ratio", "rate_ratio", "rate ratio"),
    "gaussian": ("absolute difference in proportion", None, None),
}


DIFF_SCALE = {
    "binomial": "difference in proportion",
    "poisson": "difference in rate per unit of denominator",
    "gaussian": "difference in proportion",
}


# One shared key object per estimand (keys are frozen values): a fit makes about 17 rows and
# fit_its_many one fit per stratum, so the keys are not rebuilt and re-checked each time.
_key = lru_cache(maxsize=None)(Estimand)


def describe_method(spec: ITSSpec, fit: Fit, design: Design) -> str:
    """One-line description of the model, e.g. for the ``method`` column."""
    parts = [f"Segmented {FAMILY_LABELS[spec.family]}"]
    if spec.errors == "hac" and spec.hac_kernel == "ewc":
        parts.append(f"equal-weighted cosine HAC SE ({fit.hac_lags} df, t intervals)")
    elif spec.errors == "hac" and spec.hac_small_sample == "bm":
        parts.append(f"bias-reduced Newey-West SE ({fit.hac_lags} lags, Bell-McCaffrey, "
                     + ("Satterthwaite t df per estimand)" if fit.df is not None
                        else "normal intervals)"))
    elif spec.errors == "hac":
        extra = ", small-sample corrected" if spec.hac_small_sample else ""
        extra += ", t intervals" if fit.df is not None else ""
        parts.append(f"Newey-West SE ({fit.hac_lags} lags{extra})")
    elif spec.errors == "ar" and spec.ar_small_sample == "kr":
        parts.append(f"AR(1) errors{' (errors: auto)' if spec.errors_auto else ''} by GLS on "
                     f"the working response (bias-corrected REML, rho = {fit.ar_coefs[0]:.2f}), "
                     "Kenward-Roger SE, "
                     + ("Satterthwaite t df per estimand" if fit.df is not None
                        else "normal intervals"))
    elif spec.errors == "ar":
        coefs = ", ".join(f"{c:.2f}" for c in fit.ar_coefs)
        parts.append(f"AR({spec.ar_order}) errors by GLS ({spec.ar_method.upper()}, "
                     f"phi = {coefs})")
    elif spec.family == "negbin":
        scaled = ", scaled by Pearson dispersion" if spec.negbin_scale == "pearson" else ""
        parts.append(f"model-based SE (alpha = {fit.nb_alpha:.3g}{scaled})")
    elif spec.quasi:
        parts.append("model-based SE scaled by Pearson dispersion")
    else:
        parts.append("model-based SE")
    n_series = len(set(design.keys))
    if spec.design == "staggered":
        parts.append(f"staggered roll-out, {n_series} units with unit fixed effects")
    elif spec.design == "controlled":
        parts.append(f"controlled ITS against {len(spec.comparator_units)} comparator unit(s)"
                     + ((", every unit its own series (stacked, as Stata itsa: one intercept per group, so "
                        "comparator units that differ in level or trend widen its intervals "
                        "beyond the nominal level; docs/adr/0096)") if spec.stacked
                        else ""))
    if spec.slope_coding == "itsa" and any(p.has_slope for p in spec.phases):
        parts.append("slope counter 0 in the start month (itsa coding)")
    if spec.seasonality == "fourier":
        parts.append(f"Fourier seasonality ({spec.harmonics} harmonics)")
    elif spec.seasonality == "month":
        parts.append("calendar-month indicators")
    if spec.covariates:
        parts.append(f"covariates {', '.join(spec.covariates)}")
    ramps = [f"{p.name} {p.ramp_months}" for p in spec.phases if p.ramp_months > 1]
    if ramps:
        parts.append(f"level change ramped in over months ({'; '.join(ramps)})")
    if spec.washout_months:
        parts.append(f"washout {spec.washout_months} {spec.period}(s)")
    if spec.exclude_months:
        spans = ", ".join(f"{a}..{b}" for a, b in spec.exclude_months)
        parts.append(f"months excluded from the fit ({spans})")
    return ", ".join(parts)


@lru_cache(maxsize=256)
def quantile(alpha: float, df: float | None) -> float:
    """Two-sided critical value: normal, or t on ``df`` degrees of freedom."""
    if df is None:
        return float(special.ndtri(1 - alpha / 2))
    return float(special.stdtrit(df, 1 - alpha / 2))


def p_value(stat: float, df: float | None) -> float:
    """Two-sided p-value of a Wald statistic (normal, or t on ``df``)."""
    if df is None:
        return float(2 * special.ndtr(-abs(stat)))
    return float(2 * special.stdtr(df, -abs(stat)))


class _Contrasts:
    """The estimand rows of one fit, collected first and finished together.

    Each row is a linear contrast of the coefficients (a gradient for the delta-method ones)
    with its point estimate; :meth:`rows` then gets every SE and df from ONE
    :meth:`Fit.se_df` call (one einsum over all contrasts for the Kenward-Roger and
    Bell-McCaffrey variances) and every quantile and p-value from one vectorised scipy call,
    instead of one call per estimand. Element by element the arithmetic is the same as one
    contrast at a time.
    """

    def __init__(self, fit: Fit, alpha: float):
        self.fit, self.alpha = fit, alpha
        self.grads: list = []
        self.items: list = []  # (Estimand, phase, est, gradient index, SE multiplier, scale, transform)

    def add(self, grad: np.ndarray) -> int:
        """Register a gradient; returns its index (several rows may share one)."""
        self.grads.append(grad)
        return len(self.grads) - 1

    def row(self, key: Estimand, phase, est, g: int, scale, transform=None, times: float = 1.0):
        self.items.append((key, phase, float(est), g, times, scale, transform))

    def rows(self) -> list:
        if not self.items:
            return []
        ses, dfs = self.fit.se_df(np.array(self.grads))
        g = np.array([it[3] for it in self.items])
        times = np.array([it[4] for it in self.items])
        est = np.array([it[2] for it in self.items])
        se = ses[g] * times
        alpha = self.alpha
        if dfs is None:
            df = None
            q = np.full(len(g), quantile(alpha, None))
        elif np.ndim(dfs) == 0:
            df = np.full(len(g), float(dfs))
            q = np.full(len(g), quantile(alpha, float(dfs)))
        else:
            df = np.asarray(dfs, float)[g]
            q = special.stdtrit(df, 1 - alpha / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = -np.abs(est / se)
        p = 2 * (special.ndtr(stat) if df is None else special.stdtr(df, stat))
        p = np.where(se > 0, p, np.nan)
        lo, hi = est - q * se, est + q * se
        out = []
        for i, (key, phase, e, _, _, scale, transform) in enumerate(self.items):
            e_i, lo_i, hi_i = e, float(lo[i]), float(hi[i])
            if transform is not None:
                with np.errstate(over="ignore"):  # a limit beyond 1e308 is reported as inf
                    e_i, lo_i, hi_i = transform(e_i), transform(lo_i), transform(hi_i)
            out.append({"estimand": key.name, "phase": phase, "estimate": float(e_i),
                        "ci_low": float(lo_i), "ci_high": float(hi_i), "p_value": float(p[i]),
                        "scale": scale, "se": float(se[i]),
                        "df": None if df is None else float(df[i]), **key.columns()})
        return out


def _coefficient_rows(design: Design, fit: Fit, spec: ITSSpec, acc: _Contrasts) -> None:
    link, ratio, natural = SCALES[spec.base_family]
    per_period = f" per {spec.period}"
    items = [("pre_trend", "pre-intervention", design.trend, per_period)]
    for estimand, phase, idx in design.contrasts:
        vec = np.zeros(len(fit.params))
        vec[idx] = 1.0
        items.append((estimand, phase, vec, per_period if estimand == "slope_change" else ""))
    items += [("post_trend", phase, vec, per_period) for phase, vec in post_trends(design, spec)]
    for quantity, phase, vec, per in items:
        g, est, key = acc.add(vec), vec @ fit.params, _key(quantity)
        acc.row(key, phase, est, g, link + per)
        if ratio:
            acc.row(_key(quantity, ratio), phase, est, g, natural + per, np.exp)


def post_trends(design: Design, spec: ITSSpec) -> list:
    """``(phase, contrast vector)`` of the trend in each phase with a slope change: the
    pre-trend plus every slope term of the phases started by then (for a controlled ITS the
    comparators' ``slope`` and the difference ``group:slope``, so the treated series' own
    trend)."""
    vec = design.trend.copy()
    out = []
    for phase in spec.phases:
        if not phase.has_slope:
            continue
        for name in (f"slope[{phase.name}]", f"group:slope[{phase.name}]"):
            if name in design.names:
                vec[design.names.index(name)] = 1.0
        out.append((phase.name, vec.copy()))
    return out


def _contrast(design: Design, fit: Fit, family: str, mask: np.ndarray):
    """Denominator-weighted mean fitted and counterfactual, with gradients."""
    X, Xc = design.X[mask], design.X_cf[mask]
    w = design.den[mask]
    p, dp = inverse_link(X @ fit.params, family)
    pc, dpc = inverse_link(Xc @ fit.params, family)
    total = w.sum()
    mean_f, mean_c = w @ p / total, w @ pc / total
    grad_f, grad_c = (w * dp) @ X / total, (w * dpc) @ Xc / total
    return total, mean_f, mean_c, grad_f, grad_c


def _effect_rows(design: Design, fit: Fit, spec: ITSSpec, warnings: list,
                 acc: _Contrasts) -> None:
    family = spec.base_family
    treated = design.treated
    event = design.event_time
    for h in spec.horizons:
        mask = treated & (event == h)
        if not mask.any():
            last = month_label(int(design.m[treated].max()), spec.period)
            warnings.append(f"horizon {h} {spec.period}(s) is past the data (last {spec.period} "
                            f"{last}): skipped")
            continue
        _, mf, mc, gf, gc = _contrast(design, fit, family, mask)
        acc.row(_key("difference", "absolute", h), "overall", mf - mc, acc.add(gf - gc),
                DIFF_SCALE[family])
        if mf > 0 and mc > 0:
            acc.row(_key("difference", "relative", h), "overall", np.log(mf / mc),
                    acc.add(gf / mf - gc / mc), "relative change (fitted / counterfactual - 1)", _exp_minus_one)
        else:
            warnings.append(f"relative change at horizon {h} undefined (non-positive proportion)")
    post = treated & (event >= 1) & design.fit_rows
    total, mf, mc, gf, gc = _contrast(design, fit, family, post)
    g = acc.add(gf - gc)
    acc.row(_key("cumulative_excess", "events"), "overall", total * (mf - mc), g,
            "events (fitted minus counterfactual)", times=total)
    acc.row(_key("average_effect", "absolute"), "overall", mf - mc, g,
            f"mean {DIFF_SCALE[family]} over the post period")
    if mf > 0 and mc > 0:
        acc.row(_key("average_effect", "relative"), "overall", np.log(mf / mc),
                acc.add(gf / mf - gc / mc), "relative change over the post period (mean fitted / mean "
                "counterfactual - 1)", _exp_minus_one)


def _exp_minus_one(v):
    return np.exp(v) - 1


def inference_table(rows: list) -> pd.DataFrame:
    """SE and df of each estimand row (columns :data:`INFERENCE_COLUMNS`; ``df`` NaN when the
    interval is normal)."""
    return pd.DataFrame({  # built from columns: one per stratum in fit_its_many, so cheap
        "estimand": [r["estimand"] for r in rows], "phase": [r["phase"] for r in rows],
        "se": np.array([r["se"] for r in rows], dtype=float),
        "df": np.array([np.nan if r["df"] is None else r["df"] for r in rows], dtype=float)},
        columns=INFERENCE_COLUMNS)


def effects_frame(rows: list, leading: list | None = None) -> pd.DataFrame:
    """The effects table of row dicts (or tuples: ``leading`` columns then
    :data:`EFFECTS_COLUMNS`); ``horizon`` a float column, NaN where there is none."""
    return horizons_as_floats(pd.DataFrame(rows, columns=[*(leading or []), *EFFECTS_COLUMNS]))


def effect_rows(design: Design, fit: Fit, spec: ITSSpec, method: str) -> tuple[list, list]:
    """The effects as a list of row dicts (no pandas) and any warnings."""
    warnings: list = []
    acc = _Contrasts(fit, spec.alpha)
    _coefficient_rows(design, fit, spec, acc)
    _effect_rows(design, fit, spec, warnings, acc)
    rows = acc.rows()
    n = int(design.fit_rows.sum())
    for row in rows:
        row["method"] = method
        row["n"] = n
    return rows, warnings


def series_table(design: Design, fit: Fit, spec: ITSSpec) -> pd.DataFrame:
    """Observed, fitted and counterfactual (with its ``1 - alpha`` band) for every row.

    The band is a Wald interval on the link scale of the counterfactual linear predictor,
    back-transformed (so it stays inside [0, 1] for binomial models).
    """
    family = spec.base_family
    eta_cf = design.X_cf @ fit.params
    se_cf, df_cf = fit.se_df(design.X_cf)
    if df_cf is None or np.ndim(df_cf) == 0:
        z = quantile(spec.alpha, df_cf)
    else:  # one Satterthwaite df per month (hac_small_sample: "bm")
        z = special.stdtrit(np.asarray(df_cf, float), 1 - spec.alpha / 2)
    m = design.m
    columns = {}
    if spec.design == "staggered":
        columns["unit"] = design.keys
    elif spec.design == "controlled":
        columns["group"] = design.keys
    num, den = design.num, design.den
    columns.update({
        spec.period: periods.start_dates(m, spec.period),
        "numerator": num,
        "denominator": den,
        "observed": num / den,
        "fitted": inverse_link(design.X @ fit.params, family)[0],
        "counterfactual": inverse_link(eta_cf, family)[0],
        "cf_low": inverse_link(eta_cf - z * se_cf, family)[0],
        "cf_high": inverse_link(eta_cf + z * se_cf, family)[0],
        "in_fit": design.fit_rows,
    })
    out = pd.DataFrame(columns)
    return out
