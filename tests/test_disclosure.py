"""The publication rule (DESIGN.md section 5, docs/adr/0004) and a scan of everything published."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from pipeline.config import Disclosure
from pipeline.disclosure import SUPPRESSED, publish_count, publish_table, stamp

from .conftest import ROOT

RULE = Disclosure()


@pytest.mark.parametrize(
    "count, published",
    [(0, 0), (1, SUPPRESSED), (7, SUPPRESSED), (8, 10), (12, 10), (13, 15), (17, 15),
     (18, 20), (22, 20), (23, 25), (1085, 1085), (1087, 1085), (1088, 1090)],
)
def test_counts_are_suppressed_or_rounded(count, published):
    assert publish_count(count, RULE) == published


def test_negative_count_is_refused():
    with pytest.raises(ValueError, match="cannot be negative"):
        publish_count(-1, RULE)


def test_rates_resting_on_a_suppressed_count_are_suppressed():
    table = pd.DataFrame({"numerator": [3, 40, 0], "denominator": [50, 100, 9],
                          "proportion": [0.06, 0.4, 0.0]})
    out = publish_table(table, RULE, ["numerator", "denominator"],
                        {"proportion": ["numerator", "denominator"]})
    assert out["numerator"].tolist() == [SUPPRESSED, 40, 0]
    assert out["denominator"].tolist() == [50, 100, 10]
    assert out["proportion"].tolist() == [SUPPRESSED, 0.4, 0.0]
    assert table["numerator"].tolist() == [3, 40, 0], "the input must not change"


def test_stamp_states_the_rule_and_version():
    text = stamp(RULE)
    assert "sdc-1" in text and "1 to 7" in text and "nearest 5" in text


COUNT_COLUMNS = ("numerator", "denominator", "numerator_before", "denominator_before",
                 "numerator_after", "denominator_after")


def published_count_violations(reports) -> list[str]:
    """Every count cell in published CSV tables must be [c], 0 or a multiple of 5 above 7."""
    problems = []
    for path in sorted(reports.rglob("*.csv")):
        with path.open(newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                for column in COUNT_COLUMNS:
                    value = row.get(column)
                    if value is None or value in ("", SUPPRESSED):
                        continue
                    number = float(value)
                    if number != 0 and (number <= 7 or number % 5):
                        problems.append(f"{path.relative_to(reports)}:{line}:{column}={value}")
    return problems


def test_scan_finds_a_planted_violation(tmp_path):
    """The scan below can fail: a table with an unrounded count is caught."""
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "t.csv").write_text("numerator,denominator\n12,100\n[c],3\n")
    assert published_count_violations(tmp_path) == ["tables/t.csv:2:numerator=12",
                                                    "tables/t.csv:3:denominator=3"]


def test_committed_reports_publish_no_small_or_unrounded_count():
    reports = ROOT / "reports"
    assert list(reports.rglob("*.csv")), "no published tables found: run `make repro`"
    assert published_count_violations(reports) == []


def test_committed_reports_carry_no_record_level_columns():
    """No patient identifier or record-level field name reaches any published file."""
    for path in sorted((ROOT / "reports").rglob("*")):
        if path.suffix in {".csv", ".json", ".html", ".ipynb"}:
            text = path.read_text(encoding="utf-8")
            assert "patient_id" not in text, path
    for path in (ROOT / "reports").rglob("metrics.json"):
        json.loads(path.read_text())
