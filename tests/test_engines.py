"""Issue 15: the same prepare in DuckDB (a file), a real PostgreSQL server and Spark local mode.

The series must be byte-identical, every validation problem of the file route must come from
the database routes in the same words (a table has no row order, so without row numbers), and
only the validation report and the monthly rows may leave the engine. The engines are started
here; when one is missing the tests fail (never skip): ``.ci/run`` installs PostgreSQL and Java.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.data import ExtractError, check_extract, prepare
from pipeline.data.engines import (DuckDBEngine, PostgresEngine, SparkEngine, TableSource,
                                   fingerprint, open_table, spark_session)
from tests.engines_support import PostgresServer, load_postgres, load_spark

from .conftest import EXTRACT_DIMS as DIMS
from .conftest import EXTRACT_OUTCOMES as OUTCOMES
from .conftest import EXTRACT_WINDOW as WINDOW

ENGINES = ["postgres", "spark"]


@pytest.fixture(scope="session")
def postgres():
    import psycopg

    server = PostgresServer().start()
    conn = psycopg.connect(server.url, autocommit=True)
    try:
        yield conn, server.url
    finally:
        conn.close()
        server.stop()


@pytest.fixture(scope="session")
def spark():
    session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def engine(request):
    """An engine of the kind named by the test's parameter, and a loader of tables into it."""
    if request.param == "postgres":
        conn, url = request.getfixturevalue("postgres")
        eng = PostgresEngine(conn)
        return eng, (lambda name, table: load_postgres(conn, name, table)), url
    session = request.getfixturevalue("spark")
    eng = SparkEngine(session)
    return eng, (lambda name, table: load_spark(session, name, table)), "spark:local[2]"


def args(**kw):
    return {"outcomes": OUTCOMES, "dimensions": DIMS, "window": WINDOW, **kw}


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_series_are_byte_identical_and_only_aggregates_leave(engine, extract, tmp_path):
    eng, load, url = engine
    load("referrals", pq.read_table(extract))
    on_file = prepare(extract, tmp_path / "file", **args())
    eng.fetched.clear()
    in_db = prepare(TableSource(url, "referrals"), tmp_path / "db", **args(), engine=eng)
    series = (tmp_path / "file" / "series.parquet").read_bytes()
    assert series == (tmp_path / "db" / "series.parquet").read_bytes()
    assert in_db["extract"] == f"{TableSource(url, 'referrals')}" and url not in json.dumps(in_db)
    for quality in (on_file, in_db):
        quality.pop("extract")
    on_file.pop("duplicate_rows_dropped")   # the copies check: files only (docs/databases.md)
    assert in_db.pop("not_checked_in_the_database") == ["direct identifiers by content",
                                                        "exact copies of rows"]
    assert in_db == on_file

    # What left the engine: the monthly rows (last fetch), counted independently with pandas as
    # the month x unit x dimension x stratum x outcome cells that have records; and before it
    # only the validation report: sums, and one row per distinct value of a column.
    df = pd.read_parquet(extract)
    df = df[(df.month >= pd.Timestamp(WINDOW[0] + "-01").date())]
    cells = sum(len(df.groupby(["month", "unit", *([d] if d != "all" else [])]).size())
                for d in ["all", *DIMS]) * len(OUTCOMES)
    series_rows = pq.read_table(tmp_path / "db" / "series.parquet")
    assert eng.fetched[-1] == cells and cells <= series_rows.num_rows
    with_records = series_rows.to_pandas().query("denominator > 0 or numerator > 0")
    assert eng.fetched[-1] >= len(with_records)
    distinct = max(df[c].nunique() for c in df.columns if c != "patient_id")
    assert max(eng.fetched[:-1]) <= distinct < 100, eng.fetched
    assert sum(eng.fetched) < series_rows.num_rows + 200


HEADER = ["month", "unit", "patient_id", "imd_quintile", "ethnicity", "sex", "age_band",
          "started", "completed"]
SMALL_WINDOW = ("2023-01", "2023-03")


def rows(n=9):
    months = ["2023-01", "2023-02", "2023-03"]
    return [[months[i % 3], "s1", f"p{i + 1}", "1", "White", "Female", "65+", "1", "0"]
            for i in range(n)]


