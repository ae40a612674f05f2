"""Wall and CPU time of ``make test-fast`` (issue 14: under a minute on 2 cores), with the number
of tests in each tier (docs/adr/0109, docs/adr/0170).

The fast tier is run exactly as the Makefile runs it (``make -s test-fast``), in a child
process; its wall time and the CPU time of the process tree (user + system, from
``getrusage(RUSAGE_CHILDREN)``) are reported with the load average before the run: on a shared
machine wall time follows the other users' load, and BLAS threads waiting for a busy core add
CPU time too (the staggered event-study tests measured 2 s alone and 14 s under a load of 2.6),
so read the CPU time and the load first. Tier sizes come from ``pytest --collect-only -m``.

Run from the repository root::

    .venv/bin/python benchmarks/test_fast_tier.py            # about 1.5 minutes
    .venv/bin/python benchmarks/test_fast_tier.py --no-run   # tier sizes only

Prints the figures and writes ``benchmarks/out/test_fast_tier.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "test_fast_tier.json"
TARGET_S = 60.0
TIERS = {"fast": "not integration and not subprocess and not slow",
         "subprocess": "subprocess and not integration", "slow": "slow and not subprocess",
         "integration": "integration"}


def tier_size(expression: str) -> int:
    """Tests that ``-m expression`` selects, from a collection run."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider", "-m", expression],
                         cwd=ROOT, capture_output=True, text=True).stdout
    found = re.search(r"(\d+)(?:/\d+)? tests? (?:collected|selected)", out)
    return int(found.group(1)) if found else 0


def run_fast_tier() -> dict:
    """``make -s test-fast`` once: wall, CPU of the process tree, pytest's summary line."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(["make", "-s", "test-fast"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = (done.stdout.strip().splitlines() or [""])[-1].strip("= ")
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_before": round(load, 2),
            "returncode": done.returncode, "summary": summary, "target_s": TARGET_S,
            "met": done.returncode == 0 and wall < TARGET_S, "cores": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="tier sizes only")
    args = parser.parse_args(argv)
    result = {"tiers": {name: tier_size(expr) for name, expr in TIERS.items()}}
    print("tests per tier:", ", ".join(f"{k} {v}" for k, v in result["tiers"].items()))
    if not args.no_run:
        result["fast_tier"] = run_fast_tier()
        r = result["fast_tier"]
        print(f"make test-fast: {r['wall_s']} s wall, {r['cpu_s']} s CPU, load before "
              f"{r['load_before']} on {r['cores']} cores (target under {TARGET_S:.0f} s wall: "
              f"{'met' if r['met'] else 'missed'}); {r['summary']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
