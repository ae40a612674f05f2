"""Outcomes collected from part-way through (`measured_from`) and staff outcomes (issue 13;
docs/adr/0075, 0076): params validation, the phases each outcome's model keeps, the trimmed
series, and the staff file joined to the patient series by prepare."""

from __future__ import annotations

import copy

import pandas as pd
import pyarrow as pa
import pytest

from pipeline import config
from pipeline.data.errors import ExtractError
from pipeline.data.options import DataOptions
from pipeline.data.prepare import add_staff
from pipeline.data.simulate import write_parquet
from pipeline.evaluation import equity_outcomes, measured


@pytest.fixture(scope="module")
def raw():
    return config.load_params(config.project_root())["interventions"]["thi_month"]


def parse(raw, root=None):
    return config.parse_intervention("thi_month", raw, root or config.project_root())


def test_measured_from_keeps_only_later_phases(raw):
    cfg = parse(raw)
    unmet = next(o for o in cfg.outcomes if o.key == "unmet_housing")
    assert unmet.measured_from == pd.Timestamp("2022-01-01")
    assert [p["name"] for p in cfg.its_spec(unmet)["phases"]] == ["Standards implemented"]
    bbv = next(o for o in cfg.outcomes if o.key == "bbv_test")
    assert len(cfg.its_spec(bbv)["phases"]) == 3


@pytest.mark.parametrize("month, words", [("2019-01", "outside the window"),
                                          ("2022-09", "on or after the start of every phase")])
def test_measured_from_refused_with_the_key_and_fix(raw, month, words):
    bad = copy.deepcopy(raw)
    bad["outcomes"]["unmet_need"]["measured_from"] = month
    with pytest.raises(config.ConfigError) as err:
        parse(bad)
    assert "interventions.thi_month.outcomes.unmet_need.measured_from" in str(err.value)
    assert words in str(err.value) and "Fix:" in str(err.value)


def test_staff_outcomes_need_a_staff_file_and_cannot_be_the_headline(raw):
    bad = copy.deepcopy(raw)
    del bad["staff_extract"]
    with pytest.raises(config.ConfigError, match="staff_extract"):
        parse(bad)
    bad = copy.deepcopy(raw)
    bad["outcomes"]["bbv_test"]["headline"] = False
    bad["outcomes"]["mecc_trained"]["headline"] = True
    with pytest.raises(config.ConfigError, match="cannot be the headline"):
        parse(bad)


def test_staff_and_grouped_outcomes_have_no_equity_breakdown(raw):
    keys = [o.key for o in equity_outcomes(parse(raw))]
    assert keys == ["bbv_test", "hcv_referral", "unmet_need"]


def test_series_of_a_measure_starts_when_collection_began(raw):
    cfg = parse(raw)
    months = pd.date_range("2021-10-01", "2022-03-01", freq="MS")
    series = pd.DataFrame([(m, "s1", "all", "all", k, 0, 10) for m in months
                           for k in ("bbv_test", "unmet_need")],
                          columns=["month", "unit", "dimension", "stratum", "outcome",
                                   "numerator", "denominator"])
    kept = measured(cfg, series)
    assert kept[kept["outcome"] == "unmet_need"]["month"].min() == pd.Timestamp("2022-01-01")
    assert kept[kept["outcome"] == "bbv_test"]["month"].min() == pd.Timestamp("2021-10-01")


def _series(units):
    months = pd.date_range("2022-01-01", "2022-03-01", freq="MS")
    return pa.table({
        "month": pa.array([m for m in months for _ in units], type=pa.timestamp("us")),
        "unit": [u for _ in months for u in units], "dimension": ["all"] * 3 * len(units),
        "stratum": ["all"] * 3 * len(units), "outcome": ["bbv_test"] * 3 * len(units),
        "numerator": pa.array([1] * 3 * len(units), pa.int64()),
        "denominator": pa.array([10] * 3 * len(units), pa.int64())})


def _staff_file(path, units):
    months = pd.date_range("2022-01-01", "2022-03-01", freq="MS")
    rows = [(m.date(), u, "all", "all", "mecc_trained", 3, 20) for m in months for u in units]
    frame = pd.DataFrame(rows, columns=["month", "unit", "dimension", "stratum", "outcome",
                                        "numerator", "denominator"])
    write_parquet(pa.Table.from_pandas(frame, preserve_index=False), path)


def test_staff_counts_join_the_patient_series(tmp_path):
    _staff_file(tmp_path / "staff.parquet", ["s1", "s2"])
    table, quality = add_staff(_series(["s1", "s2"]), tmp_path / "staff.parquet",
                               {"mecc_trained": ("mecc_trained", "staff_in_post")},
                               ("2022-01", "2022-03"), DataOptions(), ())
    staff = table.to_pandas().query("outcome == 'mecc_trained'")
    assert len(staff) == 6 and staff["denominator"].sum() == 120
    assert quality["units"] == {"s1": 60, "s2": 60}


def test_staff_units_must_be_patient_units(tmp_path):
    _staff_file(tmp_path / "staff.parquet", ["s1", "s9"])
    with pytest.raises(ExtractError) as err:
        add_staff(_series(["s1"]), tmp_path / "staff.parquet",
                  {"mecc_trained": ("mecc_trained", "staff_in_post")}, ("2022-01", "2022-03"),
                  DataOptions(), ())
    assert "s9" in str(err.value) and "staff.parquet" in str(err.value)
