"""Wording rules of generated text (pipeline/report/wording.py), on crafted results."""

from __future__ import annotations

import pytest

from pipeline.report import wording
from pipeline.report import methods_text


def test_positive_significant_effect_is_an_increase_in_the_wanted_direction():
    text = wording.ratio_sentence("BBV test uptake", 1.34, 1.04, 1.72, "odds ratio",
                                  "the start (September 2021)")
    assert text == ("The start (September 2021) was associated with an immediate increase in "
                    "BBV test uptake (odds ratio 1.34, 95% CI 1.04 to 1.72), a change in the "
                    "wanted direction.")


def test_null_effect_says_no_evidence_of_a_change():
    text = wording.ratio_sentence("referrals", 1.05, 0.90, 1.22, "odds ratio", "the start")
    assert text.startswith("There is no evidence of an immediate change in referrals")
    assert "no effect" not in text and "increase" not in text


def test_harmful_effect_is_named_as_unwanted():
    text = wording.ratio_sentence("completion", 0.70, 0.55, 0.89, "odds ratio", "the start")
    assert "immediate decrease in completion" in text
    assert text.endswith("a change in the unwanted direction.")
    lower_is_better = wording.ratio_sentence("emergency admissions", 0.70, 0.55, 0.89,
                                             "rate ratio", "the start", improvement="decrease")
    assert lower_is_better.endswith("a change in the wanted direction.")


def test_difference_sentences_follow_the_interval():
    assert "was higher than the earlier trend predicts (+8.1 percentage points, 95% CI 6.2 to " \
           "9.9)" in wording.difference_sentence("uptake", 0.081, 0.062, 0.099, 12)
    assert "not clearly different" in wording.difference_sentence("uptake", 0.01, -0.02, 0.04, 6)


@pytest.mark.parametrize("text", [
    wording.ratio_sentence("x", 2.0, 1.5, 2.5, "odds ratio", "the start"),
    wording.difference_sentence("x", 0.2, 0.1, 0.3, 3),
    wording.cumulative_sentence(200, 100, 300, "tests"),
])
def test_no_causal_overclaiming(text):
    for word in ("caused", "led to", "due to", "because of", "proves"):
        assert word not in text.lower()


def test_autocorrelated_series_gets_a_warning_naming_the_remedy():
    assert wording.autocorrelation_sentence(0.30, "independent") is None
    text = wording.autocorrelation_sentence(0.01, "independent")
    assert "autocorrelated (Ljung-Box p = 0.010)" in text and "may be too narrow" in text
    assert "Newey-West" in wording.autocorrelation_sentence(0.01, "hac")


@pytest.mark.parametrize("kwargs, level", [
    (dict(ci_excludes_null=True, min_points_per_segment=12, autocorrelated=False), "high"),
    (dict(ci_excludes_null=True, min_points_per_segment=4, autocorrelated=False), "moderate"),
    (dict(ci_excludes_null=True, min_points_per_segment=4, autocorrelated=True), "low"),
    (dict(ci_excludes_null=False, min_points_per_segment=12, autocorrelated=False), "moderate"),
    (dict(ci_excludes_null=True, min_points_per_segment=12, autocorrelated=False,
          placebo_significant=True, sensitivity_agrees=False), "low"),
])
def test_confidence_rating(kwargs, level):
    rating = wording.confidence(**kwargs)
    assert rating.level == level
    assert rating.sentence().startswith(f"Confidence in this finding: {level}")


def test_labels_read_inside_sentences():
    assert wording.noun("Smokers referred") == "smokers referred"
    assert wording.noun("BBV test uptake") == "BBV test uptake"


def _crafted_equity(change, low, high, gap_before):
    """A crafted equity result: one gap-change row at 12 months and the gap before."""
    import pandas as pd

    from pipeline.stats.equity import EquityResult

    gap_change = pd.DataFrame([{"outcome": "x", "source": "stratified_its",
                                "estimand": "abs_diff_h12", "quantity": "difference",
                                "estimand_scale": "absolute", "horizon": 12.0, "estimate": change,
                                "ci_low": low, "ci_high": high}])
    gaps = pd.DataFrame([{"outcome": "x", "period": "before", "measure": "absolute_gap",
                          "estimate": gap_before, "ci_low": gap_before - 0.01,
                          "ci_high": gap_before + 0.01}])
    empty = pd.DataFrame()
    return EquityResult(stratum_effects=empty, before_after=empty, heterogeneity=empty,
                        gaps=gaps, gap_change=gap_change, gap_series=empty,
                        multiplicity="holm", alpha=0.05, n_tests=0, adjustment_note="",
                        most="1", least="5")


