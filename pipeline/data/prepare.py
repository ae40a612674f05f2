"""Validate an extract and aggregate it to the monthly long series, in DuckDB.

Why DuckDB SQL: 10 million rows must validate and aggregate in seconds, within 1 GB, and the same
SQL ports to Spark later (docs/design.md section 7; docs/adr/0020). Why a complete grid: every month x
unit x stratum x outcome is present (zeros where nothing happened) so a missing month can never
be filled silently downstream (docs/architecture.md). Why temporary files and ``os.replace``
(:mod:`pipeline.atomic`): a failed or killed run never leaves half an output, and ``data/raw``
(the input's folder) is never written (docs/data.md section 3).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import atomic

from . import engines
from .duplicates import copies_problem, find_copies, without_copies
from .errors import ExtractError, Problem
from .identifiers import find_identifiers
from .locate import locate, locate_values
from .monthly import scan_monthly
from .period_series import to_period
from .options import MONTHLY_COLUMNS, DataOptions, parse_options
from .population import apply_population
from .schema import scan_records, wide_to_long_sql
from .series import SERIES_SCHEMA, finish, quality_header, quirk_info
from .simulate import write_json, write_parquet
from .engines import TableSource
from .source import open_source

__all__ = ["SERIES_SCHEMA", "check_extract", "check_output_folder", "prepare", "validate_extract"]


def _options(options, outcomes, dimensions) -> DataOptions:
    if isinstance(options, DataOptions):
        return options
    return parse_options(options or {}, outcomes=outcomes, dimensions=dimensions)


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the cores this process may use (at most 4) and a 512 MB buffer
    budget (the whole process stays under 1 GB; bigger intermediates spill to the system temp
    dir). The CSV reader and the grouping run on every thread (checked with EXPLAIN ANALYZE)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, min(4, cores or 1))
    spill = Path(tempfile.gettempdir()) / "pipeline-duckdb"
    return duckdb.connect(config={"threads": threads, "memory_limit": "512MB",
                                  "temp_directory": str(spill)})


def check_extract(extract_path, *, outcomes: dict[str, tuple[str, str | None]],
                  dimensions: list[str], window: tuple[str, str], options=None,
                  keep_units=(), staff=None, crossed=(), populations=None, engine=None,
                  period: str = "month") -> tuple[pa.Table, dict]:
    """Validate and aggregate ``extract_path``; return ``(series table, quality dict)``.

    ``extract_path`` is a file, or a :class:`~pipeline.data.engines.TableSource` (a table in a
    database or Spark; ``engine``, if given, is an open connection to it, kept open).

    Raises :class:`ExtractError` listing every problem of the file. Nothing is written.
    ``options`` is the intervention's ``data:`` mapping (or parsed :class:`DataOptions`);
    ``keep_units`` are units the design names (staggered starts, comparators), never merged.
    ``staff`` is ``(path, outcomes)``: monthly staff counts whose outcomes join the series
    (:func:`add_staff`). ``crossed`` pairs of dimensions add intersectional strata
    (record-level extracts only; docs/adr/0078). ``populations`` maps an outcome key to its
    population table (:mod:`pipeline.data.population`; docs/adr/0079). ``period`` (month,
    quarter or year) is what the checked monthly series is summed to at the end
    (:mod:`pipeline.data.period_series`; docs/adr/0160).
    """
    outcomes = {k: (v[0], v[1]) for k, v in outcomes.items()}
    dimensions = list(dimensions)
    opts = _options(options, outcomes, dimensions)
    if isinstance(extract_path, TableSource):
        src = extract_path
        table, quality = _check_table(src, outcomes, dimensions, window, opts, keep_units,
                                      crossed, engine)
    else:
        src = Path(extract_path)
        table, quality = _check_file(src, outcomes, dimensions, window, opts, keep_units,
                                     crossed)
    if opts.drop_on_read:
        quality["dropped_on_read"] = sorted(opts.drop_on_read)
    if staff is not None:
        table, quality["staff_extract"] = add_staff(table, staff[0], staff[1], window, opts,
                                                    keep_units)
    if crossed and opts.format == "monthly":
        raise ExtractError([Problem(str(src), "dimension", (), 0,
                                    "crossed strata (intersections or a two-dimension "
                                    "target_group in params.yaml) need a record-level extract",
                                    "bring the record-level extract, or remove the "
                                    "intersection from params.yaml")])
    for key, path in (populations or {}).items():
        table, quality.setdefault("populations", {})[key] = apply_population(table, key, path)
    table, quality = to_period(table, quality, period)
    if not table.num_rows:
        raise ExtractError([Problem(str(src), None, (), 0,
                                    f"no whole {period} of data is left in the window "
                                    f"{window[0]}..{window[1]}",
                                    f"widen the window to at least one whole {period}, or "
                                    "set period: month in params.yaml")])
    quality["strata"] = _strata(table, [*dimensions, *(" & ".join(p) for p in crossed)])
    quality["outcomes"] = _totals(table, outcomes)
    quality["series_rows"] = table.num_rows
    quality["window"] = {"start": window[0], "end": window[1],
                         "months" if period == "month" else "periods":
                             len(set(table["month"].to_pylist()))}
    return table, quality


def _check_file(src: Path, outcomes, dimensions, window, opts: DataOptions, keep_units,
                crossed) -> tuple[pa.Table, dict]:
    """An extract file, read by the embedded DuckDB (the default route)."""
    with connect() as con:
        source, problems = open_source(con, src, opts)
        if problems:
            raise ExtractError(problems)
        # Problems of the whole file first (identifiers, copies), then every check of the scan,
        # all reported together.
        first, needed = _file_problems(con, source, outcomes, dimensions, window, opts)
        copies = (find_copies(con, source, opts.drop_on_read, needed.values())
                  if opts.format == "records" else None)
        if copies and copies.count and opts.quirks.duplicate_rows == "error":
            first.append(copies_problem(source, copies))
        elif copies and copies.count:
            source = without_copies(source, copies, opts.drop_on_read)
        try:
            if opts.format == "monthly":
                table, quality = scan_monthly(con, source, outcomes=outcomes,
                                              dimensions=dimensions, window=window,
                                              options=opts, keep_units=keep_units)
            else:
                table, quality = _records(con, source, outcomes, dimensions, window, opts,
                                          keep_units, crossed)
        except ExtractError as exc:
            raise ExtractError(first + exc.problems) from None
        if first:
            raise ExtractError(first)
    if copies is not None:
        quality["duplicate_rows_dropped"] = copies.count
    return table, quality


def _check_table(src: TableSource, outcomes, dimensions, window, opts: DataOptions, keep_units,
                 crossed, engine=None) -> tuple[pa.Table, dict]:
    """A table in a database or Spark: the same checks and aggregation run there
    (:mod:`pipeline.data.engines`); only the validation report and the monthly rows return.

    Not run in the engine (docs/databases.md): the content check for direct identifiers (it
    reads a sample of values; names are still checked) and the exact-copies check (a table has
    no row order, so no "row 7 repeats row 3"). Problems name no rows, for the same reason.
    """
    if opts.format != "records":
        raise ExtractError([Problem(str(src), None, (), 0, "a database source must hold "
                                    "record-level rows (data: format: records)",
                                    "point source: at the record-level table, or export the "
                                    "monthly counts to a file and use extract:")])
    own = engine is None
    engine = engine or engines.connect(src)
    try:
        source = engines.open_table(engine, src)
        with connect() as con:
            first, _ = _file_problems(engine, source, outcomes, dimensions, window, opts,
                                      content=False)
            try:
                table, quality = _records(con, source, outcomes, dimensions, window, opts,
                                          keep_units, crossed, engine=engine)
            except ExtractError as exc:
                raise ExtractError(first + exc.problems) from None
            if first:
                raise ExtractError(first)
    finally:
        if own:
            engine.close()
    quality["not_checked_in_the_database"] = ["direct identifiers by content",
                                              "exact copies of rows"]
    return table, quality


def add_staff(table: pa.Table, path, outcomes, window, opts: DataOptions, keep_units
              ) -> tuple[pa.Table, dict]:
    """The patient series with the staff outcomes of ``path`` appended (docs/adr/0076).

    Staff counts (trained, in post) are aggregates a service reports per month, so the file
    has the monthly layout (docs/data.md) with dimension ``all`` only; it is validated like any
    monthly file, with the patient extract's quirks. Its units must be the patient units (a
    staff outcome of a service the patients do not come from could not be read beside them).
    """
    staff_opts = DataOptions(format="monthly", quirks=opts.quirks)
    src = Path(path)
    with connect() as con:
        source, problems = open_source(con, src, staff_opts)
        if problems:
            raise ExtractError(problems)
        staff, quality = scan_monthly(con, source, outcomes=outcomes, dimensions=[],
                                      window=window, options=staff_opts, keep_units=keep_units)
    units = set(table["unit"].to_pylist())
    extra = sorted(set(staff["unit"].to_pylist()) - units)
    if extra:
        raise ExtractError([Problem(str(src), "unit", (), 0,
                                    f"units {extra} have staff counts but no patient records "
                                    f"(the extract's units: {sorted(units)})",
                                    "name the units as the patient extract does")])
    for name in table.column_names:     # covariates of the patient series, by month
        if name not in staff.column_names:
            by_month = dict(zip(table["month"].to_pylist(), table[name].to_pylist()))
            staff = staff.append_column(name, pa.array(
                [by_month.get(m, 0) for m in staff["month"].to_pylist()],
                type=table.schema.field(name).type))
    joined = pa.concat_tables([table, staff.select(table.column_names).cast(table.schema)])
    order = [("outcome", "ascending"), ("dimension", "ascending"), ("stratum", "ascending"),
             ("unit", "ascending"), ("month", "ascending")]
    return joined.sort_by(order), {k: quality[k] for k in ("extract", "rows_read", "rows_used",
                                                            "months_with_data", "units")}


def _file_problems(con, source, outcomes, dimensions, window, opts: DataOptions, content=True
                   ) -> tuple[list[Problem], dict[str, str]]:
    """Direct identifiers in the file, and ``drop_on_read`` names the file does not have; also
    the file's names of the columns in use (ours -> theirs)."""
    needed = (list(MONTHLY_COLUMNS) if opts.format == "monthly" else
              ["month", "unit", *dimensions, *(c for pair in outcomes.values() for c in pair if c)])
    problems = [Problem(str(source.path), c, (), 0, "is listed under data: drop_on_read but the "
                        f"file has no such column (it has: {', '.join(source.columns[:20])})",
                        "correct the name in params.yaml (names are matched exactly), or remove "
                        "it from drop_on_read")
                for c in opts.drop_on_read if c not in source.columns]
    mapped = {ours: opts.file_column(ours) for ours in needed}
    return problems + find_identifiers(con, source, dropped=opts.drop_on_read,
                                       window_start=window[0], mapped=mapped,
                                       content=content), mapped


