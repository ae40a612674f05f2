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
from .its_spec import ITSSpec

REQUIRED_COLUMNS = ("month", "unit", "numerator", "denominator")
SINGLE_COLUMNS = ("dimension", "stratum", "outcome")
MIN_POINTS, WARN_POINTS = 3, 8


def month_ordinal(period: pd.Period) -> int:
    """Months since year 0 (``year * 12 + month - 1``): integer month arithmetic."""
    return period.year * 12 + period.month - 1


def month_label(ordinal: int, period: str = "month") -> str:
    """``"YYYY-MM"`` of a month ordinal (``2020Q1``, ``2020`` or a week's Monday for the
    other periods, :func:`pipeline.periods.label`)."""
    return periods.label(ordinal, period)


def start_ordinal(start: pd.Period, period: str = "month") -> int:
    """The ordinal of a validated spec date (a Phase start, a unit start, an excluded range's
    end) in the series' period."""
    if period == "month":
        return month_ordinal(start)
    return periods.to_period(start, period, "start")


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


def _rows(frame: pd.DataFrame, mask: np.ndarray, limit: int = 5) -> str:
    idx = list(frame.index[mask][:limit])
    more = "" if mask.sum() <= limit else f" (and {int(mask.sum()) - limit} more)"
    return f"{idx}{more}"


def _month_ordinals(col: pd.Series) -> np.ndarray:
    """Month ordinals of a column of dates, Periods or "YYYY-MM" strings."""
    if pd.api.types.is_datetime64_any_dtype(col) and not col.isna().any():
        return col.to_numpy().astype("datetime64[M]").astype(np.int64) + 1970 * 12
    try:
        if isinstance(col.dtype, pd.PeriodDtype):
            months = col.dt.asfreq("M")
        else:
            months = pd.to_datetime(col).dt.to_period("M")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"series['month'] has values that are not dates: {exc}") from exc
    if months.isna().any():
        raise ValueError(f"series['month'] is missing in rows {_rows(col, months.isna().to_numpy())}")
    return (months.dt.year * 12 + months.dt.month - 1).to_numpy(dtype=np.int64)


def check_series(series: pd.DataFrame, spec: ITSSpec, by: tuple = (),
                 group: np.ndarray | None = None) -> pd.DataFrame:
    """Validate a monthly series and return ``unit, m, numerator, denominator`` (floats) and
    the covariate columns.

    Raises
    ------
    ValueError
        Missing columns, several outcomes/strata mixed, unparseable months, missing or
        negative counts, numerator above denominator (binomial), duplicated unit-months.

    ``by`` names columns allowed to vary (the strata of :func:`pipeline.stats.its.fit_its_many`)
    and ``group`` their integer code per row, used in the duplicate check.
    """
    if not isinstance(series, pd.DataFrame):
        raise ValueError(f"series must be a pandas DataFrame, got {type(series).__name__}")
    time = periods.time_column(series.columns, spec.period)
    required = [time, *REQUIRED_COLUMNS[1:]]
    missing = [c for c in required if c not in series.columns]
    if missing:
        hint = ("" if spec.period == "month" else
                f" (spec['period'] is {spec.period!r}: the time column is {spec.period!r}, "
                f"holding the first day of each {spec.period})")
        raise ValueError(f"series is missing column(s) {missing}; it needs {required}{hint}")
    if series.empty:
        raise ValueError("series has no rows")
    for col in SINGLE_COLUMNS:
        if col in by:
            continue
        if col in series.columns and series[col].nunique(dropna=False) > 1:
            raise ValueError(
                f"series mixes several values of {col!r} ({sorted(map(str, series[col].unique()))[:5]});"
                " filter it to one outcome and stratum before fitting"
            )
    out = pd.DataFrame({"unit": series["unit"].astype(str).to_numpy(),
                        "m": _month_ordinals(series["month"]) if spec.period == "month"
                        else periods.ordinals(series[time], spec.period)})
    for col in ("numerator", "denominator"):
        try:
            values = pd.to_numeric(series[col]).to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"series[{col!r}] must be numeric: {exc}") from exc
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"series[{col!r}] is missing or infinite in rows {_rows(series, bad)}")
        if (values < 0).any():
            raise ValueError(f"series[{col!r}] has negative counts in rows {_rows(series, values < 0)}")
        out[col] = values
    absent = [c for c in spec.covariates if c not in series.columns]
    if absent:
        raise ValueError(
            f"covariate column(s) {absent} named in spec['covariates'] are not in the series "
            f"(its columns: {list(map(str, series.columns))})"
        )
    for col in spec.covariates:
        try:
            values = pd.to_numeric(series[col]).to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"covariate series[{col!r}] must be numeric: {exc}") from exc
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"covariate series[{col!r}] is missing or infinite in rows {_rows(series, bad)}")
        out[col] = values
    if spec.base_family == "binomial":
        over = out["numerator"].to_numpy() > out["denominator"].to_numpy()
        if over.any():
            raise ValueError(
                f"numerator exceeds denominator in rows {_rows(series, over)}: a binomial model "
                "needs successes out of trials"
            )
    if group is not None:
        out["_group"] = group
    dup = out.duplicated(["unit", "m"] if group is None else ["_group", "unit", "m"]).to_numpy()
    if group is not None:
        out = out.drop(columns="_group")
    if dup.any():
        raise ValueError(f"series has duplicated unit-{spec.period}s in rows {_rows(series, dup)}")
    return out


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


def _series_keys(data: pd.DataFrame, spec: ITSSpec) -> tuple[pd.DataFrame, list]:
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


def _starts(agg: pd.DataFrame, spec: ITSSpec) -> np.ndarray:
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


def _segments(agg: pd.DataFrame, starts: np.ndarray, spec: ITSSpec, warnings: list) -> list:
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
    agg, warnings = _series_keys(data, spec)
    starts = _starts(agg, spec)
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
    segments = _segments(agg, starts, spec, warnings)

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
