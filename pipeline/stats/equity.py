"""Equity analysis: did the intervention narrow the gap between the most and least deprived?

One entry point, :func:`evaluate_equity`, a pure function of the monthly series
(``docs/architecture.md``) and the outcomes' ITS specifications. It returns an
:class:`EquityResult` of tidy tables (DESIGN.md sections 4 and "Equity"; ``docs/equity.md``):

``stratum_effects``
    Every outcome x dimension x stratum: the segmented-regression estimands of
    :func:`pipeline.stats.its.fit_its` fitted to the stratum's own series (same design as the
    overall analysis: single, staggered or controlled) and the before/after comparison of
    proportions, with p-values adjusted across strata and outcomes (:mod:`.multiplicity`).
``before_after``
    The before/after counts and proportions per stratum (UNROUNDED counts: publish them only
    through :func:`pipeline.disclosure.protect_table`).
``heterogeneity``
    A test of whether the intervention effect differs across the strata of each dimension:
    the Wald test of stratum-specific against common level (and slope) changes, computed as
    the (multivariate) Cochran's Q of the stratum estimates (docs/adr/0010).
``gaps``
    Absolute gap (most - least deprived proportion, Newcombe interval), relative gap (ratio,
    log interval), SII and RII (PHE method) in the before and after windows, and their change
    (MOVER interval for the absolute gap, simulation for the SII).
``gap_change``
    The change in the gap attributable to the interruption, with its CI: (a) the difference
    between IMD quintile 1 and quintile 5 in level change, slope change and the
    counterfactual difference at each horizon from the stratified ITS (quintile 5 as the
    reference series); (b) the level and slope change of an ITS of the monthly SII series.
``gap_series``
    Monthly observed, fitted and counterfactual gap (Q1 - Q5) with its band, and the monthly
    SII with its interval, for the figure.

Models are fitted on unrounded aggregate counts; nothing here is published as it stands.
Orientation: every gap is **most deprived minus least deprived** (Q1 - Q5); the SII is
computed with PHE's multiplier -1 so it has the same orientation (fitted value at the most
deprived end minus the least deprived end), and the RII is most / least.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .before_after import compare_proportions
from .estimability import failure_text
from .inequality import sii_change, sii_point, sii_proportions
from .its import ITSResult, fit_its
from .its_design import build_design
from .its_fit import inverse_link
from .its_spec import validate_spec
from .multiplicity import adjust_table, check_method, describe

DIMENSIONS = ("imd_quintile", "ethnicity", "sex", "age_band")
OVERALL = "all"
EFFECT_COLUMNS = ["outcome", "dimension", "stratum", "source", "estimand", "phase", "estimate",
                  "ci_low", "ci_high", "p_value", "p_adjusted", "significant_adjusted",
                  "adjustment", "method", "n", "scale"]
SII_ORIENTATION = -1.0  # PHE multiplier: SII = most deprived end - least deprived end


@dataclass
class EquityResult:
    """Result of :func:`evaluate_equity`; every table is tidy (see the module docstring)."""

    stratum_effects: pd.DataFrame
    before_after: pd.DataFrame
    heterogeneity: pd.DataFrame
    gaps: pd.DataFrame
    gap_change: pd.DataFrame
    gap_series: pd.DataFrame
    multiplicity: str
    alpha: float
    n_tests: int
    adjustment_note: str
    most: str = "1"
    least: str = "5"
    its: dict = field(default_factory=dict, repr=False)
    sii_its: dict = field(default_factory=dict, repr=False)
    warnings: list = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tidy tables by name (for writing; counts in ``before_after`` are unrounded)."""
        return {"equity_stratum_effects": self.stratum_effects,
                "equity_before_after": self.before_after,
                "equity_heterogeneity": self.heterogeneity, "equity_gaps": self.gaps,
                "equity_gap_change": self.gap_change, "equity_gap_series": self.gap_series}

    def headline(self, outcome: str, horizon: int | None = None) -> pd.Series | None:
        """The gap-change row the report's sentence rests on (largest horizon by default)."""
        rows = self.gap_change[(self.gap_change["outcome"] == outcome)
                               & (self.gap_change["source"] == "stratified_its")
                               & self.gap_change["estimand"].str.startswith("abs_diff_h")]
        if rows.empty:
            return None
        hs = rows["estimand"].str.removeprefix("abs_diff_h").astype(int)
        pick = hs.idxmax() if horizon is None else hs[hs == horizon].index
        return rows.loc[pick] if horizon is None else (rows.loc[pick].iloc[0] if len(pick) else None)