@pytest.mark.parametrize("change, low, high, gap_before, expected, numbers, harm", [
    (-0.03, -0.05, -0.01, -0.06, "The gap in uptake between the most deprived (IMD quintile 1) "
     "and least deprived (quintile 5) fifths of patients widened, against the most deprived",
     "-3.0 percentage points (95% CI -5.0 to -1.0)", True),
    (0.03, 0.01, 0.05, -0.06, "fifths of patients narrowed, in favour of the most deprived",
     "+3.0 percentage points (95% CI +1.0 to +5.0)", False),
    (-0.03, -0.05, -0.01, 0.06, "fifths of patients narrowed, against the most deprived",
     "-3.0 percentage points", True),
    (0.03, 0.01, 0.05, 0.0, "widened, in favour of the most deprived", "no clear gap before",
     False),
    (0.01, -0.02, 0.04, -0.06, "No clear change in the gap in uptake",
     "+1.0 percentage points (95% CI -2.0 to +4.0)", False),
    (0.01, -0.31, 0.33, -0.06, "Too uncertain to tell whether the gap in uptake",
     "too few patients to tell", False),
])
def test_gap_sentences_on_crafted_results(change, low, high, gap_before, expected, numbers,
                                          harm):
    """The verdict in a word, its direction for the most deprived, the number with its CI and
    the sign convention, on crafted tables (gap = most - least deprived)."""
    from pipeline.report.equity_answer import gap_answer, gap_sentence

    result = _crafted_equity(change, low, high, gap_before)
    text = gap_sentence(result, "x", "Uptake")
    assert expected in text
    assert numbers in text
    assert "most minus least deprived" in text
    assert "caus" not in text
    assert gap_answer(result, "x").against_most_deprived is harm


def test_gap_direction_follows_the_wanted_direction():
    """For an outcome where lower is better, a fall in the gap favours the most deprived."""
    from pipeline.report.equity_answer import gap_answer

    result = _crafted_equity(-0.03, -0.05, -0.01, 0.06)
    answer = gap_answer(result, "x", improvement="decrease")
    assert answer.verdict == "narrowed" and answer.direction == "in favour of the most deprived"
    assert not answer.against_most_deprived
    assert answer.short().startswith("Narrowed, in favour of the most deprived: -3.0 percentage")


def test_secondary_estimates_that_disagree_are_named():
    """A clear secondary verdict that differs from the primary one is named with its numbers;
    one whose interval includes no change, or that agrees, is not."""
    from pipeline.report.equity_answer import answer_from, disagreement_sentence

    primary = answer_from(-0.002, -0.083, 0.080, -0.05, 12, "increase", 0.95)
    agrees = answer_from(0.01, -0.05, 0.07, -0.05, 6, "increase", 0.95)
    assert disagreement_sentence(primary, {"at 6 months": agrees}) is None
    clear = answer_from(0.095, 0.039, 0.150, -0.05, 3, "increase", 0.95)
    text = disagreement_sentence(primary, {"at 6 months": agrees, "at 3 months": clear})
    assert text == ("Secondary estimates disagree with this answer (at 3 months: narrowed, in "
                    "favour of the most deprived, +9.5 percentage points (95% CI +3.9 to "
                    "+15.0)). The pre-specified answer is the 12-month estimate of the "
                    "stratified ITS above.")
    same = answer_from(0.03, 0.01, 0.05, -0.06, 12, "increase", 0.95)
    assert disagreement_sentence(same, {"at 3 months": clear}) is None


@pytest.mark.parametrize("call, printed", [
    (lambda: wording.interval(-0.0004, 23.0, 1), "95% CI 0.0 to 23.0"),
    (lambda: wording.fmt(-0.004), "0.00"),
    (lambda: wording.percent(-0.0001), "0.0%"),
    (lambda: wording.points(-0.0001), "0.0 percentage points"),
    (lambda: wording.points(0.081), "+8.1 percentage points"),
    (lambda: wording.number(-0.0001), "0.000"),
    (lambda: wording.number(0), "0"),
    (lambda: wording.number(0.0), "0"),
    (lambda: wording.number(10910), "10,910"),
    (lambda: wording.number(-12345.6), "-12,346"),
    (lambda: wording.fixed(-0.06, 1), "-0.1"),
])
def test_numbers_never_print_negative_zero_and_separate_thousands(call, printed):
    """A CI bound just below zero printed "-0.0" (pulmonary rehab headline); a count of
    10910 printed without its separator (issue 11)."""
    assert call() == printed


def test_a_gap_bound_just_below_zero_prints_without_a_sign():
    from pipeline.report.equity_answer import answer_from

    answer = answer_from(0.05, -0.00004, 0.1, None, 12, "increase", 0.95)
    assert answer.numbers() == "+5.0 percentage points (95% CI 0.0 to +10.0)"


def test_data_quality_counts_are_separated(tmp_path):
    from pipeline import config
    from pipeline.report.story import Story

    story = Story(cfg=None, rule=config.Disclosure(), ev=None, manifest={}, history=[],
                  quality={"rows_read": 10910, "rows_used": 10480, "rows_outside_window": 430})
    assert methods_text.quality_notes(story)[0] == ("- Records read: 10,910; used: 10,480; outside the "
                                        "window and excluded: 430.")


def test_a_version_made_only_of_digits_is_shown_as_written():
    """A version is a hash (12 hex digits); one with no letter a-f (about 1 in 300) is still an
    identifier, not a count: no thousands separators (seen in the history table)."""
    import pandas as pd

    table = pd.DataFrame([{"#": 9, "version": "415810234641", "what changed": "code changed"},
                          {"#": 8, "version": "5e90bddc545d", "what changed": "first"}])
    shown = wording.readable_table(table)
    assert list(shown["Version"]) == ["415810234641", "5e90bddc545d"]
