"""The joint staggered model's rows, columns and contrasts (:mod:`pipeline.stats.staggered`).

Each later unit's own level and slope columns (and its own trend with ``trends="unit"``)
added to the series, the clean-control rows of a stacked design, the engine fit of it and the
estimate, SE, df, interval and p-value of named contrasts of one fit. Used by the per-unit
effects (:mod:`pipeline.stats.staggered`) and the event study
(:mod:`pipeline.stats.staggered_event_study`); methods and references are in
:mod:`pipeline.stats.staggered`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from ..analysis_options import STAGGERED_TRENDS as TRENDS
from .its_design import build_design
from .its_estimands import quantile
from .its_fit import fit_model
from .its_input import month_ordinal
from .its_spec import ITSSpec


def unit_start_ordinals(spec: ITSSpec) -> dict[str, int]:
    return {u: month_ordinal(s) for u, s in spec.unit_starts.items()}


def month_ordinals(series: pd.DataFrame) -> np.ndarray:
    months = pd.to_datetime(series["month"]).dt.to_period("M")
    return (months.dt.year * 12 + months.dt.month - 1).to_numpy(dtype=np.int64)


def stacked_rows(series: pd.DataFrame, spec: ITSSpec, unit: str) -> pd.DataFrame:
    """``unit``'s rows plus its clean controls' rows: each other treated unit before its own
    start (not yet treated) and every unit without a start (never treated) throughout."""
    starts = unit_start_ordinals(spec)
    m = month_ordinals(series)
    names = series["unit"].astype(str).to_numpy()
    own_start = np.array([starts.get(u, np.iinfo(np.int64).max) for u in names])
    keep = (names == unit) | (m < own_start)
    return series[keep].reset_index(drop=True)


def contrast_rows(design, fit, spec: ITSSpec, vectors: dict) -> list[dict]:
    """Estimate, SE, df, interval and p-value of named contrast vectors of one fit."""
    G = np.array(list(vectors.values()))
    ses, dfs = fit.se_df(G)
    rows = []
    for i, name in enumerate(vectors):
        df = None if dfs is None else float(np.broadcast_to(dfs, (len(G),))[i])
        est, se = float(G[i] @ fit.params), float(ses[i])
        q = quantile(spec.alpha, df)
        p = 2 * (stats.t.sf(abs(est / se), df) if df is not None else stats.norm.sf(abs(est / se)))
        rows.append({"estimand": name, "estimate": est, "se": se, "df": df,
                     "ci_low": est - q * se, "ci_high": est + q * se, "p_value": float(p)})
    return rows


def unit_exposure(design, unit: str) -> float:
    """The unit's denominator over its fitted post-period months (the exposure weight)."""
    rows = (design.keys == unit) & design.fit_rows & (design.event_time >= 1)
    return float(design.den[rows].sum())


def change_rows(series: pd.DataFrame, spec: ITSSpec) -> tuple[list[dict], object]:
    """Level and slope change (link scale) of one engine fit, without the series table.

    The engine's design and fit (:func:`~pipeline.stats.its_design.build_design`,
    :func:`~pipeline.stats.its_fit.fit_model`) and its per-contrast SE and df; the same
    numbers as ``fit_its(series, spec).effects`` at a fraction of the cost (no counterfactual
    band per month), which matters for one fit per unit and per simulated panel.
    """
    design = build_design(series, spec)
    fit = fit_model(design, spec)
    eye = np.eye(len(fit.params))
    vectors = {estimand: eye[idx] for estimand, _, idx in design.contrasts}
    return contrast_rows(design, fit, spec, vectors), design


def unit_columns(series: pd.DataFrame, spec: ITSSpec, trends: str = "unit",
                  changes: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """The series with each later unit's own level and slope columns (the first unit's are
    the engine's level and slope terms): ``level[u]`` = 1 from u's start, ``slope[u]`` = months
    since u's start + 1 (the coding of :mod:`pipeline.stats.its_design`); with
    ``trends="unit"`` also ``time[u]``, months since the first month for every unit but the
    engine's reference unit (the first by name), so that each unit has its own secular trend.
    ``changes=False``: the level columns only (the event study's)."""
    if trends not in TRENDS:
        raise ValueError(f"trends = {trends!r}; choose one of: {', '.join(TRENDS)}")
    starts = unit_start_ordinals(spec)
    m = month_ordinals(series)
    names = series["unit"].astype(str).to_numpy()
    added = {}
    for unit in list(starts)[1:]:
        since = m - starts[unit]
        own = (names == unit) & (since >= 0)
        added[f"level[{unit}]"] = own.astype(float)
        if changes and spec.phases[0].has_slope:
            added[f"slope[{unit}]"] = np.where(own, since + 1, 0).astype(float)
    if trends == "unit":
        for unit in sorted(set(names))[1:]:
            added[f"time[{unit}]"] = np.where(names == unit, m - m.min() + 1, 0).astype(float)
    return with_columns(series, added), list(added)


def with_columns(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """``frame`` with new columns added in one step (no fragmented frame)."""
    return pd.concat([frame.reset_index(drop=True),
                      pd.DataFrame(columns, index=range(len(frame)))], axis=1)


def check_units(series: pd.DataFrame, spec: ITSSpec) -> None:
    present = set(series["unit"].astype(str))
    missing = [u for u in spec.unit_starts if u not in present]
    if missing:
        raise ValueError(f"unit(s) {missing} of unit_starts have no rows in the series "
                         f"(units: {sorted(present)})")


def joint_fit(series: pd.DataFrame, spec: ITSSpec, trends: str = "unit"):
    """One engine fit with every unit's own level and slope change (see :func:`unit_effects`).

    Returns ``(fit, design, joint spec, contrasts)`` with ``contrasts[estimand]`` the units x
    parameters matrix whose rows give each unit's own change.
    """
    check_units(series, spec)
    data, columns = unit_columns(series, spec, trends)
    joint = replace(spec, covariates=(*spec.covariates, *columns))
    design = build_design(data, joint)
    fit = fit_model(design, joint)
    eye = np.eye(len(fit.params))
    contrasts = {}
    for estimand, _, idx in design.contrasts:
        term = estimand.removesuffix("_change")
        rows = [eye[idx] + (eye[design.names.index(f"{term}[{u}]")] if i else 0.0)
                for i, u in enumerate(spec.unit_starts)]
        contrasts[estimand] = np.array(rows)
    return fit, design, joint, contrasts