# -- helpers ----------------------------------------------------------------------------------

def _select(series: pd.DataFrame, outcome: str, dimension: str, stratum: str) -> pd.DataFrame:
    rows = series[(series["outcome"] == outcome) & (series["dimension"] == dimension)
                  & (series["stratum"] == stratum)]
    return rows[["month", "unit", "numerator", "denominator"]].reset_index(drop=True)


def _months(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col).dt.to_period("M")


def _starts(spec, units) -> pd.Series:
    """Each unit's first interruption month (its own start when staggered)."""
    first = spec.phases[0].start
    own = spec.unit_starts or {}
    return pd.Series({u: own.get(u, first) for u in units})


def _treated(spec, units) -> list:
    comparators = set(spec.comparator_units or ())
    return sorted(u for u in units if u not in comparators)


def _window_flags(frame: pd.DataFrame, spec, months_before: int, months_after: int):
    """Before / after window flags relative to each unit's own start (washout skipped)."""
    starts = frame["unit"].map(_starts(spec, frame["unit"].unique()))
    m = _months(frame["month"])
    offset = np.array([(a - s).n for a, s in zip(m, starts)])
    before = (offset >= -months_before) & (offset < 0)
    after = (offset >= spec.washout_months) & (offset < spec.washout_months + months_after)
    return before, after


def _se_from_ci(low, high, z):
    return (np.asarray(high, float) - np.asarray(low, float)) / (2 * z)


def _fit(sub: pd.DataFrame, spec: dict, label: str, warnings: list) -> ITSResult | None:
    if sub["denominator"].sum() == 0 or sub["numerator"].sum() == 0:
        warnings.append(f"{label}: no events or no denominator; not estimable")
        return None
    try:
        with np.errstate(all="ignore"):
            result = fit_its(sub, spec)
    except ValueError as exc:  # NotEstimable, LinAlgError or an input check
        warnings.append(f"{label}: not estimable ({failure_text(exc)})")
        return None
    eff = result.effects
    core = eff[eff["estimand"].isin(["level_change", "slope_change"])]
    if not np.isfinite(core[["estimate", "ci_low", "ci_high"]].to_numpy(float)).all() or \
            (core["ci_high"] - core["ci_low"] > 50).any():
        warnings.append(f"{label}: estimates not finite or unstable (sparse data); left out")
        return None
    return result


def _coef_names(spec, phase) -> dict:
    prefix = "group:" if spec.design == "controlled" else ""
    names = {}
    if phase.has_level:
        names["level_change"] = f"{prefix}level[{phase.name}]"
    if phase.has_slope:
        names["slope_change"] = f"{prefix}slope[{phase.name}]"
    return names


def cochran_q(estimates: np.ndarray, covariances: np.ndarray) -> tuple[float, int, float, float]:
    """Multivariate Cochran's Q: Wald test that k-vectors of S independent strata are equal.

    ``Q = sum_s (b_s - b)' V_s^-1 (b_s - b)`` with ``b`` the inverse-variance-weighted
    mean; ``Q ~ chi2(k (S - 1))`` under homogeneity. Identical to the Wald test of the
    stratum x change interactions in a joint model of the strata's series with stratum-
    specific nuisance terms (intercept, trend, seasonality, dispersion) and a block-diagonal
    covariance (docs/adr/0010). Returns ``(Q, df, p, I^2)``; ``I^2 = max(0, (Q - df) / Q)``
    (Higgins & Thompson 2002).
    """
    b = np.asarray(estimates, float)
    V = np.asarray(covariances, float)
    if b.ndim == 1:
        b, V = b[:, None], V.reshape(-1, 1, 1)
    W = np.linalg.inv(V)
    pooled = np.linalg.solve(W.sum(0), np.einsum("sij,sj->i", W, b))
    d = b - pooled
    q = float(np.einsum("si,sij,sj->", d, W, d))
    df = int(b.shape[1] * (b.shape[0] - 1))
    p = float(stats.chi2.sf(q, df)) if df > 0 else float("nan")
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    return q, df, p, i2