def _records(con, source, outcomes, dimensions, window, opts: DataOptions, keep_units,
             crossed=(), engine=None):
    """The record-level route. With ``engine`` (a database or Spark), the scan and the monthly
    aggregation run there and only the monthly rows come into ``con`` for the quirks."""
    run = engine or con
    scan = scan_records(run, source, outcomes=outcomes, dimensions=dimensions, window=window,
                        options=opts)
    structural, table, info = [], None, {}
    column = scan.mapping.get("month", "month")
    if scan.complete and not scan.problems:
        flags = list(dict.fromkeys(c for pair in outcomes.values() for c in pair if c))
        run.execute(f"CREATE OR REPLACE TEMP TABLE long AS SELECT *, size AS present FROM "
                    f"({wide_to_long_sql(outcomes, flags, dimensions, crossed)}) AS wl")
        if engine is not None:
            engines.fetch_into(engine, con, "long")
        if con.execute("SELECT count(*) FROM long").fetchone()[0]:
            structural, table, info = finish(con, name=str(source.path), column=column,
                                             unit_column=scan.mapping.get("unit", "unit"),
                                             outcomes=outcomes, window=window, options=opts,
                                             keep_units=keep_units)
    located = (locate(con, source, scan.mapping, scan.checks) if engine is None else
               locate_values(engine, source, scan.mapping, scan.checks))
    problems = scan.problems + located + structural
    if problems:
        raise ExtractError(problems)
    months_with_data = con.execute(
        f"SELECT count(DISTINCT month) FROM inwin WHERE present > 0").fetchone()[0]
    used = set(scan.mapping.values())
    rows_used = sum(info["unit_sizes"].values())
    quality = {
        **quality_header(source, scan, "records"),
        "rows_outside_window": info["outside_window"],
        "rows_in_incomplete_months": info["in_incomplete_months"],
        "rows_used": rows_used,
        "months_with_data": int(months_with_data),
        "units": info["unit_sizes"],
        "ignored_columns": sorted(c for c in scan.columns
                                  if c not in used and c not in opts.drop_on_read),
        **quirk_info(info),
    }
    return table, quality


