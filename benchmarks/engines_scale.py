"""Prepare on one Parquet file: the embedded DuckDB against Spark local mode (issue 15).

Both routes run the same checks and aggregation (:mod:`pipeline.data.engines`): ``duckdb`` is
``prepare`` on the file (the default route); ``spark`` is the same ``prepare`` with the file as a
Spark table (``source: {table: "parquet:<path>", url_env: ...}`` with URL ``spark:local[2]``),
Spark's start-up timed apart. Each run is a fresh interpreter; peak memory is the sum of the
resident memory of the process and its children (the JVM for Spark), polled every 0.1 s from
/proc. The extract is ``benchmarks/prepare_scale.py``'s (same generator and seed, Parquet only).

Run from the repository root::

    .venv/bin/python benchmarks/engines_scale.py --rows 1e8 --routes duckdb
    .venv/bin/python benchmarks/engines_scale.py --rows 1e7 --routes duckdb spark

Writes ``benchmarks/out/engines_scale_<rows>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prepare_scale import OUT, ROOT, generate  # noqa: E402  (the same extract, one generator)

ROUTE = r'''
import json, sys, tempfile, time
route, path = sys.argv[1], sys.argv[2]
WINDOW = ("2021-04", "2024-09")
OUTCOMES = {"started": ("started", None), "completed": ("completed", "started")}
DIMS = ["imd_quintile", "ethnicity", "sex", "age_band"]
from pipeline.data import prepare
start_s = 0.0
if route == "duckdb":
    source, engine = path, None
else:
    from pipeline.data.engines import SparkEngine, TableSource, spark_session
    t = time.perf_counter()
    session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    engine, source = SparkEngine(session), TableSource("spark:local[2]", "parquet:" + path)
    start_s = time.perf_counter() - t
t0 = time.perf_counter()
out = tempfile.mkdtemp()
q = prepare(source, out, outcomes=OUTCOMES, dimensions=DIMS, window=WINDOW,
            engine=engine)
print(json.dumps({"seconds": time.perf_counter() - t0, "startup_seconds": start_s,
                  "rows": q["rows_read"], "series_rows": q["series_rows"],
                  "fetched_rows": sum(engine.fetched) if engine else None,
                  "series_sha256": __import__("hashlib").sha256(
                      open(out + "/series.parquet", "rb").read()).hexdigest()}))
'''


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (MB), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(stat[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, ()))
    return total / 2**20


def run_once(route: str, path: Path) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", ROUTE, route, str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mb(proc.pid))
        time.sleep(0.1)
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{route} failed:\n{err[-3000:]}")
    return {**json.loads(out.strip().splitlines()[-1]), "peak_mb": round(peak)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=float, default=10_000_000)
    p.add_argument("--routes", nargs="+", default=["duckdb", "spark"])
    args = p.parse_args(argv)
    rows = int(args.rows)
    path = generate(rows, kinds=("parquet",))["parquet"]
    load0 = os.getloadavg()
    results = {}
    for route in args.routes:
        print(f"{route}: {rows:,} rows ...", flush=True)
        results[route] = run_once(route, path)
        print(f"  {results[route]}", flush=True)
    if "duckdb" in results and "spark" in results:
        results["spark_over_duckdb"] = round(results["spark"]["seconds"] /
                                             results["duckdb"]["seconds"], 1)
        print(f"Spark local / DuckDB time: {results['spark_over_duckdb']}x")
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"engines_scale_{rows}.json"
    out.write_text(json.dumps({"rows": rows, "cpus": os.cpu_count(),
                               "load_average_start": load0, "load_average_end": os.getloadavg(),
                               "results": results}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
