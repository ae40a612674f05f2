"""Pre-aggregated monthly counts (``data: {format: monthly}``): validate, then hand on as series.

Layout (long, one row per month x unit x dimension x stratum x outcome; docs/data-dictionary):
``month, unit, dimension, stratum, outcome, numerator, denominator``. ``dimension`` is ``all``
(the overall series, stratum ``all``) or an equity column of params; ``outcome`` is the params
outcome key. Why long: it is the series.parquet layout itself, one file serves any number of
outcomes and strata, and a service's export of a pivot table is one unpivot away (docs/adr/0021).

The same cells-then-values approach as record-level extracts (:mod:`pipeline.data.schema`):
one GROUP BY over the raw values, each distinct value classified once, row numbers fetched only
for checks that failed. Checks particular to aggregates: counts are whole numbers >= 0 (not
suppressed, not rates), numerator not above denominator, one row per key, every month present.
"""
from __future__ import annotations

from . import codes
from .errors import Problem
from .locate import locate
from .options import MONTHLY_COLUMNS, DataOptions
from .schema import Check, Scan, classify_values, parser_for, recode, resolve_columns
from .series import finish, quality_header, quirk_info
from .source import Source, lit, q

KEYS = ("month", "unit", "dimension", "stratum", "outcome")
SEP = "chr(31)"


def _raw(col: str) -> str:
    return f"coalesce(CAST({q(col)} AS VARCHAR), chr(30))"


def _count_sql(col: str) -> str:
    return f"try_cast(replace(trim(CAST({q(col)} AS VARCHAR)), ',', '') AS DOUBLE)"


