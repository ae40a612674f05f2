"""Seeded synthetic record-level extracts with known effects, and their truths.

Why: the pipeline runs end to end on data whose true effects are written down, so the
statistics can be checked against them (docs/design.md sections 3-4). Output is byte-identical for
the same arguments: a numpy Generator seeded from ``seed`` and a stable per-key offset
(``zlib.crc32``), rows sorted, Parquet written from Arrow without pandas metadata, and JSON
with sorted keys and rounded floats.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import atomic

from .scenarios import AGE_BANDS, ETHNICITY, IMD, SEX, Flag, Scenario, get_scenario

MIN_MONTHS_BEFORE = 24   # pre-period needed for a stable pre-trend (docs/design.md section 4)
MIN_MONTHS_AFTER = 18    # months from the (unit's) start to the window end, start included
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite.hermgauss(30)


# --------------------------------------------------------------------------- months
def month_index(month: str) -> int:
    """'YYYY-MM' -> months since year 0 (so differences are month counts)."""
    year, mon = month[:7].split("-")
    return int(year) * 12 + int(mon) - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def check_window(window: tuple[str, str], starts: list[str]) -> None:
    """Refuse a window with too few months before or after any unit's start.

    Why: a segmented regression needs a long pre-period and enough post months; generating
    data that cannot support the analysis would only fail later and less clearly.
    """
    lo, hi = month_index(window[0]), month_index(window[1])
    for start in starts:
        s = month_index(start)
        before, after = s - lo, hi - s + 1
        if before < MIN_MONTHS_BEFORE or after < MIN_MONTHS_AFTER:
            raise ValueError(
                f"window {window[0]}..{window[1]} gives {before} months before and {after} from "
                f"the start {start}; the simulator needs at least {MIN_MONTHS_BEFORE} before "
                f"and {MIN_MONTHS_AFTER} from the start. Fix: widen the window in params.yaml.")


# --------------------------------------------------------------------------- design
@dataclass(frozen=True)
class Design:
    """Units, their roles and phase-start month indices (relative to the window start)."""

    units: tuple[str, ...]
    intervention: tuple[bool, ...]
    starts: tuple[tuple[int, ...], ...]   # per unit, per phase (empty for comparators)
    phase_names: tuple[str, ...]
    kind: str                              # single | staggered | controlled


def make_design(sc: Scenario, window, phases, unit_starts, comparator_units) -> Design:
    w0 = month_index(window[0])
    phase_idx = [month_index(p["start"]) - w0 for p in phases]
    if unit_starts:
        units = list(unit_starts)
        # Every phase shifts with the unit's own start (params give one phase for roll-outs).
        offsets = {u: month_index(unit_starts[u]) - w0 - phase_idx[0] for u in units}
        kind = "staggered"
    else:
        units, offsets, kind = list(sc.units), {u: 0 for u in sc.units}, "single"
    comps = list(comparator_units or [])
    if comps:
        kind = "controlled" if kind == "single" else kind + "+controlled"
    starts = [tuple(s + offsets[u] for s in phase_idx) for u in units] + [()] * len(comps)
    return Design(tuple(units + comps), tuple([True] * len(units) + [False] * len(comps)),
                  tuple(starts), tuple(p["name"] for p in phases), kind)


def phase_effect(flag: Flag, starts: tuple[int, ...], t, q1, drop: int | None = None, tg=0.0):
    """Sum of the phase terms of ``flag`` at month index ``t`` (array), per the model;
    ``tg`` is 1 in the scenario's target group (its extra level change)."""
    t = np.asarray(t, dtype=float)
    out = np.zeros(np.broadcast(t, q1, tg).shape)
    for k, s in enumerate(starts):
        if k == drop:
            continue
        on = t >= s
        out = out + on * (flag.phase_value(flag.levels, k) + flag.phase_value(flag.slopes, k) * (t - s)
                          + flag.phase_value(flag.q1_extra_levels, k) * q1
                          + flag.phase_value(flag.target_extra_levels, k) * tg)
    return out


