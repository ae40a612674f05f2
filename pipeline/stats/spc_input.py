"""Checks and preparation of an SPC chart's input: periods, phases and options.

The charts of :mod:`pipeline.stats.spc` need one row per period, sorted, with no repeats or gaps
(runs and trends count consecutive points) and finite values; rebase periods name the first
period of each new phase. Errors name the column or period to fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import periods

IMPROVEMENT = ("increase", "decrease", "neutral")


def period_starts(values, period: str = "month") -> pd.Series:
    """Period starts (Timestamps) of dates; weeks, quarters and years must be given by their
    first day (:func:`pipeline.periods.ordinals`), months by any date in them."""
    if period != "month":
        ordinals = [periods.to_period(v, period, "rebase_at / baseline_before") for v in values]
        return pd.Series(periods.start_dates(ordinals, period))
    s = pd.Series(values)
    if isinstance(s.dtype, pd.PeriodDtype):
        s = s.dt.to_timestamp()
    return pd.to_datetime(s.astype(str) if s.dtype == object else s).dt.to_period("M") \
        .dt.to_timestamp()


def period_words(stamp, period: str = "month", long: bool = True) -> str:
    """A period start in words (``January 2021``, ``2021 Q1``, ``2021``, ``the week of 4
    January 2021``) or short (``2021-01``, ``2021Q1``, ``2021``, ``2021-01-04``)."""
    if period == "month":
        return stamp.strftime("%B %Y" if long else "%Y-%m")
    if period == "week":
        return f"the week of {stamp.day} {stamp:%B %Y}" if long else f"{stamp:%Y-%m-%d}"
    if period == "quarter":
        return f"{stamp.year} Q{stamp.quarter}" if long else f"{stamp.year}Q{stamp.quarter}"
    return f"{stamp.year}"


def _prepare_periods(data: pd.DataFrame, month: str, columns: list[str],
                     period: str) -> pd.DataFrame:
    """:func:`prepare_chart_data` for weeks, quarters and years: starts checked, sorted, no
    repeats or gaps (runs and trends need consecutive periods)."""
    ordinals = periods.ordinals(data[month].reset_index(drop=True), period, "SPC data")
    order = np.argsort(ordinals, kind="stable")
    ordinals = ordinals[order]
    frame = data[columns].iloc[order].reset_index(drop=True)
    frame.insert(0, "month", periods.start_dates(ordinals, period))
    repeated = sorted({periods.label(o, period) for o in ordinals[1:][np.diff(ordinals) == 0]})
    if repeated:
        raise ValueError(f"SPC: one row per {period} is needed (aggregate units or strata "
                         f"first); repeated {period}s: {repeated}")
    if len(frame) < 2:
        raise ValueError(f"SPC: at least 2 {period}s are needed")
    gaps = sorted(set(range(ordinals[0], ordinals[-1] + 1)) - set(ordinals.tolist()))
    if gaps:
        raise ValueError(f"SPC: the {period}ly series has gaps (runs and trends need "
                         f"consecutive {period}s); missing: "
                         f"{[periods.label(g, period) for g in gaps]}")
    return frame


def prepare_chart_data(data: pd.DataFrame, month: str, columns: list[str],
             period: str = "month") -> pd.DataFrame:
    """The chart's columns with the time column renamed ``month`` and holding period starts
    (checked, sorted, consecutive) and finite values."""
    if period not in periods.PERIODS:
        raise ValueError(f"SPC: period must be one of {', '.join(periods.PERIODS)}, "
                         f"not {period!r}")
    missing = [c for c in [month, *columns] if c not in data.columns]
    if missing:
        raise ValueError(f"SPC: column(s) {missing} not in the data (columns: "
                         f"{list(data.columns)})")
    frame = (_prepare_months(data, month, columns) if period == "month"
             else _prepare_periods(data, month, columns, period))
    for c in columns:
        bad = frame.loc[~np.isfinite(frame[c].astype(float)), "month"]
        if len(bad):
            raise ValueError(f"SPC: column {c!r} is missing or not finite in {period}s "
                             f"{[period_words(m, period, False) for m in bad]}")
    return frame


def _prepare_months(data: pd.DataFrame, month: str, columns: list[str]) -> pd.DataFrame:
    """One row per month, sorted, no repeats or gaps (any date stands for its month)."""
    frame = data[[month, *columns]].copy()
    frame.columns = ["month", *columns]
    frame["month"] = period_starts(frame["month"]).to_numpy()
    frame = frame.sort_values("month").reset_index(drop=True)
    dup = frame["month"][frame["month"].duplicated()]
    if len(dup):
        raise ValueError("SPC: one row per month is needed (aggregate units or strata first); "
                         f"repeated months: {sorted({m.strftime('%Y-%m') for m in dup})}")
    if len(frame) < 2:
        raise ValueError("SPC: at least 2 months are needed")
    full = pd.period_range(frame["month"].iloc[0], frame["month"].iloc[-1], freq="M")
    have = set(frame["month"].dt.to_period("M"))
    gaps = [str(p) for p in full if p not in have]
    if gaps:
        raise ValueError(f"SPC: the monthly series has gaps (runs and trends need consecutive "
                         f"months); missing: {gaps}")
    return frame


def phase_numbers(months: pd.Series, rebase_at, period: str = "month") -> np.ndarray:
    if rebase_at is None:
        return np.zeros(len(months), dtype=int)
    starts = sorted(set(period_starts(list(rebase_at), period)))
    known = set(months)
    unknown = [period_words(s, period, False) for s in starts if s not in known]
    if unknown:
        raise ValueError(f"SPC: rebase {period}(s) {unknown} not in the data "
                         f"({period_words(months.iloc[0], period, False)} to "
                         f"{period_words(months.iloc[-1], period, False)})")
    flag = months.isin(starts) & (months != months.iloc[0])
    return np.cumsum(flag.to_numpy()).astype(int)


def check_chart_options(improvement, shift_run, trend_run, fix_after, target):
    if improvement not in IMPROVEMENT:
        raise ValueError(f"SPC: improvement must be one of {IMPROVEMENT}, not {improvement!r}")
    for name, v in (("shift_run", shift_run), ("trend_run", trend_run)):
        if not isinstance(v, (int, np.integer)) or v < 2:
            raise ValueError(f"SPC: {name} must be an integer >= 2, not {v!r}")
    if fix_after is not None and (not isinstance(fix_after, (int, np.integer)) or fix_after < 2):
        raise ValueError(f"SPC: fix_after must be None or an integer >= 2, not {fix_after!r}")
    if target is not None and not np.isfinite(float(target)):
        raise ValueError(f"SPC: target must be a finite number, not {target!r}")
