"""Shared fixtures: a project copy with real data, made once per test session.

Tests never touch the working tree's data or reports: they copy the project (its tracked files
and any uncommitted changes) into a temporary folder and run the real commands there.

Test tiers (docs/adr/0109): a test that starts a process (a CLI run, git, DVC, papermill, a
browser) is marked ``subprocess``; the real DVC pipeline on a clone is ``integration``; the
long simulations are ``slow``. ``make test-fast`` runs the rest, in-process only: any other test
that starts a process fails (:func:`_no_subprocess_unless_marked`).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

# The simulated pulmonary-rehab extract that the prepare tests share (file route in
# test_prepare, database routes in test_engines): its outcomes, dimensions and window.
EXTRACT_OUTCOMES = {"started": ("started", None), "completed": ("completed", "started")}
EXTRACT_DIMS = ["imd_quintile", "ethnicity", "sex", "age_band"]
EXTRACT_WINDOW = ("2021-04", "2024-09")


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    """A simulated pulmonary-rehab extract (with a comparator unit), made once per module;
    a module may define its own ``extract`` (test_data_quirks does)."""
    from pipeline.data import simulate

    d = tmp_path_factory.mktemp("raw")
    simulate("pulmonary_rehab", d, seed=7, window=EXTRACT_WINDOW,
             phases=[{"name": "Drop-in", "start": "2023-04"}],
             comparator_units=["comparator_1"])
    return d / "extract.parquet"


def run(cmd: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command with the test interpreter's environment first on PATH."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PIPELINE_ROOT", None)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {result.returncode}\nstdout:\n{result.stdout[-4000:]}\n"
            f"stderr:\n{result.stderr[-4000:]}"
        )
    return result


def copy_project(target: Path) -> Path:
    """Clone the repository and lay the working tree's tracked and new files over it."""
    run(["git", "clone", "-q", str(ROOT), str(target)], cwd=ROOT)
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    deleted = run(["git", "ls-files", "-d", "-z"], cwd=ROOT).stdout
    for name in filter(None, deleted.split("\0")):
        (target / name).unlink(missing_ok=True)
    return target


# Working-tree folders a project copy does not need: environments, caches, generated data.
NOT_COPIED = {".git", ".venv", ".pytest_cache", "test-artifacts", "reports"}
NOT_COPIED_DATA = {"synthetic", "processed", "interim"}


def copy_tree(target: Path) -> Path:
    """Copy the working tree (uncommitted changes included) without git or a subprocess:
    everything but the environment, caches and generated data (reports are not copied)."""
    def ignore(folder, names):
        here = Path(folder)
        skip = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
        if here == ROOT:
            skip |= NOT_COPIED & set(names)
        elif here == ROOT / "data":
            skip |= NOT_COPIED_DATA & set(names)
        elif here == ROOT / ".dvc":
            skip |= {"cache", "tmp"} & set(names)
        elif here == ROOT / "benchmarks":
            skip |= {"out"} & set(names)
        return skip

    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)
    return target


@pytest.fixture(scope="session")
def prepared_project(tmp_path_factory) -> Path:
    """A project copy with simulated extracts and prepared series (no reports), made in this
    process by the same CLI functions the DVC stages call."""
    from pipeline import cli

    project = copy_tree(tmp_path_factory.mktemp("prepared") / "project")
    previous = os.environ.get("PIPELINE_ROOT")
    os.environ["PIPELINE_ROOT"] = str(project)
    try:
        for argv in (["simulate"], *(["prepare", k] for k in
                                     ("thi_month", "smoking_advice", "pulmonary_rehab"))):
            assert cli.main(argv) == 0, f"pipeline {' '.join(argv)} failed in {project}"
    finally:
        if previous is None:
            os.environ.pop("PIPELINE_ROOT", None)
        else:
            os.environ["PIPELINE_ROOT"] = previous
    return project


