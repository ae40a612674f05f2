"""Record-level extracts: validate and aggregate in one DuckDB scan (docs/adr/0020).

How: one ``GROUP BY`` over the rows by their *raw* month, unit and equity values, with a
bit mask of the per-row flag problems (blank, negative, not 0/1, numerator 1 where its
denominator is 0) as one more key and the flag sums as aggregates. That table of "cells" is
small (tens of thousands of rows for ten million records); every distinct value in it is then
classified once (:mod:`pipeline.data.codes`). Only when something failed does a second scan go
back to the file for the first row numbers and values of each problem.

Why every problem at once: see :mod:`pipeline.data.errors`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.errors import excerpt

from . import codes
from .errors import Problem
from .flag_sql import FLAG_STATES, INTEGER_TYPES, flag_state_sql, flag_value_sql
from .options import DataOptions
from .source import Source, lit, q

COLUMN_HELP = {
    "month": "the month of the event as YYYY-MM or a date",
    "unit": "the service / ward / site as text",
    "imd_quintile": "national IMD quintile 1 (most deprived) .. 5 (least deprived)",
    "ethnicity": "ethnic group: " + ", ".join(codes.ETHNICITY),
    "sex": "Female, Male or Not known",
    "age_band": "age band as text, e.g. 18-34",
    "dimension": "all, or the equity column the row breaks down by (e.g. imd_quintile)",
    "stratum": "all, or the value of the dimension (e.g. 1)",
    "outcome": "the outcome key from params.yaml",
    "numerator": "the count of events (whole number)",
    "denominator": "the count eligible (whole number)",
}


@dataclass
class Check:
    """A failed check: ``predicate`` (SQL over our column names) finds its rows on the way back
    to the file for row numbers; ``count`` is exact, from the cells."""

    column: str | None
    message: str
    fix: str
    count: int
    predicate: str | None = None
    show_values: bool = True
    values: list = field(default_factory=list)


@dataclass
class Scan:
    """What a scan learnt; ``checks`` still need their row numbers (see :func:`locate`)."""

    problems: list[Problem] = field(default_factory=list)   # file-level, no rows
    checks: list[Check] = field(default_factory=list)
    rows: int = 0
    blank_rows: int = 0
    header_rows: int = 0
    columns: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)     # ours -> the file's
    complete: bool = False          # every needed column present: `clean` was built


def parser_for(column: str, options: DataOptions):
    if column == "month":
        return codes.month_parser(options.date_format)
    if column == "imd_quintile":
        return codes.parse_imd
    if column == "ethnicity":
        return codes.parse_ethnicity
    if column == "sex":
        return codes.parse_sex
    if column == "age_band":
        return codes.age_parser(options.age_bands)
    if column == "unit":
        return codes.text_parser("the unit (service / ward / site)")
    return codes.text_parser(f"the {column}")


def recode(value: str | None, mapping: dict[str, str] | None) -> str | None:
    if value is None or not mapping:
        return value
    return mapping.get(value.strip(), value)


def classify_values(rows, parse, mapping: dict[str, str] | None = None):
    """Classify each distinct raw value once (after any recoding from params).

    ``rows`` are ``(raw value, number of rows)`` pairs from a grouped scan. Returns the good
    values as ``{raw: parsed}`` and the problems as ``[(reason, rows affected, raw values)]``,
    one entry per kind of problem, so every problem of a column is reported at once.
    """
    good, bad = {}, {}
    for raw, n in rows:
        value, reason = parse(recode(raw, mapping))
        if reason is None:
            good[raw] = value
        else:
            entry = bad.setdefault(reason.key, [reason, 0, []])
            entry[1] += int(n)
            entry[2].append(raw)
    return good, [tuple(entry) for entry in bad.values()]


def resolve_columns(source: Source, needed: list[str], options: DataOptions, scan: Scan) -> None:
    """Map our names to the file's; a missing or duplicated column is a file-level problem."""
    name = str(source.path)
    file_cols = source.columns
    scan.columns = list(file_cols)
    fold = {c.strip().lower().replace(" ", "_"): c for c in file_cols}
    dup = set(source.notes.get("duplicated_columns", ()))
    if len(file_cols) == 1 and len(needed) > 1:
        scan.problems.append(Problem(
            name, None, (), 0, f"does not look like a table: one column only ({excerpt(file_cols[0])!r})",
            "export it with one column per field and a header row; if the columns are split by "
            "';' or tabs, set data: {delimiter: ...} in params.yaml"))
        return
    for ours in needed:
        theirs = options.file_column(ours)
        if theirs in file_cols:
            scan.mapping[ours] = theirs
            if (ours == "imd_quintile" and "decile" in theirs.lower()
                    and options.values.get(ours) is not codes.IMD_DECILE):
                scan.problems.append(Problem(
                    name, theirs, (), 0, "is read as the IMD quintile but its name says decile",
                    "recode deciles to quintiles on read with data: {values: {imd_quintile: "
                    "imd_decile}} in params.yaml (decile d is quintile ceil(d / 2)), or map the "
                    "quintile column instead"))
            if theirs in dup:
                scan.problems.append(Problem(
                    name, theirs, (), 0, "the column name appears more than once in the header",
                    "rename or remove the duplicate column so each name is used once"))
            continue
        near = fold.get(theirs.strip().lower().replace(" ", "_"))
        mapped = f" (mapped from {ours!r} in data: columns)" if theirs != ours else ""
        hint = (f"rename '{near}' to '{theirs}', or map it in params.yaml: data: {{columns: "
                f"{{{ours}: \"{near}\"}}}}" if near else
                f"add a column '{theirs}' ({COLUMN_HELP.get(ours, 'a 0/1 flag')}), or map the "
                f"file's name for it in params.yaml: data: {{columns: {{{ours}: \"...\"}}}}")
        shown = ", ".join(excerpt(c) for c in file_cols[:20]) + (", ..." if len(file_cols) > 20 else "")
        scan.problems.append(Problem(
            name, theirs, (), 0, f"required column is missing{mapped} (the file has: {shown})",
            hint))


