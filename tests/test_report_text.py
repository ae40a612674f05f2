"""Every methods and results sentence follows the objects that made the numbers (issue 11).

Each test changes one setting of a real fit on the project's simulated data (errors, family,
multiplicity, design) and checks that the sentence the report prints changes with it, so a
sentence cannot say one thing while the model did another.
"""

from __future__ import annotations

import dataclasses
import functools

import pandas as pd
import pytest

from pipeline import config, evaluation
from pipeline.evaluation import Evaluation, before_after_table, fit_outcome, load_series
from pipeline.report import methods_text, publish, summary_text, tables, wording
from pipeline.report.story import Story
from pipeline.stats.equity import EquityResult
from pipeline.stats.multiplicity import describe


def _equity(multiplicity: str, n_tests: int = 282) -> EquityResult:
    """An equity result carrying only what methods() reads: the adjustment it applied."""
    empty = pd.DataFrame()
    return EquityResult(stratum_effects=empty, before_after=empty, heterogeneity=empty,
                        gaps=empty, gap_change=empty, gap_series=empty,
                        multiplicity=multiplicity, alpha=0.05, n_tests=n_tests,
                        adjustment_note=describe(multiplicity, n_tests, 0.05))


@functools.lru_cache(maxsize=None)
def _fitted(project, key: str, its: tuple):
    """The settings, prepared series, before/after table and headline fit for one intervention
    and one set of ``its`` settings, made once per module: tests that change only what the
    text reads (the equity adjustment) or that read the same default fit share it."""
    cfg = config.load_intervention(key, project)
    cfg = dataclasses.replace(cfg, its={**cfg.its, **dict(its)})
    series = load_series(config.paths(project).series(key))
    fit = fit_outcome(cfg, cfg.headline, series, **dict(its))
    return cfg, series, before_after_table(cfg, series), fit


def _story(project, key: str, multiplicity: str = "holm", **its) -> Story:
    """A Story on the real prepared series with the headline outcome fitted as ``its`` says."""
    cfg, series, before_after, fit = _fitted(project, key, tuple(sorted(its.items())))
    ev = Evaluation(cfg=cfg, series=series, before_after=before_after,
                    its={cfg.headline.key: fit}, equity=_equity(multiplicity))
    return Story(cfg=cfg, rule=config.load_disclosure(project), ev=ev, manifest={}, quality={},
                 history=[])


@pytest.fixture(scope="module")
def project(prepared_project):
    return prepared_project


@pytest.mark.parametrize("its, says, never", [
    ({"errors": "independent"}, "treat months as independent", "Newey-West"),
    ({"errors": "hac"}, "Newey-West standard errors with", "independent"),
    ({"errors": "ar", "family": "gaussian"}, "AR(1) errors fitted by generalised least squares",
     "Newey-West"),
])
def test_methods_names_the_errors_the_model_used(project, its, says, never):
    text = methods_text.methods(_story(project, "thi_month", **its))
    assert says in text
    assert never not in text.split("- Model:")[1].split("\n- Before/after")[0].split(
        "Segmented regression after")[1]


def test_methods_states_the_t_df_of_the_fit(project):
    story = _story(project, "thi_month", errors="independent")
    df = story.ev.its[story.cfg.headline.key].fit.df
    assert f"t distribution on {df:.0f} degrees of freedom" in methods_text.methods(story)


@pytest.mark.parametrize("multiplicity, says", [
    ("none", "P-values are not adjusted for the 282 comparisons"),
    ("holm", "Holm's method over 282 tests"),
    ("fdr_bh", "the Benjamini-Hochberg method over 282 tests"),
])
def test_methods_states_the_adjustment_the_equity_section_applied(project, multiplicity, says):
    text = methods_text.methods(_story(project, "thi_month", multiplicity=multiplicity))
    assert says in text
    assert "No adjustment for multiple comparisons in this version" not in text


def test_methods_follows_the_confidence_level(project):
    assert "Confidence level 90%" in methods_text.methods(_story(project, "thi_month", alpha=0.10))


