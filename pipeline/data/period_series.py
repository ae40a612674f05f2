"""The monthly series summed to quarters or years (an intervention's ``period:``).

Why after the monthly grid, not in the record scan: every check and quirk (window, reporting
lag, missing months, disruption, coding change, staff counts, population tables) is defined
in months and already ran on the complete month x unit x stratum x outcome grid, so a quarter
is the sum of three checked months and nothing is re-implemented per period; the same SQL
serves record-level and monthly extracts and every database engine (the engines hand back
monthly rows). Why whole periods only: a quarter with one month of data would be compared
with quarters of three (a reporting lag can cut the last one short), so a period missing any
month of the grid is dropped and listed in quality.json (docs/adr/0160-period-in-params.md).

The time column keeps its name ``month`` (the series.parquet layout is one for every period)
and holds the first day of each period: 2021-10-01 for 2021 Q4, 2021-01-01 for 2021.
"""
from __future__ import annotations

import duckdb
import pyarrow as pa

from pipeline.period_params import MONTHS_IN

KEYS = ("unit", "dimension", "stratum", "outcome")


def to_period(table: pa.Table, quality: dict, period: str) -> tuple[pa.Table, dict]:
    """``table`` (the monthly series) summed to ``period``; ``quality`` with what was done.

    Counts are summed; a 0/1 covariate (disruption, coding change) is 1 in a period if it is
    1 in any of its months, as an excluded month excludes its whole period. A monthly series
    is returned as it is.
    """
    if period == "month":
        return table, quality
    size = MONTHS_IN[period]
    covariates = [c for c in table.column_names if c.startswith("covariate_")]
    con = duckdb.connect()
    try:
        con.register("monthly", table)
        con.execute(f"""CREATE TEMP TABLE p AS SELECT
                CAST(date_trunc('{period}', month) AS TIMESTAMP) AS start, month FROM
                (SELECT DISTINCT month FROM monthly)""")
        partial = [r[0] for r in con.execute(
            f"SELECT start FROM p GROUP BY start HAVING count(*) < {size} ORDER BY start"
        ).fetchall()]
        out = con.sql(f"""SELECT p.start AS month, {', '.join(KEYS)},
                CAST(sum(numerator) AS BIGINT) AS numerator,
                CAST(sum(denominator) AS BIGINT) AS denominator
                {''.join(f', CAST(max({c}) AS BIGINT) AS {c}' for c in covariates)}
            FROM monthly JOIN p USING (month)
            WHERE p.start NOT IN (SELECT start FROM p GROUP BY start HAVING count(*) < {size})
            GROUP BY ALL ORDER BY outcome, dimension, stratum, unit, p.start""").to_arrow_table()
    finally:
        con.close()
    out = out.cast(table.schema)
    return out, _quality(quality, out, period, partial)


def _label(start, period: str) -> str:
    return f"{start.year} Q{(start.month - 1) // 3 + 1}" if period == "quarter" else f"{start.year}"


def _quality(quality: dict, table: pa.Table, period: str, partial) -> dict:
    """quality.json at the period: how many periods, which part periods were dropped and which
    periods hold an excluded month (the ITS excludes them; docs/adr/0160)."""
    size = MONTHS_IN[period]
    starts = sorted(set(table["month"].to_pylist()))
    excluded = sorted({_first_month(m, size) for m in quality.get("excluded_months", [])})
    return {**quality, "period": period,
            "series_periods": {"start": f"{starts[0]:%Y-%m}" if starts else None,
                               "end": f"{starts[-1]:%Y-%m}" if starts else None,
                               "periods": len(starts)},
            "part_periods_dropped": [_label(s, period) for s in partial],
            "excluded_periods": excluded}


def _first_month(month: str, size: int) -> str:
    """``"2020-05"`` -> ``"2020-04"`` (quarters) or ``"2020-01"`` (years)."""
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year:04d}-{mon - (mon - 1) % size:02d}"
