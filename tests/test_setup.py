"""The set-up files agree with each other (issue 2: lock file, environment.yml, Makefile, CI)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_environment_yml_has_the_lock_files_pins():
    result = subprocess.run([sys.executable, str(ROOT / "bin" / "environment-from-lock"),
                             "--check"], cwd=ROOT)
    assert result.returncode == 0, "environment.yml drifted: run `make lock`"


def test_lock_pins_every_package_with_hashes():
    lock = (ROOT / "requirements.lock").read_text()
    for name in ("dvc==", "papermill==", "nbconvert==", "nbval==", "statsmodels==", "duckdb=="):
        assert name in lock
    assert lock.count("--hash=sha256:") > 100


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make repro" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_dvc_never_phones_home():
    """No network but the package index: DVC's analytics and update check are off."""
    config = (ROOT / ".dvc" / "config").read_text()
    assert "analytics = false" in config and "check_update = false" in config
