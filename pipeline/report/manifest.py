"""The report's version: what made it, as hashes, and nothing that changes between reruns.

A report's version is a short hash over the code that made it (the ``pipeline`` package and the
evaluation notebook), its params section, the disclosure rule, each input file and the versions
of the packages that compute the numbers. No git commit id and no clock time enter it, so a
forced rerun of the same code, params and data reproduces it byte for byte (docs/design.md sec. 3).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import pipeline
from pipeline.config import Disclosure, Intervention, Paths

PACKAGES = (
    "duckdb", "dvc", "matplotlib", "nbconvert", "numpy", "pandas", "papermill", "pyarrow",
    "scipy", "seaborn", "statsmodels",
)
_CODE_SUFFIXES = (".py", ".j2", ".css", ".js", ".json")  # every file a report inlines


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def code_hash(notebook: Path) -> str:
    """One hash over every source file of the package and the notebook template."""
    package = Path(pipeline.__file__).parent
    files = sorted(p for p in package.rglob("*") if p.suffix in _CODE_SUFFIXES and p.is_file())
    digest = hashlib.sha256()
    for path in [*files, notebook]:
        name = path.relative_to(package.parent) if path.is_relative_to(package.parent) else path.name
        digest.update(f"{name}\0{file_hash(path)}\0".encode())
    return digest.hexdigest()


def build(cfg: Intervention, rule: Disclosure, paths: Paths, inputs: list[Path]) -> dict:
    """The manifest dict; ``version`` is the first 12 hex digits of a hash over the rest."""
    body = {
        "intervention": cfg.key,
        "code": {"sha256": code_hash(paths.notebook)},
        "params": {"sha256": hashlib.sha256(_canonical(cfg.raw).encode()).hexdigest(),
                   "values": cfg.raw},
        "disclosure": asdict(rule),
        "inputs": {
            str(p.relative_to(paths.root)): file_hash(p) for p in sorted(inputs)
        },
        "packages": {name: metadata.version(name) for name in PACKAGES},
    }
    version = hashlib.sha256(_canonical(body).encode()).hexdigest()[:12]
    return {"version": version, **body}


def dumps(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
