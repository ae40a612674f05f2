"""What the evaluation decides beyond each model's estimates, against independent expectations
(docs/adr/0140): group p-values adjusted as statsmodels' Holm does, the robustness verdict on
tables whose answer is known by construction, and the SPC chart refused when the disclosure
rule hides a month's count."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from pipeline import config, evaluation
from pipeline.evaluation.judgements import robustness

from .conftest import ROOT


def test_group_p_values_are_holm_adjusted_across_the_group(prepared_project):
    """thi_month's seven areas of unmet need: each area's immediate-change p-value at its first
    evaluated phase, adjusted by Holm across the seven, as statsmodels' multipletests does."""
    inputs = evaluation.load_inputs("thi_month", prepared_project)
    cfg = inputs.cfg
    members = [o for o in cfg.outcomes if o.group == "unmet_need_areas"]
    assert len(members) == 7
    series = evaluation.measured(cfg, inputs.series)
    its = {o.key: evaluation.fit_outcome(cfg, o, series, quality=inputs.quality)
           for o in members}
    table = evaluation.group_table(cfg, its, "unmet_need_areas")
    p = [its[o.key].effects.query("estimand == 'level_change_or' and phase == @ph")
         ["p_value"].iloc[0] for o in members for ph in [cfg.phases_of(o)[0].name]]
    assert table["p_value"].tolist() == pytest.approx(p)
    assert table["p_adjusted"].to_numpy() == pytest.approx(multipletests(p, method="holm")[1])
    assert list(table["key"]) == [o.key for o in members]


def _variants(rows) -> pd.DataFrame:
    return pd.DataFrame([{"variant": v, "estimand": "level_change", "estimate": e,
                          "ci_low": lo, "ci_high": hi} for v, e, lo, hi in rows])


@pytest.mark.parametrize("rows, agrees, placebo", [
    # every variant positive and clear of zero, the placebo not: agreement, no placebo change
    ([("primary", 0.3, 0.1, 0.5), ("washout_1", 0.25, 0.05, 0.45),
      ("placebo_6", 0.02, -0.2, 0.24)], True, False),
    # a variant whose interval includes zero: the verdict changes
    ([("primary", 0.3, 0.1, 0.5), ("seasonality", 0.2, -0.01, 0.41)], False, None),
    # a placebo start that also shows a change
    ([("primary", 0.3, 0.1, 0.5), ("placebo_6", 0.3, 0.05, 0.55)], True, True),
    # a variant with the other sign
    ([("primary", 0.3, 0.1, 0.5), ("family", -0.3, -0.5, -0.1)], False, None),
])
def test_robustness_verdict(rows, agrees, placebo):
    table = pd.concat([_variants(rows), _variants([("too_short", np.nan, np.nan, np.nan)])])
    checks = robustness(table)
    assert (checks.agrees, checks.placebo_significant) == (agrees, placebo)
    assert checks.fitted == len(rows) and checks.unfitted == ("too_short",)


def test_spc_chart_is_not_drawn_when_a_month_is_hidden():
    """A month with 3 events is hidden under the project's rule (suppress at or below 7): the
    chart would need it, so the result says which share of months is hidden instead."""
    cfg = config.load_intervention("thi_month", ROOT)
    outcome = cfg.headline
    cfg = dataclasses.replace(cfg, outcomes=(outcome,))
    months = pd.date_range("2019-09-01", periods=48, freq="MS")
    series = pd.DataFrame({"month": months, "unit": "service_a", "dimension": "all",
                           "stratum": "all", "outcome": outcome.key,
                           "numerator": [3] + [200] * 47, "denominator": 1000})
    chart = evaluation.control_chart(cfg, series, outcome, config.load_disclosure(ROOT))
    assert chart.result is None and chart.hidden == (1, 48)
    shown = evaluation.control_chart(cfg, series, outcome, config.Disclosure(
        suppress_at_or_below=0, round_to=1))
    assert shown.hidden is None and shown.result is not None