def in_target(sc: Scenario, imd, eth, male, age, homeless):
    """1.0 where a person (arrays of codes) is in the scenario's target group, else 0.0."""
    values = {"imd_quintile": (np.asarray(imd), None), "ethnicity": (np.asarray(eth), ETHNICITY),
              "sex": (np.asarray(male), SEX), "age_band": (np.asarray(age), AGE_BANDS),
              "homeless": (np.asarray(homeless), None)}
    out = np.ones(np.asarray(imd).shape)
    for dim, wanted in sc.target.items():
        codes, labels = values[dim]
        code = labels.index(wanted) if labels else int(wanted)
        out = out * (codes == code)
    return out if sc.target else np.zeros(np.asarray(imd).shape)


def strata_effect(sc: Scenario, flag: Flag, imd, eth, male, age, homeless):
    """Stratum part of the linear predictor (arrays of codes -> log-odds)."""
    eth_eff = np.array([sc.ethnicity_effects.get(e, 0.0) for e in ETHNICITY])
    age_eff = np.array([sc.age_effects.get(a, 0.0) for a in AGE_BANDS])
    return (flag.imd_gradient * (np.asarray(imd) - 3) + eth_eff[eth] + sc.male_effect * male
            + age_eff[age] + sc.homeless_effect * homeless)


# --------------------------------------------------------------------------- records
def _draw_people(sc: Scenario, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "imd": rng.choice(np.array(IMD), size=n, p=sc.imd_probs),
        "eth": rng.choice(len(ETHNICITY), size=n, p=sc.ethnicity_probs),
        "male": (rng.random(n) < sc.male_prob).astype(np.int64),
        "age": rng.choice(len(AGE_BANDS), size=n, p=sc.age_probs),
        "homeless": ((rng.random(n) < sc.homeless_prob).astype(np.int64)
                     if sc.homeless_prob is not None else np.zeros(n, dtype=np.int64)),
    }


def _unit_rows(sc: Scenario, rng, n_months: int, volume: int, ui: int):
    """Row-level (month index, patient number) for one unit, and the people drawn."""
    if sc.caseload:
        # Slots on the caseload; a patient leaves with probability `monthly_turnover` a month
        # and is replaced by a new one, so people persist across months with turnover.
        new = rng.random((n_months, volume)) < sc.monthly_turnover
        new[0, :] = True
        pid = np.cumsum(new.ravel()).reshape(new.shape) - 1          # id of each new arrival
        pid = np.where(new, pid, -1)
        pid = np.maximum.accumulate(pid, axis=0)                       # carry forward per slot
        months = np.repeat(np.arange(n_months), volume)
        patient = pid.ravel()
        people = _draw_people(sc, rng, int(new.sum()))
    else:
        counts = rng.poisson(volume, size=n_months)
        months = np.repeat(np.arange(n_months), counts)
        patient = np.arange(months.size)
        people = _draw_people(sc, rng, months.size)
    return months, patient, people


def _simulate_rows(sc: Scenario, design: Design, n_months: int, rng):
    unit_eff = rng.normal(0.0, sc.unit_sd, size=len(design.units))
    volumes = rng.integers(sc.volume[0], sc.volume[1] + 1, size=len(design.units))
    cols: dict[str, list] = {c: [] for c in ("t", "unit", "patient", "imd", "eth", "male", "age",
                                              "homeless", *(f.name for f in sc.flags), *sc.any_of)}
    for ui, unit in enumerate(design.units):
        months, patient, people = _unit_rows(sc, rng, n_months, int(volumes[ui]), ui)
        idx = {k: v[patient] for k, v in people.items()}
        q1 = (idx["imd"] == 1).astype(float)
        tg = in_target(sc, idx["imd"], idx["eth"], idx["male"], idx["age"], idx["homeless"])
        drawn: dict[str, np.ndarray] = {}
        for flag in sc.flags:
            month_re = rng.normal(0.0, flag.month_sd, size=n_months)
            eta = (flag.baseline + unit_eff[ui] + flag.pre_trend * months
                   + strata_effect(sc, flag, idx["imd"], idx["eth"], idx["male"], idx["age"],
                                   idx["homeless"])
                   + phase_effect(flag, design.starts[ui], months, q1, tg=tg)
                   + month_re[months])
            u = rng.random(months.size)
            p = 1.0 / (1.0 + np.exp(-eta))
            if flag.parent is None:
                value = u < p
            else:
                parent = drawn[flag.parent] == 1
                value = np.where(parent, u < p, u < flag.rate_if_parent_0)
            if flag.from_phase is not None:     # not recorded before collection began
                value = value & (months >= design.starts[ui][flag.from_phase])
            drawn[flag.name] = value.astype(np.int8)
        for name, parts in sc.any_of.items():
            drawn[name] = np.max([drawn[p] for p in parts], axis=0).astype(np.int8)
        cols["t"].append(months)
        cols["unit"].append(np.full(months.size, ui))
        cols["patient"].append(patient)
        for k in ("imd", "eth", "male", "age", "homeless"):
            cols[k].append(idx[k])
        for name, v in drawn.items():
            cols[name].append(v)
    data = {k: np.concatenate(v) for k, v in cols.items()}
    return data, unit_eff, volumes


