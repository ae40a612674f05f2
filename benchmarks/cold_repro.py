"""Cold ``dvc repro`` of every intervention, timed stage by stage (docs/design.md section 7).

Targets: a cold ``dvc repro`` of the three interventions in under 45 s on 2 cores, spending most
of its time in statistics rather than kernel start-up and rendering; a no-op ``dvc repro`` in
under 1.5 s (DVC's own floor).

What it does, in a throwaway copy so the working tree is never touched:

1. Copies the project: ``git clone`` of this repository, with the working tree's tracked and new
   (not ignored) files laid over it, as the test suite does (``--head`` keeps the clone at the
   committed HEAD instead). No new virtual environment: the project's ``.venv/bin`` is put first
   on PATH, so ``bin/pipeline`` and the notebook kernel run the existing interpreter, and they
   import the copy's ``pipeline`` package (the working directory wins over the editable install).
2. Optionally (default on; ``--no-whole`` skips it) removes every output and times one whole
   cold ``dvc repro --force``: the real total a user waits for.
3. Removes every output again and runs each stage alone, in dependency order, with
   ``dvc repro --single-item <stage> --force``, timing each. Each evaluate stage is then split by
   measuring, in fresh processes in the copy:
     - kernel start: papermill running a trivial one-cell notebook with the python3 kernel;
     - statistics: ``evaluation.load_inputs`` + ``run`` + ``Story.of`` in-process (data load, every model fit, manifest);
     - rendering: ``render.to_html`` of the executed ``reports/<key>/report.ipynb``;
     - rest: the stage's wall time minus those three, broken down (approximately: each part
       is measured on its own, so under a varying load the remainder can go negative) into
       DVC's per-stage cost, the CLI's imports and params validation before the kernel starts,
       the kernel's ``import pipeline.report.story``, the notebook's other cells (papermill's
       per-cell durations of a separate run) and what is left (papermill, writing files).
4. Times the no-op ``dvc repro`` straight after (first run and best of three).
5. Checks that the forced rerun reproduced the copied reports byte for byte (they differ,
   as expected, when the working tree has uncommitted changes to code or params).
6. Measures start-up and import costs as is and with bytecode caching allowed
   (``PYTHONPYCACHEPREFIX`` in the temporary folder: the shared ``.venv`` is never written). The
   venv is installed without ``.pyc`` files and ``PYTHONDONTWRITEBYTECODE`` is set on these
   machines, so every process recompiles pandas, scipy, statsmodels, DVC... from source.
   ``--bytecode`` also times two whole cold repros with caching allowed (the first writes the
   bytecode, the second uses it).

Plain routes measured side by side in the same run (absolute times drift on shared machines):
statistics against ``pd.read_parquet`` plus the same models (same design matrices, family,
weights, HAC lags or model-based errors) fitted in a loop through statsmodels' formula API;
rendering against nbconvert's default ``HTMLExporter`` (lab template) on the same executed
notebook; the no-op repro against a one-stage git + DVC project (DVC's floor on this machine).

Run from the repository root::

    .venv/bin/python benchmarks/cold_repro.py             # 3-5 minutes on 2 cores
    .venv/bin/python benchmarks/cold_repro.py --no-whole  # skip the whole-repro run
    .venv/bin/python benchmarks/cold_repro.py --bytecode  # + two whole runs, bytecode cached
    .venv/bin/python benchmarks/cold_repro.py --head      # committed HEAD, not the working tree

Prints a table and writes everything to ``benchmarks/out/cold_repro.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
OUT = ROOT / "benchmarks" / "out" / "cold_repro.json"
TARGET_COLD_S = 45.0
TARGET_NOOP_S = 1.5
# What an evaluate stage imports: the CLI (whether render imports these eagerly or lazily) and
# the notebook's kernel; and the other entry points, for the start-up table.
CLI_IMPORTS = "pipeline.report.build,papermill,nbconvert"
KERNEL_IMPORTS = "pipeline.report.story"
IMPORTS = ("pipeline.config", KERNEL_IMPORTS, CLI_IMPORTS, "pipeline.report.index")

# Measurements that must run inside the copy, each in a fresh interpreter so that no import or
# cache of one measurement helps another. Prints one JSON object on its last line.
PROBE = r'''
import json, os, sys, time
from pathlib import Path

mode, arg = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
out = {}
tick = time.perf_counter

def check_local(module):
    here = Path.cwd().resolve()
    if here not in Path(module.__file__).resolve().parents:
        raise SystemExit(f"probe imported {module.__name__} from {module.__file__}, not the copy")

if mode == "kernel":
    t = tick(); import nbformat, papermill; out["import_s"] = tick() - t
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 + 1")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = Path(os.environ["PROBE_TMP"]) / "trivial.ipynb"
    nbformat.write(nb, path)
    t = tick()
    papermill.execute_notebook(str(path), None, kernel_name="python3", cwd=os.getcwd(),
                               progress_bar=False, log_output=False)
    out["kernel_s"] = tick() - t

elif mode == "story":
    t = tick(); import pipeline.report.story as story_module; out["import_s"] = tick() - t
    check_local(story_module)
    from pipeline import evaluation
    t = tick()
    inputs = evaluation.load_inputs(arg)
    story = story_module.Story.of(evaluation.run(inputs.cfg, inputs.series, inputs.quality,
                                                 inputs.rule), inputs)
    out["story_load_s"] = tick() - t
    # Every ITS result the evaluation keeps (primary, equity strata, sensitivity...), found by
    # walking its fields, so the count follows the Evaluation object as it grows.
    def collect(value, depth=0, seen=None):
        seen = set() if seen is None else seen
        if id(value) in seen or depth > 4:
            return []
        seen.add(id(value))
        if hasattr(value, "model_results") and hasattr(value, "effects"):
            return [value]
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, (list, tuple)):
            children = list(value)
        elif hasattr(value, "__dataclass_fields__"):
            children = [getattr(value, f) for f in value.__dataclass_fields__]
        else:
            return []
        return [r for child in children for r in collect(child, depth + 1, seen)]
    results = collect(story.ev)
    out["n_fits"] = len(results)
    try:  # the fits alone, warm (internal API: skipped if it changes)
        from pipeline.evaluation import run
        t = tick(); run(story.cfg, story.ev.series); out["run_warm_s"] = tick() - t
    except Exception as exc:  # noqa: BLE001
        out["run_warm_error"] = repr(exc)

    # Plain route: pandas read plus the same models through statsmodels' formula API.
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from pipeline import config
    jobs = []
    for res in results:
        model = getattr(res.model_results, "model", None)
        if model is None:
            continue
        X = np.asarray(model.exog)
        cols = [f"x{i}" for i in range(X.shape[1])]
        frame = pd.DataFrame(X, columns=cols)
        frame["y"] = np.asarray(model.endog)
        if getattr(res.spec, "errors", "hac") == "hac":
            lags = res.spec.hac_lags if getattr(res.spec, "hac_lags", None) else 3
            fit_kwargs = {"cov_type": "HAC", "cov_kwds": {"maxlags": lags}}
        else:  # model-based, scaled by the Pearson dispersion for quasi families
            fit_kwargs = {"scale": "X2"} if getattr(res.spec, "quasi", False) else {}
        errors_used = set(out.get("plain_errors", [])) | {fit_kwargs.get("cov_type", "model")}
        out["plain_errors"] = sorted(errors_used)
        jobs.append((model, frame, "y ~ 0 + " + " + ".join(cols), fit_kwargs))
    series_path = config.paths().series(arg)
    t = tick()
    pd.read_parquet(series_path)
    for model, frame, formula, fit_kwargs in jobs:
        if isinstance(model, sm.GLM):
            kwargs = {"var_weights": model.var_weights}
            if getattr(model, "offset", None) is not None:
                kwargs["offset"] = model.offset
            fit = smf.glm(formula, frame, family=type(model.family)(), **kwargs)
        else:
            fit = smf.ols(formula, frame)
        if not isinstance(model, sm.GLM):
            fit_kwargs = {k: v for k, v in fit_kwargs.items() if k != "scale"}
        fit.fit(**fit_kwargs).conf_int()
    out["plain_s"] = tick() - t

elif mode in ("render", "render_plain"):
    # nbconvert is imported before the clock starts for both routes, wherever render imports
    # it, so render_s is rendering only (the import is counted with the CLI's imports).
    t = tick()
    import nbformat
    from nbconvert import HTMLExporter
    if mode == "render":
        from pipeline import config
        from pipeline.report import render
        check_local(render)
    out["import_s"] = tick() - t
    nb = nbformat.read(Path("reports") / arg / "report.ipynb", as_version=4)
    title = config.load_intervention(arg).title if mode == "render" else None
    t = tick()
    if mode == "render":
        html = render.to_html(nb, title)
    else:
        html, _ = HTMLExporter().from_notebook_node(nb)
    out["render_s"] = tick() - t
    out["html_bytes"] = len(html.encode())

elif mode == "notebook":
    # The real evaluation notebook, executed as build_report does, keeping papermill's per-cell
    # durations (build_report strips them). Writes its tables under data/interim/bench_staging.
    t = tick(); import papermill; from pipeline import config; out["import_s"] = tick() - t
    staging = Path("data") / "interim" / "bench_staging" / arg
    staging.mkdir(parents=True, exist_ok=True)
    t = tick()
    nb = papermill.execute_notebook(str(config.paths().notebook), None,
                                    parameters={"intervention": arg,
                                                "output_dir": staging.as_posix()},
                                    kernel_name="python3", cwd=os.getcwd(),
                                    progress_bar=False, log_output=False)
    out["execute_s"] = tick() - t
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            source = cell.source.strip()
            first = next((line for line in source.splitlines()
                          if line.strip() and not line.startswith(("#", "from ", "import "))),
                         source.splitlines()[0] if source else "")
            cells.append({"code": first[:60], "loads_story": "evaluation.run(" in source,
                          "duration_s": cell.metadata.get("papermill", {}).get("duration")})
    out["cells"] = cells

elif mode == "cli":
    # What `python -m pipeline evaluate` does before the kernel starts: its imports (whether
    # eager or lazy in build/render) and the first params validation of build_report.
    t = tick()
    import nbconvert, papermill
    import pipeline.cli, pipeline.report.build
    from pipeline import config
    check_local(pipeline.report.build)
    out["import_s"] = tick() - t
    config.load_intervention(arg)
    out["cli_s"] = tick() - t

elif mode == "import":
    names = arg.split(",")
    t = tick()
    modules = [__import__(name, fromlist=["_"]) for name in names]
    out["import_s"] = tick() - t
    for name, module in zip(names, modules):
        if name.startswith("pipeline"):
            check_local(module)

print("PROBE_RESULT " + json.dumps(out))
'''


# -- helpers --------------------------------------------------------------------------------------
def environment() -> dict:
    """The project's venv first on PATH, and no PIPELINE_ROOT pointing at the real tree."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PIPELINE_ROOT", None)
    env.pop("PYTHONPATH", None)
    return env


