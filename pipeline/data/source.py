"""Open an extract (CSV, Parquet or Excel) as DuckDB relations with our column names.

Why: the checks and the aggregation are written once against our names (``month``, ``unit``,
...); params map a service's own names onto them (``data: columns:``). Only the columns in use
are read (Parquet reads no other column). Row numbers are 1-based *data* rows (the header is not
counted, so in a spreadsheet the row is ``row + 1``); they are computed only when a check has
failed, so the fast path pays nothing for them.

A file that cannot be read as a table becomes a :class:`Problem` with a fix, never a traceback.
"""
from __future__ import annotations

import csv
import errno
import io
import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.errors import excerpt

from .errors import Problem
from .options import DataOptions

PARQUET = (".parquet", ".pq")
CSV = (".csv", ".tsv", ".txt")
EXCEL = (".xlsx", ".xlsm")
COMPRESSED = (".gz", ".zip", ".bz2", ".xz", ".zst", ".7z", ".rar")
#: DuckDB's CSV reader refuses a longer line; no line of an evaluation extract comes near it.
MAX_LINE_BYTES = 2_000_000
MAGIC = {b"PK\x03\x04": "a zip file (an Excel .xlsx workbook?)", b"PAR1": "a Parquet file",
         b"\xd0\xcf\x11\xe0": "an old Excel .xls (or Word) file", b"%PDF": "a PDF document",
         b"\x89PNG": "a PNG image", b"{\\rtf": "a rich-text document",
         b"\x1f\x8b": "a gzip-compressed file (decompress it first)"}


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text) -> str:
    """Quote an SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


@dataclass
class Source:
    """An opened extract: ``relation`` (fast, no row numbers) and ``numbered`` (with ``__row``)
    are SQL FROM-clauses; ``columns`` are the file's column names, ``types`` their DuckDB types."""

    path: Path
    kind: str
    relation: str
    numbered: str
    columns: list[str]
    types: dict[str, str]
    notes: dict = field(default_factory=dict)

    def select(self, mapping: dict[str, str], numbered: bool = False) -> str:
        """SQL selecting file columns under our names: ``mapping`` is ours -> the file's."""
        cols = [f"{q(theirs)} AS {q(ours)}" for ours, theirs in mapping.items()]
        if numbered:
            cols.insert(0, "__row")
        # Aliased: PostgreSQL and Spark need a name on every subquery in FROM.
        return (f"(SELECT {', '.join(cols)} FROM {self.numbered if numbered else self.relation})"
                " AS src")


def _problem(path: Path, message: str, fix: str) -> list[Problem]:
    return [Problem(str(path), None, (), 0, message, fix)]