def _to_table(sc: Scenario, design: Design, data, window) -> pa.Table:
    order = np.lexsort((data["patient"], data["unit"], data["t"]))   # month, unit, patient
    d = {k: v[order] for k, v in data.items()}
    w0 = month_index(window[0])
    month_days = np.array([f"{month_label(w0 + i)}-01" for i in range(int(d["t"].max()) + 1)],
                          dtype="datetime64[D]")
    prefix = "".join(w[0] for w in sc.key.split("_")).upper()
    unit_names = np.array(design.units, dtype=object)
    columns = {
        "month": pa.array(month_days[d["t"]], type=pa.date32()),
        "unit": pa.array(unit_names[d["unit"]], type=pa.string()),
        "patient_id": pa.array([f"{prefix}{u:02d}{p:07d}" for u, p in zip(d["unit"], d["patient"])],
                               type=pa.string()),
        "imd_quintile": pa.array(d["imd"], type=pa.int8()),
        "ethnicity": pa.array(np.array(ETHNICITY, dtype=object)[d["eth"]], type=pa.string()),
        "sex": pa.array(np.array(SEX, dtype=object)[d["male"]], type=pa.string()),
        "age_band": pa.array(np.array(AGE_BANDS, dtype=object)[d["age"]], type=pa.string()),
    }
    if sc.homeless_prob is not None:
        columns["homeless"] = pa.array(d["homeless"].astype(np.int8), type=pa.int8())
    for name in (*(f.name for f in sc.flags), *sc.any_of):
        columns[name] = pa.array(d[name], type=pa.int8())
    return pa.table(columns)


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


def _simulate_staff(staff, design: Design, n_months: int, rng, window) -> tuple[pa.Table, dict]:
    """Monthly staff counts per unit in the long monthly layout (docs/data.md): one row per
    month x unit x training outcome, dimension and stratum ``all``; then, if the scenario has
    champions, ``champions_in_post`` per unit (docs/adr/0120)."""
    n_units = len(design.units)
    unit_eff = rng.normal(0.0, staff.unit_sd, size=n_units)
    establishment = rng.integers(staff.in_post[0], staff.in_post[1] + 1, size=n_units)
    in_post = np.maximum(5, np.rint(establishment[:, None] + rng.normal(
        0.0, staff.in_post_sd, size=(n_units, n_months)))).astype(np.int64)
    t = np.arange(n_months)
    rows = {"month": [], "unit": [], "outcome": [], "numerator": [], "denominator": []}
    w0 = month_index(window[0])

    def add(outcome: str, ui: int, counts) -> None:
        rows["month"] += [f"{month_label(w0 + i)}-01" for i in range(n_months)]
        rows["unit"] += [design.units[ui]] * n_months
        rows["outcome"] += [outcome] * n_months
        rows["numerator"] += [int(c) for c in counts]
        rows["denominator"] += [int(d) for d in in_post[ui]]

    for flag in staff.flags:
        for ui in range(n_units):
            eta = (flag.baseline + unit_eff[ui] + flag.pre_trend * t
                   + phase_effect(flag, design.starts[ui], t, 0.0)
                   + rng.normal(0.0, flag.month_sd, n_months))
            add(flag.name, ui, rng.binomial(in_post[ui], 1.0 / (1.0 + np.exp(-eta))))
    appointed = {}
    if staff.champions is not None:   # drawn last: the training counts above are unchanged
        draws = rng.integers(staff.champions[0], staff.champions[1] + 1, size=n_units)
        for ui, unit in enumerate(design.units):
            # None before the unit's stage 1; comparator units never appoint champions.
            first = design.starts[ui][0] if design.starts[ui] else n_months
            appointed[unit] = int(draws[ui]) if design.starts[ui] else 0
            add("champions_in_post", ui, np.where(t >= first, appointed[unit], 0))
    n = len(rows["unit"])
    table = pa.table({"month": pa.array(np.array(rows["month"], dtype="datetime64[D]"),
                                        type=pa.date32()),
                      "unit": pa.array(rows["unit"], type=pa.string()),
                      "dimension": pa.array(["all"] * n, type=pa.string()),
                      "stratum": pa.array(["all"] * n, type=pa.string()),
                      "outcome": pa.array(rows["outcome"], type=pa.string()),
                      "numerator": pa.array(rows["numerator"], type=pa.int64()),
                      "denominator": pa.array(rows["denominator"], type=pa.int64())})
    return table, {"unit_eff": unit_eff, "in_post": in_post.mean(axis=1),
                   "champions": appointed}


