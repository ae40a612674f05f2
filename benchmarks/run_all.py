"""Run every benchmark in turn: ``.venv/bin/python benchmarks/run_all.py`` (or ``make bench``).

Each benchmark is a script in this folder that prints its own table (with its ratio to the plain
route, DESIGN.md section 7) and writes ``benchmarks/out/<name>.json``. Add a new one to
``SCRIPTS``. Extra arguments are passed to every script (e.g. ``--head``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SCRIPTS = [
    "cold_repro.py",  # cold and no-op `dvc repro`, stage by stage, evaluate split (~3-4 min)
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
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / script), *sys.argv[1:]], cwd=ROOT)
        print(f"=== {script}: exit {code} after {time.perf_counter() - start:.0f} s ===",
              flush=True)
        if code:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
