"""Event study of a staggered roll-out: effect by months since each unit's own start, averaged
over units, with a joint test that the pre-start months are zero.

The interacted event study of Sun & Abraham (2021) on the engine's link and errors (method
notes in :mod:`pipeline.stats.staggered`); the pre-trend test and its low power: Roth (2022).
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from .its_design import build_design
from .its_fit import fit_model
from .its_spec import ITSSpec, validate_spec
from .staggered_average import unit_weights
from .staggered_design import (check_units, contrast_rows, month_ordinals, unit_columns,
                               unit_exposure, unit_start_ordinals, with_columns)

EVENT_WINDOW = (-12, 12)  # relative months shown in the event study (0 = the start month)


def _event_columns(series: pd.DataFrame, spec: ITSSpec, window, trends: str):
    """The series for the event study: each unit's rows up to ``window[1]`` months after its
    start (all rows of never-treated units), each later unit's own level column, the unit
    trends when ``trends="unit"``, and one indicator per unit and relative month ``e`` in
    ``window`` except the reference ``e = -1``, the level term's own month (the first fitted
    post month) and washout months. Returns ``(rows, columns, indicators, first_post)`` with
    ``indicators[(unit, e)]`` the column name."""
    starts = unit_start_ordinals(spec)
    names = series["unit"].astype(str).to_numpy()
    rel = month_ordinals(series) - np.array([starts.get(u, np.iinfo(np.int64).max // 2)
                                             for u in names])
    lo, hi = window
    keep = ~np.isin(names, list(starts)) | (rel <= hi)
    rows, rel, names = series[keep].reset_index(drop=True), rel[keep], names[keep]
    rows, columns = unit_columns(rows, spec, trends, changes=False)
    first_post = spec.washout_months
    indicators, added = {}, {}
    for unit in starts:
        for e in range(lo, hi + 1):
            if e in (-1, first_post) or (0 <= e < first_post):
                continue
            hit = (names == unit) & (rel == e)
            if hit.any():
                indicators[(unit, e)] = f"event[{unit}, {e}]"
                added[indicators[(unit, e)]] = hit.astype(float)
    return with_columns(rows, added), [*columns, *added], indicators, first_post


def event_study(series: pd.DataFrame, spec, weights: str = "equal",
                window: tuple[int, int] = EVENT_WINDOW, trends: str = "unit",
                with_test: bool = False):
    """Effect by months since each unit's start, averaged over units (Sun & Abraham 2021).

    One engine fit of every unit (its rows up to ``window[1]`` months after its own start;
    never-treated units throughout) with the design of :func:`unit_effects` where each unit's
    slope change is replaced by one indicator per relative month: the unit's own level change
    stands for its first fitted post month, and ``event[u, e]`` for every other month ``e`` in
    ``window`` except ``e = -1``, the reference (the interacted event study of Sun & Abraham
    2021, Wooldridge's extended TWFE, on the engine's link and errors). Months before
    ``window[0]`` stay in each unit's pre-period and give its counterfactual (its own trend when
    ``trends="unit"``). Unit ``u``'s effect at ``e >= 0`` is its level change plus
    ``event[u, e]``, at ``e < -1`` the indicator alone: the gap between the unit and its
    counterfactual, which should be near 0 before the start if the counterfactual is right.
    The average over units with the chosen weights is one contrast of the joint fit, with its
    Kenward-Roger SE and Satterthwaite df (the "these units" interval of :func:`unit_effects`).

    ``with_test=True`` also returns :func:`pretrend_test` of the pre-start months shown.

    Returns
    -------
    DataFrame (and dict when ``with_test``)
        ``event_time, estimate, se, df, ci_low, ci_high, p_value, k, weights`` (link scale;
        ``event_time`` 0 is the start month; the reference month -1 is 0 by definition).
    """
    spec = spec if isinstance(spec, ITSSpec) else validate_spec(spec)
    check_units(series, spec)
    rows, columns, indicators, first_post = _event_columns(series, spec, window, trends)
    one = replace(spec, covariates=(*spec.covariates, *columns),
                  phases=tuple(replace(p, change="level", ramp_months=0) for p in spec.phases))
    with warnings.catch_warnings():  # the engine adds the indicator columns one by one
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        design = build_design(rows, one)
    fit = fit_model(design, one)
    eye = np.eye(len(fit.params))
    units = list(spec.unit_starts)
    level = {u: eye[design.contrasts[0][2]] + (eye[design.names.index(f"level[{u}]")] if i else 0)
             for i, u in enumerate(units)}
    exposure = np.array([unit_exposure(design, u) for u in units])
    vectors, present = {}, {}
    for e in sorted({first_post, *(e for _, e in indicators)}):
        per_unit = {u: (level[u] if e >= 0 else 0) + (eye[design.names.index(indicators[(u, e)])]
                                                      if (u, e) in indicators else 0)
                    for u in units if (u, e) in indicators or e == first_post}
        w = unit_weights(exposure[[units.index(u) for u in per_unit]], weights)
        vectors[e] = w @ np.array(list(per_unit.values()))
        present[e] = len(per_unit)
    out = [{"event_time": int(r.pop("estimand")), **r, "k": present[e], "weights": weights}
           for e, r in zip(vectors, contrast_rows(design, fit, one, vectors))]
    out.append({"event_time": -1, "estimate": 0.0, "se": 0.0, "df": None, "ci_low": 0.0,
                "ci_high": 0.0, "p_value": float("nan"), "k": len(units), "weights": weights})
    table = pd.DataFrame(out).sort_values("event_time").reset_index(drop=True)
    if not with_test:
        return table
    pre = [e for e in vectors if e < -1]
    each = [eye[design.names.index(col)] for (_, e), col in indicators.items() if e < -1]
    return table, {"months": pre,
                   "average": pretrend_test(fit, np.array([vectors[e] for e in pre])),
                   "each": pretrend_test(fit, np.array(each))}


def pretrend_test(fit, L: np.ndarray) -> dict:
    """Joint test that the pre-start effects ``L b`` are all zero (a parallel-trends check).

    Wald statistic ``W = (L b)' (L Phi L')^-1 (L b)`` with ``Phi`` the fit's covariance (the
    Kenward-Roger adjusted one under ``errors: auto``), referred as ``F = W / q`` to
    F(q, nu) with ``nu`` the smallest Satterthwaite df of the ``q`` contrasts (a conservative
    stand-in for the Kenward & Roger 1997 scaled F), or ``W`` to chi-squared on q df when the
    fit uses normal quantiles. The pre-trend test of event studies (Sun & Abraham 2021; Roth
    2022 on its low power: a pass is no proof of parallel trends). :func:`event_study` runs it
    on the averaged months (what its figure shows; departures of units in opposite directions
    cancel there) and on every unit's own months (which sees them).
    """
    b = L @ fit.params
    q = len(L)
    W = float(b @ np.linalg.solve(L @ fit.cov @ L.T, b))
    _, dfs = fit.se_df(L)
    if dfs is None:
        return {"q": q, "stat": W, "df": None, "statistic": "chi-squared",
                "p_value": float(stats.chi2.sf(W, q))}
    nu = float(np.min(np.broadcast_to(dfs, (q,))))
    return {"q": q, "stat": W / q, "df": nu, "statistic": "F",
            "p_value": float(stats.f.sf(W / q, q, nu))}
