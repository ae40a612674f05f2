"""Issue 6: never lose data, never leak identifiers.

- A ``python -m pipeline prepare`` killed with SIGKILL part-way leaves the previous outputs
  byte-identical (or, killed after its renames, the complete new ones) and no temporary file
  among them; the next run cleans up.
- ``data/raw`` and ``data/processed`` are git-ignored, and git tracks no record-level file: no
  tracked table with an identifier column or more than MAX_TRACKED_ROWS rows outside
  ``data/examples`` (whose identifiers must be visibly fake).
- A patient identifier is used for counting only: it never reaches series.parquet or quality.json.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.data import prepare, simulate

from .conftest import ROOT

MAX_TRACKED_ROWS = 5000
IDENTIFIER_COLUMNS = {"patient_id", "nhs_number", "nhs_no", "nhsnumber", "person_id", "pseudo_id",
                      "mrn", "hospital_number", "date_of_birth", "dob", "postcode"}
TABLES = (".csv", ".tsv", ".parquet", ".pq", ".xlsx", ".xlsm", ".xls")
KEY = "pulmonary_rehab"


def _norm(name: str) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix in (".xlsx", ".xlsm", ".xls"):
        return pd.read_excel(path, dtype=str)
    return pd.read_csv(path, dtype=str, sep=None, engine="python")


def test_raw_and_processed_data_are_git_ignored():
    for path in ("data/raw/extract.csv", "data/processed/x/series.parquet", "benchmarks/out/x.csv",
                 "data/synthetic/x/extract.parquet"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0, path
    assert subprocess.run(["git", "check-ignore", "-q", "data/examples/x.csv"],
                          cwd=ROOT).returncode == 1


def test_git_tracks_no_record_level_file():
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    offenders = []
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if path.suffix.lower() not in TABLES or not path.is_file():
            continue
        frame = _read_table(path)
        ids = [c for c in frame.columns if _norm(c) in IDENTIFIER_COLUMNS]
        if name.startswith("data/examples/"):
            fake = all(frame[c].dropna().astype(str).str.startswith("EXAMPLE-").all() for c in ids)
            if len(frame) > MAX_TRACKED_ROWS or not fake:
                offenders.append(f"{name}: {len(frame)} rows, identifiers {ids} not EXAMPLE-...")
        elif ids or len(frame) > MAX_TRACKED_ROWS:
            offenders.append(f"{name}: {len(frame)} rows, identifier columns {ids}")
    assert not offenders, "record-level files tracked by git:\n" + "\n".join(offenders)


def test_patient_identifiers_never_reach_the_outputs(tmp_path):
    window = ("2021-04", "2024-09")
    simulate(KEY, tmp_path / "sim", seed=3, window=window,
             phases=[{"name": "x", "start": "2023-04"}], comparator_units=["c1"])
    extract = tmp_path / "sim" / "extract.parquet"
    ids = set(pq.read_table(extract, columns=["patient_id"])["patient_id"].to_pylist())
    prepare(extract, tmp_path / "out", outcomes={"started": ("started", None)},
            dimensions=["imd_quintile", "sex"], window=window)
    series = pd.read_parquet(tmp_path / "out" / "series.parquet")
    values = set(series.astype(str).to_numpy().ravel())
    assert not ids & values
    quality = (tmp_path / "out" / "quality.json").read_text()
    assert not any(i in quality for i in list(ids)[:2000])
    assert "patient_id" in json.loads(quality)["ignored_columns"]   # the name only


# --------------------------------------------------------------------------- never lose data
def _project(tmp_path: Path, rows: int) -> Path:
    """A minimal project: params.yaml with one intervention whose extract is data/raw/extract.csv."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    section = params["interventions"][KEY]
    section["extract"] = "data/raw/extract.csv"
    section["equity"] = ["imd_quintile", "sex"]
    project = tmp_path / "project"
    (project / "data" / "raw").mkdir(parents=True)
    (project / "params.yaml").write_text(yaml.safe_dump(
        {"disclosure": params["disclosure"], "simulation": {"seed": 1, "interventions": []},
         "interventions": {KEY: section}}))
    (project / "dvc.yaml").write_text("stages: {}\n")
    _write_extract(project / "data" / "raw" / "extract.csv", rows, section)
    return project


