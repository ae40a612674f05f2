"""The series an ITS model fits: units summed into series, phase starts per row, and the
fitted periods counted per segment.

Which series depends on the design (:mod:`pipeline.stats.its_design`): one ``"all"`` series
(single), ``"treated"`` / ``"comparator"`` or one per unit when stacked (controlled), one per
unit (staggered). A segment with fewer than ``MIN_POINTS`` fitted periods is refused (a level
and a slope need at least 3) and one with fewer than ``WARN_POINTS`` is warned about
(docs/statistics.md, `points_per_segment`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import periods

from .its_input import month_label, start_ordinal
from .its_spec import ITSSpec

MIN_POINTS, WARN_POINTS = 3, 8


def _sum_by_key_month(data: pd.DataFrame, covariates=(), period: str = "month") -> pd.DataFrame:
    """Sum numerator and denominator by (key, month), sorted (numpy, no pandas groupby).

    Covariates take the first unit's value of each cell; units that disagree are an error.
    """
    keys, key_code = np.unique(data["key"].to_numpy(dtype=str), return_inverse=True)
    m = data["m"].to_numpy()
    cell = key_code.astype(np.int64) * (m.max() + 1) + m
    cells, inverse = np.unique(cell, return_inverse=True)
    out = pd.DataFrame({
        "key": keys[cells // (m.max() + 1)],
        "m": cells % (m.max() + 1),
        "numerator": np.bincount(inverse, data["numerator"].to_numpy(), len(cells)),
        "denominator": np.bincount(inverse, data["denominator"].to_numpy(), len(cells)),
    })
    if covariates:
        order = np.argsort(inverse, kind="stable")
        first = np.r_[0, np.flatnonzero(np.diff(inverse[order])) + 1]
        for col in covariates:
            v = data[col].to_numpy()[order]
            lo, hi = np.minimum.reduceat(v, first), np.maximum.reduceat(v, first)
            differ = lo != hi
            if differ.any():
                where = ", ".join(f"{k} {month_label(mm, period)}" for k, mm in
                                  out.loc[differ, ["key", "m"]].head(5).itertuples(index=False))
                raise ValueError(
                    f"covariate {col!r} differs between the units summed into one series in "
                    f"{int(differ.sum())} {period}(s) ({where}); give every unit the same value per "
                    f"{period}, or fit the units separately"
                )
            out[col] = v[first]
    return out


def series_by_key(data: pd.DataFrame, spec: ITSSpec) -> tuple[pd.DataFrame, list]:
    """Aggregate to the modelled series (key = 'all', unit, or treated/comparator)."""
    notes = []
    units = set(data["unit"])
    if spec.design == "single":
        data = data.assign(key="all")
    elif spec.design == "controlled":
        absent = sorted(set(spec.comparator_units) - units)
        if absent:
            raise ValueError(f"comparator unit(s) {absent} are not in the series (units: {sorted(units)})")
        is_comp = data["unit"].isin(spec.comparator_units)
        if is_comp.all():
            raise ValueError("every unit is a comparator: a controlled ITS needs treated units too")
        if spec.stacked:
            data = data.assign(key=data["unit"])
        else:
            data = data.assign(key=np.where(is_comp, "comparator", "treated"))
    else:
        absent = sorted(set(spec.unit_starts) - units)
        if absent:
            raise ValueError(f"unit(s) {absent} in spec['unit_starts'] are not in the series (units: {sorted(units)})")
        never = sorted(units - set(spec.unit_starts))
        if never:
            notes.append(f"unit(s) {never} have no start in unit_starts and are treated as never exposed")
        data = data.assign(key=data["unit"])
    unit = spec.period
    agg = _sum_by_key_month(data, spec.covariates, unit)
    zero = agg["denominator"].to_numpy() <= 0
    if zero.all():
        raise ValueError(f"every {unit} has a zero denominator: there is nothing to model")
    if zero.any():
        dropped = ", ".join(f"{k} {month_label(m, unit)}"
                            for k, m in agg.loc[zero, ["key", "m"]].itertuples(index=False))
        notes.append(f"{int(zero.sum())} {unit}(s) with a zero denominator dropped: {dropped}")
        agg = agg.loc[~zero].reset_index(drop=True)
    return agg, notes


def phase_starts(agg: pd.DataFrame, spec: ITSSpec) -> np.ndarray:
    """Start ordinal of every phase for every row (rows x phases), or -1 for never-treated."""
    phase_starts = np.array([start_ordinal(p.start, spec.period) for p in spec.phases],
                            dtype=np.int64)
    if spec.design == "staggered":
        own = {u: start_ordinal(s, spec.period) for u, s in spec.unit_starts.items()}
        col = agg["key"].map(own).fillna(-1).to_numpy(dtype=np.int64)
        return col[:, None]
    return np.tile(phase_starts, (len(agg), 1))


def is_comparator_key(keys: np.ndarray, spec: ITSSpec) -> np.ndarray:
    """Which series keys are comparators: ``"comparator"`` when pooled, the comparator units
    themselves when stacked."""
    keys = np.asarray(keys)
    if spec.stacked:
        return np.isin(keys, spec.comparator_units)
    return keys == "comparator"


def count_segments(agg: pd.DataFrame, starts: np.ndarray, spec: ITSSpec, warnings: list) -> list:
    """Count fitted periods per segment and series; refuse < 3, warn < 8."""
    segments = []
    unit = spec.period

    comparator = set(agg["key"][~agg["treated"].to_numpy()])
    names = ["pre-intervention"] + [p.name for p in spec.phases]
    for key, idx in agg.groupby("key", sort=True).indices.items():
        m = agg["m"].to_numpy()[idx]
        fit = agg["in_fit"].to_numpy()[idx]
        st = starts[idx[0]]
        lo, hi = periods.label(m.min(), unit), periods.label(m.max(), unit)
        if st[0] < 0:  # never-treated unit: one segment
            bounds = [(names[0], -np.inf, np.inf)]
        else:
            edges = [-np.inf, *st.tolist(), np.inf]
            bounds = [(names[k], edges[k], edges[k + 1]) for k in range(len(edges) - 1)]
        for k, (name, a, b) in enumerate(bounds):
            if key not in comparator and k > 0 and (a > m.max() or a <= m.min()):
                raise ValueError(
                    f"phase {name!r} starts {periods.label(int(a), unit)}, outside the data of series "
                    f"{key!r} ({lo} to {hi}): it needs {unit}s before and from its start"
                )
        for k, (name, a, b) in enumerate(bounds):
            n = int((fit & (m >= a) & (m < b)).sum())
            seg_months = m[fit & (m >= a) & (m < b)]
            span = f"{periods.label(seg_months.min(), unit)} to {periods.label(seg_months.max(), unit)}" if n else "none"
            if key in comparator and k == 0 and n == 0:
                raise ValueError(
                    f"the comparator {'unit ' + repr(key) if spec.stacked else 'units'} "
                    f"{'has' if spec.stacked else 'have'} no {unit}s before {periods.label(int(st[0]), unit)} "
                    f"(their data run {lo} to {hi}): a controlled ITS needs a comparator pre-period"
                )
            if n < MIN_POINTS:
                raise ValueError(
                    f"segment {name!r} of series {key!r} has {n} fitted {unit}(s) ({span}); "
                    f"segmented regression needs at least {MIN_POINTS} per segment"
                )
            if n < WARN_POINTS:
                warnings.append(
                    f"segment {name!r} of series {key!r} has only {n} {unit}s ({span}); "
                    f"fewer than {WARN_POINTS} points per segment give unstable estimates"
                )
            segments.append({"series": key, "segment": name, "months": n, "span": span})
    return segments
