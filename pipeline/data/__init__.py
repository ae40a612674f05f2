"""Data layer: synthetic extracts with known effects, extract validation, monthly series.

Public entry points (the CLI and DVC stages call these; they never read params.yaml):

- :func:`simulate` writes ``extract.parquet`` and ``truth.json`` for an intervention key.
- :func:`validate_extract` raises :class:`ExtractError` listing every problem of an extract.
- :func:`prepare` validates and aggregates an extract to ``series.parquet`` + ``quality.json``.
"""
from .errors import ExtractError, Problem
from .prepare import prepare
from .schema import validate_extract
from .simulate import simulate

__all__ = ["ExtractError", "Problem", "prepare", "simulate", "validate_extract"]
