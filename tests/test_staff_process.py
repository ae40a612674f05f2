"""THI champions in post per service (issue 13; docs/adr/0120): simulated with a known effect
(none before stage 1, then the appointed number), read by prepare from the staff file through
params' ``staff_process``, and described in a table by phase that recovers the truth."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pyarrow as pa
import pytest

from pipeline import config
from pipeline.cli import _extract_arguments
from pipeline.data.options import DataOptions
from pipeline.data.prepare import add_staff
from pipeline.report.staff_process import process_table


@pytest.fixture(scope="module")
def cfg():
    return config.load_intervention("thi_month", config.project_root())


@pytest.fixture(scope="module")
def simulated(cfg, prepared_project):
    """The staff file and truth that ``pipeline simulate`` wrote for thi_month in the session's
    project copy (params' seed, window and phases: the same call of ``pipeline.data.simulate``)."""
    out = config.paths(prepared_project).synthetic("thi_month")
    window = (f"{cfg.window.start:%Y-%m}", f"{cfg.window.end:%Y-%m}")
    months = pd.date_range(cfg.window.start, cfg.window.end, freq="MS")
    units = [f"service_{i}" for i in range(1, 5)]
    n = len(months) * len(units)
    patients = pa.table({   # a stand-in patient series: add_staff only needs its units
        "month": pa.array([m for m in months for _ in units], type=pa.timestamp("us")),
        "unit": [u for _ in months for u in units], "dimension": ["all"] * n,
        "stratum": ["all"] * n, "outcome": ["bbv_test"] * n,
        "numerator": pa.array([1] * n, pa.int64()), "denominator": pa.array([10] * n, pa.int64())})
    staff_outcomes = _extract_arguments(cfg)["staff"][1]
    series, _ = add_staff(patients, out / "staff.parquet", staff_outcomes, window,
                          DataOptions(), ())
    return series.to_pandas(), json.loads((out / "truth.json").read_text())


def test_champions_are_simulated_read_and_tabled_by_phase(cfg, simulated):
    series, truth = simulated
    known = truth["staff_process"]["champions_in_post"]
    appointed = known["appointed_per_unit"]
    assert known["from_phase"] == cfg.phases[0].name and set(appointed) == {
        f"service_{i}" for i in range(1, 5)}
    assert all(1 <= n <= 3 for n in appointed.values())
    table = process_table(series, "champions_in_post", cfg.phases, cfg.unit_label)
    assert list(table.columns) == [
        "Service", "Before Champions appointed (in post Aug 2021)",
        "Champions appointed (in post Dec 2021)", "Unmet need collected (in post Aug 2022)",
        "Standards implemented (in post Aug 2023)"]
    by_unit = table.set_index("Service")
    for unit, n in appointed.items():
        assert by_unit.loc[unit].tolist() == [0, n, n, n]
    assert by_unit.loc["All"].tolist() == [0] + [sum(appointed.values())] * 3
    from pipeline.report.tables import html_table

    html = html_table(table)   # as the report shows it: none is "0", not "0.000"
    assert "<td>0</td>" in html and "0.000" not in html
    # Every month before the unit's stage 1 has none, every month from it has the appointed.
    rows = series[series["outcome"] == "champions_in_post"]
    before = rows["month"] < cfg.phases[0].start
    assert (rows.loc[before, "numerator"] == 0).all()
    assert (rows.loc[~before, "numerator"] == rows.loc[~before, "unit"].map(appointed)).all()


def test_staff_process_needs_a_staff_file_and_a_label():
    raw = config.load_params(config.project_root())["interventions"]["thi_month"]
    bad = copy.deepcopy(raw)
    for o in bad["outcomes"].values():
        o["population"] = "patients"
    del bad["staff_extract"]
    with pytest.raises(config.ConfigError, match="staff_process.*no staff_extract"):
        config.parse_intervention("thi_month", bad, config.project_root())
    bad = copy.deepcopy(raw)
    bad["staff_process"] = {"champions_in_post": 3}
    with pytest.raises(config.ConfigError, match="staff_process.champions_in_post"):
        config.parse_intervention("thi_month", bad, config.project_root())


def test_champions_are_described_not_compared_before_and_after(cfg, simulated):
    """A process measure has no before/after comparison: 0 champions before stage 1 by
    construction would be a published exact 0 against a change, and means nothing."""
    from pipeline.evaluation import before_after_table

    series, _ = simulated
    series = series.assign(stratum=series["stratum"].astype(str))
    outcomes = set(before_after_table(cfg, series)["outcome"])
    assert "champions_in_post" not in outcomes and "mecc_trained" in outcomes


def test_the_report_shows_the_champions_table(cfg, simulated, monkeypatch):
    """sections.show_staff_process puts the table under its params label in the report."""
    from pipeline.evaluation import Evaluation
    from pipeline.report import sections
    from pipeline.report import story as story_module

    shown = []
    monkeypatch.setattr(sections, "display", shown.append)
    series, truth = simulated
    ev = Evaluation(cfg=cfg, series=series, before_after=pd.DataFrame(), its={})
    story = story_module.Story(cfg=cfg, rule=config.Disclosure(), ev=ev, manifest={},
                               quality={}, history=[])
    sections.show_staff_process(story)
    text = "".join(o.data for o in shown)
    assert "### THI champions in post" in text and "not modelled" in text
    total = sum(truth["staff_process"]["champions_in_post"]["appointed_per_unit"].values())
    assert f"<td>All</td>\n      <td>0</td>\n      <td>{total}</td>" in text
