"""From validated monthly counts to ``series.parquet``: window, NHS quirks, the complete grid.

Input: table ``long`` in the DuckDB connection, one row per month x unit x dimension x stratum x
outcome with ``numerator``, ``denominator``, ``size`` (records behind the row, for small-unit
merging) and ``present`` (source rows behind it: 0 means the unit had no records that month).
Both input formats (record-level, monthly) arrive here the same way, so quirks are written once.

Quirks (params ``data: quirks:``, :mod:`pipeline.data.options`), in this order:

1. reporting lag: the last N months of the extract (by its latest month) are incomplete and
   dropped; the series ends before them (``reporting_lag`` in quality.json);
2. window: rows outside the params window are dropped and counted;
3. small units: units with fewer records than ``min_records`` in the window are merged into one
   unit (``merged_units``); units named in the design (staggered starts, comparators) never are;
4. missing months: a unit-month with no records is an error, or listed (``missing_months``)
   when ``missing_months: list``; never filled silently (the grid still holds the month, with
   zeros, and quality.json says which);
5. disruption: ``exclude`` lists its months in quality.json as ``excluded_months`` (the ITS
   engine's ``exclude_months``; its missing months are not errors); ``model`` adds the 0/1 column
   ``covariate_disruption``;
6. coding change: the 0/1 step column ``covariate_coding_change`` (1 from that month on).
"""
from __future__ import annotations

from datetime import date

import pyarrow as pa

from pipeline.errors import excerpt

from .errors import Problem
from .options import DataOptions
from .source import lit

SERIES_SCHEMA = pa.schema([
    ("month", pa.timestamp("us")), ("unit", pa.string()), ("dimension", pa.string()),
    ("stratum", pa.string()), ("outcome", pa.string()), ("numerator", pa.int64()),
    ("denominator", pa.int64()),
])
#: More distinct units than this and the unit column is probably an identifier.
MAX_UNITS = 500


