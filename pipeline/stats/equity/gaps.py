"""How large is the inequality before and after, and did it change? (gaps and SII)

Absolute gap (most - least deprived proportion, Newcombe interval), relative gap (ratio, log
Katz interval), SII and RII (PHE method; Low & Low 2004) in the before and after windows and
their change (MOVER interval for the absolute gap, Zou & Donner 2008; log interval for the
ratio of risk ratios; simulation for the SII); the monthly SII series and its ITS
(``docs/equity.md``). Orientation: most deprived minus least deprived (PHE multiplier -1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..before_after import compare_proportions, log_ratio
from ..estimability import failure_text
from ..estimand_key import row_key
from ..inequality import sii_change, sii_point, sii_proportions
from ..its import fit_its
from .gap_change import is_gap_estimand

SII_ORIENTATION = -1.0  # PHE multiplier: SII = most deprived end - least deprived end


def katz_se(counts) -> float:
    """SE of the log risk ratio ``(x1/n1) / (x5/n5)`` (Katz et al. 1978), as the interval of
    :func:`pipeline.stats.before_after.compare_proportions` uses it."""
    x1, n1, x5, n5 = (float(v) for v in counts)
    return log_ratio(x1, n1 - x1, x5, n5 - x5, odds=False)[1]


def mover_difference(d1, l1, u1, d0, l0, u0) -> tuple[float, float]:
    """MOVER interval (Zou & Donner 2008) for d1 - d0 from the two separate intervals."""
    diff = d1 - d0
    return (diff - np.sqrt((d1 - l1) ** 2 + (u0 - d0) ** 2),
            diff + np.sqrt((u1 - d1) ** 2 + (d0 - l0) ** 2))


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


def sii_its(sii: pd.DataFrame, spec: dict, outcome, warnings):
    """ITS (Gaussian) of the monthly SII series: level, slope and horizon changes of the SII."""
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
        key = row_key(r._asdict())
        if is_gap_estimand(key):
            rows.append({"outcome": outcome, "source": "sii_its", "estimand": r.estimand,
                         "phase": r.phase, "estimate": r.estimate, "ci_low": r.ci_low,
                         "ci_high": r.ci_high, "p_value": r.p_value,
                         "method": f"ITS of the monthly SII (PHE method, most - least "
                                   f"deprived): {r.method}",
                         "scale": "change in SII (proportion)"
                                  + (" per month" if r.estimand == "slope_change" else ""),
                         **key.columns()})
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
    rows, per, per_counts = [], {}, {}
    for period in ("before", "after"):
        x1, n1 = m[f"numerator_{period}"], m[f"denominator_{period}"]
        x5, n5 = l_[f"numerator_{period}"], l_[f"denominator_{period}"]
        if min(n1, n5) <= 0:
            continue
        r = compare_proportions(x1, n1, x5, n5, alpha)
        per[period] = r
        per_counts[period] = (x1, n1, x5, n5)
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
        lo, hi = mover_difference(a["difference"], a["difference_low"], a["difference_high"],
                                   b["difference"], b["difference_low"], b["difference_high"])
        rows.append({"outcome": outcome, "period": "change", "measure": "absolute_gap",
                     "estimate": a["difference"] - b["difference"], "ci_low": lo, "ci_high": hi,
                     "method": "after - before, MOVER interval (Zou & Donner 2008)",
                     "scale": "difference in proportion"})
        la, lb = np.log(a["risk_ratio"]), np.log(b["risk_ratio"])
        se = np.hypot(katz_se(per_counts["after"]), katz_se(per_counts["before"]))
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
