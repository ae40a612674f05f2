"""How much did the interruption change the gap between two strata (most minus least deprived)?

From the two strata's own ITS fits (``docs/equity.md``): the difference in level change, slope
change and fitted-minus-counterfactual at each horizon, and the monthly gap series with its
band for the figure. The strata are fitted independently, so the variance of a difference is
the sum of the two variances; each comes from the fit's own covariance (``ITSResult.inference``:
the SE and t df of that contrast), never from an interval's width.

The df of the difference is the Welch-Satterthwaite combination of the two contrasts' df
(Satterthwaite 1946; Welch 1947): ``(v1 + v5)^2 / (v1^2 / df1 + v5^2 / df5)`` with ``v`` the
variances; a contrast with a normal interval counts as infinite df, and when both are normal
the interval is normal. Before this (docs/adr/0105) the SEs were read back from the interval
widths with a normal z, which inflated them by t/z for the quasi families.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..estimand_key import Estimand, row_key, horizons_as_floats
from ..its import fit_its_many
from ..its_design import build_design
from ..its_estimands import SCALES, p_value, quantile
from ..its_glm import inverse_link
from ..its_spec import ITSSpec

GAP_ESTIMANDS = ("level_change", "slope_change")


def is_gap_estimand(key: Estimand) -> bool:
    """Estimands whose between-strata difference is a gap change: the level and slope changes
    on the link scale and the fitted-minus-counterfactual difference at each horizon."""
    return ((key.quantity in GAP_ESTIMANDS and key.scale == "link")
            or (key.quantity == "difference" and key.scale == "absolute"))


def welch_df(v1: float, df1: float | None, v5: float, df5: float | None) -> float | None:
    """Welch-Satterthwaite df of the sum of two independent variances (None: normal)."""
    if df1 is None and df5 is None:
        return None
    inv = (0.0 if df1 is None else v1 ** 2 / df1) + (0.0 if df5 is None else v5 ** 2 / df5)
    return float((v1 + v5) ** 2 / inv) if inv > 0 else None


def _se_df(fit, estimand: str, phase: str) -> tuple[float, float | None]:
    row = fit.inference[(fit.inference["estimand"] == estimand)
                        & (fit.inference["phase"] == phase)].iloc[0]
    return float(row["se"]), (None if pd.isna(row["df"]) else float(row["df"]))


def gap_change_stratified(outcome, fits, most, least, alpha, dimension="imd_quintile",
                          names=None) -> list:
    """Rows of the gap change (``most`` minus ``least`` stratum of ``dimension``).

    ``fits`` maps ``(outcome, dimension, stratum)`` to a fit with ``effects``, ``inference``
    and ``spec``. ``names`` ("target group", "everyone else") replaces the IMD wording of the
    scale and method. Natural-scale twins (ratio of odds or rate ratios) exponentiate the
    link-scale row.
    """
    key_m, key_l = (outcome, dimension, most), (outcome, dimension, least)
    if key_m not in fits or key_l not in fits:
        return []
    e1 = fits[key_m].effects.set_index(["estimand", "phase"])
    e5 = fits[key_l].effects.set_index(["estimand", "phase"])
    family = fits[key_m].spec.base_family
    link, ratio, natural = SCALES[family]
    pair = f"Q{most} - Q{least}" if names is None else f"{names[0]} - {names[1]}"
    compared = (f"IMD quintile {most} minus quintile {least} (reference)" if names is None
                else f"{names[0]} minus {names[1]} (reference)")
    rows = []
    for (estimand, phase) in e1.index:
        a = e1.loc[(estimand, phase)]
        key = row_key(a)
        if not is_gap_estimand(key) or (estimand, phase) not in e5.index:
            continue
        b = e5.loc[(estimand, phase)]
        est = a["estimate"] - b["estimate"]
        se1, df1 = _se_df(fits[key_m], estimand, phase)
        se5, df5 = _se_df(fits[key_l], estimand, phase)
        se = float(np.hypot(se1, se5))
        df = welch_df(se1 ** 2, df1, se5 ** 2, df5)
        q = quantile(alpha, df)
        p = p_value(est / se, df) if se > 0 else float("nan")
        per = " per month" if estimand == "slope_change" else ""
        scale = (f"difference ({pair}) in {a['scale']}" if key.quantity == "difference"
                 else f"difference ({pair}) in {link}{per}")
        interval = ("normal interval" if df is None
                    else f"t interval on the Welch-Satterthwaite df ({df:.1f})")
        method = (f"Stratified ITS: {compared}; Wald {interval} from the two independent "
                  f"stratum fits' SEs; {a['method']}")
        row = {"outcome": outcome, "source": "stratified_its", "estimand": estimand,
               "phase": phase, "estimate": est, "ci_low": est - q * se, "ci_high": est + q * se,
               "p_value": p, "method": method, "scale": scale, **key.columns()}
        rows.append(row)
        if ratio and key.quantity != "difference":
            twin = key.on(ratio)
            rows.append({**row, "estimand": twin.name, "estimate": np.exp(est),
                         "ci_low": np.exp(est - q * se), "ci_high": np.exp(est + q * se),
                         "scale": f"ratio of {natural}s{per}", **twin.columns()})
    return rows


def aggregate_treated(fit, sub: pd.DataFrame) -> dict:
    """Monthly fitted and counterfactual proportion of the treated series, with gradients:
    ``{month index: (fitted, d fitted, counterfactual, d counterfactual, events, total)}``."""
    spec: ITSSpec = fit.spec
    design = build_design(sub, spec)
    frame = design.frame
    rows = frame["treated"].to_numpy()
    beta = fit.params.to_numpy()
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


def gap_series(subs: dict, outcome, fits, most, least, alpha) -> pd.DataFrame:
    """Monthly observed, fitted and counterfactual gap (most - least) with bands.

    ``subs`` maps the two fits' keys to their monthly series. The band of a month is a normal
    Wald interval from the delta-method SE of the two strata's weighted means (a figure band,
    not a test; the gap-change rows carry the per-contrast df).
    """
    key_m, key_l = (outcome, "imd_quintile", most), (outcome, "imd_quintile", least)
    if key_m not in fits or key_l not in fits:
        return pd.DataFrame()
    z = quantile(alpha, None)
    agg = {q: (aggregate_treated(fits[key], subs[key]), fits[key].cov.to_numpy())
           for q, key in (("q1", key_m), ("q5", key_l))}
    rows = []
    for m in sorted(set(agg["q1"][0]) & set(agg["q5"][0])):
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


def gap_change_between(most: pd.DataFrame, least: pd.DataFrame, spec: dict,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Change in the gap between two strata's series from their stratified ITS fits.

    ``most`` and ``least`` are monthly series (``month, unit, numerator, denominator``) of
    the most and least deprived strata; both are fitted with ``spec`` in one
    :func:`pipeline.stats.its.fit_its_many` call. Returns the rows of the ``gap_change`` table
    (source ``stratified_its``): differences (most - least) in level and slope change per
    phase (link scale, with the exponentiated twin) and in fitted minus counterfactual at each
    horizon. Used by :func:`pipeline.stats.equity.evaluate_equity` and the benchmark.
    """
    batch = fit_its_many({"1": most, "5": least}, {**spec, "alpha": alpha})
    fits = {("o", "imd_quintile", k): f for k, f in batch.fits.items()}
    return horizons_as_floats(pd.DataFrame(gap_change_stratified("o", fits, "1", "5", alpha))
                          .drop(columns="outcome"))