def _strata(table: pa.Table, dimensions) -> dict:
    strata = {}
    for dim in dimensions:
        part = table.filter(pc.equal(table["dimension"], dim))
        strata[dim] = sorted(set(part["stratum"].to_pylist()))
    return strata


def _totals(table: pa.Table, outcomes) -> dict:
    overall = table.filter(pc.equal(table["dimension"], "all"))
    totals = {}
    for key, (num, den) in outcomes.items():
        part = overall.filter(pc.equal(overall["outcome"], key))
        totals[key] = {"numerator_column": num, "denominator_column": den,
                       "numerator": int(pc.sum(part["numerator"]).as_py() or 0),
                       "denominator": int(pc.sum(part["denominator"]).as_py() or 0)}
    return totals


def validate_extract(path, *, outcomes: dict[str, tuple[str, str | None]], dimensions: list[str],
                     window: tuple[str, str], options=None, keep_units=(), staff=None,
                     crossed=(), populations=None, engine=None, period: str = "month") -> dict:
    """Raise :class:`ExtractError` listing every problem of the extract at ``path``.

    Runs every check ``prepare`` runs (quirks included) and writes nothing; returns the quality
    dictionary ``prepare`` would write. ``outcomes`` maps outcome key -> (numerator column,
    denominator column or None); ``dimensions`` are the equity columns; ``window`` is
    ("YYYY-MM", "YYYY-MM"), inclusive.
    """
    return check_extract(path, outcomes=outcomes, dimensions=dimensions, window=window,
                         options=options, keep_units=keep_units, staff=staff,
                         crossed=crossed, populations=populations, engine=engine,
                         period=period)[1]


