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
from pipeline.config import ConfigError, parse_intervention
from pipeline.intervention import EquityPrimary
from pipeline.evaluation import Evaluation, before_after_table, load_series, measured
from pipeline.report.story import Story
from pipeline.stats.equity import evaluate_equity
from pipeline.report import summary_text

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


@pytest.fixture(scope="module")
def equity_of(parts):
    """The equity analysis (IMD only, headline outcome) for a pair of compared quintiles,
    fitted once per pair: the estimand and horizon of the primary question choose what the
    summary reads from the result, not what is fitted."""
    _, cfg, series = parts
    fitted = {}

    def equity(most: str, least: str):
        if (most, least) not in fitted:
            fitted[most, least] = evaluate_equity(
                series, {cfg.headline.key: cfg.its_spec(cfg.headline)},
                dimensions=["imd_quintile"], alpha=cfg.alpha, most=most, least=least,
                sii_repetitions=200)
        return fitted[most, least]
    return equity


def _story(parts, equity_of, primary: EquityPrimary) -> Story:
    """A Story whose equity section is fitted (IMD only, headline outcome) as ``primary`` says."""
    project, cfg, series = parts
    cfg = dataclasses.replace(cfg, equity_primary=primary)
    equity = equity_of(primary.most, primary.least)
    ev = Evaluation(cfg=cfg, series=series, before_after=before_after_table(cfg, series),
                    its={}, equity=equity)
    return Story(cfg=cfg, rule=config.load_disclosure(project), ev=ev, manifest={}, quality={},
                 history=[])


def test_the_summary_sentence_follows_the_pre_specified_comparison(parts, equity_of):
    default = _story(parts, equity_of, EquityPrimary("1", "5", "gap", 12))
    sentence = summary_text.equity_sentence(default)
    assert "12 months after the intervention began" in sentence
    assert "IMD quintile 1) and least deprived (quintile 5)" in sentence
    row = default.ev.equity.gap_change
    row = row[(row["outcome"] == "completed") & (row["source"] == "stratified_its")
              & (row["estimand"] == "abs_diff_h12")].iloc[0]
    assert f"{100 * row['estimate']:+.1f} percentage points" in sentence

    at_3 = summary_text.equity_sentence(
        _story(parts, equity_of, EquityPrimary("1", "5", "gap", 3)))
    assert "3 months after the intervention began" in at_3 and at_3 != sentence

    sii = _story(parts, equity_of, EquityPrimary("1", "5", "sii", 12))
    assert "the slope index of inequality (most minus least deprived end" in summary_text.equity_sentence(sii)
    assert "slope index of inequality = most minus least" in summary_text.equity_line(sii)

    other = summary_text.equity_sentence(
        _story(parts, equity_of, EquityPrimary("2", "4", "gap", 12)))
    assert "IMD quintile 2) and least deprived (quintile 4)" in other
    assert other.split(":")[1] != sentence.split(":")[1]


# -- "too uncertain to tell": the minimum detectable effect against the smallest change that
# matters (params' equity_primary.smallest_effect; docs/adr/0121) -------------------------------

def test_minimum_detectable_effect_is_the_textbook_multiple_of_the_half_width():
    """(z_0.975 + z_0.80) / z_0.975 = (1.959964 + 0.841621) / 1.959964 = 1.42941 (Bloom 1995),
    computed here from the quantiles written out, not from the code under test."""
    from pipeline.report.equity_answer import minimum_detectable

    assert minimum_detectable(-0.05, 0.07) == pytest.approx(0.06 * 1.42941, abs=1e-5)
    assert minimum_detectable(-0.05, 0.07, level=0.90) == pytest.approx(
        0.06 * (1.644854 + 0.841621) / 1.644854, abs=1e-5)


def test_smallest_effect_from_params_in_percentage_points():
    assert _parse().equity_primary.smallest_effect == pytest.approx(0.10)
    assert _parse({"smallest_effect": 5}).equity_primary.smallest_effect == pytest.approx(0.05)
    assert _parse(defaults={"smallest_effect": 2.5}).equity_primary.smallest_effect == (
        pytest.approx(0.025))
    for bad in (0, -3, 150, "ten", True):
        with pytest.raises(ConfigError, match=r"equity_primary.smallest_effect = .*Fix: e.g. "
                                              "smallest_effect: 10"):
            _parse({"smallest_effect": bad})


def _sentence_with(smallest_effect_points: float) -> tuple[str, str]:
    """The summary's equity sentence and index line of a crafted result (change +1, CI -5 to
    +7 points: a minimum detectable change of 8.6 points) under params' smallest effect."""
    import pandas as pd

    from pipeline.stats.equity import EquityResult

    cfg = _parse({"smallest_effect": smallest_effect_points})
    key = cfg.headline.key
    gap_change = pd.DataFrame([{"outcome": key, "source": "stratified_its",
                                "estimand": "abs_diff_h12", "quantity": "difference",
                                "estimand_scale": "absolute", "horizon": 12.0, "estimate": 0.01,
                                "ci_low": -0.05, "ci_high": 0.07}])
    gaps = pd.DataFrame([{"outcome": key, "period": "before", "measure": "absolute_gap",
                          "estimate": -0.06, "ci_low": -0.07, "ci_high": -0.05}])
    empty = pd.DataFrame()
    equity = EquityResult(stratum_effects=empty, before_after=empty, heterogeneity=empty,
                          gaps=gaps, gap_change=gap_change, gap_series=empty,
                          multiplicity="holm", alpha=0.05, n_tests=0, adjustment_note="",
                          most="1", least="5")
    ev = Evaluation(cfg=cfg, series=empty, before_after=empty, its={}, equity=equity)
    story = Story(cfg=cfg, rule=config.load_disclosure(ROOT), ev=ev, manifest={}, quality={},
                  history=[])
    return summary_text.equity_sentence(story), summary_text.equity_line(story)


def test_changing_the_smallest_effect_that_matters_changes_the_sentence():
    sentence, line = _sentence_with(10)   # detectable 8.6 points <= 10: a real "no change"
    assert sentence.startswith("No clear change in the gap")
    assert line.split(": ")[1].startswith("No clear change")
    sentence, line = _sentence_with(5)    # detectable 8.6 points > 5: could have missed one
    assert sentence.startswith("Too uncertain to tell whether the gap")
    assert ("only a change of about 8.6 percentage points or more would have been detected "
            "(80% power), more than the 5 points set as the smallest change that matters"
            in sentence)
    assert line.split(": ")[1].startswith("Too uncertain to tell")


def test_the_readme_example_of_equity_primary_and_target_is_valid_params():
    """The README's example (equity_primary with smallest_effect, an outcome's target) parses
    as params and means what its comments say."""
    import re

    text = (ROOT / "README.md").read_text()
    section = text.split("## The questions fixed before the data", 1)[1]
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    raw = copy.deepcopy(PARAMS["interventions"][KEY])
    own = example["interventions"][KEY]
    raw["equity_primary"] = own["equity_primary"]
    raw["outcomes"]["completed"].update(own["outcomes"]["completed"])
    cfg = parse_intervention(KEY, raw, ROOT, {"equity_primary": example["equity_primary"]})
    assert cfg.equity_primary == EquityPrimary("1", "5", "gap", 6, 0.05)
    assert next(o for o in cfg.outcomes if o.key == "completed").target == 0.60
