"""Population denominators for count outcomes (docs/adr/0079).

Some outcomes have no per-row denominator: "referrals from people with a learning disability"
is a count per month against a registered population (e.g. the GP learning-disability
register). Their denominator comes from a population table, one row per month x unit x
dimension x stratum (``month, unit, dimension, stratum, population``; CSV or Parquet; dimension
``all`` with stratum ``all`` for the whole population), and the count is modelled as a rate
with ``log(population)`` as the offset (Poisson / quasi-Poisson; docs/statistics.md).

Validated like an extract: every problem of the file at once, each naming the file, column,
first rows and the fix; the whole population must be given for every unit and month of the
series; equity strata without a population row are left out of that outcome's breakdown (and
listed in quality.json), never filled.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from .errors import ExtractError, Problem

COLUMNS = ("month", "unit", "dimension", "stratum", "population")
KEYS = ["month", "unit", "dimension", "stratum"]
SHOWN = 5


def read_population(path) -> pd.DataFrame:
    """The validated population table of ``path`` (month as Timestamp, counts as int64)."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise ExtractError([Problem(name, None, (), 0, "the population table does not exist",
                                    "check population_table in params.yaml")])
    try:
        raw = (pd.read_parquet(path) if path.suffix.lower() == ".parquet"
               else pd.read_csv(path, dtype=str, keep_default_na=False))
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's problem
        raise ExtractError([Problem(name, None, (), 0, f"cannot be read ({exc})",
                                    "save it as CSV (UTF-8) or Parquet")]) from None
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ExtractError([Problem(name, c, (), 0, f"column {c!r} is missing (the file has "
                                    f"{list(raw.columns)[:10]})", "add it; the layout is "
                                    "month, unit, dimension, stratum, population")
                            for c in missing])
    text = raw[list(COLUMNS)].astype(str).apply(lambda s: s.str.strip())
    month = pd.to_datetime(text["month"].str[:7], format="%Y-%m", errors="coerce")
    count = pd.to_numeric(text["population"].str.replace(",", ""), errors="coerce")
    problems = []

    def rows_where(mask, column, message, fix):
        if mask.any():
            rows = tuple(int(i) + 1 for i in mask[mask].index[:SHOWN])
            problems.append(Problem(name, column, rows, int(mask.sum()), message, fix))

    rows_where(month.isna(), "month", "is not a month", 'write it as "YYYY-MM"')
    rows_where(count.isna() | (count < 0) | (count % 1 != 0), "population",
               "is not a whole number >= 0", "write the registered population as a count")
    for c in ("unit", "dimension", "stratum"):
        rows_where(text[c].isin(["", "nan", "None"]), c, "is blank",
                   "fill it in ('all' for the whole population)")
    table = pd.DataFrame({"month": month, "unit": text["unit"], "dimension": text["dimension"],
                          "stratum": text["stratum"], "population": count})
    rows_where(table.duplicated(KEYS, keep=False) & month.notna(), None,
               "the same month, unit, dimension and stratum appear on more than one row",
               "keep one row per key")
    if problems:
        raise ExtractError(problems)
    return table.assign(population=table["population"].astype("int64"))


def apply_population(table: pa.Table, outcome: str, path) -> tuple[pa.Table, dict]:
    """``table`` (the series) with ``outcome``'s denominators taken from the population table.

    Every unit and month of the overall series needs a population above zero; strata without
    a population row are dropped for this outcome and listed.
    """
    population = read_population(path)
    series = table.to_pandas()
    mine = series["outcome"] == outcome
    rows = series[mine].merge(population, on=KEYS, how="left")
    name = str(path)
    overall = rows[rows["dimension"] == "all"]
    gaps = overall[overall["population"].isna() | (overall["population"] <= 0)]
    if len(gaps):
        shown = ", ".join(f"{r.unit} {r.month:%Y-%m}" for r in gaps.head(SHOWN).itertuples())
        raise ExtractError([Problem(
            name, "population", (), len(gaps),
            f"outcome {outcome!r}: no population above zero (dimension all) for {len(gaps)} "
            f"unit-months of the series, e.g. {shown}",
            "add the whole population (dimension all, stratum all) of every unit and month")])
    dropped = rows[rows["population"].isna()][["dimension", "stratum"]].drop_duplicates()
    rows = rows[rows["population"].notna()].assign(
        denominator=lambda f: f["population"].astype("int64")).drop(columns="population")
    out = pd.concat([series[~mine], rows], ignore_index=True)
    out = out.sort_values(["outcome", "dimension", "stratum", "unit", "month"])
    result = pa.Table.from_pandas(out[table.column_names], preserve_index=False)
    info = {"file": Path(path).name,
            "strata_without_population": sorted(f"{d}={s}" for d, s in dropped.itertuples(
                index=False))}
    return result.cast(table.schema), info
