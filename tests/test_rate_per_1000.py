"""A count against a registered population is shown per 1,000 population in its figures and
its effects table, not as a raw proportion or per 100 (issues 11 and 13)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from pipeline import config
from pipeline.evaluation import Evaluation, before_after_table, fit_outcome
from pipeline.report import figures, spc_figure
from pipeline.evaluation import control_chart
from pipeline.report.story import Story
from pipeline.report import tables

from .test_population_rate import files, prepared  # noqa: F401  (fixture and helper)

RAW = {"title": "t", "extract": "extract.csv", "window": {"start": "2021-01", "end": "2023-12"},
       "phases": [{"name": "Self-referral", "start": "2023-01"}], "equity": ["sex"],
       "outcomes": {"ld_referrals": {"label": "Referrals of people with a learning disability",
                                     "numerator": "ld", "denominator": None,
                                     "family": "quasipoisson",
                                     "population_table": "population.csv"}}}


def test_rate_outcome_is_drawn_and_tabled_per_1000(files):  # noqa: F811
    cfg = config.parse_intervention("msk_ld", RAW, files)
    table, _ = prepared(files)
    series = table.to_pandas()
    series["stratum"] = series["stratum"].astype(str)
    outcome = cfg.outcomes[0]
    result = fit_outcome(cfg, outcome, series)
    ev = Evaluation(cfg=cfg, series=series, before_after=before_after_table(cfg, series),
                    its={outcome.key: result})
    story = Story(cfg=cfg, rule=config.Disclosure(), ev=ev, manifest={}, quality={}, history=[])
    assert story.per(outcome) == 1000

    fig = figures.impact_figure(result, cfg, outcome.label, config.Disclosure(), "referrals",
                                story.per(outcome))
    assert fig.axes[0].get_ylabel() == "Rate per 1,000 population"
    assert "per 1,000 population" in fig.axes[1].get_ylabel()
    fitted = result.series["fitted"].mean() * 1000
    low, high = fig.axes[0].get_ylim()
    assert low < fitted < high and high > 1                    # per 1,000, not a proportion
    plt.close(fig)

    html = tables.effects_table(story, outcome.key, per=story.per(outcome))
    assert "difference in rate per 1,000" in html and "per unit of denominator" not in html
    diff = result.effects.set_index("estimand").loc["abs_diff_h12"]
    assert f"<td>{diff['estimate'] * 1000:.2f}</td>" in html


def _story(files, rule=config.Disclosure()):  # noqa: F811
    cfg = config.parse_intervention("msk_ld", RAW, files)
    table, _ = prepared(files)
    series = table.to_pandas()
    series["stratum"] = series["stratum"].astype(str)
    outcome = cfg.outcomes[0]
    ev = Evaluation(cfg=cfg, series=series, before_after=before_after_table(cfg, series),
                    its={outcome.key: fit_outcome(cfg, outcome, series)})
    return Story(cfg=cfg, rule=rule, ev=ev, manifest={}, quality={}, history=[]), outcome


def test_rate_outcome_before_after_table_is_per_1000(files):  # noqa: F811
    from pipeline.report import publish
    from pipeline.report.wording import number

    story, outcome = _story(files)
    html = tables.before_after_table(story)
    assert "Before (per 1,000)" in html and "Difference (per 1,000)" in html
    assert "Before (%)" not in html                      # not a rate per person as a percentage
    row = publish.published_before_after(story.ev, story.rule)
    row = row[(row["outcome"] == outcome.key) & (row["dimension"] == "all")].iloc[0]
    by_hand = 1000 * row["numerator_before"] / row["denominator_before"]
    assert 0.5 < by_hand < 100                           # a rate per 1,000, not per person
    assert f"<td>{number(by_hand)}</td>" in html


def test_rate_outcome_spc_chart_is_per_1000(files):  # noqa: F811
    # The fixture's monthly counts are small: a rule that hides none lets the chart be drawn.
    story, outcome = _story(files, config.Disclosure(suppress_at_or_below=0, round_to=1))
    chart = control_chart(story.cfg, story.ev.series, outcome, story.rule)
    result = chart.result
    assert chart.hidden is None and result.settings["per"] == 1000
    assert "per 1,000" in result.summary_sentence and "%" not in result.summary_sentence
    fig = spc_figure.spc_figure(result, "t", "Rate per 1,000 population")
    centre = result.data["centre"].iloc[0] * 1000
    low, high = fig.axes[0].get_ylim()
    assert low < centre < high and high > 1              # drawn per 1,000, not per 100
    alt = spc_figure.alt_text(result, "t", unit="%")
    assert f"mean {centre:,.3g} per 1,000" in alt
    plt.close(fig)
