"""Rows identical in every column read: an error by default, or dropped and counted.

Why: an exact copy of a record-level row is almost always an export appended twice or a join
that fanned out, and left in it counts the event twice. But two genuine events can share every
*analysed* value (same month, unit, strata and flags), so:

- when the file has a column the evaluation does not analyse (the pseudonymised record id, a
  date, a reference), every column read is compared and any repeat is a copy;
- when it has only analysed columns, repeats are expected; the file is refused only when every
  distinct row appears an even number of times over at least :data:`MIN_DISTINCT` distinct
  rows (a file pasted twice; by chance about one in a million).

``drop_on_read`` columns are never read, so never compared (docs/adr/0041).

How: one grouped scan of a 64-bit hash of each row finds candidate copies; rows with those
hashes are then compared on their values, so the count and the row numbers are exact.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import MAX_ROWS_SHOWN, Problem
from .source import Source, q


#: Distinct rows needed before "every row appears an even number of times" is called a copy.
MIN_DISTINCT = 20


@dataclass(frozen=True)
class Copies:
    """``count`` rows repeat an earlier row; ``rows`` are the first few of them (1-based data
    rows) and ``originals`` the rows they copy."""

    count: int
    rows: tuple[int, ...]
    originals: tuple[int, ...]
    has_id: bool = True


def _columns(source: Source, dropped) -> list[str]:
    return [q(c) for c in source.columns if c not in set(dropped)]


def _not_blank(cols: list[str]) -> str:
    """SQL: the row has a value somewhere (wholly blank rows are skipped and counted apart)."""
    return "NOT (" + " AND ".join(f"coalesce(trim(CAST({c} AS VARCHAR)), '') = ''"
                                  for c in cols) + ")"


def find_copies(con, source: Source, dropped=(), analysed=()) -> Copies:
    """Rows that copy an earlier row (module doc); ``analysed`` are the file's columns in use."""
    cols = _columns(source, dropped)
    row_hash = f"hash({', '.join(cols)})"
    has_id = bool(set(source.columns) - set(dropped) - set(analysed))
    if has_id:
        candidates = con.execute(f"SELECT h FROM (SELECT {row_hash} AS h FROM {source.relation}) "
                                 f"GROUP BY h HAVING count(*) > 1 LIMIT 100000").fetchall()
        if not candidates:
            return Copies(0, (), ())
        con.execute("CREATE OR REPLACE TEMP TABLE copy_hashes (h UBIGINT)")
        con.executemany("INSERT INTO copy_hashes VALUES (?)", candidates)
        where = f"{row_hash} IN (SELECT h FROM copy_hashes) AND {_not_blank(cols)}"
    else:
        odd, distinct = con.execute(
            f"SELECT count(*) FILTER (WHERE n % 2 = 1), count(*) FROM "
            f"(SELECT count(*) AS n FROM {source.relation} WHERE {_not_blank(cols)} "
            f"GROUP BY {', '.join(cols)})").fetchone()
        if odd or distinct < MIN_DISTINCT:
            return Copies(0, (), ())
        where = _not_blank(cols)
    found = con.execute(f"""
        SELECT count(*) FILTER (WHERE k > keep),
               list(__row ORDER BY __row) FILTER (WHERE k > keep)[1:{MAX_ROWS_SHOWN}],
               list(first ORDER BY __row) FILTER (WHERE k > keep)[1:{MAX_ROWS_SHOWN}]
        FROM (SELECT __row, row_number() OVER w AS k, min(__row) OVER w AS first,
                     {_keep(has_id)} AS keep
              FROM {source.numbered} WHERE {where}
              WINDOW w AS (PARTITION BY {', '.join(cols)} ORDER BY __row),
                     g AS (PARTITION BY {', '.join(cols)}))""").fetchone()
    return Copies(int(found[0] or 0), tuple(found[1] or ()), tuple(found[2] or ()), has_id)


def _keep(has_id: bool) -> str:
    """How many of a set of identical rows are genuine: one when a column identifies the record,
    else half (the file holds two copies of its rows)."""
    return "1" if has_id else "count(*) OVER g // 2"


def copies_problem(source: Source, copies: Copies) -> Problem:
    pairs = ", ".join(f"{r} repeats {o}" for r, o in zip(copies.rows, copies.originals))
    what = (f"rows identical in every column to an earlier row ({pairs}): an export appended "
            "twice, or a join that repeated rows?" if copies.has_id else
            f"every distinct row appears an even number of times: the file holds two copies of "
            f"its rows (the second copies begin {pairs})")
    return Problem(
        str(source.path), None, copies.rows, copies.count, what,
        "remove the copies and export again; if the file is known to hold copies, set "
        "data: {quirks: {duplicate_rows: drop}} in params.yaml to drop them on read (they are "
        "counted in quality.json); if they are genuine separate events, add the record's "
        "pseudonymised id column to the extract so they differ")


def without_copies(source: Source, copies: Copies, dropped=()) -> Source:
    """``source`` without the copies (row numbers unchanged)."""
    cols = ", ".join(_columns(source, dropped))
    kept = (f"(SELECT * FROM {source.numbered} QUALIFY row_number() OVER "
            f"(PARTITION BY {cols} ORDER BY __row) <= "
            f"{_keep(copies.has_id).replace('OVER g', f'OVER (PARTITION BY {cols})')})")
    return replace(source, relation=kept, numbered=kept)