def prepare(extract_path, out_dir, *, outcomes: dict[str, tuple[str, str | None]],
            dimensions: list[str], window: tuple[str, str], options=None,
            keep_units=(), check_series=None, staff=None, crossed=(),
            populations=None, engine=None, period: str = "month") -> dict:
    """Validate ``extract_path`` (a file or a table); write ``out_dir/series.parquet`` and
    ``quality.json``.

    ``check_series(table, quality)``, if given, runs on the series before anything is written
    (the CLI checks the params' design against it there: :mod:`pipeline.preflight`).
    Raises :class:`ExtractError` (every problem of the file) before anything is written; each
    output is written to a temporary file beside it and renamed into place, so an interrupted
    run leaves the previous outputs as they were. Returns the quality dictionary.
    """
    out = Path(out_dir)
    src = extract_path if isinstance(extract_path, TableSource) else Path(extract_path)
    problems = [] if isinstance(src, TableSource) else check_output_folder(src, out)
    if problems:
        raise ExtractError(problems)
    table, quality = check_extract(src, outcomes=outcomes, dimensions=dimensions, window=window,
                                   options=options, keep_units=keep_units, staff=staff,
                                   crossed=crossed, populations=populations, engine=engine,
                                   period=period)
    if check_series is not None:
        check_series(table, quality)
    atomic.replace_files(out, {"series.parquet": lambda p: write_parquet(table, p),
                        "quality.json": lambda p: write_json(quality, p)})
    return quality


def check_output_folder(extract: Path, out: Path) -> list[Problem]:
    """The extract must not sit in the folder ``prepare`` replaces (or be written beside).

    Why: ``data/processed/<key>`` is an output, replaced on every run and deleted by DVC, and
    ``data/raw`` is never written (docs/data.md section 3).
    """
    def resolved(p: Path) -> Path:
        try:
            return p.resolve()
        except (RuntimeError, OSError):   # a symlink loop: reported by open_source
            return p.absolute()
    src, dst = resolved(extract), resolved(out)
    if src.parent == dst or dst in src.parents:
        return [Problem(str(extract), None, (), 0,
                        f"the extract is inside {out}, the folder prepare writes its outputs "
                        "into (and DVC deletes): it would be lost",
                        f"move it to data/raw/{out.name}/ (git-ignored, never written by the "
                        "pipeline) and point extract: in params.yaml at it")]
    return []
