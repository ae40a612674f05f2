"""A real PostgreSQL server and tables loaded from an extract, for tests and benchmarks.

The server is Debian's ``postgresql`` package (``.ci/run`` installs it), started with ``initdb`` +
``pg_ctl`` in a temporary folder, listening on a Unix socket only. PostgreSQL refuses to run as
root, so as root it runs as the ``postgres`` system user the package creates.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pyarrow as pa

_PG_TYPES = {pa.int64(): "bigint", pa.int32(): "integer", pa.int16(): "smallint",
             pa.int8(): "smallint", pa.string(): "text", pa.large_string(): "text",
             pa.bool_(): "boolean", pa.float64(): "double precision", pa.date32(): "date"}


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): "
                           "apt-get install postgresql (.ci/run does)")
    return found[-1].parent


class PostgresServer:
    """``start()`` a throw-away server; ``url`` reaches it; ``stop()`` removes everything."""

    def __init__(self):
        self.bin = postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="pipeline-pg-"))
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql://pipeline@/pipeline?host={self.dir}&port={self.port}"

    def _run(self, *args):
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, text=True)

    def start(self) -> "PostgresServer":
        if self.as_user:
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "pipeline",
                  "--no-sync", "-E", "UTF8", "--locale", "C")
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w",
                  "-o", f"-k {self.dir} -p {self.port} -c listen_addresses='' -c fsync=off "
                        "-c full_page_writes=off -c synchronous_commit=off", "start")
        self._run(str(self.bin / "createdb"), "-h", str(self.dir), "-p", str(self.port),
                  "-U", "pipeline", "pipeline")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                      "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_postgres(conn, name: str, table: pa.Table) -> None:
    """Create table ``name`` with ``table``'s columns and rows (COPY, typed as in the file)."""
    cols = ", ".join(f'"{f.name}" {_PG_TYPES[f.type]}' for f in table.schema)
    with conn.cursor() as cur:
        cur.execute(f'DROP TABLE IF EXISTS "{name}"')
        cur.execute(f'CREATE TABLE "{name}" ({cols})')
        names = ", ".join(f'"{f.name}"' for f in table.schema)
        with cur.copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
            for row in zip(*(c.to_pylist() for c in table.columns)):
                copy.write_row(row)


def load_spark(spark, name: str, table: pa.Table) -> None:
    """Register ``table`` as the temporary view ``name`` in the Spark session."""
    spark.createDataFrame(table.to_pandas(), schema=_spark_schema(table)) \
        .createOrReplaceTempView(name)


def _spark_schema(table: pa.Table):
    from pyspark.sql import types as T

    kinds = {pa.int64(): T.LongType(), pa.int32(): T.IntegerType(), pa.int16(): T.ShortType(),
             pa.int8(): T.ByteType(), pa.string(): T.StringType(),
             pa.large_string(): T.StringType(), pa.bool_(): T.BooleanType(),
             pa.float64(): T.DoubleType(), pa.date32(): T.DateType()}
    return T.StructType([T.StructField(f.name, kinds[f.type], True) for f in table.schema])