def edited(changes: dict[int, dict[str, str]], base=None):
    out = [list(r) for r in (base or rows())]
    for i, values in changes.items():
        for k, v in values.items():
            out[i][HEADER.index(k)] = v
    return out


def csv_of(table_rows, header=HEADER) -> str:
    return "\n".join(",".join(r) for r in [header, *table_rows]) + "\n"


# Every problem a record-level table can have (the file-only ones: unreadable files, encodings,
# duplicated header names, the content of identifier columns, exact copies, are not tables).
CASES = {
    "values": csv_of(edited({0: {"imd_quintile": "7"}, 1: {"month": "01/02/2023"},
                             2: {"started": "yes"}, 3: {"ethnicity": "A"},
                             4: {"age_band": "70-79"}, 5: {"unit": "  "},
                             6: {"started": "0", "completed": "1"}, 7: {"completed": "-1"},
                             8: {"started": ""}})
                     + [HEADER] + rows(3)),
    "structure": csv_of([r for r in rows() if r[0] != "2023-02"]),
    "columns": csv_of([r[:7] + r[8:] for r in rows()],
                      [*HEADER[:2], "nhs_number", *HEADER[3:7], HEADER[8]]),
}


def problems(source, **kw) -> list[tuple]:
    with pytest.raises(ExtractError) as info:
        check_extract(source, outcomes=OUTCOMES, dimensions=DIMS, window=SMALL_WINDOW, **kw)
    return [(p.column, p.count, p.message, p.fix) for p in info.value.problems]


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_every_problem_in_the_same_words(engine, tmp_path):
    eng, load, url = engine
    for case, text in CASES.items():
        path = tmp_path / f"{case}.csv"
        path.write_text(text, encoding="utf-8")
        on_file = problems(path)
        with duckdb.connect() as con:   # the same file as a table of text, as a database has it
            table = con.sql(f"SELECT * FROM read_csv('{path}', all_varchar = true)"
                            ).to_arrow_table()
        load(f"t_{case}", table)
        in_db = problems(TableSource(url, f"t_{case}"), engine=eng)
        assert in_db == on_file, case
        assert len(on_file) >= {"values": 9, "structure": 1, "columns": 2}[case], on_file


def test_the_file_route_still_names_rows(tmp_path):
    """Guard: the database route's missing row numbers are its own, the file keeps them."""
    path = tmp_path / "values.csv"
    path.write_text(CASES["values"], encoding="utf-8")
    with pytest.raises(ExtractError) as info:
        check_extract(path, outcomes=OUTCOMES, dimensions=DIMS, window=SMALL_WINDOW)
    assert len(info.value.problems) == 10 and all(p.rows for p in info.value.problems)


def test_fingerprint_changes_with_the_data_only(extract):
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{extract}')")
        eng = DuckDBEngine(con)
        src = TableSource("duckdb:///memory", "t")
        query = {"outcomes": OUTCOMES, "window": WINDOW}

        def fp():
            return fingerprint(eng, open_table(eng, src), "month", ["started", "completed"],
                               query)

        first = fp()
        assert fp() == first and first["rows"] == pq.read_metadata(extract).num_rows
        con.execute("UPDATE t SET completed = 1 - completed WHERE patient_id = "
                    "(SELECT min(patient_id) FROM t WHERE started = 1)")
        assert fp()["flag_sums"] != first["flag_sums"]
        con.execute("DELETE FROM t WHERE patient_id = (SELECT min(patient_id) FROM t)")
        assert fp()["rows"] == first["rows"] - 1
        query["window"] = ("2021-05", "2024-09")
        assert fp()["query_sha256"] != first["query_sha256"]


# --------------------------------------------------------------------------- params and DVC
DVC_STAGES = """\
stages:
  fingerprint:
    cmd: {python} -m pipeline fingerprint smoking_advice
    always_changed: true
    outs:
      - data/interim/smoking_advice/fingerprint.json:
          cache: false
  prepare:
    cmd: {python} -m pipeline prepare smoking_advice
    deps:
      - data/interim/smoking_advice/fingerprint.json
    params:
      - interventions.smoking_advice
    outs:
      - data/processed/smoking_advice
"""


