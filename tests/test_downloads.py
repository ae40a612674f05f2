"""Every table and figure of a report has its numbers a click away (issue 11): a download link
beside it to a published file that exists in the report folder."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from pipeline.report.tables import html_table

ROOT = Path(__file__).resolve().parents[1]
REPORTS = sorted(p.parent for p in (ROOT / "reports").glob("*/report.html"))
# The notebook writes ``<a href=... download>``; the HTML export rewrites it as
# ``<a download="" href=...>``: either order is a link.
LINK = re.compile(r'Download the numbers: <a (?:download="" )?href="([^"]+)"')


def test_a_table_given_its_file_links_to_it():
    html = html_table(pd.DataFrame({"estimate": [0.5]}), "tables/its_effects.csv")
    assert LINK.findall(html) == ["tables/its_effects.csv"]
    assert not LINK.findall(html_table(pd.DataFrame({"estimate": [0.5]})))


@pytest.mark.parametrize("report", REPORTS, ids=[p.name for p in REPORTS])
def test_each_report_links_the_files_beside_its_tables_and_figures(report):
    html = (report / "report.html").read_text(encoding="utf-8")
    linked = set(LINK.findall(html))
    missing = sorted(p for p in linked if not (report / p).exists())
    assert not missing, f"{report.name}: links to files not in the report folder: {missing}"
    expected = {"tables/its_effects.csv", "tables/before_after.csv", "tables/monthly_series.csv",
                "history.json"}
    assert expected <= linked, f"{report.name}: no link beside {sorted(expected - linked)}"
    assert any(p.startswith("plots/") for p in linked), f"{report.name}: no figure links"


@pytest.mark.parametrize("report", REPORTS, ids=[p.name for p in REPORTS])
def test_each_report_names_its_data_source_and_the_month_its_data_run_to(report):
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    extract = params["interventions"][report.name]["extract"]
    last = pd.read_csv(report / "tables" / "monthly_series.csv")["month"].max()
    html = (report / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", html)
    assert f"Data source {extract}" in text, report.name
    assert f"data to {pd.Timestamp(last):%B %Y}" in text, report.name
