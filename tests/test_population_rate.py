"""Counts against a registered population (issue 13; docs/adr/0079).

"Referrals from people with a learning disability" have no per-row denominator: the count per
month is modelled against the GP learning-disability register with a log(population) offset.
The series is built by the real prepare (extract + population table), and the engine's
Poisson fit is checked against an independent statsmodels GLM with the same offset and the
same segmented design (Wagner et al. 2002 coding), coefficient by coefficient and for the
immediate change's rate ratio and interval; the rates per 1,000 are checked by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from pipeline.data import check_extract
from pipeline.data.errors import ExtractError
from pipeline.evaluation import select
from pipeline.stats.its import fit_its
from pipeline.report import methods_text

MONTHS = pd.date_range("2021-01-01", periods=36, freq="MS")
START = 24   # index of the first month of the self-referral route (2023-01)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rate")
    rng = np.random.default_rng(7)
    population = 800 + np.arange(36) * 3          # the register grows a little
    rate = 0.004 * np.exp(0.004 * np.arange(36) + 0.45 * (np.arange(36) >= START))
    rows = []
    for i, month in enumerate(MONTHS):
        n_ld = rng.poisson(population[i] * rate[i])
        n_other = 40
        for k in range(n_ld + n_other):
            rows.append({"month": f"{month:%Y-%m}", "unit": "msk_a",
                         "sex": "Female" if k % 2 else "Male", "ld": int(k < n_ld)})
    pd.DataFrame(rows).to_csv(folder / "extract.csv", index=False)
    pd.DataFrame({"month": [f"{m:%Y-%m}" for m in MONTHS], "unit": "msk_a", "dimension": "all",
                  "stratum": "all", "population": population}).to_csv(
        folder / "population.csv", index=False)
    return folder


def prepared(folder, population="population.csv"):
    return check_extract(folder / "extract.csv", outcomes={"ld_referrals": ("ld", None)},
                         dimensions=["sex"], window=("2021-01", "2023-12"),
                         populations={"ld_referrals": folder / population})


def test_denominator_is_the_registered_population(files):
    table, quality = prepared(files)
    series = table.to_pandas()
    overall = series[series["dimension"] == "all"]
    assert overall["denominator"].tolist() == [800 + 3 * i for i in range(36)]
    # Strata without a population row are left out of the breakdown and listed.
    assert set(series["dimension"]) == {"all"}
    assert quality["populations"]["ld_referrals"]["strata_without_population"] == [
        "sex=Female", "sex=Male"]


def test_poisson_with_offset_matches_statsmodels(files):
    table, _ = prepared(files)
    series = table.to_pandas()
    series["stratum"] = series["stratum"].astype(str)
    monthly = select(series, "ld_referrals")
    result = fit_its(monthly, {"family": "poisson", "errors": "independent",
                               "phases": [{"name": "Self-referral", "start": "2023-01"}]})
    time = np.arange(1, 37)
    level = (time >= START + 1).astype(float)
    slope = level * (time - START)
    X = sm.add_constant(np.column_stack([time, level, slope]))
    glm = sm.GLM(monthly["numerator"].to_numpy(), X, family=sm.families.Poisson(),
                 offset=np.log(monthly["denominator"].to_numpy())).fit()
    ours = result.params.to_numpy()
    assert np.allclose(ours, glm.params, rtol=1e-7, atol=1e-9)
    row = result.effects.query("estimand == 'level_change_rr'").iloc[0]
    low, high = np.exp(glm.conf_int()[2])
    assert row["estimate"] == pytest.approx(np.exp(glm.params[2]), rel=1e-7)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-6)
    assert low < np.exp(0.45) < high        # the simulated rate ratio


def test_rates_per_1000_by_hand(files):
    table, _ = prepared(files)
    overall = table.to_pandas().query("dimension == 'all'")
    before = overall.iloc[START - 12:START]
    by_hand = before["numerator"].sum() / sum(800 + 3 * i for i in range(12, 24)) * 1000
    assert by_hand == pytest.approx(before["numerator"].sum() / before["denominator"].sum()
                                    * 1000)
    assert 3 < by_hand < 7     # about 4-5 per 1,000 a month before the change


def test_a_missing_population_month_is_refused_with_the_file_and_fix(files):
    frame = pd.read_csv(files / "population.csv").iloc[1:]
    frame.to_csv(files / "short.csv", index=False)
    with pytest.raises(ExtractError) as err:
        prepared(files, "short.csv")
    text = str(err.value)
    assert "short.csv" in text and "msk_a 2021-01" in text and "add the whole population" in text


def test_bad_population_values_are_listed_by_row(files):
    frame = pd.read_csv(files / "population.csv").astype(str)
    frame.loc[2, "population"] = "-4"
    frame.loc[5, "month"] = "May"
    frame.to_csv(files / "bad.csv", index=False)
    with pytest.raises(ExtractError) as err:
        prepared(files, "bad.csv")
    problems = {(p.column, p.rows) for p in err.value.problems}
    assert ("population", (3,)) in problems and ("month", (6,)) in problems


def test_params_refuse_a_population_table_on_a_proportion():
    from pipeline import config

    raw = config.load_params(config.project_root())["interventions"]["smoking_advice"]
    raw = {**raw, "outcomes": {"vba_given": {**raw["outcomes"]["vba_given"],
                                             "population_table": "data/raw/x/population.csv"}}}
    with pytest.raises(config.ConfigError, match="set denominator: null and family: quasipoisson"):
        config.parse_intervention("smoking_advice", raw, config.project_root())


def test_report_states_the_rate_per_1000_from_published_counts(files):
    """The report's sentence: rate per 1,000 before and after, from counts rounded to 5."""
    from pipeline import config
    from pipeline.evaluation import Evaluation, before_after_table
    from pipeline.report.story import Story

    raw = {"title": "t", "extract": "extract.csv", "window": {"start": "2021-01",
                                                             "end": "2023-12"},
           "phases": [{"name": "Self-referral", "start": "2023-01"}], "equity": ["sex"],
           "outcomes": {"ld_referrals": {"label": "Referrals of people with a learning "
                                                  "disability", "numerator": "ld",
                                         "denominator": None, "family": "quasipoisson",
                                         "population_table": "population.csv"}}}
    cfg = config.parse_intervention("msk_ld", raw, files)
    table, _ = prepared(files)
    series = table.to_pandas()
    series["stratum"] = series["stratum"].astype(str)
    ev = Evaluation(cfg=cfg, series=series, before_after=before_after_table(cfg, series), its={})
    story = Story(cfg=cfg, rule=config.Disclosure(), ev=ev, manifest={}, quality={}, history=[])
    overall = series[series["dimension"] == "all"]
    expected = []
    for rows in (overall.iloc[START - 12:START], overall.iloc[START:START + 12]):
        x, n = (5 * round(rows[c].sum() / 5) for c in ("numerator", "denominator"))
        expected.append(f"{1000 * x / n:.2f}")
    text = methods_text.rate_note(story, cfg.outcomes[0])
    assert f"{expected[0]} before the start, {expected[1]} after" in text
    assert "log(population) as the offset" in text
