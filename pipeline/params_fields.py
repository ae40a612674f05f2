"""Field parsers shared by the params.yaml readers; each names the key path in its message.

Why one module: every section of params.yaml (interventions, disclosure, simulation) checks
keys, months, choices and whole numbers the same way, and an analyst's fix depends on the
message naming exactly which key is wrong (docs/design.md section 3).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from pipeline.errors import PipelineError

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ConfigError(PipelineError, ValueError):
    """A problem in params.yaml; the message names the key and how to fix it."""



def require(section: dict, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in section:
        raise ConfigError(f"params.yaml: {where}.{key} is missing. Fix: add it (see README).")
    value = section[key]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
        raise ConfigError(
            f"params.yaml: {where}.{key} = {value!r} should be {_kind_name(kind)}."
        )
    return value


def _as_tuple(kind) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def check_keys(section: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(
            f"params.yaml: unknown key(s) {unknown} in {where}. "
            f"Fix: remove or rename them; allowed keys are {sorted(allowed)}."
        )


def month(value: Any, where: str) -> pd.Timestamp:
    if not isinstance(value, str) or not _MONTH.match(value):
        raise ConfigError(
            f'params.yaml: {where} = {value!r} is not a month. Fix: write it as a quoted "YYYY-MM".'
        )
    return pd.Timestamp(value + "-01")


def choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"params.yaml: {where} = {value!r}; allowed values are {list(allowed)}.")
    return value


def whole_number(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"params.yaml: {where} = {value!r} should be a whole number >= {minimum}.")
    return value



def mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"params.yaml: {where} should be a mapping of settings.")
    return dict(value)
