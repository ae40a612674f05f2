"""The SPC view's assurance icon comes from an outcome's `target` in params (issue 11): pass,
fail or hit-and-miss as NHSRplotthedots decides it from the latest limits against the target;
without a target the report says no assurance can be given."""

from __future__ import annotations

import copy
import dataclasses

import pandas as pd
import pytest
import yaml

from pipeline import config
from pipeline.config import ConfigError, parse_intervention
from pipeline.evaluation import Evaluation
from pipeline.evaluation import control_chart
from pipeline.report.story import Story
from pipeline.report import methods_text

from .conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def _known_series() -> pd.DataFrame:
    """48 months of one service, 1,000 a month: 20% (195/205 alternating) for the 24 months
    before the start (September 2021), 30% (295/305) after. Baseline limits (Laney p'):
    20% +- 3 x 0.70 x 1.26 points, about 17.3% to 22.7%."""
    months = pd.period_range("2019-09", "2023-08", freq="M").to_timestamp()
    wobble = [-5 if i % 2 else 5 for i in range(len(months))]
    numerator = [(200 if m < pd.Timestamp("2021-09-01") else 300) + w
                 for m, w in zip(months, wobble)]
    return pd.DataFrame({"month": months, "unit": "service_a", "dimension": "all",
                         "stratum": "all", "outcome": "bbv_test", "numerator": numerator,
                         "denominator": 1000})


def _story(target: float | None) -> Story:
    cfg = config.load_intervention("thi_month", ROOT)
    outcome = dataclasses.replace(cfg.headline, target=target)
    cfg = dataclasses.replace(cfg, outcomes=(outcome,))
    ev = Evaluation(cfg=cfg, series=_known_series(), before_after=pd.DataFrame(), its={})
    return Story(cfg=cfg, rule=config.load_disclosure(ROOT), ev=ev, manifest={}, quality={},
                 history=[])


@pytest.mark.parametrize("target, icon, words", [
    (0.15, "pass_consistently", "lies outside the process limits on the passing side"),
    (0.25, "fail_consistently", "lies outside the process limits on the failing side"),
    (0.20, "hit_and_miss", "sometimes hit and sometimes miss"),
])
def test_target_from_params_gives_the_assurance_icon(target, icon, words):
    story = _story(target)
    chart = control_chart(story.cfg, story.ev.series, story.cfg.headline, story.rule)
    result = chart.result
    assert chart.hidden is None and "carried forward" in methods_text.spc_limits(chart)
    last = result.data.iloc[-1]
    assert 0.17 < last["lower"] < 0.18 and 0.22 < last["upper"] < 0.23
    assert result.variation_icon == "improvement_high"      # the known sustained shift
    assert result.assurance_icon == icon
    text = methods_text.spc_sentences(result)
    assert words in text and "no assurance" not in text


def test_without_a_target_no_assurance_can_be_given():
    story = _story(None)
    result = control_chart(story.cfg, story.ev.series, story.cfg.headline, story.rule).result
    assert result.assurance_icon is None
    assert ("Assurance: no target is set for this outcome (params `target`), so no assurance "
            "can be given.") in methods_text.spc_sentences(result)


def test_target_is_read_from_params_and_checked():
    raw = copy.deepcopy(PARAMS["interventions"]["thi_month"])
    raw["outcomes"]["bbv_test"]["target"] = 0.2
    assert parse_intervention("thi_month", raw, ROOT).headline.target == 0.2
    raw["outcomes"]["bbv_test"]["target"] = 20
    with pytest.raises(ConfigError) as err:
        parse_intervention("thi_month", raw, ROOT)
    assert ("interventions.thi_month.outcomes.bbv_test.target = 20 should be a proportion "
            "between 0 and 1 (20% is 0.2)") in str(err.value)
