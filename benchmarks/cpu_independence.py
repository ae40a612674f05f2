"""Same code, params and data, other BLAS kernels: are the published reports the same bytes?

Reports must be rebuilt byte for byte on any CPU (docs/design.md section 9; docs/adr/0030). OpenBLAS
picks its compute kernels by CPU at load time (AVX-512 on one machine, AVX2 on another), and
kernels differ in their last bits. This benchmark stands in for "another machine": it runs the
real ``python -m pipeline evaluate <key>`` (notebook, tables, plots, metrics, HTML) in fresh
subprocesses, each with a different ``OPENBLAS_CORETYPE`` in its environment, and compares the
bytes of everything the run publishes. The variable is set only in the environment of the
subprocesses started here, never in the project's code, tests or CI.

What it checks, for each core type asked for (default: the machine's own choice, Haswell,
Sandybridge, Nehalem, Prescott):

1. which kernel OpenBLAS really loaded, read from numpy's bundled OpenBLAS
   (``scipy_openblas_get_corename64_``), so a core type the library ignores is seen as such;
   an unknown type leaves OpenBLAS on its own choice, and a core type whose instructions the
   CPU lacks (e.g. SkylakeX on an AVX2 machine) must not be asked for: it would crash;
2. the evaluate stage in a throwaway copy of the project (one snapshot of the tracked and new
   files plus ``data/processed/<key>``, copied again for each run so that every run starts
   from the same bytes): ``reports/<key>/*`` and the index entry, each file hashed;
3. files whose bytes differ between kernels, listed with the first differing line.

Run from the repository root (about a minute per core type and key on 2 cores)::

    .venv/bin/python benchmarks/cpu_independence.py                 # thi_month, 5 core types
    .venv/bin/python benchmarks/cpu_independence.py thi_month smoking_advice -j 2
    .venv/bin/python benchmarks/cpu_independence.py --project /tmp/old-checkout   # other code

``--project`` runs another checkout of the project (e.g. an older commit, to see the bytes
differ there); its ``data/processed`` must exist (``dvc repro prepare@<key>``). Exit status 1
when any file differs. Prints a table and writes ``benchmarks/out/cpu_independence.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "cpu_independence.json"
DEFAULT_CORETYPES = ["", "Haswell", "Sandybridge", "Nehalem", "Prescott"]  # "" = own choice

CORENAME = r'''
import ctypes, glob, os, numpy
libs = glob.glob(os.path.join(os.path.dirname(numpy.__file__), os.pardir, "numpy.libs",
                              "libscipy_openblas*.so*"))
name = "unknown"
for path in libs:
    lib = ctypes.CDLL(path)
    for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                   "openblas_get_corename64_", "openblas_get_corename"):
        if hasattr(lib, symbol):
            fn = getattr(lib, symbol)
            fn.restype = ctypes.c_char_p
            name = fn().decode()
            break
print(name)
'''


def environment(coretype: str, project: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    env["PYTHONPATH"] = str(project)  # the copy's own pipeline package, not the editable one
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def kernel_name(coretype: str) -> str:
    out = subprocess.run([sys.executable, "-c", CORENAME], env=environment(coretype, ROOT),
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def project_files(project: Path) -> list[str]:
    """Tracked and new (not ignored) files of a git checkout; every file of a plain folder."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                             cwd=project, capture_output=True, check=True)
        return [f for f in out.stdout.decode().split("\0") if f]
    except (subprocess.CalledProcessError, FileNotFoundError):
        return [str(p.relative_to(project)) for p in project.rglob("*")
                if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts]


def copy_project(project: Path, keys: list[str], dest: Path) -> None:
    for rel in project_files(project):
        src = project / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for key in keys:
        processed = project / "data" / "processed" / key
        if not (processed / "series.parquet").exists():
            raise SystemExit(f"{processed}/series.parquet is missing: run "
                             f"`dvc repro prepare@{key}` in {project} first")
        shutil.copytree(processed, dest / "data" / "processed" / key, dirs_exist_ok=True)


def published(copy: Path, key: str) -> dict[str, str]:
    """sha256 of every file the evaluate stage writes for ``key``."""
    files = sorted(p for p in (copy / "reports" / key).rglob("*") if p.is_file())
    files.append(copy / "data" / "interim" / "index" / f"{key}.json")
    return {str(p.relative_to(copy)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files if p.exists()}


def evaluate(source: Path, coretype: str, keys: list[str], workdir: Path) -> dict:
    copy = workdir / (coretype or "default")
    shutil.copytree(source, copy)
    result = {"coretype": coretype or "(default)", "kernel": kernel_name(coretype), "files": {}}
    for key in keys:
        run = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", key], cwd=copy,
                             env=environment(coretype, copy), capture_output=True, text=True)
        if run.returncode:
            raise SystemExit(f"evaluate {key} with OPENBLAS_CORETYPE={coretype!r} failed:\n"
                             f"{run.stdout}\n{run.stderr}")
        result["files"].update(published(copy, key))
    result["copy"] = str(copy)
    return result


def first_difference(a: Path, b: Path) -> str:
    la, lb = a.read_bytes().splitlines(), b.read_bytes().splitlines()
    for i, (x, y) in enumerate(zip(la, lb), start=1):
        if x != y:
            return f"line {i}: {x[:150]!r} vs {y[:150]!r}"
    return f"lengths {len(la)} vs {len(lb)} lines"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="*", default=["thi_month"])
    parser.add_argument("--coretypes", default=",".join(DEFAULT_CORETYPES),
                        help="comma-separated OPENBLAS_CORETYPE values; empty = own choice")
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    args = parser.parse_args()
    coretypes = args.coretypes.split(",")
    project = args.project.resolve()
    with tempfile.TemporaryDirectory(prefix="cpu_independence_") as tmp:
        source = Path(tmp) / "source"  # one snapshot: every run starts from the same files
        copy_project(project, args.keys, source)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            runs = list(pool.map(lambda c: evaluate(source, c, args.keys, Path(tmp)), coretypes))
        reference = runs[0]
        names = sorted(set().union(*(r["files"] for r in runs)))
        differing = {}
        for name in names:
            hashes = {r["coretype"]: r["files"].get(name) for r in runs}
            if len(set(hashes.values())) > 1:
                differing[name] = {
                    r["coretype"]: first_difference(Path(reference["copy"]) / name,
                                                    Path(r["copy"]) / name)
                    for r in runs[1:] if r["files"].get(name) != reference["files"].get(name)}
    kernels = sorted({r["kernel"] for r in runs})
    print(f"project: {project}\nkeys: {', '.join(args.keys)}")
    print(f"{'OPENBLAS_CORETYPE':<20} {'kernel loaded':<15} files")
    for r in runs:
        print(f"{r['coretype']:<20} {r['kernel']:<15} {len(r['files'])}")
    print(f"distinct kernels: {len(kernels)} ({', '.join(kernels)})")
    if len(kernels) < 2:
        print("warning: every run loaded the same kernel, so nothing was compared")
    print(f"files compared: {len(names)}; differing between kernels: {len(differing)}")
    for name, diffs in differing.items():
        print(f"  {name}")
        for coretype, where in diffs.items():
            print(f"    {reference['coretype']} vs {coretype}: {where}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "project": str(project), "keys": args.keys,
        "runs": [{k: v for k, v in r.items() if k != "copy"} for r in runs],
        "distinct_kernels": kernels, "files_compared": len(names),
        "differing": differing}, indent=2) + "\n")
    return 1 if differing or len(kernels) < 2 else 0


if __name__ == "__main__":
    sys.exit(main())
