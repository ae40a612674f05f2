"""All-or-nothing publication: a SIGKILL after any file operation loses nothing (issue 9 part 4).

Each test forks a child that counts its file operations (renames, replaces, the atomic
exchange, unlinks, rmdirs, mkdirs, and every file opened for writing, once when opened and once
when closed) and SIGKILLs itself after the N-th, for N = 1, 2, ... until a child finishes
before its N-th operation. After every kill the published state must be the old version or the
new one, byte for byte, with its version history complete; whatever else is left in
``reports/`` must be git-ignored; and a rerun must publish the new version. Both swap paths are
covered: Linux ``renameat2(RENAME_EXCHANGE)`` and the two-rename fallback
(pipeline/report/atomic.py, docs/adr/0035).
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from pipeline import atomic
from pipeline.report import build, history, index

ROOT = Path(__file__).resolve().parents[1]
KEY = "rep"
COUNTED_OS = ("rename", "replace", "unlink", "rmdir", "mkdir")
SWAP_MODES = ("exchange", "two_renames")


# --- the kill harness ---------------------------------------------------------------------

class _Killer:
    """Counts file operations in the forked child and SIGKILLs it after the N-th."""

    def __init__(self, kill_after: int):
        self.kill_after, self.done = kill_after, 0

    def tick(self) -> None:
        self.done += 1
        if self.done == self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    def counted(self, function):
        def wrapper(*args, **kwargs):
            result = function(*args, **kwargs)
            self.tick()
            return result
        return wrapper

    def counted_open(self, real_open):
        killer = self

        class Closing:
            """A file opened for writing; closing it is one more operation."""

            def __init__(self, handle):
                self._handle = handle

            def __getattr__(self, name):
                return getattr(self._handle, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.close()

            def close(self):
                self._handle.close()
                killer.tick()

        def opener(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            if not any(flag in mode for flag in "wax+"):
                return handle
            killer.tick()
            return Closing(handle)
        return opener

    def install(self, mode: str) -> None:
        for name in COUNTED_OS:
            setattr(os, name, self.counted(getattr(os, name)))
        atomic.exchange = self.counted(atomic.exchange)
        io.open = builtins.open = self.counted_open(io.open)
        if mode == "two_renames":
            atomic._RENAMEAT2 = None


def run_killed(kill_after: int, mode: str, action) -> bool:
    """Run ``action`` in a forked child killed after its ``kill_after``-th file operation.

    True if the child was killed, False if it finished first; any other end fails the test.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _Killer(kill_after).install(mode)
            action()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, f"the publish failed with no kill (N={kill_after})"
    return False


def digest_tree(folder: Path) -> dict[str, str] | None:
    if not folder.is_dir():
        return None
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_leftovers_ignored(reports: Path, published: set[str]) -> None:
    """Anything in reports/ but the published names is git-ignored, so never committed."""
    for path in reports.iterdir():
        if path.name in published:
            continue
        name = f"reports/{path.name}" + ("/" if path.is_dir() else "")
        ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", name], cwd=ROOT)
        assert ignored.returncode == 0, f"{name} left after a kill is not git-ignored"


def kill_at_every_operation(mode: str, prepare, action, check_after_kill, check_done) -> int:
    """The loop the tests share: N = 1, 2, ... until the child outlives its N-th operation.

    ``prepare`` lays out the old version and the staged new one in a fresh folder (the same
    each time), ``check_after_kill`` judges the state a kill left, and a rerun of ``action``
    (as the next ``dvc repro`` would do) must then satisfy ``check_done``.
    """
    kills = 0
    while True:
        root = prepare()
        if not run_killed(kills + 1, mode, lambda: action(root)):
            check_done(root)
            return kills
        kills += 1
        check_after_kill(root)
        shutil.rmtree(root / "work", ignore_errors=True)  # a rerun stages afresh
        assert not run_killed(0, mode, lambda: action(root))
        check_done(root)


# --- 1. the folder swap on a small fake report --------------------------------------------

OLD_FILES = {"report.html": "<p>old</p>\n", "history.json": history.dumps([{"number": 1}]),
             "tables/kept.csv": "a\n1\n", "tables/removed.csv": "b\n2\n"}