def test_a_params_source_in_postgres_through_the_cli_and_dvc(postgres, tmp_path, monkeypatch,
                                                               capsys):
    """``source:`` in params, the URL from the environment: prepare writes the same series as
    the file route; with the documented DVC stages (docs/databases.md), ``dvc repro`` reruns
    prepare when the table changes and not otherwise."""
    import sys

    import yaml

    from tests.conftest import run
    from tests.test_validate_cli import command, make_project

    conn, url = postgres
    on_file = make_project(tmp_path / "file", "smoking_advice")
    assert command(on_file, capsys, monkeypatch, "prepare", "smoking_advice")[0] == 0
    extract = on_file / "data" / "raw" / "smoking_advice" / "extract.csv"
    with duckdb.connect() as con:
        load_postgres(conn, "smoking", con.sql(
            f"SELECT * FROM read_csv('{extract}', all_varchar = true)").to_arrow_table())

    project = make_project(tmp_path / "db", "smoking_advice", params={
        "extract": "data/interim/smoking_advice/fingerprint.json",
        "source": {"table": "smoking", "url_env": "TEST_PIPELINE_DB_URL"}})
    monkeypatch.delenv("TEST_PIPELINE_DB_URL", raising=False)
    code, text = command(project, capsys, monkeypatch, "prepare", "smoking_advice")
    assert code == 2 and "TEST_PIPELINE_DB_URL" in text and "Traceback" not in text, text
    monkeypatch.setenv("TEST_PIPELINE_DB_URL", url)
    code, text = command(project, capsys, monkeypatch, "validate", "smoking_advice")
    assert code == 0 and "PostgreSQL table smoking" in text and url not in text, text
    shutil.rmtree(project / "data" / "processed" / "smoking_advice")
    shutil.rmtree(project / "data" / "interim" / "smoking_advice")

    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "dvc.yaml").write_text(DVC_STAGES.format(python=sys.executable))
    run(["git", "init", "-q"], cwd=project)
    run([sys.executable, "-m", "dvc", "init", "-q"], cwd=project)

    def repro() -> str:
        return run([sys.executable, "-m", "dvc", "repro"], cwd=project).stdout   # URL: os.environ

    first = repro()
    assert "Running stage 'prepare'" in first, first
    series = project / "data" / "processed" / "smoking_advice" / "series.parquet"
    assert series.read_bytes() == (on_file / "data" / "processed" / "smoking_advice" /
                                   "series.parquet").read_bytes()
    again = repro()
    assert "Running stage 'fingerprint'" in again and "Running stage 'prepare'" not in again, again
    with conn.cursor() as cur:
        cur.execute("UPDATE smoking SET referred = '1' WHERE patient_id = "
                    "(SELECT min(patient_id) FROM smoking "
                    "WHERE referred = '0' AND vba_given = '1')")
    changed = repro()
    assert "Running stage 'prepare'" in changed, changed
    assert series.read_bytes() != (on_file / "data" / "processed" / "smoking_advice" /
                                   "series.parquet").read_bytes()
    assert url not in (project / "params.yaml").read_text() and params["interventions"]


def test_a_url_in_params_is_refused():
    from pipeline.config import ConfigError
    from pipeline.intervention_params import _source

    with pytest.raises(ConfigError, match="never|carries its password"):
        _source({"table": "t", "url": "postgresql://u:secret@h/db"}, "interventions.x.source")
    with pytest.raises(ConfigError, match="url_env"):
        _source({"table": "t"}, "interventions.x.source")


def test_the_readme_source_section_is_valid_params():
    from pipeline.intervention_params import _source
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## My data are in a SQL table"):]
    start = section.index("```yaml") + 7
    entry = __import__("yaml").safe_load(section[start: section.index("```", start)])
    spec = entry["smoking_advice"]
    assert _source(spec["source"], "x") == {"table": "analytics.smoking_admissions",
                                            "url_env": "PIPELINE_DB_URL"}
    assert spec["extract"] == "data/interim/smoking_advice/fingerprint.json"
