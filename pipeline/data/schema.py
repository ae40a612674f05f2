"""The record-level extract schema and its validation, in DuckDB SQL.

Why SQL rather than pandas: the same checks must stay fast on 10 million rows (DESIGN.md
section 7) and be portable to Spark later; every check is a boolean SQL expression evaluated in
one pass, and only failing checks go back for their first row numbers.

Why every problem at once: see :mod:`pipeline.data.errors`.

Decisions (documented in docs/data.md):

- Row numbers are 1-based data rows; the header is not counted.
- Months may be ``YYYY-MM``, an ISO date ``YYYY-MM-DD`` (any day: it is normalised to the first
  of the month), or a Parquet date/timestamp.
- Rows whose month lies outside the window are not an error: they are excluded and counted
  (``rows_outside_window`` in quality.json). An extract with *no* row in the window is an error.
- Flags accept 0/1 (also 0.0/1.0 and true/false, as spreadsheets and Parquet booleans write
  them). Extra columns (patient_id, PLUS-group flags, ...) are allowed and ignored.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .errors import MAX_ROWS_SHOWN, ExtractError, Problem

ETHNICITY = ("White", "Mixed", "Asian", "Black", "Other", "Not stated")
SEX = ("Female", "Male")
PARQUET = (".parquet", ".pq")
CSV = (".csv", ".tsv", ".txt")
EXCEL = (".xlsx", ".xlsm", ".xls")

COLUMN_HELP = {
    "month": "the month of the event as YYYY-MM or a date",
    "unit": "the service / ward / site as text",
    "imd_quintile": "national IMD quintile 1 (most deprived) .. 5 (least deprived)",
    "ethnicity": "ethnic group: " + ", ".join(ETHNICITY),
    "sex": "Female or Male",
    "age_band": "age band as text, e.g. 18-34",
}


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT")
#: DuckDB type of each column of the current source; typed columns get cheaper expressions
#: (Parquet dates and integers need no text parsing: 10 million rows in seconds).
Types = dict[str, str]


def _text(col: str) -> str:
    return f"trim(CAST({q(col)} AS VARCHAR))"


def flag_sql(col: str, types: Types | None = None) -> str:
    """0/1 value of a flag column, NULL when it is not a valid flag."""
    t = (types or {}).get(col, "VARCHAR")
    if t in INTEGER_TYPES:
        return f"(CASE WHEN {q(col)} IN (0, 1) THEN CAST({q(col)} AS INTEGER) END)"
    if t == "BOOLEAN":
        return f"CAST({q(col)} AS INTEGER)"
    v = f"lower({_text(col)})"
    return f"(CASE WHEN {v} IN ('1', '1.0', 'true') THEN 1 WHEN {v} IN ('0', '0.0', 'false') THEN 0 END)"


def month_sql(col: str, types: Types | None = None) -> str:
    """First-of-month DATE of a month column, NULL when it cannot be parsed."""
    t = (types or {}).get(col, "VARCHAR")
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return f"CAST(date_trunc('month', {q(col)}) AS DATE)"
    v = _text(col)
    return (f"(CASE WHEN regexp_full_match({v}, '[0-9]{{4}}-[0-9]{{1,2}}(-[0-9]{{1,2}}([ T].*)?)?') "
            f"THEN CAST(try_strptime(regexp_extract({v}, '^([0-9]{{4}}-[0-9]{{1,2}})', 1) || '-01', "
            f"'%Y-%m-%d') AS DATE) END)")


def imd_sql(col: str, types: Types | None = None) -> str:
    """IMD quintile as an integer 1..5, NULL when it is not one."""
    if (types or {}).get(col) in INTEGER_TYPES:
        return f"(CASE WHEN {q(col)} BETWEEN 1 AND 5 THEN CAST({q(col)} AS INTEGER) END)"
    v = f"try_cast({_text(col)} AS DOUBLE)"
    return f"(CASE WHEN {v} IN (1, 2, 3, 4, 5) THEN CAST({v} AS INTEGER) END)"


def number_sql(col: str, types: Types | None = None) -> str:
    """The column as a number (NULL if not numeric), to tell negative values apart."""
    if (types or {}).get(col) in INTEGER_TYPES:
        return q(col)
    return f"try_cast({_text(col)} AS DOUBLE)"


def blank_sql(col: str, types: Types | None = None) -> str:
    if (types or {}).get(col, "VARCHAR") != "VARCHAR":
        return f"({q(col)} IS NULL)"
    return f"({q(col)} IS NULL OR trim({q(col)}) = '')"


def text_sql(col: str, types: Types | None = None) -> str:
    if (types or {}).get(col, "VARCHAR") == "VARCHAR":
        return f"trim({q(col)})"
    return _text(col)


def stratum_sql(col: str, types: Types | None = None) -> str:
    """The stratum label written to the series: text, IMD as '1'..'5'."""
    if col == "imd_quintile":
        return f"CAST({imd_sql(col, types)} AS VARCHAR)"
    return text_sql(col, types)


@dataclass
class Check:
    """One row-level rule: rows where ``bad`` is true violate it."""

    column: str
    bad: str
    message: str              # may contain {values}
    fix: str


@dataclass
class Inspection:
    """What validation learnt: problems plus counts prepare reports in quality.json."""

    problems: list[Problem] = field(default_factory=list)
    rows: int = 0
    rows_outside_window: int = 0
    columns: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- loading
def load_source(con: duckdb.DuckDBPyConnection, path: Path) -> list[Problem]:
    """Create view ``src`` (all columns plus ``__row``, the 1-based data row) over ``path``."""
    name = str(path)
    if not path.exists():
        return [Problem(name, None, (), 0, "file not found",
                        "check the extract path in params.yaml, or run the simulate stage")]
    if not path.is_file():
        return [Problem(name, None, (), 0, "is a folder, not a file",
                        "point the extract path at one CSV, Parquet or Excel file")]
    if path.stat().st_size == 0:
        return [Problem(name, None, (), 0, "file is empty",
                        "export the extract again, with a header row and at least one data row")]
    suffix = path.suffix.lower()
    try:
        if suffix in PARQUET:
            con.execute(f"CREATE VIEW src AS SELECT * EXCLUDE (file_row_number), "
                        f"file_row_number + 1 AS __row FROM read_parquet({lit(path)}, file_row_number = true)")
        elif suffix in CSV:
            # Text in, so the checks see exactly what the file holds; a table keeps file order.
            con.execute(f"CREATE TABLE src_t AS SELECT * FROM read_csv({lit(path)}, all_varchar = true, "
                        f"header = true)")
            con.execute("CREATE VIEW src AS SELECT *, rowid + 1 AS __row FROM src_t")
        elif suffix in EXCEL:
            if importlib.util.find_spec("openpyxl") is None:
                return [Problem(name, None, (), 0, "Excel files need the openpyxl package, which is "
                                "not installed", "save the sheet as CSV (UTF-8), or add openpyxl "
                                "to the environment")]
            import pandas as pd
            frame = pd.read_excel(path, dtype=str)
            frame["__row"] = range(1, len(frame) + 1)
            con.register("src", frame)
        else:
            return [Problem(name, None, (), 0, f"unsupported file type '{suffix or '(none)'}'",
                            "supply CSV (.csv), Parquet (.parquet) or Excel (.xlsx)")]
        con.execute("SELECT count(*) FROM src").fetchall()[0]
    except (duckdb.Error, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "Parquet" if suffix in PARQUET else "CSV" if suffix in CSV else "Excel"
        how = {"CSV": "a UTF-8, comma-separated CSV file with a header row",
               "Parquet": "a Parquet file (or rename it to .csv if it is really CSV)",
               "Excel": "an .xlsx workbook with the header in the first row"}[kind]
        return [Problem(name, None, (), 0, f"could not be read as a {kind} table ({first})",
                        f"export the extract again as {how}")]
    return []


# --------------------------------------------------------------------------- checks
def build_checks(types: Types, *, outcomes, dimensions, unit_column, month_column):
    """The row-level rules for the columns present, in a stable order."""
    checks: list[Check] = []
    present = set(types)
    T = types

    def blank(col, what):
        checks.append(Check(col, blank_sql(col, T), "value is blank",
                            f"fill in {what}, or remove the row"))

    if month_column in present:
        blank(month_column, "the month (YYYY-MM)")
        checks.append(Check(month_column, f"NOT {blank_sql(month_column, T)} AND {month_sql(month_column, T)} IS NULL",
                            "{values} not a month",
                            "write months as YYYY-MM (e.g. 2021-09) or as an ISO date YYYY-MM-DD"))
    if unit_column in present:
        blank(unit_column, "the unit (service / ward / site)")
    for dim in dimensions:
        if dim not in present:
            continue
        if dim == "ethnicity":
            blank(dim, "the ethnic group (use 'Not stated' when unknown)")
            allowed = ", ".join(lit(e) for e in ETHNICITY)
            checks.append(Check(dim, f"NOT {blank_sql(dim, T)} AND {text_sql(dim, T)} NOT IN ({allowed})",
                                "{values} not an NHS ethnic group",
                                "recode to the top-level groups " + ", ".join(ETHNICITY)))
        elif dim == "sex":
            blank(dim, "sex (Female or Male)")
            checks.append(Check(dim, f"NOT {blank_sql(dim, T)} AND {text_sql(dim, T)} NOT IN ('Female', 'Male')",
                                "{values} not a sex code", "recode to Female or Male"))
        elif dim == "imd_quintile":
            blank(dim, "the IMD quintile from the patient's LSOA of residence")
            checks.append(Check(dim, f"NOT {blank_sql(dim, T)} AND {imd_sql(dim, T)} IS NULL",
                                "{values} not an IMD quintile (1-5)",
                                "recode to 1 (most deprived) .. 5 (least deprived); deciles d map "
                                "to quintile ceil(d / 2)"))
        else:
            blank(dim, f"the {dim}")
    flag_cols = []
    for num, den in outcomes.values():
        for c in (num, den):
            if c and c in present and c not in flag_cols:
                flag_cols.append(c)
    for c in flag_cols:
        checks.append(Check(c, blank_sql(c, T), "value is blank", "write 0 (no) or 1 (yes)"))
        neg = f"{number_sql(c, T)} < 0"
        checks.append(Check(c, f"NOT {blank_sql(c, T)} AND {neg}", "{values} negative",
                            "flags count one row each: write 0 (no) or 1 (yes)"))
        checks.append(Check(c, f"NOT {blank_sql(c, T)} AND NOT coalesce({neg}, false) AND {flag_sql(c, T)} IS NULL",
                            "{values} not a 0/1 flag", "write 0 (no) or 1 (yes)"))
    seen = set()
    for num, den in outcomes.values():
        if den and num in present and den in present and (num, den) not in seen:
            seen.add((num, den))
            checks.append(Check(num, f"{flag_sql(num, T)} = 1 AND {flag_sql(den, T)} = 0",
                                f"numerator is 1 where the denominator '{den}' is 0",
                                f"a row can only count in '{num}' if it counts in '{den}': set "
                                f"'{den}' to 1 or '{num}' to 0"))
    return checks


def _values_text(values: list) -> str:
    """'value 6 is' / "values 'M', 'F' are": numbers bare, text quoted, as the user typed them."""
    def show(v: str) -> str:
        try:
            float(v)
            return v
        except ValueError:
            return repr(v)
    shown = [show(str(v)) for v in values]
    return f"value {shown[0]} is" if len(shown) == 1 else "values " + ", ".join(shown) + " are"


def inspect(con, path: Path, *, outcomes, dimensions, window, unit_column="unit",
            month_column="month") -> Inspection:
    """Load ``path`` into view ``src`` and run every check; never raises for bad data."""
    result = Inspection()
    name = str(path)
    result.problems = load_source(con, path)
    if result.problems:
        return result
    described = con.execute("DESCRIBE src").fetchall()
    result.types = {r[0]: str(r[1]) for r in described if r[0] != "__row"}
    result.columns = list(result.types)
    required = [month_column, unit_column, *dimensions]
    for num, den in outcomes.values():
        required += [c for c in (num, den) if c]
    required = list(dict.fromkeys(required))
    lower = {c.lower(): c for c in result.columns}
    for col in required:
        if col not in result.columns:
            near = lower.get(col.lower())
            hint = f"rename '{near}' to '{col}'" if near else \
                f"add a column '{col}' ({COLUMN_HELP.get(col, 'a 0/1 flag')})"
            result.problems.append(Problem(
                name, col, (), 0,
                f"required column is missing (the file has: {', '.join(result.columns)})",
                f"{hint}; required columns are {', '.join(required)}"))
    result.rows = con.execute("SELECT count(*) FROM src").fetchall()[0][0]
    if result.rows == 0:
        result.problems.append(Problem(name, None, (), 0, "the file has a header but no data rows",
                                       "export the extract again with its rows"))
        return result
    checks = build_checks(result.types, outcomes=outcomes, dimensions=dimensions,
                          unit_column=unit_column, month_column=month_column)
    window_sql = None
    if month_column in result.columns:
        m = month_sql(month_column, result.types)
        window_sql = (f"{m} IS NOT NULL AND ({m} < DATE {lit(window[0] + '-01')} OR "
                      f"{m} > DATE {lit(window[1] + '-01')})")
    exprs = [f"count(*) FILTER (WHERE {c.bad})" for c in checks]
    if month_column in result.columns:
        m = month_sql(month_column, result.types)
        lo, hi = f"DATE {lit(window[0] + '-01')}", f"DATE {lit(window[1] + '-01')}"
        exprs += [f"count(*) FILTER (WHERE {m} < {lo} OR {m} > {hi})",
                  f"count(*) FILTER (WHERE {m} BETWEEN {lo} AND {hi})"]
    else:
        exprs += ["0", "0"]
    counts = con.execute(f"SELECT {', '.join(exprs)} FROM src").fetchall()[0]
    result.rows_outside_window, inside = int(counts[-2]), int(counts[-1])
    for check, count in zip(checks, counts[:-2]):
        if not count:
            continue
        hits = con.execute(f"SELECT __row, CAST({q(check.column)} AS VARCHAR) FROM src "
                           f"WHERE {check.bad} ORDER BY __row LIMIT {MAX_ROWS_SHOWN}").fetchall()
        values = list(dict.fromkeys(v for _, v in hits))[:3]
        message = check.message.format(values=_values_text(values))
        result.problems.append(Problem(name, check.column, tuple(int(r) for r, _ in hits),
                                       int(count), message, check.fix))
    if (month_column in result.columns and inside == 0
            and not any(p.column == month_column for p in result.problems)):
        result.problems.append(Problem(
            name, month_column, (), 0, f"no row falls in the window {window[0]}..{window[1]}",
            "check the window in params.yaml matches the extract's months"))
    return result


def validate_extract(path, *, outcomes: dict[str, tuple[str, str | None]], dimensions: list[str],
                     window: tuple[str, str], unit_column: str = "unit",
                     month_column: str = "month") -> None:
    """Raise :class:`ExtractError` listing every problem of the extract at ``path``.

    ``outcomes`` maps outcome key -> (numerator column, denominator column or None);
    ``dimensions`` are the equity columns (e.g. imd_quintile, ethnicity, sex, age_band);
    ``window`` is ("YYYY-MM", "YYYY-MM"), inclusive. Rows outside the window are not an error.
    """
    with duckdb.connect() as con:
        found = inspect(con, Path(path), outcomes=outcomes, dimensions=dimensions, window=window,
                        unit_column=unit_column, month_column=month_column)
    if found.problems:
        raise ExtractError(found.problems)
