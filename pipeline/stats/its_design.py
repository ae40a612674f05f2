"""Input checks and design matrices for segmented regression.

The coding follows Lopez Bernal, Cummins & Gasparrini (2017) and Wagner et al. (2002):
``time`` counts months from the first month of the data (1, 2, ...); for a phase starting in
month ``s`` the level term is ``1[month >= s]`` and the slope term is ``months since s + 1``
for ``month >= s`` (else 0), i.e. 1 in the first month of the phase, as in the Sicily example
(``smokban * (time - 36)`` with the ban starting at ``time = 37``). With this coding the level
change is the step relative to the pre-trend extrapolated one month beyond the last
pre-period month and the first post month carries level + one slope unit.

Period (``spec.period``, docs/adr/0130): ``month`` by default; with ``week``, ``quarter`` or
``year`` "month" above reads as that period: ordinals count ISO weeks, quarters or years
(:mod:`pipeline.periods`), the series' time column is named after the period, and Fourier
seasonality runs over 52.18 weeks or 4 quarters a year (none for years).

Designs
-------
single
    all units summed by month into one series.
staggered
    units kept apart with unit fixed effects, a common secular trend and level/slope terms
    relative to each unit's own start (``unit_starts``); units without a start are never
    treated (they inform the trend and the seasonality only).
controlled
    treated units summed into one series and comparator units into another (``comparators:
    pooled``, the default) or every unit kept as its own series (``comparators: stacked``, the
    multiple-group model of Stata ``itsa``, Linden 2015); model ``time + group + group:time +
    level + slope + group:level + group:slope`` with level and slope defined by the phase
    dates for both groups (Linden 2015; Lopez Bernal et al. 2018). The effects are the
    ``group:`` interactions. Stacked, as ``itsa``: one intercept per group (not per unit),
    Newey-West lags and AR correlation within each unit (``errors: hac`` / ``ar`` already
    keep them within a series); with equal denominators the coefficients equal the pooled
    fit of the unit means, the standard errors do not
    (``docs/adr/0065-controlled-its-pooled-or-stacked.md``).

Slope coding (``slope_coding``): ``lopez_bernal`` (the default, above) counts the slope term
1 in the start month; ``itsa`` counts it 0 in the start month (``_x_t = (t - T0) * _x``, Linden
2015; Wagner et al. 2002 tutorials in Stata and R), so the level change is the step at the
start month itself, where ours is one slope unit earlier. Fits, slope changes and every
fitted-minus-counterfactual estimand are identical; only ``level_change`` differs, by one
slope change (``docs/adr/0066-slope-coding-and-post-trend.md``).

Washout: the ``washout_months`` months starting at each phase start (the start month
included) are kept in the output but excluded from the fit; the slope counter is not reset,
so a phase's slope still counts from its start month. ``exclude_months`` ranges (e.g. the
COVID-19 disruption) are likewise kept in the output with ``in_fit = False``.

Ramp: a phase with ``ramp_months = k > 1`` has level term ``min((months since start + 1) / k,
1)``: the level change phases in linearly and is complete from the k-th month.

Covariates: named columns of the series enter the design as they are (never set to 0 in the
counterfactual). When units are summed into one series, the covariate is taken from the first
unit of each month and must agree across the units summed, else it is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline import periods

from .estimability import RCOND_MIN, reciprocal_condition
from .its_input import check_series, start_ordinal
from .its_series import count_segments, is_comparator_key, phase_starts, series_by_key
from .its_spec import ITSSpec


@dataclass
class Design:
    """Design matrices and row bookkeeping of one ITS model.

    Attributes
    ----------
    frame : DataFrame
        One row per series x month, sorted by series then month: ``key`` (``"all"``, the
        unit, or ``"treated"``/``"comparator"``), ``m`` (month ordinal), ``numerator``,
        ``denominator``, ``treated`` (rows the intervention effect applies to),
        ``event_time`` (months since the row's first start + 1; <= 0 before it),
        ``in_fit`` (False for washout months).
    X, X_cf : ndarray
        Design matrix for every row of ``frame`` and its counterfactual twin (effect
        columns set to 0).
    names : list of str
        Column names of ``X``.
    contrasts : list of tuple
        ``(estimand, phase, column index)`` of the change terms.
    trend : ndarray
        Contrast vector of the (treated) pre-intervention trend per month.
    segments : list of dict
        Months per segment and series (fitted rows).
    warnings : list of str
    """

    frame: pd.DataFrame
    X: np.ndarray
    X_cf: np.ndarray
    names: list
    contrasts: list
    trend: np.ndarray
    segments: list
    warnings: list = field(default_factory=list)

    def __post_init__(self):
        f = self.frame
        self.num = f["numerator"].to_numpy(dtype=float)
        self.den = f["denominator"].to_numpy(dtype=float)
        self.keys = f["key"].to_numpy()
        self.m = f["m"].to_numpy()
        self.fit_rows = f["in_fit"].to_numpy(dtype=bool)
        self.treated = f["treated"].to_numpy(dtype=bool)
        self.event_time = f["event_time"].to_numpy()

    def with_counts(self, num: np.ndarray, den: np.ndarray) -> "Design":
        """A shallow copy with other numerators and denominators (same rows, same design)."""
        new = object.__new__(Design)
        new.__dict__.update(self.__dict__)
        new.num, new.den = num, den
        new._frame_stale = True
        return new


def _season_position(m: np.ndarray, period: str) -> tuple[np.ndarray, float]:
    """Position of each period within its year and the seasons per year: month 1-12 of 12,
    quarter 1-4 of 4; weeks count on continuously over 365.25 / 7 = 52.18 weeks a year (an
    ISO year has 52 or 53 weeks, so the week number would jump at each year's end)."""
    if period == "week":
        return m.astype(float), periods.PER_YEAR["week"]
    seasons = periods.PER_YEAR[period]
    return m % seasons + 1, seasons


def _seasonal(m: np.ndarray, spec: ITSSpec) -> tuple[list, list]:
    """Fourier terms (``sin k, cos k`` of 2 pi k position / seasons per year; the last sine
    dropped when it is identically 0 at the Nyquist harmonic) or month indicators."""
    if spec.seasonality == "fourier":
        position, seasons = _season_position(m, spec.period)
        cols, names = [], []
        for k in range(1, spec.harmonics + 1):
            angle = 2 * np.pi * k * position / seasons
            cols += [np.sin(angle), np.cos(angle)]
            names += [f"sin{k}", f"cos{k}"]
        if spec.period != "week" and 2 * spec.harmonics == seasons:  # sin(pi * position) = 0
            cols.pop(-2), names.pop(-2)
        return cols, names
    month = m % 12 + 1
    if spec.seasonality == "month":
        present = np.unique(month)[1:]
        return [(month == k).astype(float) for k in present], [f"month[{k}]" for k in present]
    return [], []


def build_design(series: pd.DataFrame, spec: ITSSpec) -> Design:
    """Validate ``series`` and build the segmented-regression design for ``spec``.

    Parameters
    ----------
    series : DataFrame
        Monthly series with ``month, unit, numerator, denominator``.
    spec : ITSSpec
        Validated specification.

    Returns
    -------
    Design
    """
    data = check_series(series, spec)
    agg, warnings = series_by_key(data, spec)
    starts = phase_starts(agg, spec)
    m = agg["m"].to_numpy()
    since = m[:, None] - starts  # months since each start (0 in the start month)
    exposed = (starts >= 0) & (since >= 0)
    washout = (exposed & (since < spec.washout_months)).any(axis=1)
    excluded = np.zeros(len(m), dtype=bool)
    for first, last in spec.exclude_months:
        excluded |= ((m >= start_ordinal(first, spec.period))
                     & (m <= start_ordinal(last, spec.period)))
    agg["in_fit"] = ~(washout | excluded)
    agg["event_time"] = np.where(starts[:, 0] >= 0, since[:, 0] + 1, np.iinfo(np.int64).min)
    agg["treated"] = ~is_comparator_key(agg["key"].to_numpy(), spec)
    segments = count_segments(agg, starts, spec, warnings)

    t = (m - m.min() + 1).astype(float)
    cols, names = [np.ones_like(t)], ["const"]
    if spec.design == "staggered":
        keys = agg["key"].to_numpy()
        for u in sorted(set(keys))[1:]:
            cols.append((keys == u).astype(float))
            names.append(f"unit[{u}]")
    cols.append(t), names.append("time")
    group = agg["treated"].to_numpy().astype(float)
    if spec.design == "controlled":
        cols += [group, group * t]
        names += ["group", "group:time"]
    seas_cols, seas_names = _seasonal(m, spec)
    cols += seas_cols
    names += seas_names
    for col in spec.covariates:
        cols.append(agg[col].to_numpy(dtype=float)), names.append(col)

    effect_idx, contrasts = [], []
    for k, phase in enumerate(spec.phases):
        col_k = 0 if spec.design == "staggered" else k
        terms = []
        if phase.has_level:
            level = exposed[:, col_k].astype(float)
            if phase.ramp_months > 1:
                level = np.where(exposed[:, col_k],
                                 np.minimum((since[:, col_k] + 1) / phase.ramp_months, 1.0), 0.0)
            terms.append(("level", level))
        if phase.has_slope:
            first = 1 if spec.slope_coding == "lopez_bernal" else 0  # counter in the start month
            terms.append(("slope", np.where(exposed[:, col_k], since[:, col_k] + first, 0)
                          .astype(float)))
        for term, values in terms:
            if spec.design == "controlled":
                cols.append(values), names.append(f"{term}[{phase.name}]")
                values = group * values
                names.append(f"group:{term}[{phase.name}]")
            else:
                names.append(f"{term}[{phase.name}]")
            cols.append(values)
            effect_idx.append(len(cols) - 1)
            contrasts.append((f"{term}_change", phase.name, len(cols) - 1))

    X = np.column_stack(cols)
    fit_rows = agg["in_fit"].to_numpy()
    if reciprocal_condition(X[fit_rows]) < RCOND_MIN:  # a stated tolerance, not the last bits
        raise ValueError(
            f"the design ({', '.join(names)}) is rank-deficient on the fitted months: too few "
            "months for the seasonality or phases requested"
        )
    X_cf = X.copy()
    X_cf[:, effect_idx] = 0.0
    trend = np.zeros(X.shape[1])
    trend[names.index("time")] = 1.0
    if spec.design == "controlled":
        trend[names.index("group:time")] = 1.0
    return Design(agg, X, X_cf, names, contrasts, trend, segments, warnings)
