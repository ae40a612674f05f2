"""Run the extract's checks and aggregation inside the database or Spark cluster that holds it.

Why: the code goes to the data, only aggregates come out (OpenSAFELY's principle; issue 15).
The checks and the aggregation of :mod:`pipeline.data.schema` are written once, in DuckDB's SQL;
an :class:`Engine` runs each statement in its own dialect, translated by SQLGlot
(docs/adr/0110). Intermediate tables (the "cells" of the scan, the normalised rows) are
temporary tables *in the engine*; what comes back is small: sums, one value per distinct value
of a column (the validation report), and the monthly rows of the series (:func:`fetch_into`).
Every fetch is counted in :attr:`Engine.fetched`, so a test can show nothing record-level
leaves (tests/test_engines.py).

Sources (params ``source:``; docs/databases.md): ``postgresql://...`` (psycopg),
``sc://...`` (Spark Connect: Databricks and Spark clusters), ``spark:local`` (a Spark session on
this machine), ``duckdb:///path`` (a DuckDB database file). The URL carries secrets, so it is read
from an environment variable or a git-ignored file and never printed: messages name the engine
and the table only.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from .errors import ExtractError, Problem
from .source import Source, q

#: The engines' column types under the names the checks use (DuckDB's).
_TYPES = {
    "tinyint": "TINYINT", "smallint": "SMALLINT", "int2": "SMALLINT", "integer": "INTEGER",
    "int": "INTEGER", "int4": "INTEGER", "bigint": "BIGINT", "int8": "BIGINT", "long": "BIGINT",
    "boolean": "BOOLEAN", "bool": "BOOLEAN", "double precision": "DOUBLE", "double": "DOUBLE",
    "float8": "DOUBLE", "real": "FLOAT", "float": "FLOAT", "float4": "FLOAT", "date": "DATE",
    "text": "VARCHAR", "string": "VARCHAR", "character varying": "VARCHAR", "varchar": "VARCHAR",
}
_CREATE = re.compile(r"^\s*CREATE OR REPLACE TEMP TABLE (\w+) AS\s+(.*)$", re.S | re.I)
#: The series' monthly rows as fetched: one row per month x unit x dimension x stratum x outcome.
LONG_COLUMNS = ("month DATE, unit VARCHAR, dimension VARCHAR, stratum VARCHAR, outcome VARCHAR, "
                "numerator BIGINT, denominator BIGINT, size BIGINT, present BIGINT")


def duck_type(name: str) -> str:
    """An engine's type name as the checks know it (unknown types are read as text)."""
    base = name.strip().lower().split("(")[0]
    return _TYPES.get(base, name.strip().upper())


