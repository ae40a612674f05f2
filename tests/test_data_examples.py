"""The example inputs in data/examples (documented in docs/data-dictionary) stay valid: each
validates against its intervention's params.yaml section, with the `data:` options the data
dictionary shows, and the three layouts of pulmonary_rehab give the same series."""
from __future__ import annotations

import pytest

from pipeline import config
from pipeline.data import check_extract

from .conftest import ROOT

EXAMPLES = ROOT / "data" / "examples"
SERVICE_NAMES = {   # docs/data-dictionary/pulmonary_rehab.md shows this `data:` section
    "sheet": "Referrals",
    "columns": {"month": "Referral Month", "unit": "Service",
                "imd_quintile": "IMD Quintile", "ethnicity": "Ethnic Category", "sex": "Gender",
                "age_band": "Age Group", "started": "Started PR", "completed": "Completed PR"},
    "values": {"ethnicity": "nhs_ethnic_category", "sex": "nhs_sex_code"},
    "quirks": {"missing_months": "list"},
}


def args(key: str, **over) -> dict:
    cfg = config.load_intervention(key, ROOT)
    out = {"outcomes": cfg.outcome_columns(), "dimensions": list(cfg.equity),
           "window": (f"{cfg.window.start:%Y-%m}", f"{cfg.window.end:%Y-%m}"),
           "keep_units": [*(cfg.unit_starts or {}), *(cfg.comparator_units or ())]}
    out.update(over)
    return out


@pytest.mark.parametrize("key", ["thi_month", "smoking_advice", "pulmonary_rehab"])
def test_record_level_examples_validate(key):
    table, quality = check_extract(EXAMPLES / f"{key}.csv", **args(key))
    assert quality["rows_used"] == quality["rows_read"] and quality["missing_months"] == {}


def test_monthly_example_gives_the_records_series():
    records, _ = check_extract(EXAMPLES / "pulmonary_rehab.csv",
                               **args("pulmonary_rehab", dimensions=["imd_quintile"]))
    monthly, quality = check_extract(EXAMPLES / "pulmonary_rehab_monthly.csv", options={
        "format": "monthly"}, **args("pulmonary_rehab", dimensions=["imd_quintile"]))
    assert monthly.equals(records) and quality["format"] == "monthly"


def test_excel_example_with_a_services_own_names():
    table, quality = check_extract(EXAMPLES / "pulmonary_rehab_service_names.xlsx",
                                   options=SERVICE_NAMES, **args("pulmonary_rehab"))
    assert quality["columns"]["month"] == "Referral Month" and quality["rows_used"] == 300
    assert "Pseudo ID" in quality["ignored_columns"]
