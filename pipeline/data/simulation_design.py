"""The simulator's months, roll-out design and linear predictor (docs/design.md section 4).

Why apart from drawing the records (:mod:`pipeline.data.simulate`) and computing the truths
(:mod:`pipeline.data.simulation_truth`): both use the same design and the same effect terms,
so the data and the truths written beside them cannot disagree about the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scenarios import AGE_BANDS, ETHNICITY, SEX, Flag, Scenario

MIN_MONTHS_BEFORE = 24   # pre-period needed for a stable pre-trend (docs/design.md section 4)
MIN_MONTHS_AFTER = 18    # months from the (unit's) start to the window end, start included


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
class SimulationDesign:
    """Units, their roles and phase-start month indices (relative to the window start).

    The simulator's roll-out, not an ITS model's design matrices
    (:class:`pipeline.stats.its_design.Design`; docs/adr/0155).
    """

    units: tuple[str, ...]
    intervention: tuple[bool, ...]
    starts: tuple[tuple[int, ...], ...]   # per unit, per phase (empty for comparators)
    phase_names: tuple[str, ...]
    kind: str                              # single | staggered | controlled


def make_design(sc: Scenario, window, phases, unit_starts, comparator_units) -> SimulationDesign:
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
    return SimulationDesign(tuple(units + comps), tuple([True] * len(units) + [False] * len(comps)),
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