def _plain(value):
    """Engines return sums as Decimal (PostgreSQL) or Row objects (Spark): plain Python."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class _Rows:
    def __init__(self, rows):
        self.rows = [tuple(_plain(v) for v in r) for r in rows]

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows


@dataclass
class Engine:
    """One connection to where the data live: ``connection`` is the DB-API connection or the
    Spark session; ``dialect`` (per class) is SQLGlot's name for its SQL; ``name`` says which
    engine in messages (the class's ``default_name`` unless given); ``fetched`` lists the
    number of rows each query brought back."""

    connection: Any
    name: str = ""
    fetched: list[int] = field(default_factory=list)
    dialect: ClassVar[str] = "duckdb"
    default_name: ClassVar[str] = "duckdb"

    def __post_init__(self):
        self.name = self.name or self.default_name

    def transpile(self, sql: str) -> str:
        if self.dialect == "duckdb":
            return sql
        import sqlglot

        return sqlglot.transpile(sql, read="duckdb", write=self.dialect)[0]

    def execute(self, sql: str) -> _Rows:
        """Run one of the checks' statements (DuckDB SQL) here; temporary tables stay here."""
        made = _CREATE.match(sql)
        if made:
            self._create(made[1], self.transpile(made[2]))
            return _Rows([])
        rows = _Rows(self._query(self.transpile(sql)))
        self.fetched.append(len(rows.rows))
        return rows

    def columns(self, table: str) -> dict[str, str]:
        """The table's columns and their types (DuckDB's names), in order; {} if no table."""
        raise NotImplementedError

    def _query(self, sql: str) -> list:
        raise NotImplementedError

    def _create(self, name: str, select: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection (a DB-API connection; Spark overrides this)."""
        self.connection.close()


class DuckDBEngine(Engine):
    """A DuckDB database file (or an existing connection, for tests and benchmarks)."""

    def columns(self, table):
        try:
            got = self.connection.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
        except Exception:  # noqa: BLE001 - no such table: reported by the caller
            return {}
        return {r[0]: str(r[1]) for r in got}

    def _query(self, sql):
        return self.connection.execute(sql).fetchall()

    def _create(self, name, select):
        self.connection.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")


class PostgresEngine(Engine):
    """A PostgreSQL server through a psycopg connection."""

    dialect = "postgres"
    default_name = "postgresql"

    def columns(self, table):
        parts = [p.strip('"') for p in table.split(".")]
        where = "table_name = %s" + (" AND table_schema = %s" if len(parts) > 1 else "")
        with self.connection.cursor() as cur:
            cur.execute(f"SELECT column_name, data_type FROM information_schema.columns "
                        f"WHERE {where} ORDER BY ordinal_position", parts[::-1])
            return {n: duck_type(t) for n, t in cur.fetchall()}

    def _query(self, sql):
        with self.connection.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def _create(self, name, select):
        with self.connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(f"CREATE TEMP TABLE {name} AS {select}")


@dataclass
class SparkEngine(Engine):
    """A Spark session: local mode, a cluster, or Databricks through Spark Connect. Each
    temporary table is a cached DataFrame, kept in ``_cached`` until it is replaced or the
    engine is closed (the session itself is the caller's)."""

    dialect = "spark"
    default_name = "spark"
    _cached: dict = field(default_factory=dict, repr=False)

    def columns(self, table):
        try:
            return {n: duck_type(t) for n, t in self.connection.table(table).dtypes}
        except Exception:  # noqa: BLE001 - AnalysisException: no such table
            return {}

    def _query(self, sql):
        return [tuple(r) for r in self.connection.sql(sql).collect()]

    def _create(self, name, select):
        old = self._cached.pop(name, None)
        if old is not None:
            old.unpersist()
        frame = self.connection.sql(select).cache()   # a temporary table: computed once, kept
        frame.createOrReplaceTempView(name)
        self._cached[name] = frame

    def register_parquet(self, view: str, path) -> str:
        self.connection.read.parquet(str(path)).createOrReplaceTempView(view)
        return view

    def close(self):
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()


def spark_session(master: str = "local[2]"):
    """A local Spark session set up for exact, repeatable answers (UTC dates, no UI)."""
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName("pipeline")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", os.environ.get("PIPELINE_SPARK_MEMORY", "2g"))
            .getOrCreate())


# --------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class TableSource:
    """A table or view in a database (params ``source:``); ``url`` holds secrets."""

    url: str
    table: str

    @property
    def engine_name(self) -> str:
        scheme = self.url.split(":", 1)[0].lower()
        return {"postgresql": "PostgreSQL", "postgres": "PostgreSQL", "sc": "Spark Connect",
                "spark": "Spark", "duckdb": "DuckDB"}.get(scheme, scheme)

    def __str__(self) -> str:           # never the URL: it may carry a password
        return f"{self.engine_name} table {self.table}"


class TableName(str):
    """The name a table's problems are reported under (a file's are under its path)."""

    @property
    def name(self) -> str:
        return str(self)


def resolve(spec: dict, root: Path) -> TableSource:
    """The params ``source:`` mapping made a :class:`TableSource`: the URL from the environment
    variable ``url_env`` or the (git-ignored) file ``url_file``, never from params.yaml."""
    if spec.get("url_env"):
        url = os.environ.get(spec["url_env"], "").strip()
        if not url:
            raise ExtractError([Problem(
                f"environment variable {spec['url_env']}", None, (), 0,
                "is not set: it should hold the database URL of source: in params.yaml",
                f"export {spec['url_env']}='postgresql://user:password@host:5432/db' (or "
                "sc://... for Databricks) before running, or use url_file: with a git-ignored "
                "file")])
    else:
        path = root / spec["url_file"]
        if not path.is_file():
            raise ExtractError([Problem(str(path), None, (), 0, "file not found: it should hold "
                                        "the database URL of source: in params.yaml",
                                        "write the URL into it (one line); keep it git-ignored")])
        tracked = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", str(path)],
                                 capture_output=True).returncode == 1   # 128: not a repository
        if tracked:
            raise ExtractError([Problem(str(path), None, (), 0, "holds the database URL (and "
                                        "its password) but git does not ignore it: a commit "
                                        "would publish it", "move it under .secrets/ (ignored "
                                        "by .gitignore) or add it to .gitignore")])
        url = path.read_text(encoding="utf-8").strip()
    return TableSource(url, spec["table"])


def connect(src: TableSource) -> Engine:
    """An engine for ``src`` (connection failures are problems naming the engine, not the URL)."""
    scheme = src.url.split(":", 1)[0].lower()
    try:
        if scheme in ("postgresql", "postgres"):
            import psycopg

            return PostgresEngine(psycopg.connect(src.url, autocommit=True))
        if scheme == "sc":
            from pyspark.sql import SparkSession

            return SparkEngine(SparkSession.builder.remote(src.url).getOrCreate())
        if scheme == "spark":
            return SparkEngine(spark_session(src.url.split(":", 1)[1] or "local[2]"))
        if scheme == "duckdb":
            import duckdb

            return DuckDBEngine(duckdb.connect(src.url.split("://", 1)[1], read_only=True))
    except ImportError as exc:
        raise ExtractError([Problem(str(src), None, (), 0, f"needs the Python package "
                                    f"{exc.name!r}, which is not installed",
                                    "run make setup (it installs the database drivers)")]) from None
    except Exception as exc:  # noqa: BLE001 - the driver's own error, without the URL
        text = str(exc).replace(src.url, "<url>").splitlines()[0][:200] if str(exc) else ""
        raise ExtractError([Problem(str(src), None, (), 0,
                                    f"could not connect ({text or type(exc).__name__})",
                                    "check the URL (host, port, database, user, password) and "
                                    "that the server is running")]) from None
    raise ExtractError([Problem(str(src), None, (), 0, f"unknown kind of database URL "
                                f"('{scheme}:')", "use postgresql://, sc:// (Spark Connect, "
                                "Databricks), spark:local or duckdb:///path")])


def open_table(engine: Engine, src: TableSource) -> Source:
    """The table as a :class:`Source` (relation = its quoted name), or a problem if missing."""
    relation = ".".join(q(p) for p in src.table.split("."))
    if src.table.startswith("parquet:") and isinstance(engine, SparkEngine):
        relation = engine.register_parquet("pipeline_extract", src.table[len("parquet:"):])
    types = engine.columns(relation if relation == "pipeline_extract" else src.table)
    if not types:
        raise ExtractError([Problem(str(src), None, (), 0, "no such table or view (or it has "
                                    "no columns the user may read)",
                                    "check table: under source: in params.yaml (schema.table), "
                                    "and that the user may SELECT from it")])
    return Source(TableName(str(src)), "table", relation, relation, list(types), types)


def fetch_into(engine: Engine, con, name: str = "long") -> int:
    """Copy the engine's monthly table ``name`` into the local DuckDB ``con``; the only rows of
    the aggregation that leave the engine. Returns how many rows came."""
    rows = engine.execute(f"SELECT month, unit, dimension, stratum, outcome, numerator, "
                          f"denominator, size, present FROM {name}").fetchall()
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({LONG_COLUMNS})")
    if rows:
        import pyarrow as pa

        cols = list(zip(*rows))
        frame = pa.table({k: pa.array(v) for k, v in zip(
            ("month", "unit", "dimension", "stratum", "outcome", "numerator", "denominator",
             "size", "present"), cols)})
        con.register("fetched_long", frame)
        con.execute(f"INSERT INTO {name} SELECT * FROM fetched_long")
        con.unregister("fetched_long")
    return len(rows)


# --------------------------------------------------------------------------- fingerprint
def fingerprint(engine: Engine, source: Source, month_column: str, flags: list[str],
                query: dict) -> dict:
    """A cheap, stable summary of the table's state for DVC (docs/databases.md): the row count,
    first and last month, and the count of 1s of each flag column, from one scan in the engine;
    with a hash of what is asked of it (``query``: columns, outcomes, window, data options). Same data
    and params, same bytes; a row added, removed or changed in a counted flag changes it."""
    sums = [f"count(CASE WHEN lower(trim(CAST({q(f)} AS VARCHAR))) IN ('1', '1.0', 'true') "
            f"THEN 1 END)" for f in flags if f in source.columns]
    month = q(month_column)
    row = engine.execute(
        f"SELECT count(*), min(CAST({month} AS VARCHAR)), max(CAST({month} AS VARCHAR))"
        f"{''.join(', ' + s for s in sums)} FROM {source.relation}").fetchone()
    text = json.dumps(query, sort_keys=True, default=str)
    return {"table": str(source.path), "query_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "rows": int(row[0]), "first_month": row[1], "last_month": row[2],
            "flag_sums": dict(zip([f for f in flags if f in source.columns],
                                  [int(v or 0) for v in row[3:]]))}