def _write_extract(path: Path, n: int, section: dict, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    months = pd.period_range(section["window"]["start"], section["window"]["end"], freq="M")
    units = np.array(["service_a", *section["comparator_units"]])
    started = rng.random(n) < 0.6
    table = pa.table({
        "month": pa.array(np.array([str(m) for m in months])[np.arange(n) % len(months)]),
        "unit": pa.array(units[(np.arange(n) // len(months)) % len(units)]),
        "patient_id": pa.array(np.char.add("P", np.arange(n).astype(str))),
        "imd_quintile": pa.array(rng.integers(1, 6, n)),
        "sex": pa.array(np.where(rng.random(n) < 0.5, "Female", "Male")),
        "started": pa.array(started.astype(np.int8)),
        "completed": pa.array((started & (rng.random(n) < 0.6)).astype(np.int8)),
    })
    pcsv.write_csv(table, path)


def _prepare(project: Path) -> subprocess.Popen:
    env = {**os.environ, "PIPELINE_ROOT": str(project)}
    return subprocess.Popen([sys.executable, "-m", "pipeline", "prepare", KEY], cwd=project,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _prepare_here(project: Path) -> None:
    """What `python -m pipeline prepare` does, in this process (saves an interpreter start)."""
    from pipeline import cli, config

    cfg = config.load_intervention(KEY, project)
    prepare(cfg.extract, config.paths(project).processed(KEY), **cli._extract_arguments(cfg))


def _outputs(project: Path) -> dict[str, bytes]:
    out = project / "data" / "processed" / KEY
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = _project(tmp_path_factory.mktemp("kill"), rows=5_000)
    _prepare_here(project)
    section = yaml.safe_load((project / "params.yaml").read_text())["interventions"][KEY]
    # Large enough that prepare is still reading when the kills below land (about 2.5 s here).
    _write_extract(project / "data" / "raw" / "extract.csv", 4_000_000, section, seed=1)
    return project


@pytest.mark.parametrize("delay", [0.5, 1.5])
def test_sigkill_midway_leaves_previous_outputs_intact(project, delay):
    before = _outputs(project)
    raw = (project / "data" / "raw").stat().st_mtime_ns, sorted((project / "data" / "raw").iterdir())
    run = _prepare(project)
    time.sleep(delay)
    finished = run.poll() is not None  # a fast machine: check the finished outputs below
    if not finished:
        run.send_signal(signal.SIGKILL)
    run.wait(30)
    after = _outputs(project)
    if after != before or finished:
        # The kill landed after the outputs were renamed into place, while the interpreter was
        # still exiting (about 0.2 s on a 2-million-row CSV that prepares in ~1.2 s): each
        # output must then be the complete new file, never a half-written one.
        _prepare_here(project)
        full = _outputs(project)
        assert after.keys() == before.keys() == full.keys()   # nothing else in the folder
        assert all(after[name] in (before[name], full[name]) for name in after)
    else:
        assert after == before                  # byte-identical, and nothing else in the folder
    assert ((project / "data" / "raw").stat().st_mtime_ns,
            sorted((project / "data" / "raw").iterdir())) == raw


def test_a_kill_while_writing_leaves_no_temporary_file_among_the_outputs(tmp_path):
    """SIGKILL at the first rename (outputs written to the temporary folder, none moved yet)."""
    project = _project(tmp_path, rows=5_000)
    _prepare_here(project)
    section = yaml.safe_load((project / "params.yaml").read_text())["interventions"][KEY]
    _write_extract(project / "data" / "raw" / "extract.csv", 6_000, section, seed=2)
    before = _outputs(project)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, signal\n"
        "_replace = os.replace\n"
        "def replace(src, dst, *a, **k):\n"
        "    if str(dst).endswith('series.parquet') and '.tmp-' in str(src):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return _replace(src, dst, *a, **k)\n"
        "os.replace = replace\n")
    env = {**os.environ, "PIPELINE_ROOT": str(project), "PYTHONPATH": str(hook)}
    run = subprocess.run([sys.executable, "-m", "pipeline", "prepare", KEY], cwd=project, env=env,
                         capture_output=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    assert _outputs(project) == before
    leftovers = list((project / "data" / "processed").glob(f".{KEY}.tmp-*"))
    assert leftovers, "the interrupted run's temporary folder sits beside the outputs"
    _prepare_here(project)
    assert not list((project / "data" / "processed").glob(f".{KEY}.tmp-*"))
    assert sorted(_outputs(project)) == ["quality.json", "series.parquet"]
