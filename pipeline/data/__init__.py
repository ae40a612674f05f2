"""Data layer: synthetic extracts with known effects, extract validation, monthly series.

Public entry points (the CLI and DVC stages call these; they never read params.yaml):

- :func:`simulate` writes ``extract.parquet`` and ``truth.json`` for an intervention key.
- :func:`validate_extract` raises :class:`ExtractError` listing every problem of an extract.
- :func:`prepare` validates and aggregates an extract to ``series.parquet`` + ``quality.json``.
- :func:`options_for` parses an intervention's ``data:`` section (format, columns, quirks).
"""
from .errors import ExtractError, Problem
from .options import DataOptions, OptionsError, options_for, parse_options
from .prepare import check_extract, prepare, validate_extract
from .simulate import simulate

__all__ = ["DataOptions", "ExtractError", "OptionsError", "Problem", "check_extract", "options_for",
           "parse_options", "prepare", "simulate", "validate_extract"]
