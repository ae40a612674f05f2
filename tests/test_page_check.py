"""The page scan finds numbers that escaped the formatters (issue 11)."""

from __future__ import annotations

from pipeline.report import wording
from pipeline.report.page_check import unformatted_numbers


def test_scan_finds_each_kind_and_spares_years_paths_hashes_and_code():
    page = ("<p>Records read: 10910; 95% CI -0.0 to 23.0; OR 2.39e+03.</p>"
            "<p>2022; docs/adr/0075; version d71ad1a8d5e3; 1,234; -0.05; 0.0; 0.12345</p>"
            "<code>sha256 123456789</code><script>var x = 1e-9;</script>")
    found = sorted(name for name, _ in unformatted_numbers(page))
    assert found == ["negative zero", "no thousands separator", "scientific notation"]


def test_numbers_in_method_text_are_separated():
    """The SII method's "20000 draws" (from the statistics) printed without a separator."""
    shown = wording.number("Low & Low 2004; simulated interval (20000 draws), docs/adr/0075")
    assert shown == "Low & Low 2004; simulated interval (20,000 draws), docs/adr/0075"
    assert not unformatted_numbers(f"<p>{shown}</p>")