def test_headline_leads_with_published_percentages_points_and_counts(project):
    story = _story(project, "thi_month")
    sentences = summary_text.headline_sentences(story)
    table = publish.published_before_after(story.ev, story.rule)
    row = table[(table["outcome"] == "bbv_test") & (table["dimension"] == "all")].iloc[0]
    assert sentences[0] == wording.before_after_sentence(
        "BBV test uptake (share of active caseload tested)", row["before"], row["after"], 12, 12)
    assert f"{row['before'] * 100:.1f}%" in sentences[0]
    assert "12 months after the start" in sentences[1] and "percentage points" in sentences[1]
    excess = story.effect("bbv_test", "cumulative_excess")
    assert f"there were about {wording.about(excess['estimate'])} more BBV tests than the " \
           "earlier trend predicts (95% CI" in sentences[2]
    assert "odds ratio" in sentences[3] and "odds ratio" not in " ".join(sentences[:3])
    # the first phase of thi_month lasts 4 months: the headline says so
    assert "lasted only 4 months" in sentences[4]
    line = summary_text.summary_line(story)
    assert line.index(f"{row['before'] * 100:.1f}% before") < line.index("odds ratio")


def test_controlled_design_compares_with_the_comparators(project):
    story = _story(project, "pulmonary_rehab")
    text = " ".join(summary_text.headline_sentences(story))
    assert "the comparator services" in text
    assert "earlier trend" not in text
    assert "against the comparator services" in summary_text.summary_line(story)


def test_controlled_gap_change_is_against_the_comparators():
    from pipeline.report.equity_answer import gap_sentence

    result = _crafted_gap(0.01, -0.02, 0.04)
    assert gap_sentence(result, "x", "Uptake").endswith("against the earlier trends.")
    text = gap_sentence(result, "x", "Uptake", against="the same fifths in the comparator "
                        "services")
    assert text.endswith("against the same fifths in the comparator services.")


def _crafted_gap(change, low, high):
    gap_change = pd.DataFrame([{"outcome": "x", "source": "stratified_its",
                                "estimand": "abs_diff_h12", "quantity": "difference",
                                "estimand_scale": "absolute", "horizon": 12.0, "estimate": change,
                                "ci_low": low, "ci_high": high}])
    empty = pd.DataFrame()
    return EquityResult(stratum_effects=empty, before_after=empty, heterogeneity=empty,
                        gaps=empty, gap_change=gap_change, gap_series=empty,
                        multiplicity="holm", alpha=0.05, n_tests=0, adjustment_note="",
                        most="1", least="5")


def test_staggered_design_names_a_range_of_starts(project):
    story = _story(project, "smoking_advice")
    ratio = summary_text.headline_sentences(story)[3]
    assert "Each ward's own start" in ratio and "(March 2022 to October 2022)" in ratio
    assert "the start of the first phase" not in ratio


def test_limitations_name_this_runs_short_segments(project):
    text = methods_text.limitations(_story(project, "thi_month"))
    assert f"shorter than {wording.SHORT_SEGMENT_MONTHS} months" in text
    assert "“Champions appointed” (4 months)" in text
    assert "no segment in this report is that short" in methods_text.limitations(
        _story(project, "pulmonary_rehab"))


def test_errors_sentence_never_claims_a_correction_not_made():
    assert "independent" in wording.errors_sentence("quasibinomial", "independent")
    assert "Pearson dispersion" in wording.errors_sentence("quasibinomial", "independent")
    assert "Pearson" not in wording.errors_sentence("binomial", "hac", 3)
    assert "3 lags" in wording.errors_sentence("binomial", "hac", 3)
    assert "AR(2)" in wording.errors_sentence("poisson", "ar", ar_order=2)
    assert "normal distribution" in wording.errors_sentence("poisson", "ar", df=None)


@pytest.mark.parametrize("value, said", [(2387, "2,390"), (143.4, "143"), (12345, "12,300"),
                                         (-2387, "-2,390"), (999.6, "1,000")])
def test_counts_are_rounded_as_people_say_them(value, said):
    assert wording.about(value) == said