def bytecode_environment(env: dict, tmp: Path) -> dict:
    """``env`` with Python free to cache bytecode, in a folder of the temporary copy.

    ``PYTHONPYCACHEPREFIX`` sends every ``.pyc`` to ``tmp/pycache``, so the shared ``.venv`` is
    never written to: the same as a venv installed with compiled bytecode
    (``uv pip install --compile-bytecode``), once warmed.
    """
    cached = {**env, "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
    cached.pop("PYTHONDONTWRITEBYTECODE", None)
    return cached


def bytecode_status() -> dict:
    """Whether this environment stops Python caching bytecode, and how much the venv has."""
    site = next((VENV_BIN.parent / "lib").glob("python3*/site-packages"), None)
    sources = compiled = 0
    if site:
        for path in site.rglob("*.py"):
            sources += 1
            tag = sys.implementation.cache_tag
            compiled += (path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc").exists()
    return {"PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
            "venv_py_files": sources, "venv_py_files_with_pyc": compiled}


def run(cmd: list[str], cwd: Path, env: dict, check: bool = True) -> tuple[float, str]:
    """Run ``cmd`` and return (wall seconds, stdout); on failure print its output and stop."""
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if check and result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {result.returncode} in {cwd}\n"
                 f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}")
    return seconds, result.stdout + result.stderr


def probe(copy: Path, env: dict, mode: str, arg: str | None = None) -> dict:
    cmd = [str(VENV_BIN / "python"), "-c", PROBE, mode] + ([arg] if arg else [])
    _, output = run(cmd, copy, env)
    lines = [line for line in output.splitlines() if line.startswith("PROBE_RESULT ")]
    if not lines:
        sys.exit(f"probe {mode} {arg or ''} printed no result:\n{output[-4000:]}")
    return json.loads(lines[-1].split(" ", 1)[1])


def dvc(copy: Path, env: dict, *args: str) -> tuple[float, str]:
    return run([str(VENV_BIN / "dvc"), *args], copy, env)


def git(args: list[str], cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


def make_copy(target: Path, head_only: bool) -> dict:
    """Clone the repository, then (unless ``head_only``) lay the working tree's files over it."""
    git(["clone", "-q", str(ROOT), str(target)])
    dirty = [line[3:] for line in git(["status", "--porcelain"]).splitlines()]
    if not head_only:
        listed = git(["ls-files", "-co", "--exclude-standard", "-z"])
        for name in filter(None, listed.split("\0")):
            source = ROOT / name
            if source.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
        for name in filter(None, git(["ls-files", "-d", "-z"]).split("\0")):
            (target / name).unlink(missing_ok=True)
    return {"commit": git(["rev-parse", "HEAD"]).strip(), "source": "HEAD" if head_only
            else "HEAD + working tree", "dirty_files": dirty}


def stage_order(copy: Path, env: dict) -> list[str]:
    """Every stage, dependencies first (``dvc stage list`` order among independent stages)."""
    _, listed = dvc(copy, env, "stage", "list", "--name-only")
    stages = [s for s in listed.split() if s]
    _, dot = dvc(copy, env, "dag", "--dot")
    edges = re.findall(r'"([^"]+)"\s*->\s*"([^"]+)"', dot)
    needs = {s: {a for a, b in edges if b == s} for s in stages}
    order: list[str] = []
    while len(order) < len(stages):
        ready = [s for s in stages if s not in order and needs[s] <= set(order)]
        if not ready:
            sys.exit(f"cycle or unknown stage in dvc dag: {needs}")
        order += ready
    return order


def clean(copy: Path) -> None:
    """Remove every pipeline output: data/* except data/raw, and reports/."""
    data = copy / "data"
    for child in (data.iterdir() if data.is_dir() else []):
        if child.name != "raw":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    shutil.rmtree(copy / "reports", ignore_errors=True)


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def dvc_floor(tmp: Path, env: dict) -> float:
    """Best of three no-op ``dvc repro`` of a one-stage git + DVC project: DVC's own floor here."""
    project = tmp / "floor"
    project.mkdir()
    run(["git", "init", "-q"], project, env)
    run([str(VENV_BIN / "dvc"), "init", "-q"], project, env)
    (project / ".dvc" / "config").write_text("[core]\n    analytics = false\n"
                                              "    check_update = false\n")
    (project / "dvc.yaml").write_text(
        "stages:\n  one:\n    cmd: echo hi > out.txt\n    outs:\n      - out.txt\n")
    dvc(project, env, "repro")
    return min(dvc(project, env, "repro")[0] for _ in range(3))


def import_profile(copy: Path, env: dict, module: str, top: int = 6) -> list[dict]:
    """Import time of ``module`` by top-level package (``python -X importtime`` self times)."""
    statement = "import " + module.replace(",", ", ")
    cmd = [str(VENV_BIN / "python"), "-X", "importtime", "-c", statement]
    result = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, check=True)
    totals: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s+(\S+)", line)
        if match:
            root = match.group(2).split(".")[0]
            totals[root] = totals.get(root, 0.0) + int(match.group(1)) / 1e6
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": name, "self_s": round(seconds, 3)} for name, seconds in ranked]


# -- the benchmark --------------------------------------------------------------------------------
def benchmark(args) -> dict:
    env = environment()
    tmp = Path(tempfile.mkdtemp(prefix="cold_repro_"))
    env["PROBE_TMP"] = str(tmp)
    copy = tmp / "project"
    try:
        source = make_copy(copy, args.head)
        order = stage_order(copy, env)
        expected = snapshot(copy / "reports") if (copy / "reports").is_dir() else {}
        result: dict = {"source": source, "stages": order, "load_before": os.getloadavg()}

        cached_env = bytecode_environment(env, tmp)
        if args.whole:
            clean(copy)
            print("whole cold `dvc repro --force` ...", flush=True)
            result["whole_repro_s"] = dvc(copy, env, "repro", "--force")[0]
        if args.bytecode:
            for field, label in (("whole_repro_writing_bytecode_s", "writing bytecode"),
                                 ("whole_repro_cached_bytecode_s", "bytecode cached")):
                clean(copy)
                print(f"whole cold `dvc repro --force`, {label} ...", flush=True)
                result[field] = dvc(copy, cached_env, "repro", "--force")[0]

        clean(copy)
        timings = {}
        for stage in order:
            print(f"  {stage} ...", end=" ", flush=True)
            timings[stage] = dvc(copy, env, "repro", "--single-item", stage, "--force")[0]
            print(f"{timings[stage]:.1f} s", flush=True)
        result["stage_s"] = timings
        result["total_s"] = sum(timings.values())

        produced = snapshot(copy / "reports")
        differing = sorted(k for k in expected if produced.get(k) != expected[k])
        result["reports"] = {"compared": len(expected), "differing": differing,
                             "new": sorted(set(produced) - set(expected))}

        noop = []
        for _ in range(3):
            seconds, output = dvc(copy, env, "repro")
            noop.append(seconds)
            if "Running stage" in output:
                result.setdefault("noop_reran", []).append(output[-2000:])
        result["noop_s"] = {"first": noop[0], "best": min(noop), "all": noop}
        result["dvc_single_stage_noop_s"] = dvc(copy, env, "repro", "--single-item", order[-1])[0]
        result["dvc_floor_s"] = dvc_floor(tmp, env)

        print("start-up and import costs ...", flush=True)
        python = str(VENV_BIN / "python")
        startup = {
            "python -c pass": min(run([python, "-c", "pass"], copy, env)[0] for _ in range(3)),
            "python -m pipeline --help": run([python, "-m", "pipeline", "--help"], copy, env)[0],
        }
        for module in IMPORTS:
            startup[f"import {module}"] = probe(copy, env, "import", module)["import_s"]
        result["startup_s"] = startup

        # The same start-up costs with bytecode cached (warmed once; the venv is not written).
        cached = {}
        for _ in range(2):  # first pass writes the bytecode, second measures
            cached["python -m pipeline --help"] = run([python, "-m", "pipeline", "--help"],
                                                      copy, cached_env)[0]
            for module in IMPORTS:
                cached[f"import {module}"] = probe(copy, cached_env, "import", module)["import_s"]
            kernel_cached = probe(copy, cached_env, "kernel")["kernel_s"]
            noop_cached = [dvc(copy, cached_env, "repro")[0] for _ in range(2)]
        cached["kernel start (trivial notebook)"] = kernel_cached
        cached["no-op dvc repro (best)"] = min(noop_cached)
        result["startup_bytecode_cached_s"] = cached
        result["bytecode"] = bytecode_status()
        result["import_profile"] = {m: import_profile(copy, env, m)
                                    for m in (KERNEL_IMPORTS, CLI_IMPORTS)}

        print("splitting each evaluate (fresh processes in the copy) ...", flush=True)
        split = {}
        for stage in (s for s in order if s.startswith("evaluate@")):
            key = stage.split("@", 1)[1]
            kernel = probe(copy, env, "kernel")
            story = probe(copy, env, "story", key)
            rendered = probe(copy, env, "render", key)
            plain_render = probe(copy, env, "render_plain", key)
            notebook = probe(copy, env, "notebook", key)
            cli = probe(copy, env, "cli", key)
            wall = timings[stage]
            parts = {"kernel_start_s": kernel["kernel_s"],
                     "statistics_s": story["story_load_s"],
                     "rendering_s": rendered["render_s"]}
            rest = wall - sum(parts.values())
            # What the rest is made of, each measured on its own (approximate: no overlap is
            # assumed, and the kernel's imports are taken from a fresh plain interpreter).
            other_cells = sum(c["duration_s"] or 0.0 for c in notebook["cells"]
                              if not c["loads_story"])
            rest_parts = {
                "dvc_per_stage_s": result["dvc_single_stage_noop_s"],
                "cli_imports_s": cli["cli_s"],
                "kernel_imports_s": startup[f"import {KERNEL_IMPORTS}"],
                "other_notebook_cells_s": other_cells,
            }
            rest_parts["unaccounted_s"] = rest - sum(rest_parts.values())
            split[key] = {"wall_s": wall, **parts, "rest_s": rest, "rest_parts": rest_parts,
                          "n_fits": story["n_fits"], "run_warm_s": story.get("run_warm_s"),
                          "plain_statistics_s": story["plain_s"],
                          "plain_errors": story.get("plain_errors"),
                          "plain_render_s": plain_render["render_s"],
                          "html_bytes": rendered["html_bytes"],
                          "plain_html_bytes": plain_render["html_bytes"],
                          "notebook_execute_s": notebook["execute_s"],
                          "notebook_cells": notebook["cells"]}
        result["evaluate"] = split
        return result
    finally:
        if args.keep:
            print(f"kept the copy in {copy}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# -- report ---------------------------------------------------------------------------------------
def verdict(value: float, target: float) -> str:
    return f"target < {target:g} s: {'PASS' if value < target else 'FAIL'}"


def print_report(r: dict) -> None:
    total = r["total_s"]
    src = r["source"]
    cpus = r["machine"]["cpus"]
    print()
    dirty = ", ".join(src["dirty_files"][:4]) + (" ..." if len(src["dirty_files"]) > 4 else "")
    print(f"Cold dvc repro, stage by stage: copy of {src['commit'][:10]} ({src['source']}"
          + (f"; uncommitted: {dirty}" if dirty else "") + f"), {cpus} cores")
    load = r["load_before"][0]
    if load > 0.5 * cpus:
        print(f"NOTE: load average {load:.1f} on {cpus} cores when it started: another process "
              "was busy, so absolute times are inflated; read the ratios.")
    print(f"{'stage':40} {'wall s':>7} {'share':>7}  note")
    print("-" * 80)
    rest_labels = {"dvc_per_stage_s": "DVC's own per-stage cost",
                   "cli_imports_s": "CLI imports + params, pre-kernel",
                   "kernel_imports_s": "kernel imports (report.story)",
                   "other_notebook_cells_s": "notebook cells but evaluation.run's",
                   "unaccounted_s": "unaccounted (papermill, writing)"}
    for stage, seconds in r["stage_s"].items():
        print(f"{stage:40} {seconds:7.2f} {seconds / total:7.1%}")
        key = stage.split("@", 1)[1] if stage.startswith("evaluate@") else None
        if key and key in r["evaluate"]:
            e = r["evaluate"][key]
            for label, field in (("kernel start (trivial notebook)", "kernel_start_s"),
                                 ("statistics (evaluation.run)", "statistics_s"),
                                 ("rendering (render.to_html)", "rendering_s"),
                                 ("rest", "rest_s")):
                print(f"  {label:38} {e[field]:7.2f} {e[field] / e['wall_s']:7.1%}  of evaluate")
            for field, label in rest_labels.items():
                print(f"    ~ {label:34} {e['rest_parts'][field]:7.2f}")
    print("-" * 80)
    print(f"{'total (sum of single stages)':40} {total:7.2f} {'':7}  "
          f"{verdict(total, TARGET_COLD_S)}")
    if "whole_repro_s" in r:
        w = r["whole_repro_s"]
        print(f"{'whole cold `dvc repro --force`':40} {w:7.2f} {'':7}  "
              f"{verdict(w, TARGET_COLD_S)}")
    for field, label in (("whole_repro_writing_bytecode_s", "  same, writing bytecode (1st run)"),
                         ("whole_repro_cached_bytecode_s", "  same, bytecode cached")):
        if field in r:
            print(f"{label:40} {r[field]:7.2f} {'':7}  {verdict(r[field], TARGET_COLD_S)}")
    n = r["noop_s"]
    print(f"{'no-op `dvc repro` (first run)':40} {n['first']:7.2f} {'':7}  "
          f"{verdict(n['first'], TARGET_NOOP_S)}")
    print(f"{'no-op `dvc repro` (best of 3)':40} {n['best']:7.2f}")
    if r.get("noop_reran"):
        print("WARNING: the no-op repro reran stages; see noop_reran in the JSON")
    rep = r["reports"]
    print(f"reports reproduced byte for byte: {rep['compared'] - len(rep['differing'])}"
          f"/{rep['compared']} files" + (f"; differing: {', '.join(rep['differing'])}"
                                         if rep["differing"] else ""))
    inputs = [f for f in src["dirty_files"]
              if f.startswith(("pipeline/", "notebooks/", "params.yaml", "dvc.yaml"))]
    if rep["differing"] and inputs:
        print(f"  (expected: the copy has uncommitted changes to {', '.join(inputs[:5])}"
              f"{' ...' if len(inputs) > 5 else ''}; run with --head to compare with HEAD)")
    bc = r["bytecode"]
    if bc["PYTHONDONTWRITEBYTECODE"] or bc["venv_py_files_with_pyc"] < bc["venv_py_files"] / 2:
        print(f"NOTE: PYTHONDONTWRITEBYTECODE={bc['PYTHONDONTWRITEBYTECODE']!s} and "
              f"{bc['venv_py_files_with_pyc']}/{bc['venv_py_files']} of the venv's .py files have "
              "cached bytecode: every process recompiles what it imports (start-up table).")

    print()
    print("The evaluate stages together")
    ev = list(r["evaluate"].values())
    wall = sum(e["wall_s"] for e in ev)
    for label, field in (("kernel start", "kernel_start_s"), ("statistics", "statistics_s"),
                         ("rendering", "rendering_s"), ("rest", "rest_s")):
        part = sum(e[field] for e in ev)
        print(f"  {label:40} {part:7.2f} s {part / wall:7.1%}")
    for field, label in rest_labels.items():
        part = sum(e["rest_parts"][field] for e in ev)
        print(f"    ~ {label:36} {part:7.2f} s {part / wall:7.1%}")
    print(f"  (evaluate stages are {wall / total:.0%} of the cold total)")

    print()
    print("Against the plain route, measured side by side in this run")
    print(f"{'':24} {'ours s':>8} {'plain s':>8} {'ratio':>7}  plain route")
    for key, e in r["evaluate"].items():
        print(f"{'statistics ' + key:24} {e['statistics_s']:8.3f} {e['plain_statistics_s']:8.3f} "
              f"{e['statistics_s'] / e['plain_statistics_s']:6.1f}x  read_parquet + "
              f"{e['n_fits']} smf.glm fits, " + "/".join(e.get("plain_errors") or []))
    for key, e in r["evaluate"].items():
        print(f"{'render ' + key:24} {e['rendering_s']:8.3f} {e['plain_render_s']:8.3f} "
              f"{e['rendering_s'] / e['plain_render_s']:6.2f}x  nbconvert HTMLExporter (lab): "
              f"{e['html_bytes'] // 1024} KB vs {e['plain_html_bytes'] // 1024} KB")
    floor = r["dvc_floor_s"]
    print(f"{'no-op dvc repro':24} {n['best']:8.3f} {floor:8.3f} {n['best'] / floor:6.2f}x  "
          "one-stage git+DVC project (DVC's floor)")
    for key, e in r["evaluate"].items():
        if e.get("run_warm_s"):
            print(f"  {key}: {e['n_fits']} fits; load + run {e['statistics_s']:.2f} s first call; "
                  f"evaluation.run warm {e['run_warm_s']:.2f} s "
                  f"({1000 * e['run_warm_s'] / e['n_fits']:.0f} ms a fit, before/after, "
                  "estimands and diagnostics included)")

    print()
    print("Notebook cells (papermill durations of the real notebook, slowest first)")
    for key, e in r["evaluate"].items():
        cells = sorted((c for c in e["notebook_cells"] if c["duration_s"]),
                       key=lambda c: -c["duration_s"])[:4]
        print(f"  {key} (papermill total {e['notebook_execute_s']:.2f} s): "
              + "; ".join(f"{c['code']!r} {c['duration_s']:.2f} s" for c in cells))

    print()
    print("Start-up and import costs (fresh interpreters in the copy)")
    cached = r["startup_bytecode_cached_s"]
    print(f"  {'':50} {'as is':>8} {'bytecode cached':>16}")
    for label, seconds in r["startup_s"].items():
        other = (f"{cached[label]:8.2f} s {seconds / cached[label]:5.1f}x"
                 if label in cached else "")
        print(f"  {label:50} {seconds:6.2f} s {other}")
    kernel = sum(e["kernel_start_s"] for e in r["evaluate"].values()) / len(r["evaluate"])
    for label, seconds in (("kernel start (trivial notebook)", kernel),
                           ("no-op dvc repro (best)", r["noop_s"]["best"])):
        print(f"  {label:50} {seconds:6.2f} s {cached[label]:8.2f} s "
              f"{seconds / cached[label]:5.1f}x")
    print(f"  {'dvc repro --single-item (up to date)':50} {r['dvc_single_stage_noop_s']:6.2f} s"
          "  (DVC's share of every stage)")
    for module, rows in r["import_profile"].items():
        print(f"  import {module} by package (self time): "
              + ", ".join(f"{row['package']} {row['self_s']:.2f}" for row in rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", action="store_true",
                        help="benchmark the committed HEAD only (default: HEAD + working tree)")
    parser.add_argument("--no-whole", dest="whole", action="store_false",
                        help="skip the whole cold `dvc repro --force` run")
    parser.add_argument("--bytecode", action="store_true",
                        help="also time two whole cold repros with bytecode caching allowed "
                             "(first writes it, second uses it); about 2 minutes more")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = parser.parse_args()
    if not (VENV_BIN / "dvc").exists():
        sys.exit(f"no {VENV_BIN / 'dvc'}: set up the venv first (make setup)")

    started = time.perf_counter()
    result = benchmark(args)
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "platform": platform.platform()}
    result["dvc_version"] = subprocess.run([str(VENV_BIN / "dvc"), "--version"],
                                           capture_output=True, text=True).stdout.strip()
    result["targets"] = {"cold_total_s": TARGET_COLD_S, "noop_s": TARGET_NOOP_S}
    result["measured_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result["benchmark_wall_s"] = time.perf_counter() - started
    result["load_after"] = os.getloadavg()
    print_report(result)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {OUT.relative_to(ROOT)} (benchmark took {result['benchmark_wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
