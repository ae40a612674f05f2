"""Issue 6: NHS data quirks as params (reporting lag, disruption, coding change, missing months,
small units) and pre-aggregated monthly files, checked against hand-made expectations."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.data import ExtractError, check_extract, prepare

OUTCOMES = {"started": ("started", None), "completed": ("completed", "started")}
DIMS = ["imd_quintile", "sex"]
WINDOW = ("2020-01", "2021-12")
MONTHS = pd.date_range("2020-01-01", "2022-02-01", freq="MS")   # two months past the window


def records(units={"north": 30, "south": 20, "tiny": 1}, months=MONTHS, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for unit, per_month in units.items():
        for m in months:
            for _ in range(per_month):
                started = int(rng.random() < 0.6)
                rows.append({"month": m.strftime("%Y-%m"), "unit": unit,
                             "imd_quintile": int(rng.integers(1, 6)),
                             "sex": "Female" if rng.random() < 0.5 else "Male",
                             "started": started, "completed": started * int(rng.random() < 0.5)})
    return pd.DataFrame(rows)


def save(df: pd.DataFrame, tmp_path: Path, name="x.csv") -> Path:
    path = tmp_path / "raw" / name
    path.parent.mkdir(exist_ok=True)
    df.to_csv(path, index=False)
    return path


def run(path, quirks=None, **kw):
    options = {"quirks": quirks or {}, **kw.pop("options", {})}
    return check_extract(path, outcomes=OUTCOMES, dimensions=DIMS, window=WINDOW, options=options,
                         **kw)


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    return save(records(), tmp_path_factory.mktemp("q"))


@pytest.fixture(scope="module")
def plain(extract):
    """The extract checked with no quirks, once per module: the series several tests start
    from or compare with (a pyarrow table, immutable; the tests only read the quality dict)."""
    return run(extract)


def months_of(table) -> list[str]:
    return sorted({m.strftime("%Y-%m") for m in table.to_pandas()["month"]})


def test_no_quirks_keeps_the_window(plain):
    table, q = plain
    assert months_of(table)[0] == "2020-01" and months_of(table)[-1] == "2021-12"
    assert q["excluded_months"] == [] and q["missing_months"] == {}
    assert table.column_names == ["month", "unit", "dimension", "stratum", "outcome",
                                  "numerator", "denominator"]
    assert q["rows_outside_window"] == 2 * 51


def test_reporting_lag_drops_the_last_months_of_the_extract(extract):
    table, q = run(extract, {"reporting_lag_months": 3})
    # the extract runs to 2022-02: 2021-12..2022-02 are incomplete, so the series ends 2021-11
    assert months_of(table)[-1] == "2021-11"
    assert q["reporting_lag"] == {"months": 3, "last_month_in_extract": "2022-02",
                                  "incomplete_months": ["2021-12", "2022-01", "2022-02"],
                                  "dropped_months": ["2021-12"]}
    assert q["series_window"] == {"start": "2020-01", "end": "2021-11", "months": 23}
    assert q["rows_in_incomplete_months"] == 51 and q["rows_used"] == 23 * 51


def test_disruption_excluded_is_listed_for_the_its_engine(tmp_path):
    df = records()
    covid = df["month"].between("2020-04", "2020-06")
    path = save(df[~covid | (df.unit == "north")], tmp_path)   # south and tiny closed
    table, q = run(path, {"disruption": {"start": "2020-04", "end": "2020-06"}})
    assert q["excluded_months"] == ["2020-04", "2020-05", "2020-06"]
    assert q["disruption"]["handling"] == "exclude" and q["missing_months"] == {}
    assert "covariate_disruption" not in table.column_names
    assert months_of(table) == [m.strftime("%Y-%m") for m in MONTHS[:24]]   # still contiguous


def test_disruption_modelled_adds_a_covariate(extract):
    table, q = run(extract, {"disruption": {"start": "2020-04", "end": "2020-06",
                                            "handling": "model"}, "coding_change": "2021-04"})
    assert table.column_names[-2:] == ["covariate_disruption", "covariate_coding_change"]
    s = table.to_pandas()
    on = s[s.covariate_disruption == 1]["month"].dt.strftime("%Y-%m").unique().tolist()
    assert on == ["2020-04", "2020-05", "2020-06"]
    assert s.groupby("month")["covariate_coding_change"].first().tolist() == [0] * 15 + [1] * 9
    assert q["excluded_months"] == [] and q["coding_change"] == "2021-04"


def test_missing_months_error_or_listed(tmp_path):
    df = records()
    path = save(df[~((df.unit == "south") & df.month.isin(["2020-08", "2021-02"]))], tmp_path)
    with pytest.raises(ExtractError) as info:
        run(path)
    assert "unit 'south' has no records in 2 months of the window (2020-08, 2021-02)" in str(info.value)
    table, q = run(path, {"missing_months": "list"})
    assert q["missing_months"] == {"south": ["2020-08", "2021-02"]}
    s = table.to_pandas()
    gap = s[(s.unit == "south") & (s.dimension == "all") & (s.month == "2020-08-01")]
    assert (gap.denominator == 0).all() and len(gap) == 2


def test_small_units_merged_but_never_design_units(extract):
    table, q = run(extract, {"small_units": {"min_records": 24 * 25}})
    assert sorted(set(table["unit"].to_pylist())) == ["north", "other units"]
    assert q["merged_units"] == {"into": "other units", "min_records": 600,
                                 "units": {"south": 480, "tiny": 24}}
    table, q = run(extract, {"small_units": {"min_records": 100, "label": "rest"}},
                   keep_units=["tiny"])
    assert "merged_units" not in q and "tiny" in set(table["unit"].to_pylist())


def test_identifier_as_unit_is_refused(tmp_path):
    df = records(units={"north": 30})
    df["unit"] = [f"P{i:06d}" for i in range(len(df))]
    with pytest.raises(ExtractError, match="is the unit column an identifier"):
        run(save(df, tmp_path), {"missing_months": "list"})


# --------------------------------------------------------------------------- monthly files
def monthly_from(series: pd.DataFrame) -> pd.DataFrame:
    out = series[["month", "unit", "dimension", "stratum", "outcome", "numerator",
                  "denominator"]].copy()
    out["month"] = out["month"].dt.strftime("%Y-%m")
    return out


def test_monthly_file_gives_the_same_series_as_the_records(plain, tmp_path):
    table, _ = plain
    path = save(monthly_from(table.to_pandas()), tmp_path, "monthly.csv")
    again, q = run(path, options={"format": "monthly"})
    assert again.equals(table)
    assert q["format"] == "monthly" and q["strata_not_summing_to_all"] == {}
    assert q["rows_used"] == q["rows_read"] == table.num_rows and q["rows_outside_window"] == 0


def test_monthly_with_own_names_and_extra_rows(plain, tmp_path):
    s = monthly_from(plain[0].to_pandas())
    extra = s[s.dimension == "all"].assign(outcome="declined")
    s = pd.concat([s, extra]).rename(columns={"month": "Period", "numerator": "Count"})
    s["outcome"] = s["outcome"].replace({"started": "PR started"})
    path = save(s.sample(frac=1, random_state=3), tmp_path, "m.csv")
    table, q = run(path, options={"format": "monthly",
                                  "columns": {"month": "Period", "numerator": "Count"},
                                  "values": {"outcome": {"PR started": "started"}}})
    assert table.equals(plain[0])
    assert q["rows_ignored"]["outcomes"] == {"declined": len(extra)}


MONTHLY_BAD = [
    ("duplicate", lambda s: pd.concat([s, s.iloc[[5]]]), None,
     "the same month, unit, dimension, stratum and outcome appear on more than one row",
     "keep one row per key"),
    ("suppressed", lambda s: s.assign(numerator=s.numerator.astype(str).where(
        s.index != 7, "*")), "numerator", "'*' is a suppressed count", "unsuppressed"),
    ("fraction", lambda s: s.assign(denominator=s.denominator.astype(float).where(
        s.index != 2, 0.5)), "denominator", "value 0.5 is not a whole number", "not rates"),
    ("over", lambda s: s.assign(numerator=s.numerator.where(s.index != 9, 10 ** 6)), "numerator",
     "numerator is above the denominator", "swapped"),
    ("bad_stratum", lambda s: s.assign(stratum=s.stratum.where(s.index != 300, "9")), "stratum",
     "value 9 is not an IMD quintile", "recode"),
    ("missing_outcome", lambda s: s[s.outcome != "completed"], "outcome",
     "outcome 'completed' (params.yaml) has no rows", "add its rows"),
    ("missing_dimension", lambda s: s[s.dimension != "sex"], "dimension",
     "dimension 'sex' has no rows", "remove sex from equity"),
    ("missing_month", lambda s: s[~((s.unit == "north") & (s.month == "2021-05"))], "month",
     "unit 'north' has no records in 1 month", "missing_months: list"),
]


@pytest.mark.parametrize("case", MONTHLY_BAD, ids=[c[0] for c in MONTHLY_BAD])
def test_bad_monthly_files(plain, tmp_path, case):
    _, corrupt, column, message, fix = case
    s = monthly_from(plain[0].to_pandas()).reset_index(drop=True)
    path = save(corrupt(s), tmp_path, "m.csv")
    with pytest.raises(ExtractError) as info:
        prepare(path, tmp_path / "out", outcomes=OUTCOMES, dimensions=DIMS, window=WINDOW,
                options={"format": "monthly"})
    line = next((ln for ln in str(info.value).splitlines() if message in ln), None)
    assert line and "Fix:" in line and fix in line, str(info.value)
    if column:
        assert f"column '{column}'" in line
    assert not (tmp_path / "out").exists()
