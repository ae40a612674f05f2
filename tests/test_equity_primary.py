"""The primary equity question is fixed in params before the data are seen (issue 11): which
IMD quintiles are compared, the estimand and the horizon, with a global default an
intervention may override. The summary's equity answer follows them; bad values are refused
with a message naming the key and the fix."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from pipeline import config
from pipeline.config import ConfigError, EquityPrimary, parse_intervention
from pipeline.evaluation import Evaluation, before_after_table, load_series, measured
from pipeline.report.story import Story
from pipeline.stats.equity import evaluate_equity

from .conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
KEY = "pulmonary_rehab"


def _parse(own=None, defaults=None):
    raw = copy.deepcopy(PARAMS["interventions"][KEY])
    if own is not None:
        raw["equity_primary"] = own
    return parse_intervention(KEY, raw, ROOT, {"equity_primary": defaults} if defaults else None)


def test_default_is_quintile_1_against_5_gap_at_12_months():
    assert config.load_intervention(KEY, ROOT).equity_primary == EquityPrimary("1", "5", "gap", 12)
    assert _parse().equity_primary == EquityPrimary("1", "5", "gap", 12)


def test_intervention_keys_override_the_global_default():
    defaults = {"comparison": {"most": "2", "least": "4"}, "estimand": "sii", "horizon": 6}
    assert _parse(defaults=defaults).equity_primary == EquityPrimary("2", "4", "sii", 6)
    assert _parse({"horizon": 3}, defaults).equity_primary == EquityPrimary("2", "4", "sii", 3)


@pytest.mark.parametrize("own, message", [
    ({"horizon": 9}, "equity_primary.horizon = 9 is not one of the horizons the models "
                     "estimate (interventions.pulmonary_rehab.its.horizons = [3, 6, 12])"),
    ({"estimand": "rii"}, "equity_primary.estimand = 'rii'; allowed values are ['gap', 'sii']"),
    ({"comparison": {"dimension": "ethnicity"}}, "Fix: use dimension: imd_quintile"),
    ({"comparison": {"most": "1", "least": "1"}}, "should be IMD quintiles"),
    ({"comparison": {"most": "0"}}, "should be IMD quintiles"),
    ({"when": "now"}, "unknown key(s) ['when'] in interventions.pulmonary_rehab.equity_primary"),
    ("gap", "should be a mapping with comparison, estimand and horizon"),
])
def test_bad_equity_primary_names_the_key_and_the_fix(own, message):
    with pytest.raises(ConfigError) as err:
        _parse(own)
    assert message in str(err.value)


@pytest.fixture(scope="module")
def parts(prepared_project):
    cfg = config.load_intervention(KEY, prepared_project)
    series = measured(cfg, load_series(config.paths(prepared_project).series(KEY)))
    return prepared_project, cfg, series


def _story(parts, primary: EquityPrimary) -> Story:
    """A Story whose equity section is fitted (IMD only, headline outcome) as ``primary`` says."""
    project, cfg, series = parts
    cfg = dataclasses.replace(cfg, equity_primary=primary)
    headline = cfg.headline
    equity = evaluate_equity(series, {headline.key: cfg.its_spec(headline)},
                             dimensions=["imd_quintile"], alpha=cfg.alpha,
                             most=primary.most, least=primary.least, sii_repetitions=200)
    ev = Evaluation(cfg=cfg, series=series, before_after=before_after_table(cfg, series),
                    its={}, equity=equity)
    return Story(cfg=cfg, rule=config.load_disclosure(project), ev=ev, manifest={}, quality={},
                 history=[])


def test_the_summary_sentence_follows_the_pre_specified_comparison(parts):
    default = _story(parts, EquityPrimary("1", "5", "gap", 12))
    sentence = default.equity_sentence()
    assert "12 months after the intervention began" in sentence
    assert "IMD quintile 1) and least deprived (quintile 5)" in sentence
    row = default.ev.equity.gap_change
    row = row[(row["outcome"] == "completed") & (row["source"] == "stratified_its")
              & (row["estimand"] == "abs_diff_h12")].iloc[0]
    assert f"{100 * row['estimate']:+.1f} percentage points" in sentence

    at_3 = _story(parts, EquityPrimary("1", "5", "gap", 3)).equity_sentence()
    assert "3 months after the intervention began" in at_3 and at_3 != sentence

    sii = _story(parts, EquityPrimary("1", "5", "sii", 12))
    assert "the slope index of inequality (most minus least deprived end" in sii.equity_sentence()
    assert "slope index of inequality = most minus least" in sii.equity_line()

    other = _story(parts, EquityPrimary("2", "4", "gap", 12)).equity_sentence()
    assert "IMD quintile 2) and least deprived (quintile 4)" in other
    assert other.split(":")[1] != sentence.split(":")[1]