NEW_FILES = {"report.html": "<p>new</p>\n",
             "history.json": history.dumps([{"number": 1}, {"number": 2}]),
             "tables/kept.csv": "a\n3\n", "tables/added.csv": "c\n4\n"}


def lay_out(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def tree_of(files: dict[str, str]) -> dict[str, str]:
    return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(files.items())}


@pytest.mark.parametrize("mode", SWAP_MODES)
def test_folder_swap_is_old_or_new_after_a_kill_at_every_operation(tmp_path, mode):
    old, new = tree_of(OLD_FILES), tree_of(NEW_FILES)
    seen = set()

    def prepare():
        root = tmp_path / "case"
        shutil.rmtree(root, ignore_errors=True)
        lay_out(root / "reports" / KEY, OLD_FILES)
        stage(root)
        return root

    def stage(root):
        shutil.rmtree(root / "work", ignore_errors=True)
        lay_out(root / "work" / KEY, NEW_FILES)

    def action(root):
        if not (root / "work" / KEY).exists():
            stage(root)
        atomic.replace_folder(root / "work" / KEY, root / "reports" / KEY)

    def check_after_kill(root):
        target = root / "reports" / KEY
        if mode == "exchange":  # one atomic step: right even before any recovery
            assert digest_tree(target) in (old, new)
        assert_leftovers_ignored(root / "reports", {KEY})
        atomic.recover_folder(target)
        state = digest_tree(target)
        assert state in (old, new), f"mixed folder: {state}"
        seen.add("old" if state == old else "new")
        assert sorted(p.name for p in (root / "reports").iterdir()) == [KEY]

    def check_done(root):
        assert digest_tree(root / "reports" / KEY) == new
        assert sorted(p.name for p in (root / "reports").iterdir()) == [KEY]

    kills = kill_at_every_operation(mode, prepare, action, check_after_kill, check_done)
    assert kills >= 5 and seen == {"old", "new"}, (kills, seen)


# --- 2. the real publish step, version history included -------------------------------------

def manifest(version: str) -> dict:
    return {"version": version, "code": {"sha256": f"code-{version}"},
            "params": {"values": {"its": {"seasonality": version}}},
            "inputs": {"data/processed/rep/series.parquet": f"data-{version}"},
            "packages": {"statsmodels": "0.14.4"}}


def write_version(folder: Path, version: str, previous: list[dict], table: str) -> None:
    """What a run writes into its staging folder, the history built from the previous one."""
    headline = {"or": {"estimate": len(previous) + 1.5}}
    files = {
        "manifest.json": json.dumps(manifest(version), indent=2) + "\n",
        "summary.json": json.dumps({"headline": f"OR {version}", "equity": "yes",
                                    "confidence": "moderate"}, indent=2) + "\n",
        "history.json": history.dumps(history.updated(previous, manifest(version), headline)),
        "report.html": f"<p>{version}</p>\n",
        f"tables/{table}.csv": f"x\n{version}\n",
    }
    lay_out(folder, files)


def run_once(root: Path) -> None:
    """One evaluate run after the notebook: read the history, stage, publish (build.py)."""
    paths = build.config.paths(root)
    previous = history.load(paths.report(KEY) / "history.json")
    staged = paths.staging(KEY)
    shutil.rmtree(staged, ignore_errors=True)
    write_version(staged, "v3", previous, table="new")
    build.publish_staged(KEY, staged, "A report", root)


