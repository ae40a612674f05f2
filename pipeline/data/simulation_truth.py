"""The known truths of a simulated extract: the marginal effects the statistics should recover.

Why: the pipeline's estimates are checked against effects computed from the simulator's own
model (expected composition of the strata, month effect integrated out by Gauss-Hermite
quadrature), not against another run of the estimator (docs/design.md sections 3-4).
"""
from __future__ import annotations

import numpy as np

from .scenarios import AGE_BANDS, ETHNICITY, Flag, Scenario
from .simulation_design import in_target, month_index, month_label, phase_effect, strata_effect

_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite.hermgauss(30)


# --------------------------------------------------------------------------- truths
def _cells(sc: Scenario):
    """Every stratum combination with its probability (the expected composition, exactly)."""
    grids = np.meshgrid(np.arange(5), np.arange(len(ETHNICITY)), np.arange(2),
                        np.arange(len(AGE_BANDS)), np.arange(2), indexing="ij")
    imd_i, eth, male, age, hl = (g.ravel() for g in grids)
    hp = sc.homeless_prob or 0.0
    prob = (np.asarray(sc.imd_probs)[imd_i] * np.asarray(sc.ethnicity_probs)[eth]
            * np.where(male == 1, sc.male_prob, 1 - sc.male_prob)
            * np.asarray(sc.age_probs)[age] * np.where(hl == 1, hp, 1 - hp))
    return {"imd": imd_i + 1, "eth": eth, "male": male, "age": age, "homeless": hl, "prob": prob}


def _mean_expit(eta, sd: float):
    """E[expit(eta + e)], e ~ N(0, sd^2), by Gauss-Hermite quadrature (the month effect)."""
    z = eta[..., None] + np.sqrt(2.0) * sd * _GH_NODES
    return (1.0 / (1.0 + np.exp(-z))) @ _GH_WEIGHTS / np.sqrt(np.pi)


def _flag_probs(sc, design, cells, unit_eff, ui, t, drop):
    """P(flag = 1) per stratum cell in unit ``ui`` at month ``t``, phase ``drop`` removed."""
    q1 = (cells["imd"] == 1).astype(float)
    tg = in_target(sc, cells["imd"], cells["eth"], cells["male"], cells["age"], cells["homeless"])
    probs: dict[str, np.ndarray] = {}
    for flag in sc.flags:
        eta = (flag.baseline + unit_eff[ui] + flag.pre_trend * t
               + strata_effect(sc, flag, cells["imd"], cells["eth"], cells["male"], cells["age"],
                               cells["homeless"])
               + phase_effect(flag, design.starts[ui], t, q1, drop, tg=tg))
        p = _mean_expit(eta, flag.month_sd)
        if flag.parent is not None:
            pp = probs[flag.parent]
            p = pp * p + (1 - pp) * flag.rate_if_parent_0
        probs[flag.name] = p
    for name, parts in sc.any_of.items():   # independent given the cell and month effects
        probs[name] = 1 - np.prod([1 - probs[p] for p in parts], axis=0)
    return probs


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _marginal(sc, design, cells, unit_eff, volumes, units, outcome, k, imd=None, mask=None):
    """Population-averaged truth of phase ``k`` for the pooled series of ``units``.

    Each unit is evaluated at its own start of phase ``k`` (the same date unless staggered),
    weighting strata by the expected composition of the outcome's denominator; "without" removes
    phase ``k`` from every flag (earlier phases stay).
    """
    num_col, den_col = outcome
    if mask is None:
        mask = np.ones_like(cells["prob"]) if imd is None else (cells["imd"] == imd).astype(float)
    res = {}
    for label, dt in (("t0", 0), ("t1", 1)):
        acc = {"with": [0.0, 0.0], "without": [0.0, 0.0]}
        for ui in units:
            s = design.starts[ui][k] if design.starts[ui] else 0
            w = cells["prob"] * mask * volumes[ui]
            for case, drop in (("with", None), ("without", k)):
                pr = _flag_probs(sc, design, cells, unit_eff, ui, s + dt, drop)
                den = pr[den_col] if den_col else np.ones_like(w)
                acc[case][0] += float(w @ pr[num_col])
                acc[case][1] += float(w @ den)
        res[label] = {c: a[0] / a[1] for c, a in acc.items()}
    level = _logit(res["t0"]["with"]) - _logit(res["t0"]["without"])
    slope = ((_logit(res["t1"]["with"]) - _logit(res["t0"]["with"]))
             - (_logit(res["t1"]["without"]) - _logit(res["t0"]["without"])))
    return {"level_change_logit": level, "slope_change_logit": slope,
            "proportion_with": res["t0"]["with"], "proportion_without": res["t0"]["without"],
            "risk_difference": res["t0"]["with"] - res["t0"]["without"]}


