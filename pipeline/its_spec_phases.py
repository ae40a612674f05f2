"""The phases of an ITS specification: parsing their starts, changes and ramps.

Why apart from :mod:`pipeline.its_spec`: a phase's dates are read in the series' period
(docs/adr/0130-its-period.md) and its change and ramp checked together; the same date
parsing serves the excluded ranges. Outside :mod:`pipeline.stats` for the same reason as the
spec (docs/adr/0107).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import pandas as pd

from pipeline import periods as _periods

CHANGES = ("level+slope", "level", "slope")
PHASE_KEYS = ("name", "start", "change", "ramp_months")
# pandas frequency of a Phase's start for each period (weeks: Monday to Sunday, ISO)
PERIOD_FREQ = {"month": "M", "week": "W-SUN", "quarter": "Q-DEC", "year": "Y-DEC"}


@dataclass(frozen=True)
class ITSPhase:
    """One interruption: a level and/or slope change starting in month ``start``.

    ``ramp_months`` = k > 1 phases the level change in linearly: 1/k of it in the start month,
    2/k in the next, ..., all of it from the k-th month on (k = 0 or 1: an immediate step).
    Not params' phase (:class:`pipeline.intervention.InterventionPhase`; docs/adr/0155).
    """

    name: str
    start: pd.Period
    change: str = "level+slope"
    ramp_months: int = 0

    @property
    def has_level(self) -> bool:
        return "level" in self.change

    @property
    def has_slope(self) -> bool:
        return "slope" in self.change


def to_month(value, key: str) -> pd.Period:
    """Parse ``"YYYY-MM"``, a date string, a Timestamp or a Period into a monthly Period."""
    try:
        if isinstance(value, pd.Period):
            return value.asfreq("M")
        return pd.Timestamp(value).to_period("M")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"spec[{key!r}] = {value!r} is not a month; write it as 'YYYY-MM'") from exc


def to_start(value, key: str, period: str = "month") -> pd.Period:
    """Parse a spec date as a Period of ``period`` (month: :func:`to_month`; week, quarter
    and year: the period's first day, anything else refused; docs/adr/0130)."""
    if period == "month":
        return to_month(value, key)
    ordinal = _periods.to_period(value, period, key)
    return pd.Period(_periods.start_dates([ordinal], period)[0], PERIOD_FREQ[period])



def parse_phases(raw, default_ramp: int = 0, period: str = "month") -> tuple[ITSPhase, ...]:
    if not isinstance(raw, (list, tuple)) or len(raw) == 0:
        raise ValueError(
            "spec['phases'] must be a non-empty list of {'name': ..., 'start': 'YYYY-MM'} dicts"
        )
    phases = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "start" not in item:
            raise ValueError(f"spec['phases'][{i}] must be a dict with at least a 'start' month")
        unknown = sorted(set(item) - set(PHASE_KEYS))
        if unknown:
            raise ValueError(
                f"spec['phases'][{i}] has unknown key(s) {unknown}; allowed keys: {', '.join(PHASE_KEYS)}"
            )
        change = item.get("change", "level+slope")
        if change not in CHANGES:
            raise ValueError(
                f"spec['phases'][{i}]['change'] = {change!r} is not allowed; choose one of: "
                f"{', '.join(CHANGES)}"
            )
        name = str(item.get("name") or f"phase {i + 1}")
        ramp = item.get("ramp_months", default_ramp if "level" in change else 0)
        if isinstance(ramp, bool) or not isinstance(ramp, Integral) or ramp < 0:
            raise ValueError(
                f"spec['phases'][{i}]['ramp_months'] = {ramp!r} must be an integer >= 0 (months "
                "over which the level change phases in linearly; 0 = immediate step)"
            )
        if ramp > 1 and "level" not in change:
            raise ValueError(
                f"spec['phases'][{i}]['ramp_months'] = {ramp} needs a level change, but "
                f"'change' is {change!r}"
            )
        phases.append(ITSPhase(name, to_start(item["start"], f"phases[{i}].start", period), change,
                            int(ramp)))
    starts = [p.start for p in phases]
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise ValueError(
            "spec['phases'] must have strictly increasing start months; got "
            + ", ".join(str(s) for s in starts)
        )
    names = [p.name for p in phases]
    if len(set(names)) != len(names):
        raise ValueError(f"spec['phases'] names must be unique; got {names}")
    return tuple(phases)


def parse_excluded(raw, period: str = "month") -> tuple:
    if raw is None:
        return ()
    msg = ("spec['exclude_months'] must be a list of [first, last] month pairs, e.g. "
           "[['2020-03', '2021-02']] (both months included, 'YYYY-MM')")
    if isinstance(raw, str) or not isinstance(raw, (list, tuple)):
        raise ValueError(f"{msg}; got {raw!r}")
    ranges = []
    for i, pair in enumerate(raw):
        if isinstance(pair, str) or not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"{msg}; item {i} is {pair!r}")
        first = to_start(pair[0], f"exclude_months[{i}][0]", period)
        last = to_start(pair[1], f"exclude_months[{i}][1]", period)
        if last < first:
            raise ValueError(
                f"spec['exclude_months'][{i}] = {list(pair)!r}: the last month is before the first"
            )
        ranges.append((first, last))
    return tuple(ranges)
