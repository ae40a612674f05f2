"""Build one intervention's report folder, all or nothing.

The notebook runs with the project root as working directory and writes its tables, metrics,
manifest and extended version history into a staging folder; this module then adds
``report.ipynb`` and ``report.html``, scans the result, and swaps the complete folder in for
``reports/<key>`` in one step (pipeline.atomic, docs/adr/0035), so neither a
failure nor a kill at any point leaves half a report or loses its history (docs/design.md section
6). It also writes the index entry the ``index`` stage reads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipeline import atomic, config
from pipeline.errors import PipelineError
from pipeline.report import render


class DisclosureViolation(PipelineError):
    """A report broke the publication rule; it was not published."""


def refuse_unsafe(staged: Path, rule) -> None:
    """Scan the staged report as docs/design.md section 5 asks; publish nothing that fails.

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
    atomic.recover_folder(paths.report(key))  # the notebook reads the history there
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
    return publish_staged(key, staged, cfg.title, root)


def publish_staged(key: str, staged: Path, title: str, root: Path) -> Path:
    """Swap the complete, scanned folder ``staged`` in as ``reports/<key>``; write its entry.

    The index entry is written after the swap: a kill in between leaves the entry of the
    previous run missing (DVC deleted it), so the ``index`` stage stops with a clear error and
    ``dvc repro`` reruns this stage, whose lock was never written.
    """
    paths = config.paths(root)
    entry = index_entry(key, staged, title)
    target = paths.report(key)
    atomic.replace_folder(staged, target)
    atomic.write_text(paths.index_entry(key),
                              json.dumps(entry, indent=2, sort_keys=True) + "\n")
    return target