def _collected_from(sc: Scenario, column: str) -> int | None:
    """The phase at whose start collection of ``column`` began (None: recorded throughout)."""
    flags = {f.name: f for f in sc.flags}
    parts = sc.any_of.get(column, (column,))
    starts = {flags[p].from_phase for p in parts if p in flags}
    return max((s for s in starts if s is not None), default=None)


def _staff_truth(staff, flag: Flag, design, unit_eff, in_post, num, den) -> dict:
    """Marginal truths of a staff outcome, pooled over the intervention units like the series.

    Each unit contributes its staff in post (the mean over months) times the mean trained
    share; the month effect is integrated out by quadrature, as for patient flags.
    """
    units = [i for i, f in enumerate(design.intervention) if f]
    phases = []
    for k, name in enumerate(design.phase_names):
        res = {}
        for label, dt in (("t0", 0), ("t1", 1)):
            acc = {"with": 0.0, "without": 0.0}
            weight = 0.0
            for ui in units:
                s = design.starts[ui][k]
                for case, drop in (("with", None), ("without", k)):
                    eta = (flag.baseline + unit_eff[ui] + flag.pre_trend * (s + dt)
                           + phase_effect(flag, design.starts[ui], s + dt, 0.0, drop))
                    acc[case] += float(in_post[ui]) * float(_mean_expit(np.asarray(eta),
                                                                        flag.month_sd))
                weight += float(in_post[ui])
            res[label] = {c: a / weight for c, a in acc.items()}
        phases.append({"phase": name, "index": k, "intervention_units": {"all": {
            "level_change_logit": _logit(res["t0"]["with"]) - _logit(res["t0"]["without"]),
            "slope_change_logit": ((_logit(res["t1"]["with"]) - _logit(res["t0"]["with"]))
                                   - (_logit(res["t1"]["without"])
                                      - _logit(res["t0"]["without"]))),
            "proportion_with": res["t0"]["with"], "proportion_without": res["t0"]["without"],
            "risk_difference": res["t0"]["with"] - res["t0"]["without"]}}})
    return {"numerator": num, "denominator": den, "population": "staff",
            "marginal_by_phase": phases}


