"""Validate an extract and aggregate it to the monthly long series, in DuckDB.

Why DuckDB SQL: 10 million rows must validate and aggregate in seconds (DESIGN.md section 7)
and the same SQL ports to Spark. Why a complete grid: every month x unit x stratum x outcome is
present (zeros where nothing happened) so a missing month can never be filled silently
downstream (docs/architecture.md). Why temporary files and ``os.replace``: a failed run never
leaves half an output, and ``data/raw`` (the input's folder) is never written.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ExtractError
from .schema import flag_sql, inspect, lit, month_sql, stratum_sql, text_sql
from .simulate import write_json, write_parquet

SERIES_SCHEMA = pa.schema([
    ("month", pa.timestamp("us")), ("unit", pa.string()), ("dimension", pa.string()),
    ("stratum", pa.string()), ("outcome", pa.string()), ("numerator", pa.int64()),
    ("denominator", pa.int64()),
])


def _aggregate_sql(outcomes, dimensions, window, unit_column, month_column, types) -> str:
    """One pass over the rows: monthly sums per unit for the overall series and each dimension
    (GROUPING SETS, so the rows are not copied once per dimension)."""
    lo, hi = lit(window[0] + "-01"), lit(window[1] + "-01")
    m = month_sql(month_column, types)
    cols = [f"{m} AS month", f"{text_sql(unit_column, types)} AS unit"]
    cols += [f"{stratum_sql(d, types)} AS s{j}" for j, d in enumerate(dimensions)]
    for i, (num, den) in enumerate(outcomes.values()):
        cols += [f"{flag_sql(num, types)} AS n{i}", f"{flag_sql(den, types) if den else '1'} AS d{i}"]
    sets = ["(month, unit)"] + [f"(month, unit, s{j})" for j in range(len(dimensions))]
    dim_case = " ".join(f"WHEN grouping(s{j}) = 0 THEN {lit(d)}" for j, d in enumerate(dimensions))
    stratum = f"coalesce({', '.join([f's{j}' for j in range(len(dimensions))] + [lit('all')])})"
    sums = ", ".join(f"CAST(sum(n{i}) AS BIGINT) AS n{i}, CAST(sum(d{i}) AS BIGINT) AS d{i}"
                     for i in range(len(outcomes)))
    dimension = f"CASE {dim_case} ELSE 'all' END" if dimensions else "'all'"
    return f"""
    CREATE TEMP TABLE agg AS
    SELECT month, unit, {dimension} AS dimension, {stratum} AS stratum, count(*) AS n_rows, {sums}
    FROM (SELECT {', '.join(cols)} FROM src WHERE {m} BETWEEN DATE {lo} AND DATE {hi})
    GROUP BY GROUPING SETS ({', '.join(sets)})"""


def _grid_sql(outcomes, window) -> str:
    """The complete grid month x unit x stratum x outcome, zeros where nothing happened."""
    lo, hi = lit(window[0] + "-01"), lit(window[1] + "-01")
    keys = list(outcomes)
    pick_n = " ".join(f"WHEN {lit(k)} THEN a.n{i}" for i, k in enumerate(keys))
    pick_d = " ".join(f"WHEN {lit(k)} THEN a.d{i}" for i, k in enumerate(keys))
    outcome_rows = ", ".join(f"({lit(k)})" for k in keys)
    return f"""
    WITH months AS (SELECT CAST(m AS DATE) AS month
                    FROM generate_series(DATE {lo}, DATE {hi}, INTERVAL 1 MONTH) t(m)),
    units AS (SELECT DISTINCT unit FROM agg),
    strata AS (SELECT DISTINCT dimension, stratum FROM agg),
    outcomes AS (SELECT * FROM (VALUES {outcome_rows}) o(outcome))
    SELECT CAST(g.month AS TIMESTAMP) AS month, g.unit, g.dimension, g.stratum, g.outcome,
           coalesce(CASE g.outcome {pick_n} END, 0) AS numerator,
           coalesce(CASE g.outcome {pick_d} END, 0) AS denominator
    FROM (SELECT * FROM months, units, strata, outcomes) g
    LEFT JOIN agg a ON a.month = g.month AND a.unit = g.unit AND a.dimension = g.dimension
                   AND a.stratum = g.stratum
    ORDER BY g.outcome, g.dimension, g.stratum, g.unit, g.month"""


def prepare(extract_path, out_dir, *, outcomes: dict[str, tuple[str, str | None]],
            dimensions: list[str], window: tuple[str, str], unit_column: str = "unit",
            month_column: str = "month") -> dict:
    """Validate ``extract_path`` and write ``out_dir/series.parquet`` and ``quality.json``.

    Raises :class:`ExtractError` (every problem of the file) before anything is written.
    Returns the quality dictionary written to quality.json. Rows whose month is outside
    ``window`` are excluded and counted, not an error.
    """
    src, out = Path(extract_path), Path(out_dir)
    if out.resolve() == src.resolve().parent:
        raise ValueError(f"refusing to write outputs next to the input {src}: choose another "
                         f"out_dir (e.g. data/processed/<key>)")
    outcomes = {k: (v[0], v[1]) for k, v in outcomes.items()}
    with duckdb.connect() as con:
        found = inspect(con, src, outcomes=outcomes, dimensions=dimensions, window=window,
                        unit_column=unit_column, month_column=month_column)
        if found.problems:
            raise ExtractError(found.problems)
        con.execute(_aggregate_sql(outcomes, dimensions, window, unit_column, month_column,
                                   found.types))
        table = con.sql(_grid_sql(outcomes, window)).to_arrow_table().cast(SERIES_SCHEMA)
        unit_rows = con.execute("SELECT unit, sum(n_rows) FROM agg WHERE dimension = 'all' "
                                "GROUP BY unit ORDER BY unit").fetchall()
        months_with_data = con.execute("SELECT count(DISTINCT month) FROM agg").fetchall()[0][0]
    quality = _quality(src, table, found, outcomes, dimensions, window, unit_rows, months_with_data,
                       {unit_column, month_column})
    write_parquet(table, out / "series.parquet")
    write_json(quality, out / "quality.json")
    return quality


def _quality(src, table, found, outcomes, dimensions, window, unit_rows, months_with_data, used):
    overall = table.filter(pc.equal(table["dimension"], "all"))
    totals = {}
    for key, (num, den) in outcomes.items():
        part = overall.filter(pc.equal(overall["outcome"], key))
        totals[key] = {"numerator_column": num, "denominator_column": den,
                       "numerator": int(pc.sum(part["numerator"]).as_py() or 0),
                       "denominator": int(pc.sum(part["denominator"]).as_py() or 0)}
    strata = {}
    for dim in dimensions:
        part = table.filter(pc.equal(table["dimension"], dim))
        strata[dim] = sorted(set(part["stratum"].to_pylist()))
    needed = used | set(dimensions) | {c for pair in outcomes.values() for c in pair if c}
    n_months = len(set(table["month"].to_pylist()))
    return {
        "extract": src.name,
        "window": {"start": window[0], "end": window[1], "months": n_months},
        "rows_read": found.rows,
        "rows_outside_window": found.rows_outside_window,
        "rows_used": found.rows - found.rows_outside_window,
        "months_with_data": int(months_with_data),
        "units": {u: int(n) for u, n in unit_rows},
        "strata": strata,
        "outcomes": totals,
        "ignored_columns": sorted(c for c in found.columns if c not in needed),
        "series_rows": table.num_rows,
    }