# Modules whose tests start processes (CLI runs, git, papermill kernels, a browser) or run
# long simulations: marked here so the tiers are declared in one place.
SUBPROCESS_MODULES = {"test_browser", "test_data_safety", "test_publish_atomic", "test_render",
                      "test_scaffold", "test_setup", "test_target_group", "test_validate_cli",
                      "test_engines"}
# Slow: coverage simulations and whole evaluations (measured with --durations; together they
# were about 80% of the in-process suite's time).
SLOW_MODULES = {"test_its_simulation", "test_known_effects", "test_data_property",
                "test_model_simulation"}
SLOW_TESTS = ("tests/test_its.py::test_simulation_",
              "tests/test_equity.py::test_gap_change_ci_covers_zero_about_95_percent",
              "tests/test_report_text.py::test_a_gap_moving_against_the_most_deprived",
              "tests/test_simulate.py::test_same_seed_gives_identical_bytes",
              "tests/test_disclosure.py::test_committed_reports_carry_no_record_level_columns",
              "tests/test_staggered.py::test_a_never_treated_ward_leaves_the_average_on_target")
SLOW_FIXTURES = {"thi", "slopes_differ_fixed", "early_respond_more", "trends_differ",
                 "comparators_differ"}  # equity of a whole intervention, staggered coverage
# simulations (60-80 simulated panels each)


def _tier_deselected(markexpr: str, tier: str) -> bool:
    """Whether ``-m markexpr`` deselects every test carrying the marker ``tier``, whatever
    other markers it carries (every True/False for the other names is tried).

    Only the plain form of pytest's grammar (names, ``and``, ``or``, ``not``, parentheses) is
    read; anything else (keyword arguments to a marker) answers False, so the module is
    collected and pytest's own selection decides as before."""
    tokens = re.findall(r"\(|\)|[^\s()]+", markexpr)
    if not tokens or not all(t in "()" or re.fullmatch(r"[A-Za-z_]\w*", t) for t in tokens):
        return False
    words = {"and", "or", "not"}
    others = sorted({t for t in tokens if t not in words and t not in "()" and t != tier})
    for values in itertools.product((False, True), repeat=len(others)):
        truth = {tier: True, **dict(zip(others, values))}
        code = " ".join(t if t in words or t in "()" else str(truth[t]) for t in tokens)
        try:
            if eval(code, {"__builtins__": {}}):  # noqa: S307 - only True/False/and/or/not
                return False
        except SyntaxError:
            return False
    return True


def pytest_ignore_collect(collection_path, config):
    """Skip importing a module whose every test the ``-m`` expression deselects (its tier is
    declared above): ``make test-fast`` then never imports the subprocess and simulation
    modules, nor what they import (nbformat's jsonschema alone took 2.5 s, docs/adr/0170).
    Selection is unchanged: those tests would all have been deselected."""
    markexpr = config.getoption("markexpr", "") or ""
    tier = ("subprocess" if collection_path.stem in SUBPROCESS_MODULES
            else "slow" if collection_path.stem in SLOW_MODULES else None)
    if tier and markexpr and _tier_deselected(markexpr, tier):
        return True
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in SUBPROCESS_MODULES:
            item.add_marker(pytest.mark.subprocess)
        fixtures = set(getattr(item, "fixturenames", ()))
        if module in SLOW_MODULES or item.nodeid.startswith(SLOW_TESTS) or (
                module in ("test_equity", "test_staggered") and fixtures & SLOW_FIXTURES):
            item.add_marker(pytest.mark.slow)


class SubprocessInFastTest(AssertionError):
    """A test not marked ``subprocess`` or ``integration`` started a process."""


@pytest.fixture(autouse=True)
def _no_subprocess_unless_marked(request, monkeypatch):
    """Fail any unmarked test that starts a process, so the fast tier stays in-process."""
    if {"subprocess", "integration"} & {m.name for m in request.node.iter_markers()}:
        return

    def refuse(self, args=None, *rest, **kwargs):
        raise SubprocessInFastTest(
            f"{request.node.nodeid} started a process ({args!r}); mark it "
            "@pytest.mark.subprocess or keep it in-process")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
