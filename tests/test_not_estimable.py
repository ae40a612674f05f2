"""The not-estimable path end to end, in-process, on the project's prepared thi_month series.

A model that cannot be estimated (here: no events at all after the first phase start, an
all-zero segment) must stop ``evaluate`` before the notebook with one message naming the
intervention, the outcome, the fixed reason and the fix (pipeline.preflight); in the equity
breakdown a stratum that cannot be estimated is left out with the same fixed wording, and the
evaluation goes on.
"""

from __future__ import annotations

import dataclasses

import pytest

from pipeline import config
from pipeline.evaluation import load_series, run
from pipeline.preflight import DesignError, check_design
from pipeline.stats.estimability import REASONS

KEY = "thi_month"


@pytest.fixture(scope="module")
def thi(prepared_project):
    cfg = config.load_intervention(KEY, prepared_project)
    return cfg, load_series(config.paths(prepared_project).series(KEY))


def _zero_after_start(series, outcome, start, **where):
    mask = (series["outcome"] == outcome) & (series["month"] >= start)
    for column, value in where.items():
        mask &= series[column] == value
    out = series.copy()
    out.loc[mask, "numerator"] = 0
    return out


def test_headline_not_estimable_stops_evaluate_with_the_reason(thi):
    cfg, series = thi
    start = cfg.phases[0].start
    broken = _zero_after_start(series, cfg.headline.key, start)
    with pytest.raises(DesignError) as info:
        check_design(cfg, broken)
    text = str(info.value)
    assert f"interventions.{KEY}" in text
    assert f"outcome '{cfg.headline.key}': the model cannot be fitted" in text
    assert REASONS["segment_all_zero"] in text and "Fix:" in text


def test_a_stratum_not_estimable_is_left_out_of_the_equity_breakdown(thi):
    cfg, series = thi
    outcome = cfg.headline.key
    # the headline alone, by IMD quintile, no sensitivity table: the path, not the whole report
    cfg = dataclasses.replace(cfg, outcomes=(cfg.headline,), equity=("imd_quintile",),
                              plus_groups=(), intersections=(), target_group=None,
                              sensitivity={"enabled": False})
    broken = _zero_after_start(series[series["outcome"] == outcome], outcome,
                               cfg.phases[0].start, dimension="imd_quintile", stratum="3")
    ev = run(cfg, broken)
    expected = f"{outcome} imd_quintile=3: not estimable ({REASONS['segment_all_zero']})"
    assert expected in ev.equity.warnings
    assert (outcome, "imd_quintile", "3") not in ev.equity.its
    assert (outcome, "imd_quintile", "1") in ev.equity.its
    # the overall fit is the evaluation's own, not a refit
    assert ev.equity.its[(outcome, "all", "all")] is ev.its[outcome]
