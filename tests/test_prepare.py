"""prepare: DuckDB aggregation checked against an independent pandas route; a complete, sorted,
byte-stable grid; and a catalogue of bad extracts, each reported with file, column, rows and
fix, all at once, with nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.data import ExtractError, prepare, validate_extract

from .conftest import EXTRACT_DIMS as DIMS
from .conftest import EXTRACT_OUTCOMES as OUTCOMES
from .conftest import EXTRACT_WINDOW as WINDOW

GOOD_ROW = {"month": "2023-01", "unit": "s1", "patient_id": "p", "imd_quintile": "1",
            "ethnicity": "White", "sex": "Female", "age_band": "65+", "started": "1",
            "completed": "0"}


def run_prepare(path, out, **kw):
    args = dict(outcomes=OUTCOMES, dimensions=DIMS, window=WINDOW)
    args.update(kw)
    return prepare(path, out, **args)


def pandas_series(df: pd.DataFrame, window) -> pd.DataFrame:
    """The same series by a plain pandas route: groupby per dimension, reindex to the grid."""
    df = df.copy()
    df["month"] = pd.to_datetime(df["month"]).dt.to_period("M").dt.to_timestamp()
    lo, hi = pd.Timestamp(window[0] + "-01"), pd.Timestamp(window[1] + "-01")
    df = df[(df.month >= lo) & (df.month <= hi)]
    df["all"] = "all"
    months = pd.date_range(lo, hi, freq="MS")
    units = sorted(df.unit.unique())
    frames = []
    for dim in ["all", *DIMS]:
        df["stratum"] = df[dim].astype(str)
        strata = sorted(df["stratum"].unique())
        grid = pd.MultiIndex.from_product([months, units, strata], names=["month", "unit", "stratum"])
        for key, (num, den) in OUTCOMES.items():
            g = df.assign(n=df[num], d=df[den] if den else 1).groupby(["month", "unit", "stratum"])
            agg = g[["n", "d"]].sum().reindex(grid, fill_value=0).reset_index()
            agg["dimension"], agg["outcome"] = dim, key
            frames.append(agg.rename(columns={"n": "numerator", "d": "denominator"}))
    out = pd.concat(frames)
    return out.sort_values(["outcome", "dimension", "stratum", "unit", "month"]).reset_index(drop=True)


def test_duckdb_matches_pandas(extract, tmp_path):
    quality = run_prepare(extract, tmp_path / "out")
    got = pd.read_parquet(tmp_path / "out" / "series.parquet")
    want = pandas_series(pd.read_parquet(extract), WINDOW)
    cols = ["month", "unit", "dimension", "stratum", "outcome", "numerator", "denominator"]
    assert list(got.columns) == cols
    pd.testing.assert_frame_equal(
        got.astype({"unit": object, "dimension": object, "stratum": object, "outcome": object}),
        want[cols].astype({"month": "datetime64[us]", "numerator": "int64", "denominator": "int64",
                           "unit": object, "dimension": object, "stratum": object,
                           "outcome": object}), check_dtype=True)
    assert quality["rows_read"] == len(pd.read_parquet(extract))
    assert quality["outcomes"]["completed"]["denominator"] == int(pd.read_parquet(extract)["started"].sum())


def test_grid_is_complete_sorted_and_typed(extract, tmp_path):
    run_prepare(extract, tmp_path)
    s = pd.read_parquet(tmp_path / "series.parquet")
    assert str(s["month"].dtype).startswith("datetime64")
    assert s["numerator"].dtype == "int64" and s["denominator"].dtype == "int64"
    n_strata = 1 + 5 + 6 + 2 + 4
    assert len(s) == 42 * 3 * n_strata * 2        # months x units x strata x outcomes
    assert not s.duplicated(["month", "unit", "dimension", "stratum", "outcome"]).any()
    keys = ["outcome", "dimension", "stratum", "unit", "month"]
    assert s[keys].equals(s.sort_values(keys)[keys].reset_index(drop=True))
    overall = s[s.dimension == "all"]
    assert (overall.stratum == "all").all()
    assert set(s.loc[s.dimension == "imd_quintile", "stratum"]) == {"1", "2", "3", "4", "5"}
    assert (s.numerator <= s.denominator).all()
    # each dimension partitions the overall series
    for dim in DIMS:
        by = s[s.dimension == dim].groupby(["outcome", "unit", "month"])[["numerator", "denominator"]].sum()
        assert by.equals(overall.groupby(["outcome", "unit", "month"])[["numerator", "denominator"]].sum())


def test_rerun_is_byte_identical_and_leaves_no_temp_files(extract, tmp_path):
    run_prepare(extract, tmp_path / "a")
    run_prepare(extract, tmp_path / "b")
    for name in ("series.parquet", "quality.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["quality.json", "series.parquet"]


def test_csv_months_outside_window_are_excluded_and_counted(tmp_path):
    rows = [GOOD_ROW, {**GOOD_ROW, "month": "2023-02-17"}, {**GOOD_ROW, "month": "2019-01"},
            {**GOOD_ROW, "month": "2025-01-01", "unit": "s2"}, {**GOOD_ROW, "imd_quintile": "5.0"}]
    path = tmp_path / "raw" / "x.csv"
    path.parent.mkdir()
    pd.DataFrame(rows).to_csv(path, index=False)
    q = run_prepare(path, tmp_path / "out", options={"quirks": {"missing_months": "list"}})
    assert len(q["missing_months"]["s1"]) == 42 - 2
    assert q["rows_read"] == 5 and q["rows_outside_window"] == 2 and q["rows_used"] == 3
    assert q["units"] == {"s1": 3}
    assert q["ignored_columns"] == ["patient_id"]
    s = pd.read_parquet(tmp_path / "out" / "series.parquet")
    feb = s[(s.month == "2023-02-01") & (s.dimension == "all") & (s.outcome == "started")]
    assert feb.numerator.tolist() == [1]
    assert set(s.loc[s.dimension == "imd_quintile", "stratum"]) == {"1", "5"}
    assert json.loads((tmp_path / "out" / "quality.json").read_text()) == q


def test_refuses_to_write_next_to_the_input(extract):
    with pytest.raises(ExtractError, match="the folder prepare writes its outputs into"):
        run_prepare(extract, extract.parent)


# --------------------------------------------------------------------------- bad extracts
def write_csv(tmp_path, rows, drop=()) -> Path:
    path = tmp_path / "raw" / "bad.csv"
    path.parent.mkdir(exist_ok=True)
    pd.DataFrame(rows).drop(columns=list(drop)).to_csv(path, index=False)
    return path


def rows_with(n_good, bad_at: dict[int, dict]):
    """n_good good rows where data rows (1-based) in `bad_at` get the given values."""
    return [{**GOOD_ROW, "patient_id": f"p{i}", **bad_at.get(i, {})} for i in range(1, n_good + 1)]


CATALOGUE = [
    # id, rows, drop, column, expected row text, words of message, words of fix
    ("imd6", rows_with(20, {4: {"imd_quintile": "6"}, 17: {"imd_quintile": "6"}}), (),
     "imd_quintile", "rows 4, 17 (2 rows)", "value 6 is not an IMD quintile (1-5)",
     "recode to 1 (most deprived) .. 5 (least deprived)"),
    ("bad_month", rows_with(5, {3: {"month": "Sept 2021"}}), (), "month", "row 3 (1 row)",
     "'Sept 2021' is not a month", "YYYY-MM"),
    ("month_13", rows_with(5, {2: {"month": "2022-13"}}), (), "month", "row 2 (1 row)",
     "not a month", "YYYY-MM"),
    ("num_gt_den", rows_with(5, {5: {"started": "0", "completed": "1"}}), (), "completed",
     "row 5 (1 row)", "numerator is 1 where the denominator 'started' is 0", "set 'started' to 1"),
    ("negative", rows_with(5, {1: {"started": "-1"}}), (), "started", "row 1 (1 row)",
     "value -1 is negative", "write 0 (no) or 1 (yes)"),
    ("not_01", rows_with(5, {2: {"completed": "2"}, 3: {"completed": "yes"}}), (), "completed",
     "rows 2, 3 (2 rows)", "not a 0/1 flag", "write 0 (no) or 1 (yes)"),
    ("blank_flag", rows_with(5, {4: {"started": ""}}), (), "started", "row 4 (1 row)",
     "value is blank", "write 0 (no) or 1 (yes)"),
    ("ethnicity", rows_with(5, {2: {"ethnicity": "white british"}}), (), "ethnicity",
     "row 2 (1 row)", "'white british' is not an NHS ethnic group", "White, Mixed, Asian"),
    ("sex", rows_with(5, {5: {"sex": "F"}}), (), "sex", "row 5 (1 row)", "'F' is not a sex code",
     "Female, Male, Not known; NHS codes"),
    ("missing_column", rows_with(3, {}), ("sex",), "sex", "", "required column is missing",
     "add a column 'sex'"),
    ("many_rows", rows_with(30, {i: {"imd_quintile": "0"} for i in range(3, 30, 3)}), (),
     "imd_quintile", "rows 3, 6, 9, 12, 15, ... (9 rows)", "value 0 is not an IMD quintile", "recode"),
]


@pytest.mark.parametrize("case", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_extract_is_reported_precisely_and_nothing_written(tmp_path, case):
    _, rows, drop, column, where, message, fix = case
    path = write_csv(tmp_path, rows, drop)
    out = tmp_path / "out"
    with pytest.raises(ExtractError) as info:
        run_prepare(path, out)
    text = str(info.value)
    line = next(line for line in text.splitlines() if f"column '{column}'" in line and message in line)
    assert str(path) in line and where in line and "Fix:" in line and fix in line, text
    problem = next(p for p in info.value.problems if p.column == column and message in p.message)
    assert problem.file == str(path)
    assert not out.exists() or not any(out.iterdir())
    assert sorted(p.name for p in path.parent.iterdir()) == ["bad.csv"]


def test_several_problems_reported_at_once(tmp_path):
    rows = rows_with(10, {2: {"imd_quintile": "7"}, 4: {"month": "bad"}, 6: {"started": "-3"},
                          8: {"started": "0", "completed": "1"}, 9: {"sex": "X"}})
    path = write_csv(tmp_path, rows, drop=("age_band",))
    with pytest.raises(ExtractError) as info:
        run_prepare(path, tmp_path / "out")
    found = {(p.column, p.rows) for p in info.value.problems}
    assert {("imd_quintile", (2,)), ("month", (4,)), ("started", (6,)), ("completed", (8,)),
            ("sex", (9,)), ("age_band", ())} <= found
    assert str(info.value).startswith(f"{len(info.value.problems)} problems in {path}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "file is empty"),
    ("header_only.csv", b"month,unit,imd_quintile,ethnicity,sex,age_band,started,completed\n",
     "no data rows"),
    ("garbage.parquet", b"this is not parquet at all", "could not be read as a Parquet table"),
    ("binary.csv", b"\x00\xff\xfe\x89PNG\x00\x01", "is not a text (CSV) file"),
    ("notes.docx", b"hello", "unsupported file type '.docx'"),
])
def test_unreadable_files(tmp_path, name, content, message):
    path = tmp_path / "raw" / name
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(ExtractError) as info:
        run_prepare(path, tmp_path / "out")
    assert message in str(info.value) and str(path) in str(info.value) and "Fix:" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path):
    with pytest.raises(ExtractError, match="file not found"):
        validate_extract(tmp_path / "nope.parquet", outcomes=OUTCOMES, dimensions=DIMS, window=WINDOW)


def test_no_rows_in_window(tmp_path):
    path = write_csv(tmp_path, rows_with(3, {i: {"month": "2015-01"} for i in (1, 2, 3)}))
    with pytest.raises(ExtractError, match="no row falls in the window 2021-04..2024-09"):
        run_prepare(path, tmp_path / "out")


def test_failed_run_keeps_previous_outputs_intact(extract, tmp_path):
    out = tmp_path / "out"
    run_prepare(extract, out)
    before = (out / "series.parquet").read_bytes()
    bad = write_csv(tmp_path, rows_with(3, {1: {"imd_quintile": "9"}}))
    with pytest.raises(ExtractError):
        run_prepare(bad, out)
    assert (out / "series.parquet").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["quality.json", "series.parquet"]
