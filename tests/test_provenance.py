"""Provenance: what a stage reads is its dependency, what a report inlines is in its version,
and what the code cites exists (docs/adr/0108).

Read from the files themselves (dvc.yaml, the package's imports, the cited paths); no
subprocess.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

import pipeline
from pipeline.report import manifest
from tests.test_layering import MODULES, _closure, graph

ROOT = Path(__file__).resolve().parents[1]


def _stage(name: str) -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"][name]


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def test_index_stage_depends_on_everything_it_reads():
    from pipeline.report import index

    stage = _stage("index")
    deps = stage["deps"]
    modules = _closure("pipeline.report.index", graph(deferred=True)) | {"pipeline.cli", "pipeline"}
    needed = {str(MODULES[m].relative_to(ROOT)) for m in modules}
    needed |= {str(index.STYLESHEET.relative_to(ROOT)), "bin/pipeline", "data/interim/index"}
    missing = sorted(p for p in needed if not _covered(p, deps))
    assert not missing, f"the index stage reads {missing} but does not depend on them"
    assert "interventions" in stage.get("params", []), "the index lists params' interventions"


def _package_files(package: Path) -> list[Path]:
    return sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix != ".pyc")


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("copy")
    shutil.copytree(Path(pipeline.__file__).parent, root / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize("relative", [str(p.relative_to(ROOT / "pipeline"))
                                      for p in _package_files(ROOT / "pipeline")
                                      if p.suffix != ".py"])
def test_code_hash_covers_every_file_of_the_package(relative, package_copy, monkeypatch):
    """Editing any non-Python file of the package (the stylesheet and script inlined into every
    report, the templates) changes the code hash and so the report's version."""
    notebook = ROOT / "notebooks" / "evaluate.ipynb"
    monkeypatch.setattr(pipeline, "__file__", str(package_copy / "pipeline" / "__init__.py"))
    before = manifest.code_hash(notebook)
    target = package_copy / "pipeline" / relative
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"\n")
        assert manifest.code_hash(notebook) != before, f"{relative} is not in the code hash"
    finally:
        target.write_bytes(original)


CITE = re.compile(r"(?<![\w/.])(docs/[\w./-]*[\w-])")
# Paths that name a file a command writes, not a doc to read.
WRITTEN = {"docs/data-dictionary/msk_self_referral.md"}
ADR = re.compile(r"docs/adr/(\d{4})\b")


def _cited_in() -> list[Path]:
    files = [*(ROOT / "pipeline").rglob("*"), *(ROOT / "benchmarks").rglob("*"),
             *(ROOT / "tests").glob("*.py"), *(ROOT / "docs").rglob("*.md"),
             ROOT / "dvc.yaml", ROOT / "params.yaml", ROOT / "README.md", ROOT / "Makefile"]
    return sorted(p for p in files if p.is_file() and p.suffix in (
        ".py", ".md", ".yaml", ".j2", ".css", ".js", "") and "__pycache__" not in p.parts
        and p.name != "test_provenance.py")


def test_every_doc_the_code_cites_exists():
    missing, outside = [], []
    adrs = {p.name[:4] for p in (ROOT / "docs" / "adr").glob("*.md")}
    for path in _cited_in():
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = str(path.relative_to(ROOT))
        for cite in CITE.findall(text):
            cite = cite.rstrip(".")
            if cite.startswith("docs/adr/"):
                continue
            if cite not in WRITTEN and not (ROOT / cite).exists():
                missing.append(f"{rel}: {cite}")
        missing += [f"{rel}: docs/adr/{n}" for n in ADR.findall(text) if n not in adrs]
        if "DESIGN.md" in text and rel != "tests/test_provenance.py":
            outside.append(rel)
    assert not missing, f"cited but not in the repository: {missing}"
    assert not outside, f"cite DESIGN.md, which is not in the repository: {outside}"