def test_cumulative_sentence_has_a_verb_and_says_the_number_once():
    text = wording.cumulative_sentence(2387.2, 1234.0, 3540.9, "BBV tests")
    assert text == ("Over the whole period after the start, there were about 2,390 more BBV "
                    "tests than the earlier trend predicts (95% CI 1,230 to 3,540).")
    controlled = wording.cumulative_sentence(-50, -80, -20, "patients completing rehabilitation",
                                             wording.reference("controlled", "service"))
    assert "about 50 fewer patients completing rehabilitation than in the comparator " \
           "services" in controlled


def test_a_gap_moving_against_the_most_deprived_is_in_the_summary_and_the_index(
        project, monkeypatch):
    """smoking_advice: the referral gap (a secondary outcome) moves clearly against the most
    deprived in the simulated data; the summary, summary.json and the index cell say so."""
    import json

    from pipeline.report import equity_answer, index

    monkeypatch.setenv("PIPELINE_ROOT", str(project))
    inputs = evaluation.load_inputs("smoking_advice")
    story = Story.of(evaluation.run(inputs.cfg, inputs.series, inputs.quality, inputs.rule,
                                    simulated=inputs.simulated), inputs)
    assert story.simulated and wording.SIMULATED_BANNER in summary_text.header(story)
    referred = summary_text.gap_answers(story)["referred"]
    assert referred.against_most_deprived and referred.high < 0
    summary = summary_text.summary(story)
    assert "**Warning (equity).** Smokers referred to stop-smoking support: the gap moved " \
           "against the most deprived." in summary
    assert referred.numbers() in summary
    story.publish("reports/smoking_advice_test")
    entry = json.loads((project / "reports/smoking_advice_test/summary.json").read_text())
    assert f"{index.HARM} Smokers referred to stop-smoking support" in entry["equity"]
    assert "<strong>Warning:</strong> Smokers referred" in index.equity_cell(entry["equity"])
    assert entry["headline"].startswith("Smokers given very brief advice: ")
    verdict = summary_text.gap_answers(story)["vba_given"].verdict
    assert verdict in equity_answer.VERDICTS
    assert entry["equity"].startswith(f"Smokers given very brief advice: {verdict.capitalize()}")


def test_tables_read_in_words_percentages_and_fixed_notation():
    table = pd.DataFrame({"outcome": ["x", "x"], "numerator_before": [1050, "[c]"],
                          "before": [0.0806452, "[c]"], "estimate": [2387.25, 1.0047],
                          "ci_low": [2.39e3, 0.0123], "p_value": [3.2e-17, 0.0288],
                          "estimand": ["abs_diff_h12", "level_change_or"]})
    shown = wording.readable_table(table)
    assert list(shown.columns) == ["Outcome", "Events before", "Before (%)", "Estimate",
                                   "CI low", "p-value", "Estimate of"]
    assert shown.iloc[0].tolist() == ["x", "1,050", "8.1", "2,387", "2,390", "< 0.001",
                                      "Difference at 12 months"]
    assert shown.iloc[1].tolist() == ["x", "[c]", "[c]", "1.00", "0.012", "0.029",
                                      "Immediate change"]


def test_effects_table_shows_each_estimate_once_in_points(project):
    story = _story(project, "thi_month")
    html = tables.effects_table(story, "bbv_test")
    assert "e+0" not in html and "e-0" not in html
    assert "abs_diff_h12" not in html and "log odds ratio" not in html
    assert html.count("Difference at 12 months") == 1
    diff = story.effect("bbv_test", "abs_diff_h12")
    assert f"<td>{diff['estimate'] * 100:.2f}</td>" in html and "percentage points" in html


def test_simulated_data_get_a_banner(project):
    story = _story(project, "thi_month")
    story.manifest = {"version": "v"}
    assert "Simulated data" not in summary_text.header(story)
    story.simulated = True
    assert summary_text.header(story).split("\n")[2] == wording.SIMULATED_BANNER


def test_count_labels_are_still_counts_to_the_publication_scan():
    """Human labels must not hide a count column from the last line of defence."""
    from pipeline.publication_check import is_count_column

    counts = [c for c in wording.COLUMN_LABELS if c.startswith(("numerator", "denominator"))]
    assert len(counts) == 10
    for column in counts:
        assert is_count_column(wording.COLUMN_LABELS[column]), column
