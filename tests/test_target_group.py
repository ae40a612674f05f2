"""A fourth intervention whose target group is an intersection (issue 13; docs/adr/0078).

Simulated MSK exercise groups: women-only groups add a large level change for Asian women only
(the scenario's ``target_extra_levels``), so their gap with everyone else narrows by a known
amount. Evaluated from params and data alone (simulate -> prepare -> run, the real commands),
the gap change between the target group and everyone else must cover the truth and the
summary paragraph must name the group and say the gap narrowed. Then the disclosure control
of crossed strata: a hidden crossed cell cannot be recovered from its one-dimension margin.
"""

from __future__ import annotations

import json
import os
import sys

import pandas as pd
import pytest
import yaml
from scipy import stats

from pipeline import config, target_group
from pipeline.disclosure import SUPPRESSED, is_suppressed
from pipeline.evaluation import load_series, run as evaluate
from pipeline.report.equity_tables import protect_crossed, published_tables
from pipeline.report.publish import protect_before_after
from pipeline.stats.before_after import compare_proportions

from .conftest import run

KEY = "msk_groups"
SECTION = {
    "title": "Women-only exercise groups in MSK services",
    "question": "Did more Asian women referred to exercise groups attend?",
    "extract": f"data/synthetic/{KEY}/extract.parquet",
    "unit_label": "service",
    "window": {"start": "2021-01", "end": "2024-06"},
    "phases": [{"name": "Women-only groups", "start": "2023-01"}],
    "before_after": {"before_months": 12, "after_months": 12, "washout_months": 0},
    "outcomes": {"attended": {"label": "Referred patients who attended an exercise group",
                              "numerator": "attended", "denominator": None,
                              "family": "quasibinomial", "headline": True,
                              "events": "attendances"}},
    "equity": ["imd_quintile", "ethnicity", "sex"],
    "target_group": {"ethnicity": "Asian", "sex": "Female"},
    "its": {"errors": "auto", "horizons": [3, 6, 12], "alpha": 0.05},
}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    project = tmp_path_factory.mktemp("target") / "project"
    project.mkdir()
    root_params = yaml.safe_load((config.project_root() / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump({
        "disclosure": root_params["disclosure"],
        "simulation": {"seed": 20211001, "interventions": [KEY]},
        "interventions": {KEY: SECTION}}, sort_keys=False))
    (project / "dvc.yaml").write_text("stages: {}\n")
    run([sys.executable, "-m", "pipeline", "simulate"], cwd=project)
    run([sys.executable, "-m", "pipeline", "prepare", KEY], cwd=project)
    os.environ[config.ROOT_ENV] = str(project)
    try:
        cfg = config.load_intervention(KEY)
        ev = evaluate(cfg, load_series(config.paths().series(KEY)))
        rule = config.load_disclosure()
    finally:
        os.environ.pop(config.ROOT_ENV)
    truth = json.loads((project / "data" / "synthetic" / KEY / "truth.json").read_text())
    return cfg, ev, rule, truth


def test_prepare_writes_the_crossed_strata(evaluated):
    cfg, ev, _, _ = evaluated
    assert cfg.crossed == (("ethnicity", "sex"),)
    crossed = ev.series[ev.series["dimension"] == "ethnicity & sex"]
    assert "Asian & Female" in set(crossed["stratum"])
    overall = ev.series[(ev.series["dimension"] == "all")]["numerator"].sum()
    assert crossed["numerator"].sum() == overall


def test_gap_change_covers_the_truth(evaluated):
    _, ev, _, truth = evaluated
    true = truth["outcomes"]["attended"]["marginal_by_phase"][0]["target_gap_change"]
    row = ev.target_gap.query("estimand == 'level_change'").iloc[0]
    assert row["ci_low"] <= true["level_change_logit"] <= row["ci_high"], (row, true)
    assert row["ci_low"] > 0          # the simulated effect is concentrated in the group
    assert "target group minus everyone else" in row["method"]


def test_summary_names_the_group_and_says_the_gap_narrowed(evaluated):
    cfg, ev, rule, _ = evaluated
    tables = published_tables(ev.equity, rule, ev.series)
    text = target_group.answer(target_group.describe(cfg), cfg.headline.label, ev.target_gap,
                               tables["equity_before_after"], "attended")
    assert text.startswith("**Target group: ethnicity Asian and sex Female.**")
    assert "between them and everyone else narrow?" in text and text.endswith(": narrowed.")


def test_target_and_everyone_else_add_up_to_all():
    months = pd.date_range("2022-01-01", periods=2, freq="MS")
    rows = [(m, "u", d, s, "o", n, 10) for m in months for d, s, n in (
        ("all", "all", 5), ("sex", "Female", 2), ("sex", "Male", 3))]
    series = pd.DataFrame(rows, columns=["month", "unit", "dimension", "stratum", "outcome",
                                         "numerator", "denominator"])
    cfg = config.parse_intervention(KEY, {**SECTION, "equity": ["sex"],
                                          "target_group": {"sex": "Female"}},
                                    config.project_root())
    out = target_group.with_target_rows(cfg, series)
    t = out[out["stratum"] == target_group.TARGET]["numerator"].tolist()
    r = out[out["stratum"] == target_group.REST]["numerator"].tolist()
    assert t == [2, 2] and r == [3, 3]


@pytest.mark.parametrize("bad, words", [({"religion": "x"}, "not in equity or plus_groups"),
                                        ({}, "should map one or two")])
def test_bad_target_group_is_refused_with_the_key(bad, words):
    with pytest.raises(config.ConfigError) as err:
        config.parse_intervention(KEY, {**SECTION, "target_group": bad}, config.project_root())
    assert f"interventions.{KEY}.target_group" in str(err.value) and words in str(err.value)


def _crossed_table():
    """Before/after counts where one crossed cell (Asian & Female, 5 before) is small."""
    cells = {"all": 400, "ethnicity:Asian": 155, "ethnicity:White": 245, "sex:Female": 210,
             "sex:Male": 190, "ethnicity & sex:Asian & Female": 5,
             "ethnicity & sex:Asian & Male": 150, "ethnicity & sex:White & Female": 205,
             "ethnicity & sex:White & Male": 40}
    rows = []
    for key, n in cells.items():
        dim, _, stratum = key.rpartition(":") if ":" in key else ("all", "", "all")
        counts = {"numerator_before": n // 2 + 1, "denominator_before": n,
                  "numerator_after": n // 2 + 2, "denominator_after": n + 10}
        rows.append({"outcome": "o", "dimension": dim, "stratum": stratum, **counts,
                     **compare_proportions(counts["numerator_after"], counts["denominator_after"],
                                           counts["numerator_before"],
                                           counts["denominator_before"])})
    return pd.DataFrame(rows)


def test_a_hidden_crossed_cell_cannot_be_recovered_from_its_margin():
    raw = _crossed_table()
    rule = config.Disclosure()
    plain = protect_before_after(raw, rule, 0.05)
    asian = (raw["dimension"] == "ethnicity & sex") & raw["stratum"].str.startswith("Asian")
    # Without the extension: the usual pass hides White & Male (the smallest other crossed
    # cell), leaving one hidden cell among the Asian cells: Asian (155) minus Asian & Male.
    assert plain.loc[asian, "denominator_before"].map(is_suppressed).sum() == 1
    protected = protect_crossed(raw, plain, 0.05)
    assert protected.loc[asian, "denominator_before"].map(is_suppressed).sum() >= 2
    assert (protected.loc[asian, "denominator_before"] == SUPPRESSED).all()


@pytest.mark.parametrize("gap_before, low, high, expected", [
    ((-0.10, -0.14, -0.06), 0.02, 0.08, "narrowed"),
    ((-0.10, -0.14, -0.06), -0.08, -0.02, "widened"),
    ((0.10, 0.06, 0.14), -0.08, -0.02, "narrowed"),
    ((-0.10, -0.14, -0.06), -0.01, 0.05, "no clear change"),
    ((-0.01, -0.04, 0.02), 0.02, 0.08, "the difference shifted, in favour of the target group"),
    (None, -0.08, -0.02, "the difference shifted, in favour of everyone else"),
])
def test_verdict_words(gap_before, low, high, expected):
    assert target_group.verdict(gap_before, low, high) == expected