def _truth(sc, design, window, seed, unit_eff, volumes, outcomes, staff_draws=None) -> dict:
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


def _round(obj, nd: int = 6):
    if isinstance(obj, float):
        return round(obj, nd) + 0.0
    if isinstance(obj, dict):
        return {k: _round(v, nd) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v, nd) for v in obj]
    return obj


# --------------------------------------------------------------------------- writing
def write_parquet(table: pa.Table, path: Path) -> None:
    """Deterministic Parquet: fixed compression, no pandas metadata, one row group; written
    whole or not at all (:func:`pipeline.atomic.write_file`)."""
    table = table.replace_schema_metadata(None)
    atomic.write_file(path, lambda p: pq.write_table(
        table, p, compression="zstd", compression_level=3, row_group_size=max(len(table), 1)))


def write_json(obj, path: Path) -> None:
    """Sorted, indented UTF-8 JSON, written whole or not at all."""
    atomic.write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def simulate(key: str, out_dir: Path | str, *, seed: int, window: tuple[str, str],
             phases: list[dict], unit_starts: dict[str, str] | None = None,
             comparator_units: list[str] | None = None,
             outcomes: dict[str, tuple[str, str | None]] | None = None) -> None:
    """Write ``out_dir/extract.parquet`` and ``out_dir/truth.json`` for intervention ``key``.

    Parameters come from ``params.yaml`` (the caller passes them; this module never reads it):
    ``window`` ("YYYY-MM", "YYYY-MM") inclusive, ``phases`` [{"name", "start"}], ``unit_starts``
    for a staggered roll-out (units = its keys), ``comparator_units`` for a controlled design
    (no effect there). ``outcomes`` (key -> (numerator, denominator or None)) decides which
    marginal truths are written; the scenario's defaults mirror params.

    Examples
    --------
    >>> import tempfile, json, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> simulate("pulmonary_rehab", d, seed=1, window=("2021-04", "2024-09"),
    ...          phases=[{"name": "Drop-in", "start": "2023-04"}], comparator_units=["c1"])
    >>> json.loads((d / "truth.json").read_text())["units"]["c1"]["role"]
    'comparator'
    """
    sc = get_scenario(key)
    if not phases:
        raise ValueError(f"{key}: at least one phase is needed to simulate an intervention")
    starts = list(unit_starts.values()) if unit_starts else [phases[0]["start"]]
    check_window(window, starts)
    design = make_design(sc, window, phases, unit_starts, comparator_units)
    n_months = month_index(window[1]) - month_index(window[0]) + 1
    rng = np.random.default_rng([int(seed), zlib.crc32(key.encode("utf-8"))])
    data, unit_eff, volumes = _simulate_rows(sc, design, n_months, rng)
    table = _to_table(sc, design, data, window)
    staff_table = staff_draws = None
    if sc.staff is not None:
        staff_table, staff_draws = _simulate_staff(sc.staff, design, n_months, rng, window)
    truth = _truth(sc, design, window, int(seed), unit_eff, volumes, outcomes or sc.outcomes,
                   staff_draws)
    if (staff_draws or {}).get("champions"):
        truth["staff_process"] = {"champions_in_post": {
            "from_phase": design.phase_names[0], "before": 0,
            "appointed_per_unit": staff_draws["champions"]}}
    out = Path(out_dir)
    write_parquet(table, out / "extract.parquet")
    if staff_table is not None:
        write_parquet(staff_table, out / "staff.parquet")
    write_json(_round(truth), out / "truth.json")