def month_add(d: date, k: int) -> date:
    i = d.year * 12 + d.month - 1 + k
    return date(i // 12, i % 12 + 1, 1)


def months_between(lo: date, hi: date) -> list[date]:
    out, d = [], lo
    while d <= hi:
        out.append(d)
        d = month_add(d, 1)
    return out


def label(d: date) -> str:
    return f"{d:%Y-%m}"


def finish(con, *, name: str, column: str, outcomes, window, options: DataOptions,
           keep_units=(), unit_column: str = "unit") -> tuple[list[Problem], pa.Table | None, dict]:
    """Apply the window and quirks to ``long`` and build the series table (see module doc).

    ``column`` and ``unit_column`` are the file's names of the month and unit columns, for
    the messages."""
    quirks = options.quirks
    problems: list[Problem] = []
    lo, hi = (date.fromisoformat(w + "-01") for w in window)
    first = next(iter(outcomes))
    last = con.execute("SELECT max(month) FROM long").fetchone()[0]
    info: dict = {}
    end = hi
    if quirks.reporting_lag_months:
        incomplete = months_between(month_add(last, 1 - quirks.reporting_lag_months), last)
        end = min(hi, month_add(last, -quirks.reporting_lag_months))
        info["reporting_lag"] = {
            "months": quirks.reporting_lag_months, "last_month_in_extract": label(last),
            "incomplete_months": [label(m) for m in incomplete],
            "dropped_months": [label(m) for m in incomplete if lo <= m <= hi]}
    outside = con.execute(
        f"SELECT coalesce(sum(present) FILTER (WHERE month < DATE {lit(lo)} OR month > DATE "
        f"{lit(hi)}), 0), coalesce(sum(present) FILTER (WHERE month > DATE {lit(end)} AND month "
        f"<= DATE {lit(hi)}), 0) FROM long WHERE dimension = 'all' AND outcome = {lit(first)}"
    ).fetchone()
    info["outside_window"], info["in_incomplete_months"] = int(outside[0]), int(outside[1])
    if end < lo:
        problems.append(Problem(name, column, (), 0,
                                f"after dropping the {quirks.reporting_lag_months} incomplete "
                                f"months up to {label(last)}, no month of the window "
                                f"{window[0]}..{window[1]} is left",
                                "check the window and data: quirks: reporting_lag_months in "
                                "params.yaml against the extract's months"))
        return problems, None, info
    con.execute(f"CREATE OR REPLACE TEMP TABLE inwin AS SELECT * FROM long "
                f"WHERE month BETWEEN DATE {lit(lo)} AND DATE {lit(end)}")
    if not con.execute("SELECT count(*) FROM inwin").fetchone()[0]:
        problems.append(Problem(name, column, (), 0,
                                f"no row falls in the window {window[0]}..{window[1]}",
                                "check the window in params.yaml matches the extract's months"))
        return problems, None, info

    # Small units merged.
    sizes = dict(con.execute(
        "SELECT unit, max(total) FROM (SELECT unit, outcome, sum(size) AS total FROM inwin "
        "WHERE dimension = 'all' GROUP BY unit, outcome) GROUP BY unit ORDER BY unit").fetchall())
    small = quirks.small_units
    merged = sorted(u for u, n in sizes.items()
                    if n < small.min_records and u not in set(keep_units))
    if merged:
        units_sql = ", ".join(lit(u) for u in merged)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE inwin AS
            SELECT month, CASE WHEN unit IN ({units_sql}) THEN {lit(small.label)} ELSE unit END
                   AS unit, dimension, stratum, outcome, sum(numerator) AS numerator,
                   sum(denominator) AS denominator, sum(size) AS size, sum(present) AS present
            FROM inwin GROUP BY ALL""")
        info["merged_units"] = {"into": small.label, "min_records": small.min_records,
                                "units": {u: int(sizes[u]) for u in merged}}
    units = [u for (u,) in con.execute("SELECT DISTINCT unit FROM inwin ORDER BY unit").fetchall()]
    if len(units) > MAX_UNITS:
        problems.append(Problem(name, unit_column, (), 0,
                                f"{len(units)} distinct units (e.g. "
                                f"{', '.join(excerpt(u) for u in units[:3])}): "
                                "is the unit column an identifier?",
                                f"map the service / ward / site column as the unit (data: "
                                f"columns: {{unit: ...}}); at most {MAX_UNITS} units"))
        return problems, None, info

    # Missing months: a unit-month without a single record.
    months = months_between(lo, end)
    disruption = quirks.disruption
    excluded = []
    if disruption:
        d_lo, d_hi = (date.fromisoformat(m + "-01") for m in (disruption.start, disruption.end))
        in_disruption = [m for m in months if d_lo <= m <= d_hi]
        if disruption.handling == "exclude":
            excluded = in_disruption
        info["disruption"] = {"label": disruption.label, "start": disruption.start,
                              "end": disruption.end, "handling": disruption.handling,
                              "months": [label(m) for m in in_disruption]}
    present = {(u, m) for u, m in con.execute(
        "SELECT DISTINCT unit, month FROM inwin WHERE dimension = 'all' AND present > 0"
    ).fetchall()}
    missing = {}
    for u in units:
        gaps = [m for m in months if (u, m) not in present and m not in excluded]
        if gaps:
            missing[u] = [label(m) for m in gaps]
    if missing:
        info["missing_months"] = missing
        if quirks.missing_months == "error":
            for u, gaps in missing.items():
                shown = ", ".join(gaps[:6]) + (", ..." if len(gaps) > 6 else "")
                problems.append(Problem(
                    name, column, (), 0,
                    f"unit {u!r} has no records in {len(gaps)} month{'s' if len(gaps) > 1 else ''}"
                    f" of the window ({shown})",
                    "add the missing months to the extract; if the unit truly had no activity, "
                    "set data: quirks: missing_months: list in params.yaml (the months are then "
                    "listed in quality.json and kept as zeros), or exclude them as a disruption"))
    if problems:
        return problems, None, info
    info["excluded_months"] = [label(m) for m in excluded]
    info["series_window"] = {"start": label(lo), "end": label(end), "months": len(months)}
    info["unit_sizes"] = {u: int(n) for u, n in con.execute(
        f"SELECT unit, sum(size) FROM inwin WHERE dimension = 'all' AND outcome = {lit(first)} "
        f"GROUP BY unit ORDER BY unit").fetchall()}
    return problems, _grid(con, outcomes, lo, end, options, info), info


def _grid(con, outcomes, lo: date, end: date, options: DataOptions, info: dict) -> pa.Table:
    """Every month x unit x stratum x outcome, zeros where nothing happened, sorted."""
    quirks = options.quirks
    covariates = []
    if quirks.disruption and quirks.disruption.handling == "model":
        covariates.append(f"CAST(g.month BETWEEN DATE {lit(quirks.disruption.start + '-01')} AND "
                          f"DATE {lit(quirks.disruption.end + '-01')} AS BIGINT) "
                          f"AS covariate_disruption")
    if quirks.coding_change:
        covariates.append(f"CAST(g.month >= DATE {lit(quirks.coding_change + '-01')} AS BIGINT) "
                          f"AS covariate_coding_change")
        info["coding_change"] = quirks.coding_change
    outcome_rows = ", ".join(f"({lit(k)})" for k in outcomes)
    table = con.sql(f"""
        WITH months AS (SELECT CAST(m AS DATE) AS month FROM generate_series(DATE {lit(lo)},
                        DATE {lit(end)}, INTERVAL 1 MONTH) t(m)),
        units AS (SELECT DISTINCT unit FROM inwin),
        strata AS (SELECT DISTINCT dimension, stratum FROM inwin),
        outcomes AS (SELECT * FROM (VALUES {outcome_rows}) o(outcome)),
        g AS (SELECT * FROM months, units, strata, outcomes)
        SELECT CAST(g.month AS TIMESTAMP) AS month, g.unit, g.dimension, g.stratum, g.outcome,
               CAST(coalesce(a.numerator, 0) AS BIGINT) AS numerator,
               CAST(coalesce(a.denominator, 0) AS BIGINT) AS denominator
               {''.join(', ' + c for c in covariates)}
        FROM g LEFT JOIN inwin a ON a.month = g.month AND a.unit = g.unit
             AND a.dimension = g.dimension AND a.stratum = g.stratum AND a.outcome = g.outcome
        ORDER BY g.outcome, g.dimension, g.stratum, g.unit, g.month""").to_arrow_table()
    schema = SERIES_SCHEMA
    for name in ("covariate_disruption", "covariate_coding_change"):
        if name in table.column_names:
            schema = schema.append(pa.field(name, pa.int64()))
    return table.cast(schema)


def quirk_info(info: dict) -> dict:
    """The quirks :func:`finish` applied, as quality.json reports them (both layouts)."""
    keys = ("series_window", "reporting_lag", "excluded_months", "disruption", "coding_change",
            "missing_months", "merged_units")
    out = {k: info[k] for k in keys if k in info}
    out.setdefault("excluded_months", [])
    out.setdefault("missing_months", {})
    return out


def quality_header(source, scan, layout: str) -> dict:
    """The first keys of quality.json, the same for both layouts (``records``, ``monthly``):
    the extract's file name, the columns renamed to the standard names, rows read and blank
    rows skipped."""
    return {"extract": source.path.name, "format": layout,
            "columns": {k: v for k, v in scan.mapping.items() if k != v},
            "rows_read": scan.rows, "blank_rows_skipped": scan.blank_rows}