def simulated_truth(sc, design, window, seed, unit_eff, volumes, outcomes, staff_draws=None) -> dict:
    cells = _cells(sc)
    w0 = month_index(window[0])
    unit_eff_staff = (staff_draws or {}).get("unit_eff")
    staff_in_post = (staff_draws or {}).get("in_post")
    interv = [i for i, f in enumerate(design.intervention) if f]
    comps = [i for i, f in enumerate(design.intervention) if not f]
    flags = {}
    for f in sc.flags:
        flags[f.name] = {
            "baseline_logit": f.baseline, "pre_trend_logit_per_month": f.pre_trend,
            "imd_gradient_logit_per_quintile": f.imd_gradient, "parent": f.parent,
            "rate_if_parent_0": f.rate_if_parent_0, "month_effect_sd": f.month_sd,
            "phases": [{"name": name, "level_change_logit": f.phase_value(f.levels, k),
                        "slope_change_logit_per_month": f.phase_value(f.slopes, k),
                        "imd_quintile_1_extra_level_logit": f.phase_value(f.q1_extra_levels, k)}
                       for k, name in enumerate(design.phase_names)]}
        if f.from_phase is not None:
            flags[f.name]["collected_from_phase"] = design.phase_names[f.from_phase]
    out_truths = {}
    staff_flags = {f.name: f for f in (sc.staff.flags if sc.staff else ())}
    for key, (num, den) in outcomes.items():
        if num in staff_flags:
            out_truths[key] = _staff_truth(sc.staff, staff_flags[num], design, unit_eff_staff,
                                           staff_in_post, num, den)
            continue
        phases = []
        first = _collected_from(sc, num)
        for k, name in enumerate(design.phase_names):
            if first is not None and k <= first:
                continue   # no baseline before collection began: nothing to recover
            entry = {"phase": name, "index": k, "intervention_units": {
                "all": _marginal(sc, design, cells, unit_eff, volumes, interv, (num, den), k),
                "imd_quintile_1": _marginal(sc, design, cells, unit_eff, volumes, interv, (num, den), k, 1),
                "imd_quintile_5": _marginal(sc, design, cells, unit_eff, volumes, interv, (num, den), k, 5)}}
            if sc.target:
                tg = in_target(sc, cells["imd"], cells["eth"], cells["male"], cells["age"],
                               cells["homeless"])
                mine = entry["intervention_units"]
                mine["target_group"] = _marginal(sc, design, cells, unit_eff, volumes, interv,
                                                 (num, den), k, mask=tg)
                mine["everyone_else"] = _marginal(sc, design, cells, unit_eff, volumes, interv,
                                                  (num, den), k, mask=1.0 - tg)
                entry["target_gap_change"] = {
                    "level_change_logit": (mine["target_group"]["level_change_logit"]
                                           - mine["everyone_else"]["level_change_logit"]),
                    "risk_difference": (mine["target_group"]["risk_difference"]
                                        - mine["everyone_else"]["risk_difference"])}
            if len(interv) > 1:
                entry["per_unit"] = {design.units[u]: _marginal(sc, design, cells, unit_eff, volumes,
                                                                [u], (num, den), k) for u in interv}
            if comps:
                entry["comparator_units"] = {"level_change_logit": 0.0, "slope_change_logit": 0.0,
                                             "risk_difference": 0.0}
            phases.append(entry)
        out_truths[key] = {"numerator": num, "denominator": den, "marginal_by_phase": phases}
    units = {u: {"role": "intervention" if design.intervention[i] else "comparator",
                 "unit_effect_logit": float(unit_eff[i]),
                 ("caseload" if sc.caseload else "mean_rows_per_month"): int(volumes[i]),
                 "phase_starts": [month_label(w0 + s) for s in design.starts[i]]}
             for i, u in enumerate(design.units)}
    return {
        "key": sc.key, "seed": seed, "design": design.kind, "description": sc.description,
        "window": {"start": window[0], "end": window[1]}, "sources": list(sc.sources),
        "model": ("logit p = baseline + unit effect + strata + pre_trend*t + sum_k [t>=start_k]"
                  "(level_k + slope_k*(t-start_k) + q1_extra_k*[imd=1]) + month effect; "
                  "t = months since window start"),
        "strata_effects": {"ethnicity": sc.ethnicity_effects, "male": sc.male_effect,
                           "age_band": sc.age_effects, "homeless": sc.homeless_effect},
        "units": units, "flags": flags, "outcomes": out_truths,
        **({"target_group": dict(sc.target)} if sc.target else {}),
    }


def rounded(obj, nd: int = 6):
    if isinstance(obj, float):
        return round(obj, nd) + 0.0
    if isinstance(obj, dict):
        return {k: rounded(v, nd) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v, nd) for v in obj]
    return obj
