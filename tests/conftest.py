"""Shared fixtures: a project copy with real data, made once per test session.

Tests never touch the working tree's data or reports: they copy the project (its tracked files
and any uncommitted changes) into a temporary folder and run the real commands there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


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


@pytest.fixture(scope="session")
def prepared_project(tmp_path_factory) -> Path:
    """A project copy with simulated extracts and prepared series (no reports)."""
    project = copy_project(tmp_path_factory.mktemp("prepared") / "project")
    run([sys.executable, "-m", "pipeline", "simulate"], cwd=project)
    for key in ("thi_month", "smoking_advice", "pulmonary_rehab"):
        run([sys.executable, "-m", "pipeline", "prepare", key], cwd=project)
    return project
