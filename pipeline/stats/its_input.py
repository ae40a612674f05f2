"""The ITS engine's input: a series checked column by column, and periods as integer ordinals.

:func:`check_series` refuses what the model cannot use (missing columns, several outcomes or
strata mixed, unparseable months, missing or negative counts, duplicated unit-months) with the
column and rows to fix; the ordinals (months since year 0, or :mod:`pipeline.periods`'
ordinals for weeks, quarters and years) make period arithmetic integer arithmetic. Used by
:mod:`pipeline.stats.its_design`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import periods

from .its_spec import ITSSpec

REQUIRED_COLUMNS = ("month", "unit", "numerator", "denominator")
SINGLE_COLUMNS = ("dimension", "stratum", "outcome")


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


def _finite_column(series: pd.DataFrame, col: str, what: str) -> np.ndarray:
    """The column as floats; an error naming it (``what``) and its rows when a value is not
    numeric, missing or infinite."""
    try:
        values = pd.to_numeric(series[col]).to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be numeric: {exc}") from exc
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"{what} is missing or infinite in rows {_rows(series, bad)}")
    return values


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
        values = _finite_column(series, col, f"series[{col!r}]")
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
        out[col] = _finite_column(series, col, f"covariate series[{col!r}]")
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
