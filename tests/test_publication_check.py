"""The scan of published files (pipeline/publication_check.py) fails on planted violations
of each kind and passes clean folders."""

from __future__ import annotations

import json

import pytest

from pipeline.publication_check import (is_count_column, main, nhs_number_valid, scan)

from .conftest import ROOT

VALID_NHS = "9434765919"  # NHS Digital's example number: check digit 9 (modulus 11)


def kinds(folder) -> list[str]:
    return sorted(v.kind for v in scan(folder))


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_clean_folder_passes(tmp_path):
    write(tmp_path, "tables/t.csv", "outcome,numerator,denominator,proportion,n_months\n"
                                    "a,[c],1085,0.1234567891,48\nb,0,10,0,48\n")
    write(tmp_path, "metrics.json", json.dumps({"numerator": 1085, "estimate": 0.1234567891}))
    write(tmp_path, "report.html", "<p>Seen 1,085 people.</p><table><tr><th>n</th></tr>"
                                   "<tr><td>1,085</td></tr></table>"
                                   "<img src='data:image/png;base64,AAA/9434765919+BB'>")
    assert scan(tmp_path) == []
    assert main([str(tmp_path)]) == 0


@pytest.mark.parametrize("name, text, expected", [
    ("t.csv", "numerator,denominator\n3,100\n", ["small_count"]),
    ("t.csv", "numerator_before,n_after\n12,100\n", ["unrounded_count"]),
    ("t.csv", "Count\n12.5\n", ["unrounded_count"]),
    ("m.json", json.dumps({"a": {"b": [{"denominator": 6}]}}), ["small_count"]),
    ("m.json", json.dumps({"columns": ["stratum", "n"], "data": [["1", 13]]}), ["unrounded_count"]),
    ("r.html", "<table><thead><tr><th>stratum</th><th>numerator</th></tr></thead>"
               "<tbody><tr><td>1</td><td>4</td></tr></tbody></table>", ["small_count"]),
    ("r.html", f"<p>Patient {VALID_NHS[:3]} {VALID_NHS[3:6]} {VALID_NHS[6:]} was seen</p>",
     ["nhs_number"]),
    ("r.html", "<p>Lives at LS1 4AP</p>", ["postcode"]),
    ("t.csv", "date_of_birth,value\n1970-01-01,3.2\n", ["record_level_column"]),
    ("t.csv", "Patient ID,value\nx,1\n", ["record_level_column"]),
    ("m.json", json.dumps({"dob": "1970-01-01"}), ["record_level_column"]),
])
def test_planted_violation_of_each_kind_is_found(tmp_path, name, text, expected):
    write(tmp_path, name, text)
    assert kinds(tmp_path) == expected
    assert main([str(tmp_path)]) == 1


def test_notebook_outputs_are_scanned(tmp_path):
    nb = {"cells": [
        {"cell_type": "markdown", "source": ["Postcode SW1A 1AA\n"]},
        {"cell_type": "code", "source": [], "outputs": [
            {"output_type": "display_data", "data": {
                "text/html": ["<table><tr><th>denominator</th></tr><tr><td>22</td></tr></table>"],
                "image/png": "iVBORw0KGgo" + VALID_NHS}},
            {"output_type": "stream", "name": "stdout", "text": [f"id {VALID_NHS}\n"]}]}]}
    write(tmp_path, "report.ipynb", json.dumps(nb))
    assert kinds(tmp_path) == ["nhs_number", "postcode", "unrounded_count"]


def test_invalid_nhs_numbers_and_decimals_are_not_flagged(tmp_path):
    write(tmp_path, "r.html", "<p>9434765918 and 0.9434765919 and 19434765919</p>")
    assert scan(tmp_path) == []


def test_nhs_modulus_11():
    assert nhs_number_valid(VALID_NHS)
    assert not nhs_number_valid("9434765918")
    assert not nhs_number_valid("1234567890")  # check digit would be 10: never valid


@pytest.mark.parametrize("name, count", [
    ("numerator", True), ("Denominator", True), ("n", True), ("n_before", True),
    ("numerator_q1", True), ("events after", True), ("n_months", False), ("proportion", False),
    ("before", False), ("df", False), ("estimate", False),
])
def test_count_columns_are_recognised(name, count):
    assert is_count_column(name) is count


def test_violation_reports_where(tmp_path):
    write(tmp_path, "tables/t.csv", "numerator\n10\n3\n")
    (v,) = scan(tmp_path)
    assert v.path == "tables/t.csv" and "row 2" in v.location and v.value == "3"
    assert "tables/t.csv" in str(v)


def test_committed_reports_pass_the_scan():
    assert [str(v) for v in scan(ROOT / "reports")] == []


def test_digits_inside_a_hash_are_not_an_nhs_number(tmp_path):
    """A sha256 digest can hold 10 digits that pass the check (found in a real manifest)."""
    (tmp_path / "manifest.json").write_text(
        '{"code": {"sha256": "ab5044567043cd"}, "note": "NHS number 504 456 7043"}')
    found = [v for v in scan(tmp_path) if v.kind == "nhs_number"]
    assert len(found) == 1 and "504 456 7043" in str(found[0])


@pytest.mark.parametrize("name", ["metrics.json", "report.ipynb"])
def test_unreadable_json_is_a_violation_not_a_crash(tmp_path, name):
    write(tmp_path, name, '{"numerator": 3,')
    assert kinds(tmp_path) == ["unreadable"]
