"""Time periods of a series: month, week, quarter or year, as integer ordinals.

Segmented regression, its seasonality and its horizons only need consecutive integers for
consecutive periods and the number of periods per year. This module turns the dates of a
series (the first day of each period) into those integers and back into labels, so that
annual, quarterly and weekly series are fitted in their own units instead of being coded as
fake months (``docs/adr/0130-its-period.md``).

Ordinals
--------
month    ``year * 12 + month - 1`` (as before: integer month arithmetic)
quarter  ``year * 4 + quarter - 1``
year     ``year``
week     weeks since Monday 1970-01-05; a week is the ISO week, starting on Monday

Outside :mod:`pipeline.stats` so that :mod:`pipeline.config` can validate params without
loading scipy or statsmodels (docs/adr/0107).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd

PERIODS = ("month", "week", "quarter", "year")
# seasons per year, for Fourier seasonality (ISO weeks: 365.25 / 7 = 52.18 per year; a
# yearly series has no within-year season)
PER_YEAR = {"month": 12, "week": 365.25 / 7, "quarter": 4, "year": 1}
# the most Fourier harmonics a period supports (Nyquist: half the seasons per year)
MAX_HARMONICS = {"month": 6, "week": 26, "quarter": 2, "year": 0}
EPOCH_MONDAY = np.datetime64("1970-01-05", "D")
_EXAMPLE = {"month": "2020-01-01 for January 2020", "week": "2020-01-06 (a Monday)",
            "quarter": "2020-04-01 for 2020 Q2", "year": "2020-01-01 (or 2020) for 2020"}


def time_column(columns, period: str) -> str:
    """The time column of a series of ``period``: named after the period (``quarter``), or
    ``month``, the pipeline's series layout at every period, holding period starts
    (docs/adr/0160); a ``month`` column is still checked to hold the period's first days."""
    return period if period in columns or "month" not in columns else "month"


def noun(period: str) -> str:
    """The period as a word in report text: ``month``, ``week``, ``quarter``, ``year``."""
    return period


def adjective(period: str) -> str:
    """``monthly``, ``weekly``, ``quarterly``, ``yearly`` (``the quarterly SII``)."""
    return {"month": "monthly", "week": "weekly", "quarter": "quarterly", "year": "yearly"}[period]


def plural(n: int, period: str) -> str:
    """``"1 quarter"``, ``"4 quarters"``, ``"12 months"``: a count of periods in words."""
    return f"{n} {period}" + ("" if n == 1 else "s")


def label(ordinal: int, period: str = "month") -> str:
    """The period of an ordinal as text: ``2020-01``, ``2020Q1``, ``2020`` or the Monday
    ``2020-01-06`` of a week."""
    ordinal = int(ordinal)
    if period == "month":
        return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"
    if period == "quarter":
        return f"{ordinal // 4:04d}Q{ordinal % 4 + 1}"
    if period == "year":
        return f"{ordinal:04d}"
    return str(EPOCH_MONDAY + np.timedelta64(7 * ordinal, "D"))


def start_dates(ordinals: np.ndarray, period: str = "month") -> np.ndarray:
    """The first day of each period (``datetime64[ns]``), for output tables and figures."""
    o = np.asarray(ordinals, dtype=np.int64)
    if period == "month":
        days = (o - 1970 * 12).astype("datetime64[M]")
    elif period == "quarter":
        days = (3 * (o - 1970 * 4)).astype("datetime64[M]")
    elif period == "year":
        days = (o - 1970).astype("datetime64[Y]")
    else:
        days = EPOCH_MONDAY + 7 * o
    return days.astype("datetime64[ns]")


def _not_start(period: str) -> str:
    return (f"a {period} is given by its first day (e.g. {_EXAMPLE[period]}); give every "
            f"{period} as its first day")


def _ordinals_of_days(days: np.ndarray, period: str) -> tuple[np.ndarray, np.ndarray]:
    """Ordinals of dates (``datetime64[D]``) and a mask of those that are not period starts."""
    months = days.astype("datetime64[M]")
    month_index = (months.astype(np.int64) + 1970 * 12)
    first_of_month = months.astype("datetime64[D]") == days
    if period == "month":
        return month_index, ~first_of_month
    if period == "quarter":
        return month_index // 3, ~(first_of_month & (month_index % 3 == 0))
    if period == "year":
        return month_index // 12, ~(first_of_month & (month_index % 12 == 0))
    since = (days - EPOCH_MONDAY).astype(np.int64)
    return since // 7, since % 7 != 0


def ordinals(col: pd.Series, period: str, name: str = "series") -> np.ndarray:
    """Ordinals of a column of period starts (dates, date strings, Periods; for ``year`` also
    integer years), refusing a date that is not the first day of its period.

    Months are lenient, as they always were (any date, or ``"YYYY-MM"``, stands for its
    month); a week, quarter or year must be given by its first day, because a mid-period
    date (a week ending on Sunday, a quarter's last day) is the commonest way to code such a
    series and would otherwise be silently moved to another period.
    """
    where = f"{name}[{col.name!r}]"
    if period == "year" and pd.api.types.is_integer_dtype(col):
        return col.to_numpy(dtype=np.int64)
    try:
        if isinstance(col.dtype, pd.PeriodDtype):
            dates = col.dt.start_time
        else:
            dates = pd.to_datetime(col)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where} has values that are not dates: {exc}; "
                         f"{_not_start(period)}") from exc
    missing = dates.isna().to_numpy()
    if missing.any():
        rows = list(col.index[missing][:5])
        raise ValueError(f"{where} is missing in rows {rows}")
    ns = dates.to_numpy().astype("datetime64[ns]")
    days = ns.astype("datetime64[D]")
    out, bad = _ordinals_of_days(days, period)
    if period != "month":
        bad |= days.astype("datetime64[ns]") != ns  # a time of day is not a period start
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{where} row {col.index[i]!r} is {str(days[i])}, not the first day of a "
                f"{period} ({int(bad.sum())} such row(s)); {_not_start(period)}")
    return out.astype(np.int64)


def to_period(value, period: str, key: str) -> int:
    """The ordinal of one date of a spec (a phase start, an excluded range's end), refusing
    what is not the start of a ``period`` (months: any date or ``"YYYY-MM"``)."""
    if period == "year" and isinstance(value, Integral) and not isinstance(value, bool):
        return int(value)
    try:
        stamp = value.start_time if isinstance(value, pd.Period) else pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"spec[{key!r}] = {value!r} is not a date; {_not_start(period)}") from exc
    day = np.datetime64(stamp.to_datetime64(), "D")
    ordinal, bad = _ordinals_of_days(np.array([day]), period)
    if period != "month" and (bad[0] or stamp != stamp.normalize()):
        raise ValueError(f"spec[{key!r}] = {value!r} is not the first day of a {period}; "
                         f"{_not_start(period)}")
    return int(ordinal[0])
