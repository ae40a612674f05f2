"""The publication rule (docs/design.md section 5, docs/adr/0004) and a scan of everything published."""

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
    assert RULE.rule_version in text and "1 to 7" in text and "nearest 5" in text


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
    """No patient identifier, date of birth or free-text column, NHS number or postcode in any
    published file (pipeline.publication_check; naming a column in prose is not a leak)."""
    from pipeline.publication_check import scan

    leaks = [str(v) for v in scan(ROOT / "reports")
             if v.kind in ("record_level_column", "nhs_number", "postcode", "unreadable")]
    assert leaks == []
    for path in (ROOT / "reports").rglob("metrics.json"):
        json.loads(path.read_text())


# -- secondary suppression, complements, labels (issue 4, docs/adr/0011) ---------------------

from pipeline.disclosure import (count_text, percent_text, primary_mask,  # noqa: E402
                                 protect_table, secondary_mask)


def _margins_table():
    return pd.DataFrame({
        "outcome": ["a"] * 8 + ["b"] * 3,
        "dimension": ["all", "sex", "sex", "imd", "imd", "imd", "imd", "imd", "all", "sex", "sex"],
        "stratum": ["all", "F", "M", "1", "2", "3", "4", "5", "all", "F", "M"],
        "numerator": [103, 5, 98, 3, 20, 30, 25, 25, 60, 30, 30],
        "denominator": [400, 40, 360, 80, 80, 80, 80, 80, 100, 50, 50],
    }).assign(proportion=lambda t: t["numerator"] / t["denominator"])


MARGINS = {"by": ["outcome"], "dimension": "dimension", "total": "all"}


def test_secondary_suppression_hides_the_next_smallest_cell():
    """IMD 1 (3) is hidden; without more, 103 - (20 + 30 + 25 + 25) recovers it: the next
    smallest cell of the same margin (IMD 2, 20) is hidden too. Sex F (5) likewise takes M.
    Outcome b has nothing small and is untouched."""
    out = protect_table(_margins_table(), RULE, ["numerator", "denominator"],
                        {"proportion": ["numerator", "denominator"]}, margins=MARGINS)
    a = out[out["outcome"] == "a"].set_index(["dimension", "stratum"])
    assert a.loc[("imd", "1"), "numerator"] == SUPPRESSED
    assert a.loc[("imd", "2"), "numerator"] == SUPPRESSED
    assert a.loc[("imd", "3"), "numerator"] == 30
    assert a.loc[("sex", "M"), "numerator"] == SUPPRESSED
    assert a.loc[("imd", "2"), "proportion"] == SUPPRESSED
    assert a.loc[("all", "all"), "numerator"] == 105
    b = out[out["outcome"] == "b"]
    assert SUPPRESSED not in b["numerator"].tolist()


def test_no_margin_left_with_one_hidden_cell():
    table = _margins_table()
    hidden = secondary_mask(table, primary_mask(table, RULE, ["numerator"]), ["numerator"],
                            **MARGINS)
    for (_, dim), g in table[table["dimension"] != "all"].groupby(["outcome", "dimension"]):
        total = table.index[(table["outcome"] == g["outcome"].iloc[0]) & (table["dimension"] == "all")]
        n = hidden.loc[list(g.index) + list(total), "numerator"].sum()
        assert n != 1, dim


def test_total_hidden_when_no_other_cell_can_be():
    """Two strata, one small and the other zero: only the total can protect it."""
    table = pd.DataFrame({"outcome": ["a"] * 3, "dimension": ["all", "sex", "sex"],
                          "stratum": ["all", "F", "M"], "numerator": [4, 4, 0]})
    out = protect_table(table, RULE, ["numerator"], margins=MARGINS)
    assert out["numerator"].tolist() == [SUPPRESSED, SUPPRESSED, 0]


def test_complement_of_a_numerator_is_protected():
    """95 of 100 tested means 5 not tested: a small number of people, hidden."""
    table = pd.DataFrame({"numerator": [95, 50], "denominator": [100, 100]})
    out = protect_table(table, RULE, ["numerator", "denominator"],
                        complements={"numerator": "denominator"})
    assert out["numerator"].tolist() == [SUPPRESSED, 50]


def test_protect_table_without_margins_matches_publish_table():
    table = pd.DataFrame({"numerator": [3, 40, 0], "denominator": [50, 100, 9],
                          "proportion": [0.06, 0.4, 0.0]})
    derived = {"proportion": ["numerator", "denominator"]}
    assert protect_table(table, RULE, ["numerator", "denominator"], derived).equals(
        publish_table(table, RULE, ["numerator", "denominator"], derived))


def test_labels_and_prose_follow_the_same_rule():
    assert count_text(5, RULE) == SUPPRESSED and count_text(1087, RULE) == "1,085"
    assert percent_text(3, 100, RULE) == SUPPRESSED
    assert percent_text(30, 100, RULE) == "30.0%"


def test_stamp_can_state_secondary_suppression():
    assert "next smallest" not in stamp(RULE)
    assert "next smallest" in stamp(RULE, secondary=True) and RULE.rule_version in stamp(RULE, secondary=True)
