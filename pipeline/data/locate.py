"""The second pass over an extract: the first rows and values of each failed check.

Why a second pass: the scan (:mod:`pipeline.data.schema`) counts every problem from a small
grouped table, without row numbers; only when something failed is the file read again,
so a clean extract is read once (docs/adr/0020).
"""
from __future__ import annotations

from . import codes
from .errors import MAX_ROWS_SHOWN, Problem
from .schema import Check
from .source import Source, q


def locate(con, source: Source, mapping: dict[str, str], checks: list[Check]) -> list[Problem]:
    """One more scan, with row numbers, for the first rows and values of each failed check."""
    if not checks:
        return []
    src = source.select(mapping, numbered=True)
    exprs = []
    for c in checks:
        value = f"CAST({q(_ours(mapping, c.column))} AS VARCHAR)" if c.column and c.show_values else "NULL"
        exprs += [f"min(__row, {MAX_ROWS_SHOWN}) FILTER (WHERE {c.predicate})",
                  f"min_by({value}, __row, {MAX_ROWS_SHOWN}) FILTER (WHERE {c.predicate})"]
    found = con.execute(f"SELECT {', '.join(exprs)} FROM {src}").fetchone()
    problems = []
    for i, c in enumerate(checks):
        rows, values = found[2 * i] or [], found[2 * i + 1] or []
        shown = list(dict.fromkeys(values))[:3]
        message = c.message.format(values=codes.values_text(shown or c.values or ["?"]))
        problems.append(Problem(str(source.path), c.column, tuple(int(r) for r in rows),
                                max(c.count, len(rows)), message, c.fix))
    return problems


def _ours(mapping: dict[str, str], theirs: str) -> str:
    for ours, t in mapping.items():
        if t == theirs:
            return ours
    return theirs


def locate_values(engine, source: Source, mapping: dict[str, str], checks: list[Check]
                  ) -> list[Problem]:
    """:func:`locate` for a table in a database: a table has no row order, so no row numbers;
    the values shown are the first three distinct bad values in sorted order (one grouped
    query per check, run in the engine)."""
    src = source.select(mapping)
    problems = []
    for c in checks:
        shown = []
        if c.column and c.show_values:
            value = f"CAST({q(_ours(mapping, c.column))} AS VARCHAR)"
            shown = [v for (v,) in engine.execute(
                f"SELECT {value} AS v FROM {src} WHERE {c.predicate} GROUP BY {value} "
                f"ORDER BY v LIMIT 3").fetchall()]
        message = c.message.format(values=codes.values_text(shown or c.values or ["?"]))
        problems.append(Problem(str(source.path), c.column, (), c.count, message, c.fix))
    return problems
