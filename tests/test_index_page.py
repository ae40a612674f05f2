"""The index is a landing page (issue 11): per intervention its question and period from params,
beside the answer, the equity answer and the version."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import yaml

from pipeline import config
from pipeline import atomic
from pipeline.report import index

ROOT = Path(__file__).resolve().parents[1]


def test_each_row_shows_the_question_and_the_period_from_params(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["interventions"]
    for key in raw:
        entry = {"key": key, "title": key, "headline": "h", "equity": "Narrowed: ...",
                 "confidence": "high", "version": "v"}
        atomic.write_text(config.paths(tmp_path).index_entry(key), json.dumps(entry))
    page = index.write_index(tmp_path).read_text(encoding="utf-8")
    assert "<th>Period</th>" in page
    for key, section in raw.items():
        row = page[page.index(f'href="{key}/report.html"'):]
        row = row[:row.index("</tr>")]
        assert html.escape(section["question"].strip()) in row, key
        start, end = (str(section["window"][k]) for k in ("start", "end"))
        months = {f"{y}-{m:02d}": f"{name} {y}" for y in range(2000, 2040)
                  for m, name in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                            "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}
        assert f"{months[start[:7]]} to {months[end[:7]]}" in row, key
