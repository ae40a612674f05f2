"""Build one intervention's report folder, all or nothing.

The notebook runs with the project root as working directory and writes its tables, metrics and
manifest into a staging folder; this module then adds ``report.ipynb`` and ``report.html`` and
moves the staged files into ``reports/<key>`` by rename, so a failed run never leaves half
a report (DESIGN.md section 6). It also writes the index entry the ``index`` stage reads.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.report import render


def replace_into(staged: Path, target: Path) -> None:
    """Move every file and folder of ``staged`` into ``target`` by rename.

    Each item is swapped in whole (a folder's old copy is removed only once the new one is in
    place), and only after every item was written, so a failure before this point leaves the
    previous report untouched.
    """
    target.mkdir(parents=True, exist_ok=True)
    for item in sorted(staged.iterdir()):
        destination = target / item.name
        previous = target / f".{item.name}.previous"
        shutil.rmtree(previous, ignore_errors=True)
        if destination.exists():
            os.replace(destination, previous)
        os.replace(item, destination)
        if previous.is_dir():
            shutil.rmtree(previous)
        elif previous.exists():
            previous.unlink()
    staged.rmdir()


class DisclosureViolation(PipelineError):
    """A report broke the publication rule; it was not published."""


def refuse_unsafe(staged: Path, rule) -> None:
    """Scan the staged report as DESIGN.md section 5 asks; publish nothing that fails.

    The scan (pipeline.publication_check) looks for small or unrounded counts, NHS numbers,
    postcodes and record-level columns in every file: the last line of defence behind the
    disclosure rule applied in pipeline.report.publish.
    """
    from pipeline.publication_check import scan

    violations = scan(staged, rule)
    if violations:
        listed = "\n".join(f"  {v}" for v in violations[:20])
        raise DisclosureViolation(
            f"{len(violations)} disclosure problem(s) in the report staged at {staged}; it was "
            f"not published:\n{listed}\nFix: route the table or text through "
            "pipeline.disclosure before it is displayed or written."
        )


def index_entry(key: str, report_dir: Path, title: str) -> dict:
    manifest = json.loads((report_dir / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    return {"key": key, "title": title, "version": manifest["version"], **summary}


def build_report(key: str, root: Path | None = None) -> Path:
    root = root or config.project_root()
    cfg = config.load_intervention(key, root)
    paths = config.paths(root)
    staged = paths.staging(key)
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)

    nb = render.execute(
        paths.notebook,
        parameters={"intervention": key, "output_dir": staged.relative_to(root).as_posix()},
        cwd=root,
    )
    render.write_notebook(nb, staged / "report.ipynb")
    (staged / "report.html").write_text(render.to_html(nb, cfg.title), encoding="utf-8")
    refuse_unsafe(staged, config.load_disclosure(root))

    entry = index_entry(key, staged, cfg.title)
    target = paths.report(key)
    replace_into(staged, target)
    entry_path = paths.index_entry(key)
    entry_path.parent.mkdir(parents=True, exist_ok=True)
    entry_path.write_text(json.dumps(entry, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target
