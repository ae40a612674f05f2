"""Read and validate ``params.yaml`` into typed objects.

This is the one place that reads parameters and derives paths from the project root
(docs/design.md section 3). The evaluation notebook is handed only an intervention's key and calls
:func:`load_intervention`, so papermill never parses a parameter value (docs/design.md section 9:
papermill reads ``false`` as a truthy string and YAML 1.1 dates differently from DVC).
Unknown keys and wrong types are errors that name the key and the fix, never silently ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

# The loader's results, imported by most callers from here: pipeline.config is the entry point.
from pipeline.intervention import Intervention, Outcome
from pipeline.intervention_params import parse_intervention
from pipeline.params_fields import ConfigError
from pipeline.params_fields import check_keys as _check_keys
from pipeline.params_fields import whole_number as _int

__all__ = ["ROOT_ENV", "ConfigError", "Disclosure", "Intervention", "Outcome", "Paths",
           "intervention_keys", "load_disclosure", "load_intervention", "load_params",
           "load_seed", "parse_intervention", "paths", "project_root", "simulated_keys"]

ROOT_ENV = "PIPELINE_ROOT"


def project_root() -> Path:
    """The project root: ``$PIPELINE_ROOT`` if set, else the nearest folder holding dvc.yaml.

    Searching upwards from the working directory (not from this file) lets a copy of the
    project, as the integration tests make, use its own params and data.
    """
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").exists() and (folder / "params.yaml").exists():
            return folder
    raise ConfigError(
        f"No project root found from {here}: no folder above holds dvc.yaml and params.yaml. "
        f"Fix: run from inside the project, or set {ROOT_ENV}."
    )



@dataclass(frozen=True)
class Disclosure:
    suppress_at_or_below: int = 7
    round_to: int = 5
    rule_version: str = "sdc-2"



def load_params(root: Path | None = None) -> dict:
    root = root or project_root()
    path = root / "params.yaml"
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist. Fix: run from the project root.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(params, dict) or not isinstance(params.get("interventions"), dict):
        raise ConfigError(f"{path}: an 'interventions' mapping is required.")
    return params


def intervention_keys(root: Path | None = None) -> list[str]:
    return list(load_params(root)["interventions"])


def load_intervention(key: str, root: Path | None = None) -> Intervention:
    """Load and validate ``interventions.<key>`` from the project's params.yaml."""
    root = root or project_root()
    params = load_params(root)
    interventions = params["interventions"]
    if key not in interventions:
        raise ConfigError(
            f"params.yaml has no intervention {key!r}; it has {sorted(interventions)}."
        )
    return parse_intervention(key, interventions[key], root, params)


def load_disclosure(root: Path | None = None) -> Disclosure:
    raw = load_params(root).get("disclosure", {})
    _check_keys(raw, {"suppress_at_or_below", "round_to", "rule_version"}, "disclosure")
    return Disclosure(
        suppress_at_or_below=_int(raw.get("suppress_at_or_below", 7), "disclosure.suppress_at_or_below"),
        round_to=_int(raw.get("round_to", 5), "disclosure.round_to", 1),
        rule_version=str(raw.get("rule_version", "sdc-2")),
    )


def load_seed(root: Path | None = None) -> int:
    raw = load_params(root).get("simulation", {})
    return _int(raw.get("seed", 0), "simulation.seed")


def simulated_keys(root: Path | None = None) -> list[str]:
    """Interventions whose default extract the ``simulate`` stage writes."""
    params = load_params(root)
    keys = params.get("simulation", {}).get("interventions", [])
    unknown = sorted(set(keys) - set(params["interventions"]))
    if unknown:
        raise ConfigError(
            f"params.yaml: simulation.interventions lists {unknown}, which are not under "
            "interventions. Fix: remove them or add their sections."
        )
    return list(keys)


@dataclass(frozen=True)
class Paths:
    """Every path the pipeline writes, derived from the project root (docs/design.md section 3)."""

    root: Path

    def synthetic(self, key: str) -> Path:
        return self.root / "data" / "synthetic" / key

    def processed(self, key: str) -> Path:
        return self.root / "data" / "processed" / key

    def series(self, key: str) -> Path:
        return self.processed(key) / "series.parquet"

    def report(self, key: str) -> Path:
        return self.root / "reports" / key

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def notebook(self) -> Path:
        return self.root / "notebooks" / "evaluate.ipynb"

    def staging(self, key: str) -> Path:
        """Where a report is written before it is moved into ``reports/<key>``."""
        return self.root / "data" / "interim" / "staging" / key

    def index_entry(self, key: str) -> Path:
        """The entry of one report that the ``index`` stage reads (docs/adr/0005)."""
        return self.root / "data" / "interim" / "index" / f"{key}.json"


def paths(root: Path | None = None) -> Paths:
    return Paths(root or project_root())
