"""A quarterly evaluation end to end: params ``period: quarter`` -> simulate -> validate ->
prepare -> evaluation and report text, on real files in a project copy (docs/adr/0160).

The pulmonary-rehabilitation simulation (controlled design: two services with the change,
three comparators) is run with ``period: quarter`` and a window from April 2018, so that 20
quarters come before the April 2023 start and 6 after it. The generator's truths are monthly
(``truth.json``: marginal level change L and slope change s per month on the log-odds scale,
post-period counter 1 in the start month). Summed to quarters, the first post quarter holds
the start month and the two after it, so on the quarterly coding (counter 1 in the start
quarter) the same straight lines give a level change of L - s and a slope change of 3 s per
quarter. Each is checked against the quarterly estimate's 99.9% interval (as
tests/test_known_effects.py does for the monthly reports), and the level change must be
clearly above zero (the effect is recovered, not just not contradicted).
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from scipy import stats

from pipeline import cli, config
from pipeline.data.prepare import check_extract

from .conftest import copy_tree

pytestmark = pytest.mark.slow
KEY = "pulmonary_rehab"
Z999 = stats.norm.ppf(0.9995)


@pytest.fixture(scope="module")
def quarterly(tmp_path_factory):
    """The project copy with a quarterly pulmonary-rehab report's inputs and its Story."""
    from pipeline import evaluation
    from pipeline.report import summary_text, tables
    from pipeline.report.story import Story

    project = copy_tree(tmp_path_factory.mktemp("quarterly") / "project")
    params = (project / "params.yaml").read_text()
    section = params.index(f"  {KEY}:")
    head, body = params[:section], params[section:]
    body = body.replace('window: {start: "2021-04", end: "2024-09"}',
                        'window: {start: "2018-04", end: "2024-09"}\n    period: quarter', 1)
    for line in ("    model: structural\n", "    structural: {trend: local_level}\n",
                 "    synthetic_control: true\n"):   # monthly-only models (docs/adr/0160)
        assert line in body
        body = body.replace(line, "", 1)
    (project / "params.yaml").write_text(head + body)
    previous = os.environ.get(config.ROOT_ENV)
    os.environ[config.ROOT_ENV] = str(project)
    try:
        for argv in (["simulate", KEY], ["validate", KEY], ["prepare", KEY]):
            assert cli.main(argv) == 0, f"pipeline {' '.join(argv)} failed in {project}"
        cfg = config.load_intervention(KEY)
        args = {**cli._extract_arguments(cfg), "period": "month"}
        monthly, _ = check_extract(cfg.extract, **args)
        inputs = evaluation.load_inputs(KEY)
        story = Story.of(evaluation.run(inputs.cfg, inputs.series, inputs.quality, inputs.rule,
                                        simulated=inputs.simulated), inputs)
        summary = summary_text.summary(story)
        effects = tables.effects_table(story, cfg.headline.key)
    finally:
        if previous is None:
            os.environ.pop(config.ROOT_ENV, None)
        else:
            os.environ[config.ROOT_ENV] = previous
    return {"project": project, "cfg": cfg, "story": story, "summary": summary,
            "effects": effects, "monthly": monthly.to_pandas()}


def test_prepare_writes_whole_quarters_that_sum_the_months(quarterly):
    processed = quarterly["project"] / "data" / "processed" / KEY
    quality = json.loads((processed / "quality.json").read_text())
    assert quality["period"] == "quarter" and quality["part_periods_dropped"] == []
    assert quality["series_periods"] == {"start": "2018-04", "end": "2024-07", "periods": 26}
    series = pd.read_parquet(processed / "series.parquet")
    starts = pd.DatetimeIndex(series["month"].unique())
    assert len(starts) == 26 and set(starts.month) == {1, 4, 7, 10} and set(starts.day) == {1}
    monthly = quarterly["monthly"]
    monthly["month"] = pd.to_datetime(monthly["month"]).dt.to_period("Q").dt.start_time
    keys = ["month", "unit", "dimension", "stratum", "outcome"]
    summed = monthly.groupby(keys, as_index=False)[["numerator", "denominator"]].sum()
    merged = series.merge(summed, on=keys, suffixes=("", "_months"), validate="one_to_one")
    assert len(merged) == len(series) == len(summed)
    assert (merged["numerator"] == merged["numerator_months"]).all()
    assert (merged["denominator"] == merged["denominator_months"]).all()


def test_the_known_effect_is_recovered_in_quarters(quarterly):
    truth = json.loads((quarterly["project"] / "data" / "synthetic" / KEY / "truth.json")
                       .read_text())
    story = quarterly["story"]
    checked = []
    for outcome in quarterly["cfg"].outcomes:
        true = truth["outcomes"][outcome.key]["marginal_by_phase"][0]["intervention_units"]["all"]
        level, slope = true["level_change_logit"], true["slope_change_logit"]
        fit = story.ev.its[outcome.key]
        assert fit.spec.period == "quarter" and fit.spec.horizons == (1, 2, 4)
        effects = fit.effects.set_index("estimand")
        for estimand, expected in (("level_change", level - slope), ("slope_change", 3 * slope)):
            row = effects.loc[estimand]
            se = (row["ci_high"] - row["ci_low"]) / (2 * stats.norm.ppf(0.975))
            checked.append((outcome.key, estimand, round(expected, 4), round(row["estimate"], 4)))
            assert abs(row["estimate"] - expected) <= Z999 * se, checked[-1]
        assert effects.loc["level_change", "ci_low"] > 0, (outcome.key, "level change not found")
    assert len(checked) == 4


def test_the_report_speaks_in_quarters(quarterly):
    summary, effects = quarterly["summary"], quarterly["effects"]
    assert "4 quarters after the start" in summary
    assert "the 12 months before the start" in summary   # before/after windows stay in months
    assert "months after the start" not in summary
    assert "Difference at 4 quarters" in effects and "Change in trend, per quarter" in effects
    assert "Difference at 1 quarter<" in effects
    assert "ratio per quarter" in effects and "per month" not in effects   # the scale column