def _mover_difference(d1, l1, u1, d0, l0, u0) -> tuple[float, float]:
    """MOVER interval (Zou & Donner 2008) for d1 - d0 from the two separate intervals."""
    diff = d1 - d0
    return (diff - np.sqrt((d1 - l1) ** 2 + (u0 - d0) ** 2),
            diff + np.sqrt((u1 - d1) ** 2 + (d0 - l0) ** 2))


# -- pieces -----------------------------------------------------------------------------------

def _stratum_its(series, outcome, spec, dims, warnings) -> dict:
    fits = {}
    combos = [(OVERALL, OVERALL)] + [
        (d, s) for d in dims
        for s in sorted(series.loc[(series["dimension"] == d) & (series["outcome"] == outcome),
                                   "stratum"].unique())]
    for d, s in combos:
        sub = _select(series, outcome, d, s)
        if sub.empty:
            continue
        r = _fit(sub, spec, f"{outcome} {d}={s}", warnings)
        if r is not None:
            fits[(outcome, d, s)] = r
    return fits


def _before_after(series, outcome, spec_v, dims, months, alpha, warnings) -> pd.DataFrame:
    rows = series[(series["outcome"] == outcome)
                  & series["dimension"].isin((OVERALL, *dims))]
    rows = rows[rows["unit"].isin(_treated(spec_v, rows["unit"].unique()))]
    before, after = _window_flags(rows, spec_v, *months)
    keys = ["dimension", "stratum"]
    b = rows[before].groupby(keys)[["numerator", "denominator"]].sum().add_suffix("_before")
    a = rows[after].groupby(keys)[["numerator", "denominator"]].sum().add_suffix("_after")
    joined = b.join(a, how="outer").fillna(0).astype("int64").reset_index()
    out = []
    for r in joined.itertuples(index=False):
        rec = {"outcome": outcome, "dimension": r.dimension, "stratum": r.stratum,
               "numerator_before": r.numerator_before, "denominator_before": r.denominator_before,
               "numerator_after": r.numerator_after, "denominator_after": r.denominator_after}
        if r.denominator_before > 0 and r.denominator_after > 0:
            stats_ = compare_proportions(r.numerator_after, r.denominator_after,
                                         r.numerator_before, r.denominator_before, alpha)
            rec.update({k: v for k, v in stats_.items() if k not in ("n_before", "n_after")})
        else:
            warnings.append(f"{outcome} {r.dimension}={r.stratum}: empty before or after window")
        out.append(rec)
    return pd.DataFrame(out)


def _ba_effect_rows(ba: pd.DataFrame) -> list:
    rows = []
    for r in ba.dropna(subset=["difference"]).itertuples(index=False):
        n = int(r.denominator_before + r.denominator_after)
        test = f"{r.test} test"
        for est, method, scale in (
                ("difference", f"Newcombe hybrid score interval; {test}", "difference in proportion"),
                ("risk_ratio", f"log (Katz) interval; {test}", "risk ratio"),
                ("odds_ratio", f"log (Woolf) interval; {test}", "odds ratio")):
            rows.append({"outcome": r.outcome, "dimension": r.dimension, "stratum": r.stratum,
                         "source": "before_after", "estimand": est, "phase": "after vs before",
                         "estimate": getattr(r, est), "ci_low": getattr(r, f"{est}_low"),
                         "ci_high": getattr(r, f"{est}_high"), "p_value": r.p_value,
                         "method": method, "n": n, "scale": scale})
    return rows


def _heterogeneity(fits: dict, outcome, dims, spec_v, alpha) -> list:
    rows = []
    for d in dims:
        strata = {s: r for (o, dd, s), r in fits.items() if o == outcome and dd == d}
        if len(strata) < 2:
            continue
        for phase in spec_v.phases:
            names = _coef_names(spec_v, phase)
            tests = [(k, [v]) for k, v in names.items()]
            if len(names) == 2:
                tests.append(("level_and_slope_change", list(names.values())))
            for estimand, cols in tests:
                b = np.array([r.params[cols].to_numpy() for r in strata.values()])
                V = np.array([r.cov.loc[cols, cols].to_numpy() for r in strata.values()])
                q, df, p, i2 = cochran_q(b, V)
                rows.append({"outcome": outcome, "dimension": d, "phase": phase.name,
                             "estimand": estimand, "statistic": q, "df": df, "p_value": p,
                             "i_squared": i2, "n_strata": len(strata),
                             "strata": ", ".join(strata),
                             "method": "Wald test of stratum-specific vs common change "
                                       "(multivariate Cochran's Q on the stratified ITS, "
                                       "link scale)"})
    return rows


