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
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import atomic

from .scenarios import AGE_BANDS, ETHNICITY, IMD, SEX, Scenario, get_scenario
from .simulation_design import (
    SimulationDesign,
    check_window,
    in_target,
    make_design,
    month_index,
    month_label,
    phase_effect,
    strata_effect,
)
from .simulation_truth import rounded as _round
from .simulation_truth import simulated_truth as _truth


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


def _simulate_rows(sc: Scenario, design: SimulationDesign, n_months: int, rng):
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


def _to_table(sc: Scenario, design: SimulationDesign, data, window) -> pa.Table:
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


def _simulate_staff(staff, design: SimulationDesign, n_months: int, rng, window) -> tuple[pa.Table, dict]:
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
