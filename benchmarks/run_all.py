"""Run every benchmark in turn: ``.venv/bin/python benchmarks/run_all.py`` (or ``make bench``).

Each benchmark is a script in this folder that prints its own table (with its ratio to the plain
route, docs/design.md section 7) and writes ``benchmarks/out/<name>.json``. Add a new one to
``SCRIPTS``. Each runs with its own defaults; run a script alone to pass it options.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SCRIPTS = [
    "cold_repro.py",             # cold and no-op `dvc repro`, stage by stage (~3-4 min)
    "its_speed.py",              # 1,000 stratified ITS fits vs formula and array loops (~20 s)
    "prepare_scale.py",          # 10 million rows validated and aggregated vs pandas
    "engines_scale.py",          # prepare in DuckDB vs Spark local mode, 10 M rows (~6 min)
    "its_simulation.py",         # bias, coverage, type I error of the ITS engine (~2-4 min)
    "equity_gap_simulation.py",  # the same for the change-in-the-gap estimators
    "cpu_independence.py",       # published bytes under several OpenBLAS kernels (~5 min)
    "staggered_simulation.py",   # per-ward average vs pooled model, wards that differ (~25 min)
    "model_simulation.py",       # structural model and synthetic control rows (~15 min)
    "test_fast_tier.py",         # `make test-fast` wall and CPU, tests per tier (~1.5 min)
]


def main() -> int:
    unlisted = sorted(p.name for p in HERE.glob("*.py")
                      if p.name not in SCRIPTS and p.name != Path(__file__).name
                      and not p.name.startswith("_"))
    if unlisted:
        print(f"note: not in SCRIPTS, so not run: {', '.join(unlisted)}")
    failed = []
    for script in SCRIPTS:
        print(f"\n=== {script} ===", flush=True)
        if not (HERE / script).exists():
            print(f"=== {script}: missing ===")
            failed.append(script)
            continue
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / script)], cwd=ROOT)
        print(f"=== {script}: exit {code} after {time.perf_counter() - start:.0f} s ===",
              flush=True)
        if code:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