@pytest.mark.parametrize("mode", SWAP_MODES)
def test_publish_keeps_the_history_whatever_the_kill(tmp_path, mode):
    def prepare():
        root = tmp_path / "case"
        shutil.rmtree(root, ignore_errors=True)
        published = build.config.paths(root).report(KEY)
        write_version(published, "v1", [], table="old")
        write_version(published, "v2", history.load(published / "history.json"), table="old")
        return root

    reference = prepare()
    old = digest_tree(reference / "reports" / KEY)
    old_history = history.load(reference / "reports" / KEY / "history.json")
    assert [r["number"] for r in old_history] == [1, 2]
    assert not run_killed(0, mode, lambda: run_once(reference))
    new = digest_tree(reference / "reports" / KEY)
    assert "tables/old.csv" not in new and "tables/new.csv" in new

    def check_after_kill(root):
        target = root / "reports" / KEY
        assert_leftovers_ignored(root / "reports", {KEY})
        recovered = history.load(target / "history.json")  # recovers, as the next run does
        assert [r["number"] for r in recovered] in ([1, 2], [1, 2, 3])
        assert recovered[:2] == old_history
        assert digest_tree(target) in (old, new)

    def check_done(root):
        assert digest_tree(root / "reports" / KEY) == new
        done = history.load(root / "reports" / KEY / "history.json")
        assert [r["number"] for r in done] == [1, 2, 3]
        assert done[2]["changes"]["params"][0]["old"] == "v2"
        entry = json.loads(build.config.paths(root).index_entry(KEY).read_text())
        assert entry["version"] == "v3"

    kills = kill_at_every_operation(mode, prepare, lambda root: run_once(root),
                                    check_after_kill, check_done)
    assert kills >= 10, kills


def test_a_published_report_without_its_history_is_refused(tmp_path):
    folder = tmp_path / "reports" / KEY
    write_version(folder, "v1", [], table="old")
    (folder / "history.json").unlink()
    with pytest.raises(history.HistoryLost, match="git checkout"):
        history.load(folder / "history.json")
    assert history.load(tmp_path / "reports" / "never_published" / "history.json") == []


def test_history_read_finishes_an_interrupted_two_rename_swap(tmp_path):
    """Killed between `<key>` -> `.<key>.old` and the staged rename: the old version returns."""
    target = tmp_path / "reports" / KEY
    write_version(atomic.old_path(target), "v1", [], table="old")
    write_version(atomic.staging_path(target), "v2", [], table="new")
    assert [r["version"] for r in history.load(target / "history.json")] == ["v1"]
    assert sorted(p.name for p in target.parent.iterdir()) == [KEY]


# --- 3. reports/index.html ----------------------------------------------------------------

def index_project(root: Path, headline: str) -> None:
    (root / "reports").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    for key in build.config.intervention_keys(root):
        entry = {"key": key, "title": key, "headline": headline, "equity": "yes",
                 "confidence": "high", "version": "v"}
        atomic.write_text(build.config.paths(root).index_entry(key), json.dumps(entry))


def test_index_is_old_or_new_after_a_kill_at_every_operation(tmp_path):
    reference = tmp_path / "reference"
    index_project(reference, "old")
    old = index.write_index(reference).read_bytes()
    index_project(reference, "new")
    new = index.write_index(reference).read_bytes()
    assert old != new

    def prepare():
        root = tmp_path / "case"
        shutil.rmtree(root, ignore_errors=True)
        index_project(root, "new")
        (root / "reports" / "index.html").write_bytes(old)
        return root

    def check_after_kill(root):
        assert (root / "reports" / "index.html").read_bytes() in (old, new)
        assert_leftovers_ignored(root / "reports", {"index.html"})

    def check_done(root):
        assert (root / "reports" / "index.html").read_bytes() == new
        assert sorted(p.name for p in (root / "reports").iterdir()) == ["index.html"]

    kills = kill_at_every_operation("exchange", prepare, lambda root: index.write_index(root),
                                    check_after_kill, check_done)
    assert kills >= 2, kills


@pytest.mark.integration
def test_dvc_keeps_the_index_when_the_index_stage_fails(tmp_path):
    """Real DVC: a failed (or killed) `index` stage leaves the committed index.html in place."""
    from .conftest import copy_project, run

    project = copy_project(tmp_path / "project")
    committed = (project / "reports" / "index.html").read_bytes()
    index_project(project, "new")
    build.config.paths(project).index_entry("thi_month").unlink()  # the stage will fail
    result = run(["dvc", "repro", "--single-item", "index"], cwd=project, check=False)
    assert result.returncode != 0 and "no index entry" in result.stdout + result.stderr
    assert (project / "reports" / "index.html").read_bytes() == committed