def _sniff_content(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(65536)


def _kind_of(head: bytes) -> str | None:
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            return what
    return None


def _first_error_line(exc: Exception) -> str:
    text = str(exc).strip()
    return excerpt(text.splitlines()[0], 160) if text else type(exc).__name__


def _first_long_line(path: Path, limit: int = MAX_LINE_BYTES) -> tuple[int, int] | None:
    """(1-based line number, bytes) of the first line longer than ``limit``, read in blocks
    (only on the failure path: the fast path never reads the file twice)."""
    line, length = 1, 0
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            parts = block.split(b"\n")
            for k, part in enumerate(parts):
                length += len(part)
                if k < len(parts) - 1:
                    if length > limit:
                        return line, length
                    line, length = line + 1, 0
    return (line, length) if length > limit else None


def open_source(con: duckdb.DuckDBPyConnection, path: Path, options: DataOptions
                ) -> tuple[Source | None, list[Problem]]:
    """Open ``path`` for reading in ``con``; returns the source or the problems of the file."""
    try:
        path.resolve(strict=True)
    except (RuntimeError, OSError) as exc:  # Python 3.11 raises RuntimeError on a loop, 3.13 ELOOP
        if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
            return None, _problem(path, "is a symbolic link that loops back on itself",
                                  "point the extract path in params.yaml at the file itself "
                                  "(ls -l shows where each link leads)")
        if path.is_symlink():
            return None, _problem(path, "is a symbolic link to a file that does not exist",
                                  "point the extract path in params.yaml at the file itself")
    if not path.exists():
        return None, _problem(path, "file not found",
                              "check the extract path in params.yaml, or run the simulate stage")
    if not path.is_file():
        return None, _problem(path, "is a folder, not a file",
                              "point the extract path at one CSV, Parquet or Excel file")
    if path.stat().st_size == 0:
        return None, _problem(path, "file is empty", "export the extract again, with a header "
                                                     "row and at least one data row")
    suffix = path.suffix.lower()
    if suffix in COMPRESSED:
        return None, _problem(path, f"is a compressed file ('{suffix}')",
                              "decompress it (gunzip, unzip, or Extract All in Windows) into "
                              "data/raw/ and point extract: in params.yaml at the CSV, Parquet "
                              "or .xlsx file inside")
    try:
        if suffix in PARQUET:
            return _open_parquet(con, path)
        if suffix in CSV:
            return _open_csv(con, path, options)
        if suffix in EXCEL:
            return _open_excel(con, path, options)
        if suffix == ".xls":
            return None, _problem(path, "is an old-style Excel .xls workbook",
                                  "open it in Excel and save it as .xlsx (or as CSV UTF-8)")
    except (duckdb.Error, ValueError, OSError, UnicodeError) as exc:
        return None, _unreadable(path, suffix, exc)
    return None, _problem(path, f"unsupported file type '{suffix or '(none)'}'",
                          "supply CSV (.csv), Parquet (.parquet) or Excel (.xlsx)")


def _unreadable(path: Path, suffix: str, exc: Exception) -> list[Problem]:
    kind = "Parquet" if suffix in PARQUET else "CSV" if suffix in CSV else "Excel"
    what = _kind_of(_sniff_content(path))
    if what and kind != "Parquet" or what and what != "a Parquet file":
        return _problem(path, f"could not be read as a {kind} table: the file is {what}",
                        "give the file the extension of its real type, or export the extract "
                        "again as CSV (UTF-8), Parquet or .xlsx")
    how = {"CSV": "a UTF-8, comma-separated CSV file with a header row",
           "Parquet": "a Parquet file (or rename it to .csv if it is really CSV)",
           "Excel": "an .xlsx workbook with the header in the first row"}[kind]
    return _problem(path, f"could not be read as a {kind} table ({_first_error_line(exc)})",
                    f"export the extract again as {how}")


# --------------------------------------------------------------------------- Parquet
def _open_parquet(con, path: Path):
    rel = f"read_parquet({lit(path)})"
    types = {r[0]: str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
    numbered = (f"(SELECT *, file_row_number + 1 AS __row FROM "
                f"read_parquet({lit(path)}, file_row_number = true))")
    return Source(path, "parquet", rel, numbered, list(types), types), []


# --------------------------------------------------------------------------- CSV
def _header_names(path: Path, options: DataOptions, head: bytes) -> list[str] | None:
    """The header row as written, to catch duplicated names DuckDB would rename silently."""
    encoding = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "utf-16": "utf-16"}[options.encoding]
    text = head.decode(encoding, errors="replace")
    line = next(iter(io.StringIO(text)), "")
    delim = options.delimiter or max(",;\t|", key=line.count)
    try:
        return next(csv.reader([line.rstrip("\r\n")], delimiter=delim))
    except (csv.Error, StopIteration):
        return None


def _open_csv(con, path: Path, options: DataOptions):
    head = _sniff_content(path)
    what = _kind_of(head)
    if what or (b"\x00" in head and options.encoding != "utf-16"):
        what = what or "binary, not text"
        return None, _problem(path, f"is not a text (CSV) file: it is {what}",
                              "give the file the extension of its real type (.xlsx, .parquet), "
                              "or export the extract again as CSV UTF-8")
    args = ["all_varchar = true", "header = true"]
    if options.encoding != "utf-8":
        args.append(f"encoding = {lit(options.encoding)}")
    if options.delimiter:
        args.append(f"delim = {lit(options.delimiter)}")
    rel = f"read_csv({lit(path)}, {', '.join(args)})"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
    except duckdb.Error as exc:
        text = str(exc)
        if "maximum line size" in text.lower():
            where = _first_long_line(path)
            at = (f"line {where[0]} of the file (data row {where[0] - 1}) is {where[1]:,} bytes "
                  "long" if where else "a line is too long")
            return None, _problem(
                path, f"{at} (at most {MAX_LINE_BYTES:,}): a cell holds a very long text, or "
                      "the file's line ends are not newlines",
                "remove the long free-text column (free text has no place in an evaluation "
                "extract), or export the file again as CSV with one record per line")
        if "unicode" in text.lower() or "encoded" in text.lower():
            line = next((ln for ln in text.splitlines() if ln.startswith("CSV Error on Line")), "")
            at = f" ({line.replace('CSV Error on ', '').strip().rstrip(':')} of the file)" if line else ""
            return None, _problem(
                path, f"is not {options.encoding.upper()} text{at}",
                "save it from Excel as 'CSV UTF-8', or tell the pipeline its encoding in "
                "params.yaml: data: {encoding: latin-1} (Windows / Excel 'CSV') or utf-16")
        return None, _unreadable(path, ".csv", exc)
    types = {r[0]: str(r[1]) for r in described}
    source = Source(path, "csv", rel, f"(SELECT row_number() OVER () AS __row, * FROM {rel})",
                    list(types), types)
    header = _header_names(path, options, head)
    if header and len(header) == len(types):
        dup = sorted({h for h in header if header.count(h) > 1})
        if dup:
            source.notes["duplicated_columns"] = dup
    return source, []


# --------------------------------------------------------------------------- Excel
def _cell_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d") if v.time() == time(0) else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _open_excel(con, path: Path, options: DataOptions):
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        what = _kind_of(_sniff_content(path)) or "not an .xlsx workbook"
        return None, _problem(path, f"could not be read as an Excel workbook ({what}; "
                                    f"{_first_error_line(exc)})",
                              "open it in Excel and save it as .xlsx, or export it as CSV UTF-8")
    except Exception as exc:  # zipfile.BadZipFile and the like
        return None, _problem(path, f"could not be read as an Excel workbook "
                                    f"({type(exc).__name__}: {_first_error_line(exc)})",
                              "open it in Excel and save it as .xlsx, or export it as CSV UTF-8")
    try:
        names = book.sheetnames
        sheet = options.sheet
        if sheet is None:
            sheet = names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                return None, _problem(path, f"has no sheet number {sheet} (sheets, from 0: "
                                            f"{names})", "set data: {sheet: ...} in params.yaml "
                                                         "to one of the sheets")
            sheet = names[sheet]
        elif sheet not in names:
            return None, _problem(path, f"has no sheet named {sheet!r} (it has {names})",
                                  "set data: {sheet: ...} in params.yaml to one of the sheets")
        rows = book[sheet].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(v is None for v in header):
            return None, _problem(path, f"sheet {sheet!r} has no header in its first row",
                                  "put the column names in row 1 of the sheet")
        width = max((i + 1 for i, v in enumerate(header) if v is not None), default=0)
        names_ = [_cell_text(v) or f"(blank header {i + 1})" for i, v in enumerate(header[:width])]
        columns: list[list] = [[] for _ in range(width)]
        for row in rows:
            for i, v in enumerate(itertools.islice(row, width)):
                columns[i].append(_cell_text(v))
            for i in range(len(row), width):
                columns[i].append(None)
    finally:
        book.close()
    n = len(columns[0]) if columns else 0
    unique = []
    for name in names_:
        k, candidate = 1, name
        while candidate in unique:
            candidate, k = f"{name}_{k}", k + 1
        unique.append(candidate)
    table = pa.table({"__row": pa.array(range(1, n + 1), pa.int64()),
                      **{u: pa.array(c, pa.string()) for u, c in zip(unique, columns)}})
    view = f"excel_{abs(hash(str(path))) % 10**8}"
    con.register(view, table)
    source = Source(path, "excel", f"(SELECT * EXCLUDE (__row) FROM {view})", view, unique,
                    {u: "VARCHAR" for u in unique}, {"sheet": sheet})
    dup = sorted({h for h in names_ if names_.count(h) > 1})
    if dup:
        source.notes["duplicated_columns"] = dup
    return source, []
