"""A 0/1 flag column in SQL: its value and what is wrong with it, for every engine.

Why apart from the scan (:mod:`pipeline.data.schema`): the same expressions build the scan's
problem mask and, on the way back to the file, the predicates that find the rows of each
problem (:mod:`pipeline.data.locate`), so they are written once. Typed integer and boolean
columns take a cheap path; text is recoded from params' ``values:`` first.
"""
from __future__ import annotations

from . import codes
from .options import DataOptions
from .source import lit, q

INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT")
NUMERIC_TYPES = INTEGER_TYPES + ("FLOAT", "DOUBLE")
#: A negative number as text (a regular expression every engine runs; DuckDB's try_cast has no
#: PostgreSQL equivalent).
NEGATIVE = r"^-[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$"
FLAG_STATES = {1: codes.parse_flag(None)[1], 2: codes.parse_flag("-1")[1],
               3: codes.parse_flag("x")[1]}


def _flag_text(col: str, options: DataOptions) -> str:
    """The flag as trimmed text, after any ``values:`` recoding."""
    expr = f"CAST({q(col)} AS VARCHAR)"
    mapping = options.values.get(col)
    if mapping:
        cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
        expr = f"(CASE trim({expr}) {cases} ELSE {expr} END)"
    return expr


def flag_value_sql(col: str, t: str, options: DataOptions) -> str:
    """0/1 of a flag, NULL when it is not a valid flag (cheap path first for typed columns)."""
    if col not in options.values:
        if t in NUMERIC_TYPES:
            return f"(CASE WHEN {q(col)} IN (0, 1) THEN CAST({q(col)} AS INTEGER) END)"
        if t == "BOOLEAN":
            return f"CAST({q(col)} AS INTEGER)"
    v = _flag_text(col, options)
    slow = (f"(CASE WHEN lower(trim({v})) IN ('1', '1.0', 'true') THEN 1 "
            f"WHEN lower(trim({v})) IN ('0', '0.0', 'false') THEN 0 END)")
    return f"(CASE {v} WHEN '1' THEN 1 WHEN '0' THEN 0 ELSE {slow} END)"


def flag_state_sql(col: str, t: str, options: DataOptions) -> str:
    """0 good, 1 blank, 2 negative, 3 not 0/1 (the keys of FLAG_STATES)."""
    if col not in options.values:
        if t in NUMERIC_TYPES:
            return (f"(CASE WHEN {q(col)} IN (0, 1) THEN 0 WHEN {q(col)} IS NULL THEN 1 "
                    f"WHEN {q(col)} < 0 THEN 2 ELSE 3 END)")
        if t == "BOOLEAN":
            return f"(CASE WHEN {q(col)} IS NULL THEN 1 ELSE 0 END)"
    v = _flag_text(col, options)
    return (f"(CASE WHEN {v} IN ('0', '1') THEN 0 WHEN {v} IS NULL OR trim({v}) = '' THEN 1 "
            f"WHEN lower(trim({v})) IN ('1.0', 'true', '0.0', 'false') THEN 0 "
            f"WHEN regexp_matches(trim({v}), {lit(NEGATIVE)}) THEN 2 ELSE 3 END)")
