"""An intervention's ``period:`` in params: months in params.yaml, periods in the models.

``period: month | quarter | year`` (default ``month``) says what the prepare stage aggregates
the records to and what the models count (docs/adr/0160-period-in-params.md). params.yaml stays
written in months whatever the period, as its keys say (``window``, ``phases``,
``before_months``, ``washout_months``, ``horizons``, ``equity_primary.horizon``): with
quarters or years every date must sit on a period boundary and every count must be a whole
number of periods, and they are converted to periods when the ITS spec is built (the spec
counts periods: docs/adr/0130-its-period.md). A phase that started mid-quarter is refused
rather than rounded: the quarter holding the start would mix months before and after it.

Weeks are refused here: an ISO week (Monday to Sunday) cannot be made from months, and the
prepare stage reads months (the record parser keeps the month of each event, not its day).

Outside :mod:`pipeline.stats`, and raising ``ValueError`` for :mod:`pipeline.config` to put
the params path in front (docs/adr/0107).
"""

from __future__ import annotations

import pandas as pd

from pipeline.periods import PERIODS

# months in each period params can give (weeks are not whole months)
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}
# the ITS horizons when params give none, in months: 3, 6 and 12 months, or 1 to 3 years
DEFAULT_HORIZON_MONTHS = {"month": (3, 6, 12), "quarter": (3, 6, 12), "year": (12, 24, 36)}
_NAMES = {"quarter": "a quarter (January, April, July, October)", "year": "a year (January)"}


def check_period(value) -> str:
    """The period params ask for, or ``ValueError`` naming the choices (and why not weeks)."""
    if value == "week":
        raise ValueError(
            "period = 'week': weekly series need the day of each event, but the prepare stage "
            "aggregates records by month, so a week cannot be made from them (docs/adr/0160). "
            "Fix: use month, quarter or year; fit a weekly series with "
            "pipeline.stats.fit_its(series, {'period': 'week', ...}) directly")
    if value not in MONTHS_IN:
        raise ValueError(f"period = {value!r}; allowed values are {list(MONTHS_IN)} "
                         f"(the models also take {[p for p in PERIODS if p not in MONTHS_IN]} "
                         "when fitted directly)")
    return value


def _first_months(month: pd.Timestamp, period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first month of the period holding ``month`` and of the next period."""
    start = pd.Timestamp(month.year, month.month - (month.month - 1) % MONTHS_IN[period], 1)
    return start, start + pd.DateOffset(months=MONTHS_IN[period])


def check_start(month: pd.Timestamp, period: str, key: str) -> None:
    """A start (a phase, a unit's start, a window's start, ``measured_from``) must be the
    first month of a period: the period holding a mid-period start would mix before and after."""
    if period == "month":
        return
    start, following = _first_months(month, period)
    if month != start:
        raise ValueError(
            f"{key} = {month:%Y-%m} starts part-way through {_label(start, period)}, which "
            f"would mix months before and after it (period: {period}). Fix: start it at the "
            f"first month of {_NAMES[period]}: {start:%Y-%m} or {following:%Y-%m}; a start "
            "that took a while to bed in can be given as the next period with washout_months")


def check_end(month: pd.Timestamp, period: str, key: str) -> None:
    """The window's end month must be the last month of a period (no part period)."""
    if period == "month":
        return
    start, following = _first_months(month, period)
    last = following - pd.DateOffset(months=1)
    if month != last:
        raise ValueError(
            f"{key} = {month:%Y-%m} ends part-way through {_label(start, period)}, so its last "
            f"{period} would hold fewer months than the others (period: {period}). Fix: end "
            f"the window at the last month of a {period}: "
            f"{start - pd.DateOffset(months=1):%Y-%m} or {last:%Y-%m}")


def to_periods(months: int, period: str, key: str) -> int:
    """A count of months in params as a count of periods; it must be a whole number of them."""
    size = MONTHS_IN[period]
    if months % size:
        lower = months // size * size
        nearest = [str(m) for m in (lower, lower + size) if m > 0]
        raise ValueError(
            f"{key} = {months} months is not a whole number of {period}s (period: {period}: "
            f"{size} months each). Fix: use {' or '.join(nearest)} months")
    return months // size


def horizon_months(its: dict, period: str) -> tuple[int, ...]:
    """The ITS horizons in months: ``its.horizons`` or the period's default."""
    return tuple(its.get("horizons", DEFAULT_HORIZON_MONTHS[period]))


def spec_in_periods(spec: dict, period: str) -> dict:
    """An ITS spec assembled from params (counts in months) with its counts in periods and its
    ``period`` set; a monthly spec is returned as it is (docs/adr/0160)."""
    if period == "month":
        return spec
    out = {**spec, "period": period}
    for key in ("washout_months", "ramp_months"):
        if isinstance(spec.get(key), int) and not isinstance(spec.get(key), bool):
            out[key] = to_periods(spec[key], period, key)
    out["horizons"] = [to_periods(h, period, "horizons")
                       for h in horizon_months(spec, period)]
    return out


def check_its_period(its: dict, period: str, key: str) -> None:
    """The ITS options may not set another period than the intervention's own."""
    if "period" in its and its["period"] != period:
        raise ValueError(
            f"{key}.period = {its['period']!r} but the intervention's period is {period!r}. "
            "Fix: set period once, at the intervention's level (period: quarter), and remove "
            "it from its")


def check_monthly_only(model: str, synthetic_control: bool, period: str, key: str) -> None:
    """The structural model and the synthetic control count months (their pre-period minimum,
    seasonal period and figures): refused at another period rather than run on the wrong
    unit (docs/adr/0160)."""
    if period == "month":
        return
    named = [k for k, on in (("model: structural", model == "structural"),
                             ("synthetic_control: true", synthetic_control is True)) if on]
    if named:
        raise ValueError(
            f"{key}: {' and '.join(named)} count months, but period is {period!r} (docs/adr/0160). "
            f"Fix: remove {' and '.join(named)} (the segmented ITS runs at any period), or "
            "set period: month")


def _label(start: pd.Timestamp, period: str) -> str:
    if period == "quarter":
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    return f"the year {start.year}"