def _aggregate_treated(result: ITSResult, sub: pd.DataFrame):
    """Monthly fitted and counterfactual proportion of the treated series, with gradients."""
    spec = result.spec
    design = build_design(sub, spec)
    frame = design.frame
    rows = frame["treated"].to_numpy()
    beta = result.params.to_numpy()
    family = spec.base_family
    p, dp = inverse_link(design.X @ beta, family)
    pc, dpc = inverse_link(design.X_cf @ beta, family)
    den = frame["denominator"].to_numpy()
    out = {}
    for m in np.unique(frame["m"].to_numpy()[rows]):
        mask = rows & (frame["m"].to_numpy() == m)
        w = den[mask]
        tot = w.sum()
        out[int(m)] = (w @ p[mask] / tot, (w * dp[mask]) @ design.X[mask] / tot,
                       w @ pc[mask] / tot, (w * dpc[mask]) @ design.X_cf[mask] / tot,
                       frame["numerator"].to_numpy()[mask].sum(), tot)
    return out


def _gap_series(series, outcome, fits, most, least, spec_v, alpha) -> pd.DataFrame:
    key_m, key_l = (outcome, "imd_quintile", most), (outcome, "imd_quintile", least)
    if key_m not in fits or key_l not in fits:
        return pd.DataFrame()
    z = float(stats.norm.ppf(1 - alpha / 2))
    agg = {}
    for q, key in (("q1", key_m), ("q5", key_l)):
        r = fits[key]
        agg[q] = (_aggregate_treated(r, _select(series, *key)), r.cov.to_numpy())
    months = sorted(set(agg["q1"][0]) & set(agg["q5"][0]))
    rows = []
    for m in months:
        (f1, gf1, c1, gc1, x1, n1), V1 = agg["q1"][0][m], agg["q1"][1]
        (f5, gf5, c5, gc5, x5, n5), V5 = agg["q5"][0][m], agg["q5"][1]
        se_cf = float(np.sqrt(gc1 @ V1 @ gc1 + gc5 @ V5 @ gc5))
        se_f = float(np.sqrt(gf1 @ V1 @ gf1 + gf5 @ V5 @ gf5))
        rows.append({"outcome": outcome,
                     "month": pd.Timestamp(year=m // 12, month=m % 12 + 1, day=1),
                     "numerator_q1": int(x1), "denominator_q1": int(n1),
                     "numerator_q5": int(x5), "denominator_q5": int(n5),
                     "q1_observed": x1 / n1, "q5_observed": x5 / n5,
                     "gap_observed": x1 / n1 - x5 / n5,
                     "gap_fitted": f1 - f5, "gap_fitted_low": f1 - f5 - z * se_f,
                     "gap_fitted_high": f1 - f5 + z * se_f,
                     "gap_counterfactual": c1 - c5, "gap_cf_low": c1 - c5 - z * se_cf,
                     "gap_cf_high": c1 - c5 + z * se_cf})
    return pd.DataFrame(rows)


def _gap_change_stratified(outcome, fits, most, least, alpha, dimension="imd_quintile",
                           names=None) -> list:
    """Rows of the gap change (``most`` minus ``least`` stratum of ``dimension``). ``names``
    ("target group", "everyone else") replaces the IMD wording of the scale and method."""
    key_m, key_l = (outcome, dimension, most), (outcome, dimension, least)
    if key_m not in fits or key_l not in fits:
        return []
    z = float(stats.norm.ppf(1 - alpha / 2))
    e1 = fits[key_m].effects.set_index(["estimand", "phase"])
    e5 = fits[key_l].effects.set_index(["estimand", "phase"])
    family = fits[key_m].spec.base_family
    link = {"binomial": "log odds ratio", "poisson": "log rate ratio",
            "gaussian": "difference in proportion"}[family]
    twin = {"binomial": ("_or", "ratio of odds ratios"), "poisson": ("_rr", "ratio of rate ratios"),
            "gaussian": (None, None)}[family]
    rows = []
    for (estimand, phase) in e1.index:
        base = estimand in ("level_change", "slope_change") or estimand.startswith("abs_diff_h")
        if not base or (estimand, phase) not in e5.index:
            continue
        a, b = e1.loc[(estimand, phase)], e5.loc[(estimand, phase)]
        est = a["estimate"] - b["estimate"]
        se = float(np.hypot(_se_from_ci(a["ci_low"], a["ci_high"], z),
                            _se_from_ci(b["ci_low"], b["ci_high"], z)))
        p = float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
        pair = f"Q{most} - Q{least}" if names is None else f"{names[0]} - {names[1]}"
        scale = (f"difference ({pair}) in {a['scale']}" if estimand.startswith("abs")
                 else f"difference ({pair}) in {link}"
                 + (" per month" if estimand == "slope_change" else ""))
        compared = (f"IMD quintile {most} minus quintile {least} (reference)" if names is None
                    else f"{names[0]} minus {names[1]} (reference)")
        method = (f"Stratified ITS: {compared}; "
                  f"Wald interval from the two independent stratum fits; {a['method']}")
        row = {"outcome": outcome, "source": "stratified_its", "estimand": estimand,
               "phase": phase, "estimate": est, "ci_low": est - z * se, "ci_high": est + z * se,
               "p_value": p, "method": method, "scale": scale}
        rows.append(row)
        if twin[0] and not estimand.startswith("abs"):
            rows.append({**row, "estimand": estimand + twin[0], "estimate": np.exp(est),
                         "ci_low": np.exp(est - z * se), "ci_high": np.exp(est + z * se),
                         "scale": twin[1] + (" per month" if estimand == "slope_change" else "")})
    return rows


def monthly_sii(series, outcome, spec_v, warnings, counts=None) -> pd.DataFrame:
    """SII (most - least orientation) per month and modelled series key.

    ``counts``, if given, maps each month's quintile counts ``(x, n)`` to the counts to use
    (the publication layer passes the disclosure rule, so a published SII rests only on
    published counts); a month with a missing (NaN) count is left out.
    """
    rows = series[(series["outcome"] == outcome) & (series["dimension"] == "imd_quintile")]
    if rows.empty:
        return pd.DataFrame()
    comparators = set(spec_v.comparator_units or ())
    if spec_v.design == "staggered":
        key = rows["unit"].astype(str)
    elif spec_v.design == "controlled":
        key = np.where(rows["unit"].isin(comparators), "comparator", "treated")
    else:
        key = np.full(len(rows), "all")
    grouped = rows.assign(key=key).groupby(["key", "month", "stratum"])[
        ["numerator", "denominator"]].sum().reset_index()
    out = []
    for (k, month), g in grouped.groupby(["key", "month"], sort=True):
        g = g.sort_values("stratum", key=lambda s: s.astype(int))
        x, n = g["numerator"].to_numpy(float), g["denominator"].to_numpy(float)
        if counts is not None:
            x, n = (np.asarray(v, float) for v in counts(x, n))
        if len(g) < 2 or np.isnan(x).any() or np.isnan(n).any() or (n <= 0).any():
            continue
        point = sii_point(x / n, n, SII_ORIENTATION)
        rec = {"outcome": outcome, "key": k, "month": month, "sii": point["sii"],
               "rii": point["rii"], "sii_low": np.nan, "sii_high": np.nan}
        if ((x > 0) & (x < n)).all():
            a = sii_proportions(x, n, multiplier=SII_ORIENTATION, method="analytic")
            rec.update(sii_low=a["sii_low"], sii_high=a["sii_high"])
        out.append(rec)
    frame = pd.DataFrame(out)
    dropped = grouped.groupby(["key", "month"]).ngroups - len(frame)
    if dropped:
        warnings.append(f"{outcome}: {dropped} month(s) without every IMD quintile populated "
                        "left out of the SII series")
    return frame


def _sii_its(sii: pd.DataFrame, spec: dict, outcome, warnings):
    if sii.empty:
        return None, []
    shift = 1.0 + float(np.ceil(np.abs(sii["sii"]).max()))
    data = pd.DataFrame({"month": sii["month"], "unit": sii["key"],
                         "numerator": sii["sii"] + shift, "denominator": 1.0})
    sspec = {**spec, "family": "gaussian"}
    if sspec.get("comparator_units"):
        sspec["comparator_units"] = ["comparator"]
    try:
        result = fit_its(data, sspec)
    except ValueError as exc:  # NotEstimable, LinAlgError or an input check
        warnings.append(f"{outcome}: ITS of the SII series not estimable ({failure_text(exc)})")
        return None, []
    rows = []
    for r in result.effects.itertuples(index=False):
        if r.estimand in ("level_change", "slope_change") or r.estimand.startswith("abs_diff_h"):
            rows.append({"outcome": outcome, "source": "sii_its", "estimand": r.estimand,
                         "phase": r.phase, "estimate": r.estimate, "ci_low": r.ci_low,
                         "ci_high": r.ci_high, "p_value": r.p_value,
                         "method": f"ITS of the monthly SII (PHE method, most - least "
                                   f"deprived): {r.method}",
                         "scale": "change in SII (proportion)"
                                  + (" per month" if r.estimand == "slope_change" else "")})
    return result, rows


def gap_rows(ba: pd.DataFrame, outcome, most, least, alpha, repetitions, seed, warnings) -> list:
    """Inequality before and after from a before/after table by IMD quintile: absolute gap
    (Newcombe), relative gap (Katz), SII and RII (PHE method), and their change.

    ``ba`` needs numeric counts for every IMD quintile row; the publication layer calls this
    on the published (rounded) counts.
    """
    imd = ba[(ba["dimension"] == "imd_quintile")].copy()
    if imd.empty or not {most, least} <= set(imd["stratum"]):
        return []
    imd = imd.sort_values("stratum", key=lambda s: s.astype(int))
    z = float(stats.norm.ppf(1 - alpha / 2))
    m, l_ = imd.set_index("stratum").loc[most], imd.set_index("stratum").loc[least]
    rows, per = [], {}
    for period in ("before", "after"):
        x1, n1 = m[f"numerator_{period}"], m[f"denominator_{period}"]
        x5, n5 = l_[f"numerator_{period}"], l_[f"denominator_{period}"]
        if min(n1, n5) <= 0:
            continue
        r = compare_proportions(x1, n1, x5, n5, alpha)
        per[period] = r
        base = {"outcome": outcome, "period": period}
        rows.append({**base, "measure": "absolute_gap", "estimate": r["difference"],
                     "ci_low": r["difference_low"], "ci_high": r["difference_high"],
                     "method": f"Q{most} - Q{least} proportion, Newcombe hybrid score interval",
                     "scale": "difference in proportion"})
        rows.append({**base, "measure": "relative_gap", "estimate": r["risk_ratio"],
                     "ci_low": r["risk_ratio_low"], "ci_high": r["risk_ratio_high"],
                     "method": f"Q{most} / Q{least} proportion, log (Katz) interval",
                     "scale": "ratio"})
        try:
            s = sii_proportions(imd[f"numerator_{period}"], imd[f"denominator_{period}"],
                                confidence=1 - alpha, repetitions=repetitions,
                                multiplier=SII_ORIENTATION, seed=seed)
        except ValueError as exc:
            warnings.append(f"{outcome} SII {period}: {failure_text(exc)}")
            continue
        method = (f"PHE SII (Low & Low 2004; phe_sii), simulated interval ({repetitions} draws), "
                  "most - least deprived")
        rows.append({**base, "measure": "sii", "estimate": s["sii"], "ci_low": s["sii_low"],
                     "ci_high": s["sii_high"], "method": method, "scale": "difference in proportion"})
        rows.append({**base, "measure": "rii", "estimate": s["rii"], "ci_low": s["rii_low"],
                     "ci_high": s["rii_high"], "method": method.replace("SII", "RII"),
                     "scale": "ratio"})
    if set(per) == {"before", "after"}:
        a, b = per["after"], per["before"]
        lo, hi = _mover_difference(a["difference"], a["difference_low"], a["difference_high"],
                                   b["difference"], b["difference_low"], b["difference_high"])
        rows.append({"outcome": outcome, "period": "change", "measure": "absolute_gap",
                     "estimate": a["difference"] - b["difference"], "ci_low": lo, "ci_high": hi,
                     "method": "after - before, MOVER interval (Zou & Donner 2008)",
                     "scale": "difference in proportion"})
        la, lb = np.log(a["risk_ratio"]), np.log(b["risk_ratio"])
        se = np.hypot(_se_from_ci(np.log(a["risk_ratio_low"]), np.log(a["risk_ratio_high"]), z),
                      _se_from_ci(np.log(b["risk_ratio_low"]), np.log(b["risk_ratio_high"]), z))
        rows.append({"outcome": outcome, "period": "change", "measure": "relative_gap",
                     "estimate": np.exp(la - lb), "ci_low": np.exp(la - lb - z * se),
                     "ci_high": np.exp(la - lb + z * se),
                     "method": "after / before ratio of risk ratios, log interval",
                     "scale": "ratio"})
        try:
            c = sii_change((imd["numerator_before"], imd["denominator_before"]),
                           (imd["numerator_after"], imd["denominator_after"]),
                           confidence=1 - alpha, repetitions=repetitions,
                           multiplier=SII_ORIENTATION, seed=seed)
            rows.append({"outcome": outcome, "period": "change", "measure": "sii",
                         "estimate": c["sii_change"], "ci_low": c["sii_change_low"],
                         "ci_high": c["sii_change_high"],
                         "method": "after - before, simulated interval (PHE method)",
                         "scale": "difference in proportion"})
            rows.append({"outcome": outcome, "period": "change", "measure": "rii",
                         "estimate": c["rii_ratio"], "ci_low": c["rii_ratio_low"],
                         "ci_high": c["rii_ratio_high"],
                         "method": "after / before, simulated interval (PHE method)",
                         "scale": "ratio"})
        except ValueError as exc:
            warnings.append(f"{outcome} SII change: {failure_text(exc)}")
    return rows


def gap_change_between(most: pd.DataFrame, least: pd.DataFrame, spec: dict,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Change in the gap between two strata's series from their stratified ITS fits.

    ``most`` and ``least`` are monthly series (``month, unit, numerator, denominator``) of
    the most and least deprived strata; both are fitted with ``spec``. Returns the rows of
    the ``gap_change`` table (source ``stratified_its``): differences (most - least) in level
    and slope change per phase (link scale, with the exponentiated twin) and in fitted minus
    counterfactual at each horizon. Used by :func:`evaluate_equity` and the benchmark.
    """
    spec = {**spec, "alpha": alpha}
    fits = {("o", "imd_quintile", "1"): fit_its(most, spec),
            ("o", "imd_quintile", "5"): fit_its(least, spec)}
    return pd.DataFrame(_gap_change_stratified("o", fits, "1", "5", alpha)).drop(columns="outcome")


# -- entry point ------------------------------------------------------------------------------

def evaluate_equity(series: pd.DataFrame, outcome_specs: dict, dimensions=DIMENSIONS,
                    plus_groups=(), multiplicity: str = "holm", alpha: float = 0.05, *,
                    before_after_months: tuple[int, int] = (12, 12), most: str = "1",
                    least: str = "5", sii_repetitions: int = 20_000,
                    seed: int = 0) -> EquityResult:
    """Every equity statistic of one intervention, from its monthly series.

    Parameters
    ----------
    series : DataFrame
        The long monthly series (``month, unit, dimension, stratum, outcome, numerator,
        denominator``), unrounded.
    outcome_specs : dict
        ``{outcome key: ITS spec dict}`` (``Intervention.its_spec(outcome)``); the spec's
        design (phases, unit starts, comparators, washout, horizons) is used in every stratum.
    dimensions : sequence of str
        Equity dimensions present in ``series['dimension']`` (IMD quintile, ethnicity, ...).
    plus_groups : sequence of str
        PLUS-group flag dimensions (e.g. ``homeless`` with strata "0"/"1"), analysed like the
        dimensions.
    multiplicity : {"holm", "fdr_bh", "none"}
    alpha : float
        1 - confidence level, and the error rate of the adjustment.
    before_after_months : (int, int)
        Months before each unit's start and after it (after any washout) for the before/after
        comparisons.
    most, least : str
        IMD strata of the most and least deprived fifths.
    sii_repetitions, seed : int
        Simulation draws and seed of the PHE SII intervals (before/after).

    Returns
    -------
    EquityResult
    """
    check_method(multiplicity)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r} must be strictly between 0 and 1")
    missing = {"month", "unit", "dimension", "stratum", "outcome", "numerator",
               "denominator"} - set(series.columns)
    if missing:
        raise ValueError(f"series is missing column(s) {sorted(missing)}")
    series = series.assign(stratum=series["stratum"].astype(str),
                           unit=series["unit"].astype(str))
    warnings: list = []
    present = set(series["dimension"])
    dims = []
    for d in (*dimensions, *plus_groups):
        if d in present and d not in dims:
            dims.append(d)
        elif d not in present:
            warnings.append(f"dimension {d!r} is not in the series; skipped")

    effects, ba_frames, het, gaps, change, gap_series = [], [], [], [], [], []
    fits_all, sii_fits = {}, {}
    for outcome, raw_spec in outcome_specs.items():
        if outcome not in set(series["outcome"]):
            warnings.append(f"outcome {outcome!r} is not in the series; skipped")
            continue
        spec = {**raw_spec, "alpha": alpha}
        spec_v = validate_spec(spec)
        fits = _stratum_its(series, outcome, spec, dims, warnings)
        fits_all.update(fits)
        for (o, d, s), r in fits.items():
            effects.append(r.effects.assign(outcome=o, dimension=d, stratum=s, source="its"))
        ba = _before_after(series, outcome, spec_v, dims, before_after_months, alpha, warnings)
        ba_frames.append(ba)
        if "difference" in ba.columns:
            effects.append(pd.DataFrame(_ba_effect_rows(ba)))
        het += _heterogeneity(fits, outcome, dims, spec_v, alpha)
        if "imd_quintile" in dims:
            change += _gap_change_stratified(outcome, fits, most, least, alpha)
            gs = _gap_series(series, outcome, fits, most, least, spec_v, alpha)
            sii = monthly_sii(series, outcome, spec_v, warnings)
            sres, srows = _sii_its(sii, spec, outcome, warnings)
            change += srows
            if sres is not None:
                sii_fits[outcome] = sres
            if not gs.empty and not sii.empty:
                treated = sii[sii["key"].isin(["all", "treated"])] \
                    if spec_v.design != "staggered" else pd.DataFrame()
                if not treated.empty:
                    gs = gs.merge(treated[["month", "sii", "sii_low", "sii_high", "rii"]],
                                  on="month", how="left")
            gap_series.append(gs)
            if "difference" in ba.columns:
                gaps += gap_rows(ba, outcome, most, least, alpha, sii_repetitions, seed, warnings)

    table = pd.concat(effects, ignore_index=True) if effects else pd.DataFrame(columns=EFFECT_COLUMNS)
    base = table["estimand"].str.replace(r"_(or|rr)$", "", regex=True)
    its_family = (table["source"] == "its") & base.isin(["level_change", "slope_change"]) \
        & (table["dimension"] != OVERALL)
    table = table.assign(_base=base)
    adjusted = adjust_table(table, multiplicity, alpha, family=its_family,
                            share=["outcome", "dimension", "stratum", "phase", "_base"])
    n_tests = int(adjusted.loc[its_family].drop_duplicates(
        ["outcome", "dimension", "stratum", "phase", "_base"]).shape[0])
    ba_family = (adjusted["source"] == "before_after") & (adjusted["dimension"] != OVERALL)
    if ba_family.any():
        ba_adj = adjust_table(table, multiplicity, alpha, family=ba_family,
                              share=["outcome", "dimension", "stratum"])
        for col in ("p_adjusted", "significant_adjusted", "adjustment"):
            adjusted.loc[ba_family, col] = ba_adj.loc[ba_family, col]
    adjusted = adjusted.drop(columns="_base")
    adjusted = adjusted[[c for c in EFFECT_COLUMNS if c in adjusted.columns]]

    het_table = pd.DataFrame(het)
    if not het_table.empty:
        het_table = adjust_table(het_table, multiplicity, alpha)
    return EquityResult(
        stratum_effects=adjusted.reset_index(drop=True),
        before_after=pd.concat(ba_frames, ignore_index=True) if ba_frames else pd.DataFrame(),
        heterogeneity=het_table, gaps=pd.DataFrame(gaps), gap_change=pd.DataFrame(change),
        gap_series=pd.concat(gap_series, ignore_index=True) if gap_series else pd.DataFrame(),
        multiplicity=multiplicity, alpha=alpha, n_tests=n_tests,
        adjustment_note=describe(multiplicity, n_tests, alpha), most=most, least=least,
        its=fits_all, sii_its=sii_fits, warnings=warnings)


__all__ = ["EquityResult", "evaluate_equity", "cochran_q", "gap_change_between"]