def scan_monthly(con, source: Source, *, outcomes, dimensions, window, options: DataOptions,
                 keep_units=()):
    """Validate a monthly file; return ``(series table, quality)`` or raise ExtractError."""
    from .errors import ExtractError

    scan = Scan()
    name = str(source.path)
    resolve_columns(source, list(MONTHLY_COLUMNS), options, scan)
    if scan.problems:
        raise ExtractError(scan.problems)
    src = source.select(scan.mapping)
    cols = list(MONTHLY_COLUMNS)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE mcells AS
        SELECT {', '.join(f'CAST({q(c)} AS VARCHAR) AS k{i}' for i, c in enumerate(cols))},
               count(*) AS n_rows FROM {src} GROUP BY ALL""")
    scan.rows = con.execute("SELECT coalesce(sum(n_rows), 0) FROM mcells").fetchone()[0]
    if not scan.rows:
        raise ExtractError([Problem(name, None, (), 0, "the file has a header but no data rows",
                                    "export the file again with its rows")])
    blank = " AND ".join(f"(k{i} IS NULL OR trim(k{i}) = '')" for i in range(len(cols)))
    header = " AND ".join(f"k{i} = {lit(scan.mapping[c])}" for i, c in enumerate(cols))
    con.execute(f"CREATE OR REPLACE TEMP TABLE mcells_v AS SELECT *, ({blank}) AS is_blank, "
                f"coalesce({header}, false) AS is_header FROM mcells")
    scan.blank_rows, scan.header_rows = (int(x or 0) for x in con.execute(
        "SELECT sum(n_rows) FILTER (WHERE is_blank), sum(n_rows) FILTER (WHERE is_header) "
        "FROM mcells_v").fetchone())
    blank_row = " AND ".join(f"({q(c)} IS NULL OR trim(CAST({q(c)} AS VARCHAR)) = '')" for c in cols)
    header_row = " AND ".join(f"CAST({q(c)} AS VARCHAR) = {lit(scan.mapping[c])}" for c in cols)
    skip = f"NOT ({blank_row}) AND NOT coalesce({header_row}, false)"
    if scan.header_rows:
        scan.checks.append(Check(None, "the header row is repeated inside the file (files "
                                       "pasted together?)", "delete the repeated header rows",
                                 scan.header_rows, f"coalesce({header_row}, false)",
                                 show_values=False))
    live = "NOT is_blank AND NOT is_header"

    def distinct(expr: str):
        return con.execute(f"SELECT {expr} AS v, sum(n_rows) FROM mcells_v WHERE {live} "
                           f"GROUP BY 1").fetchall()

    def fail(col, reason, n, raws, pred_of=None):
        pred_of = pred_of or (lambda r: f"CAST({q(col)} AS VARCHAR) IS NOT DISTINCT FROM "
                                        f"{'NULL' if r is None else lit(r)}")
        pred = " OR ".join(pred_of(r) for r in raws[:500])
        scan.checks.append(Check(scan.mapping[col], reason.message, reason.fix, n,
                                 f"({pred}) AND {skip}", show_values=reason.key != codes.BLANK))

    def classify(col, i, parse):
        good, bad = classify_values(distinct(f"k{i}"), parse, options.values.get(col))
        for reason, n, raws in bad:
            fail(col, reason, n, raws)
        return good

    months = classify("month", 0, parser_for("month", options))
    units = classify("unit", 1, parser_for("unit", options))
    counts_n = classify("numerator", 5, codes.parse_count)
    counts_d = classify("denominator", 6, codes.parse_count)
    # Outcomes and dimensions: other values are ignored (a file may hold more than we evaluate).
    outcome_map, ignored_outcomes = {}, {}
    for raw, n in distinct("k4"):
        value = recode(raw, options.values.get("outcome"))
        value = value.strip() if value else value
        if value in outcomes:
            outcome_map[raw] = value
        elif codes.is_blank(value):
            fail("outcome", codes.blank_reason("the outcome key"), int(n), [raw])
        else:
            ignored_outcomes[value] = ignored_outcomes.get(value, 0) + int(n)
    pair_map, ignored_dims = {}, {}
    for raw, n in distinct(f"coalesce(k2, chr(30)) || {SEP} || coalesce(k3, chr(30))"):
        raw_dim, raw_stratum = raw.split("\x1f", 1)
        raw_stratum = None if raw_stratum == "\x1e" else raw_stratum
        if raw_dim == "\x1e" or not raw_dim.strip():
            continue   # blank dimension: reported below
        dim = recode(raw_dim, options.values.get("dimension")).strip()
        if dim == "all":
            ok = (raw_stratum or "").strip().lower() == "all"
            value, reason = ("all", None) if ok else (None, codes.Reason(
                "all_stratum", "{values} not the stratum of the overall series",
                "write stratum 'all' on rows whose dimension is 'all'"))
        elif dim in dimensions:
            value, reason = parser_for(dim, options)(recode(raw_stratum, options.values.get(dim)))
        else:
            ignored_dims[dim] = ignored_dims.get(dim, 0) + int(n)
            continue
        if reason is None:
            pair_map[raw] = (dim, value)
        else:
            fail("stratum", reason, int(n), [raw], lambda r: (
                f"{_raw('dimension')} || {SEP} || {_raw('stratum')} = {lit(r)}"))
    # Dimension rows blank: an error too.
    for raw, n in distinct("k2"):
        if codes.is_blank(raw):
            fail("dimension", codes.blank_reason("the dimension ('all' or an equity column)"),
                 int(n), [raw])

    for key in outcomes:
        if key not in outcome_map.values():
            scan.problems.append(Problem(
                name, scan.mapping["outcome"], (), 0,
                f"outcome {key!r} (params.yaml) has no rows"
                + (f"; the file's outcomes are {sorted(ignored_outcomes)[:10]}" if ignored_outcomes else ""),
                "add its rows, or map the file's outcome names to params keys with data: "
                "{values: {outcome: {\"File name\": " + key + "}}}"))
    seen_dims = {d for d, _ in pair_map.values()}
    for dim in ["all", *dimensions]:
        if dim not in seen_dims:
            scan.problems.append(Problem(
                name, scan.mapping["dimension"], (), 0, f"dimension {dim!r} has no rows",
                "add the overall rows (dimension all, stratum all)" if dim == "all" else
                f"add its rows, or remove {dim} from equity in params.yaml"))

    # Numerator above denominator, row by row.
    over = f"{_count_sql('numerator')} > {_count_sql('denominator')}"
    n_over = con.execute(f"SELECT count(*) FROM {src} WHERE {over}").fetchone()[0]
    if n_over:
        scan.checks.append(Check(scan.mapping["numerator"],
                                 f"numerator is above the denominator ('{scan.mapping['denominator']}')",
                                 "a numerator counts a subset of its denominator: check the two "
                                 "columns are not swapped", int(n_over), f"{over} AND {skip}",
                                 show_values=False))

    # Normalised rows (good values only), then duplicates of the normalised key.
    def table_of(name_, mapping, kind="VARCHAR", extra=""):
        rows = ", ".join(f"({lit(r)}, CAST({lit(v)} AS {kind}){extra})" for r, v in mapping.items())
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name_} AS SELECT * FROM "
                    f"(VALUES {rows or '(NULL, NULL)'}) t(raw, v)")

    table_of("mm", months, "DATE")
    table_of("mu", units)
    table_of("mo", outcome_map)
    table_of("mn", counts_n, "BIGINT")
    table_of("md", counts_d, "BIGINT")
    pairs = ", ".join(f"({lit(r)}, {lit(d)}, {lit(s)})" for r, (d, s) in pair_map.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE mp AS SELECT * FROM "
                f"(VALUES {pairs or '(NULL, NULL, NULL)'}) t(raw, dimension, stratum)")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE mrows AS
        SELECT mm.v AS month, mu.v AS unit, mp.dimension, mp.stratum, mo.v AS outcome,
               mn.v AS numerator, md.v AS denominator, c.n_rows,
               concat_ws(chr(31), coalesce(c.k0, chr(30)), coalesce(c.k1, chr(30)),
                         coalesce(c.k2, chr(30)), coalesce(c.k3, chr(30)),
                         coalesce(c.k4, chr(30))) AS rawkey
        FROM mcells_v c JOIN mm ON mm.raw = c.k0 JOIN mu ON mu.raw = c.k1
        JOIN mp ON mp.raw = coalesce(c.k2, chr(30)) || chr(31) || coalesce(c.k3, chr(30))
        JOIN mo ON mo.raw = c.k4 JOIN mn ON mn.raw = c.k5 JOIN md ON md.raw = c.k6
        WHERE {live}""")
    dups = con.execute("""SELECT list(DISTINCT rawkey), sum(n_rows) FROM mrows
        WHERE (month, unit, dimension, stratum, outcome) IN (
            SELECT (month, unit, dimension, stratum, outcome) FROM mrows
            GROUP BY ALL HAVING sum(n_rows) > 1)""").fetchone()
    if dups[0]:
        key = (f"concat_ws(chr(31), {_raw('month')}, {_raw('unit')}, {_raw('dimension')}, "
               f"{_raw('stratum')}, {_raw('outcome')})")
        in_list = ", ".join(lit(r) for r in dups[0][:500])
        scan.checks.append(Check(None, "the same month, unit, dimension, stratum and outcome "
                                       "appear on more than one row",
                                 "keep one row per key (sum the counts if they are parts of one "
                                 "total)", int(dups[1]), f"{key} IN ({in_list}) AND {skip}",
                                 show_values=False))

    structural, table, info = [], None, {}
    if not scan.problems and not scan.checks:
        con.execute("""CREATE OR REPLACE TEMP TABLE long AS
            SELECT month, unit, dimension, stratum, outcome, sum(numerator) AS numerator,
                   sum(denominator) AS denominator, sum(denominator) AS size,
                   sum(n_rows) AS present
            FROM mrows GROUP BY ALL""")
        structural, table, info = finish(con, name=name, column=scan.mapping["month"],
                                         unit_column=scan.mapping["unit"],
                                         outcomes=outcomes, window=window, options=options,
                                         keep_units=keep_units)
    problems = scan.problems + locate(con, source, scan.mapping, scan.checks) + structural
    if problems:
        raise ExtractError(problems)
    mismatches = {}
    for dim in dimensions:
        n = con.execute(f"""SELECT count(*) FROM (
            SELECT month, unit, outcome, sum(numerator) AS n, sum(denominator) AS d FROM inwin
            WHERE dimension = {lit(dim)} GROUP BY ALL) s JOIN inwin a USING (month, unit, outcome)
            WHERE a.dimension = 'all' AND (s.n <> a.numerator OR s.d <> a.denominator)""").fetchone()[0]
        if n:
            mismatches[dim] = int(n)
    sw = info["series_window"]
    lo, hi, end = window[0] + "-01", window[1] + "-01", sw["end"] + "-01"
    outside, incomplete, used = (int(x or 0) for x in con.execute(f"""SELECT
        sum(n_rows) FILTER (WHERE month < DATE {lit(lo)} OR month > DATE {lit(hi)}),
        sum(n_rows) FILTER (WHERE month > DATE {lit(end)} AND month <= DATE {lit(hi)}),
        sum(n_rows) FILTER (WHERE month BETWEEN DATE {lit(lo)} AND DATE {lit(end)})
        FROM mrows""").fetchone())
    quality = {
        **quality_header(source, scan, "monthly"),
        "rows_ignored": {"outcomes": ignored_outcomes, "dimensions": ignored_dims},
        "rows_outside_window": outside,
        "rows_in_incomplete_months": incomplete,
        "rows_used": used,
        "months_with_data": con.execute("SELECT count(DISTINCT month) FROM inwin").fetchone()[0],
        "units": info["unit_sizes"],
        "strata_not_summing_to_all": mismatches,
        "ignored_columns": sorted(c for c in scan.columns if c not in set(scan.mapping.values())),
        **quirk_info(info),
    }
    return table, quality
