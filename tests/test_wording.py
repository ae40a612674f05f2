"""Wording rules of generated text (pipeline/report/wording.py), on crafted results."""

from __future__ import annotations

import pytest

from pipeline.report import wording


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
    assert "was higher than the earlier trend predicts (8.1 percentage points, 95% CI 6.2 to " \
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


def test_widening_gap_is_reported_with_both_quintiles():
    text = wording.gap_sentence((1.10, 0.95, 1.27), (1.60, 1.40, 1.83), "odds ratio")
    assert "quintile 1" in text and "quintile 5" in text
    assert "1.10" in text and "1.60" in text


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