def _blank_sql(col: str, t: str) -> str:
    if t == "VARCHAR":
        return f"({q(col)} IS NULL OR trim({q(col)}) = '')"
    return f"({q(col)} IS NULL)"


# --------------------------------------------------------------------------- the scan
def scan_records(con, source: Source, *, outcomes, dimensions, window,
                 options: DataOptions) -> Scan:
    """Validate the record-level ``source``; on success leave table ``clean`` in ``con``:
    ``month DATE, unit, s0.. (normalised strata), n_rows, f0.. (flag sums)``, all months."""
    scan = Scan()
    name = str(source.path)
    flags = list(dict.fromkeys(c for pair in outcomes.values() for c in pair if c))
    keys = ["month", "unit", *dimensions]
    resolve_columns(source, keys + flags, options, scan)
    if scan.problems and not scan.mapping:
        return scan
    present_keys = [k for k in keys if k in scan.mapping]
    present_flags = [f for f in flags if f in scan.mapping]
    types = {ours: source.types[theirs] for ours, theirs in scan.mapping.items()}
    src = source.select(scan.mapping)

    states = [flag_state_sql(f, types[f], options) for f in present_flags]
    # Inner: raw keys, raw flags and their 0/1 values; outer: the problem mask, from the values
    # (the slow classification runs only where a value is not a plain 0/1).
    mask_parts = [f"((CASE WHEN v{i} IS NOT NULL THEN 0 ELSE {s} END) << {2 * i})"
                  for i, s in enumerate(states)]
    pairs = []
    for num, den in dict.fromkeys(outcomes.values()):
        if den and num in present_flags and den in present_flags:
            pairs.append((num, den))
            bit = 2 * len(present_flags) + len(pairs) - 1
            mask_parts.append(f"(CASE WHEN v{present_flags.index(num)} = 1 AND "
                              f"v{present_flags.index(den)} = 0 THEN {1 << bit} ELSE 0 END)")
    mask = " | ".join(mask_parts) or "0"
    values = [flag_value_sql(f, types[f], options) for f in present_flags]
    if _typed_flags_clean(con, src, present_flags, types, options, pairs):
        # Typed 0/1 flags, none out of range, no pair broken (one cheap scan of the flag
        # columns said so): the main scan needs neither the mask nor the value checks.
        mask, values = "0", [q(f) for f in present_flags]
    inner = [f"{q(k)} AS k{i}" for i, k in enumerate(present_keys)]
    inner += [q(f) for f in present_flags]
    inner += [f"{v} AS v{i}" for i, v in enumerate(values)]
    outer = [f"k{i}" for i in range(len(present_keys))]
    outer += [f"v{i}" for i in range(len(present_flags))] + [f"({mask}) AS mask"]
    sums = [f"CAST(sum(v{i}) AS BIGINT) AS f{i}" for i in range(len(present_flags))]
    group = [f"k{i}" for i in range(len(present_keys))] + ["mask"]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE cells AS
        SELECT {', '.join(group)}, count(*) AS n_rows {''.join(', ' + s for s in sums)}
        FROM (SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {src}) AS i) AS o
        GROUP BY {', '.join(group)}""")
    scan.rows = con.execute("SELECT coalesce(sum(n_rows), 0) FROM cells").fetchone()[0]
    if scan.rows == 0:
        scan.problems.append(Problem(name, None, (), 0, "the file has a header but no data rows",
                                     "export the extract again with its rows"))
        return scan

    # Rows to leave out of every check: wholly blank rows (spreadsheets leave them) and the
    # header repeated inside the file (two exports pasted together).
    all_blank_mask = sum(1 << (2 * i) for i in range(len(present_flags)))
    blank_cell = " AND ".join([f"(CAST(k{i} AS VARCHAR) IS NULL OR trim(CAST(k{i} AS VARCHAR)) = '')"
                               for i in range(len(present_keys))] + [f"mask = {all_blank_mask}"])
    header_cell = " AND ".join(f"CAST(k{i} AS VARCHAR) = {lit(scan.mapping[k])}"
                               for i, k in enumerate(present_keys)) or "false"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE cells_v AS
        SELECT *, ({blank_cell}) AS is_blank, ({header_cell}) AS is_header FROM cells""")
    scan.blank_rows, scan.header_rows = (int(x or 0) for x in con.execute(
        "SELECT sum(n_rows) FILTER (WHERE is_blank), sum(n_rows) FILTER (WHERE is_header) "
        "FROM cells_v").fetchone())
    blank_row = " AND ".join([_blank_sql(k, types[k]) for k in present_keys]
                             + [f"({s}) = 1" for s in states]) or "false"
    header_row = " AND ".join(f"CAST({q(k)} AS VARCHAR) = {lit(scan.mapping[k])}"
                              for k in present_keys) or "false"
    skip = f"NOT ({blank_row}) AND NOT coalesce({header_row}, false)"
    if scan.header_rows:
        scan.checks.append(Check(None, "the header row is repeated inside the file "
                                       "(files pasted together?)",
                                 "delete the repeated header rows", scan.header_rows,
                                 f"coalesce({header_row}, false)", show_values=False))

    # Distinct raw values of each key, classified once.
    maps: dict[str, dict[str, object]] = {}
    for i, k in enumerate(present_keys):
        parse = parser_for(k, options)
        rows = con.execute(f"SELECT CAST(k{i} AS VARCHAR) AS v, sum(n_rows) FROM cells_v "
                           f"WHERE NOT is_blank AND NOT is_header GROUP BY 1").fetchall()
        good, bad = classify_values(rows, parse, options.values.get(k))
        maps[k] = good
        for reason, n, raws in bad:
            in_list = ", ".join(lit(r) for r in raws[:1000] if r is not None)
            preds = []
            if in_list:
                preds.append(f"CAST({q(k)} AS VARCHAR) IN ({in_list})")
            if any(r is None for r in raws):
                preds.append(f"{q(k)} IS NULL")
            scan.checks.append(Check(scan.mapping[k], reason.message, reason.fix, n,
                                     f"({' OR '.join(preds)}) AND {skip}",
                                     show_values=reason.key != codes.BLANK))

    # Flag problems and numerator-above-denominator, from the mask.
    for i, f in enumerate(present_flags):
        for state, reason in FLAG_STATES.items():
            n = con.execute(f"SELECT coalesce(sum(n_rows), 0) FROM cells_v WHERE NOT is_blank "
                            f"AND NOT is_header AND (mask >> {2 * i}) & 3 = {state}").fetchone()[0]
            if n:
                scan.checks.append(Check(scan.mapping[f], reason.message, reason.fix, int(n),
                                         f"({states[i]}) = {state} AND {skip}",
                                         show_values=state != 1))
    for j, (num, den) in enumerate(pairs):
        bit = 1 << (2 * len(present_flags) + j)
        n = con.execute(f"SELECT coalesce(sum(n_rows), 0) FROM cells_v "
                        f"WHERE mask & {bit} <> 0").fetchone()[0]
        if n:
            pred = (f"{flag_value_sql(num, types[num], options)} = 1 AND "
                    f"{flag_value_sql(den, types[den], options)} = 0")
            scan.checks.append(Check(
                scan.mapping[num], f"numerator is 1 where the denominator '{scan.mapping[den]}' is 0",
                f"a row can only count in '{scan.mapping[num]}' if it counts in "
                f"'{scan.mapping[den]}': set '{scan.mapping[den]}' to 1 or '{scan.mapping[num]}' "
                f"to 0", int(n), pred, show_values=False))

    if len(present_keys) < len(keys) or len(present_flags) < len(flags):
        return scan
    # The clean, normalised cells: joined to the good values, bad cells left out.
    joins, cols, by = [], [], []
    for i, k in enumerate(present_keys):
        kind = "DATE" if k == "month" else "VARCHAR"
        values = ", ".join(f"({lit(raw)}, CAST({lit(v)} AS {kind}))" for raw, v in maps[k].items())
        if not values:
            return scan
        con.execute(f"CREATE OR REPLACE TEMP TABLE map{i} AS SELECT * FROM (VALUES {values}) t(raw, v)")
        joins.append(f"JOIN map{i} m{i} ON m{i}.raw = CAST(c.k{i} AS VARCHAR)")
        cols.append(f"m{i}.v AS {'month' if k == 'month' else 'unit' if k == 'unit' else f's{i - 2}'}")
        by.append(f"m{i}.v")
    sums = [f"CAST(sum(f{i}) AS BIGINT) AS f{i}" for i in range(len(present_flags))]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE clean AS
        SELECT {', '.join(cols)}, CAST(sum(n_rows) AS BIGINT) AS n_rows{''.join(', ' + s for s in sums)}
        FROM cells_v c {' '.join(joins)}
        WHERE c.mask = 0 AND NOT c.is_blank AND NOT c.is_header
        GROUP BY {', '.join(by)}""")
    scan.complete = True
    return scan


def _typed_flags_clean(con, src: str, flags, types, options, pairs) -> bool:
    """True if every flag is a typed 0/1 column with no blank, no other value and no numerator
    1 where its denominator is 0. Parquet only (a second pass over a CSV would cost a full
    parse); the flag columns alone are a small part of a columnar file."""
    if not flags or any(types[f] not in INTEGER_TYPES or f in options.values for f in flags):
        return False
    exprs = ["count(*)"]
    for f in flags:   # min, max and count are the cheapest aggregates there are
        exprs += [f"min({q(f)})", f"max({q(f)})", f"count({q(f)})"]
    for num, den in pairs:   # with 0/1 values, num - den = 1 only where num is 1 and den 0
        exprs += [f"max(CAST({q(num)} AS INTEGER) - CAST({q(den)} AS INTEGER))"]
    got = con.execute(f"SELECT {', '.join(exprs)} FROM {src}").fetchone()
    n, stats, broken = got[0], got[1:1 + 3 * len(flags)], got[1 + 3 * len(flags):]
    for i in range(len(flags)):
        low, high, count = stats[3 * i: 3 * i + 3]
        if count != n or (n and (low < 0 or high > 1)):
            return False
    return not any(b is not None and b > 0 for b in broken)


def wide_to_long_sql(outcomes, flags: list[str], dimensions, crossed=()) -> str:
    """``clean`` -> long monthly rows for the overall series and each dimension (GROUPING SETS
    over the small ``clean`` table), one row per outcome; ``size`` counts the records.

    ``crossed`` pairs of dimensions add one grouping set each: dimension ``"a & b"``, stratum
    ``"<a value> & <b value>"`` (intersectional strata; docs/adr/0078)."""
    from pipeline.intervention import CROSS_SEP, crossed_name

    dims = list(dimensions)
    pairs = [(dims.index(a), dims.index(b), crossed_name((a, b))) for a, b in crossed]
    sets = (["(month, unit)"] + [f"(month, unit, s{j})" for j in range(len(dims))]
            + [f"(month, unit, s{i}, s{j})" for i, j, _ in pairs])
    both = {name: f"grouping(s{i}) = 0 AND grouping(s{j}) = 0" for i, j, name in pairs}
    dim_case = " ".join([f"WHEN {both[n]} THEN {lit(n)}" for _, _, n in pairs]
                        + [f"WHEN grouping(s{j}) = 0 THEN {lit(d)}" for j, d in enumerate(dims)])
    dimension = f"CASE {dim_case} ELSE 'all' END" if dimensions else "'all'"
    stratum = f"coalesce({', '.join([f's{j}' for j in range(len(dims))] + [lit('all')])})"
    if pairs:
        cross = " ".join(f"WHEN {both[n]} THEN CAST(s{i} AS VARCHAR) || {lit(CROSS_SEP)} || "
                         f"CAST(s{j} AS VARCHAR)" for i, j, n in pairs)
        stratum = f"CASE {cross} ELSE CAST({stratum} AS VARCHAR) END"
    sums = "".join(f", sum(f{i}) AS f{i}" for i in range(len(flags)))
    wide = (f"SELECT month, unit, {dimension} AS dimension, {stratum} AS stratum, "
            f"sum(n_rows) AS n_rows{sums} FROM clean GROUP BY GROUPING SETS ({', '.join(sets)})")
    parts = []
    for key, (num, den) in outcomes.items():
        d = f"f{flags.index(den)}" if den else "n_rows"
        parts.append(f"SELECT month, unit, dimension, stratum, {lit(key)} AS outcome, "
                     f"CAST(f{flags.index(num)} AS BIGINT) AS numerator, "
                     f"CAST({d} AS BIGINT) AS denominator, CAST(n_rows AS BIGINT) AS size FROM w")
    return f"WITH w AS ({wide}) {' UNION ALL '.join(parts)}"
