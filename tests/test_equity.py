"""Equity analysis: stratum effects, heterogeneity, gaps, SII and the change in the gap.

* On the synthetic thi_month data (docs/data.md) BBV testing has a larger level change in IMD
  quintile 1: the truth of the gap change is truth.json
  ``outcomes.bbv_test.marginal_by_phase[0].intervention_units.imd_quintile_1 -
  imd_quintile_5 level_change_logit``; its CI must cover it.
* With no gap change, the 95% CI of the gap change covers zero in about 95% of simulated
  datasets (fast version here; benchmarks/equity_gap_simulation.py runs 1,000+).
* The stratified difference equals the interaction of a controlled-ITS joint model with
  quintile 5 as the reference series.
"""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.config import Disclosure
from pipeline.palette import OKABE_ITO
from pipeline.publication_check import scan
from pipeline.report import equity_answer, equity_figures, equity_tables
from pipeline.stats.equity import cochran_q, evaluate_equity, gap_change_between
from pipeline.stats.its import fit_its
from pipeline.stats.simulation import simulate_series


matplotlib.use("Agg")
KEY = "thi_month"
PHASES = [{"name": "Champions appointed", "start": "2021-09"},
          {"name": "Unmet need collected", "start": "2022-01"},
          {"name": "Standards implemented", "start": "2022-09"}]
SPEC = {"family": "quasibinomial", "errors": "independent", "phases": PHASES,
        "horizons": [3, 6, 12]}


@pytest.fixture(scope="module")
def thi(prepared_project):
    """The equity evaluation of thi_month's series, simulated and prepared in a project copy
    (tests/conftest.py), so the test never depends on the working tree's data folder."""
    series = pd.read_parquet(prepared_project / "data" / "processed" / KEY / "series.parquet")
    specs = {o: SPEC for o in ("bbv_test", "unmet_need")}
    return evaluate_equity(series, specs, ("imd_quintile", "sex"), ("homeless",), "holm", 0.05,
                           sii_repetitions=5000)


@pytest.fixture(scope="module")
def truth(prepared_project):
    return json.loads((prepared_project / "data" / "synthetic" / KEY / "truth.json").read_text())


def test_gap_change_recovers_truth_within_ci(thi, truth):
    marg = truth["outcomes"]["bbv_test"]["marginal_by_phase"][0]["intervention_units"]
    true_change = (marg["imd_quintile_1"]["level_change_logit"]
                   - marg["imd_quintile_5"]["level_change_logit"])
    row = thi.gap_change.set_index(["outcome", "source", "estimand", "phase"]).loc[
        ("bbv_test", "stratified_its", "level_change", "Champions appointed")]
    assert row["ci_low"] <= true_change <= row["ci_high"]
    assert row["estimate"] > 0  # quintile 1 rose more: the gap (Q1 lower) narrowed


def test_tables_have_the_documented_columns(thi):
    eff = thi.stratum_effects
    for col in ("outcome", "dimension", "stratum", "source", "estimand", "estimate", "ci_low",
                "ci_high", "p_value", "p_adjusted", "adjustment", "method", "n", "scale"):
        assert col in eff.columns
    assert {"its", "before_after"} == set(eff["source"])
    assert set(eff["dimension"]) == {"all", "imd_quintile", "sex", "homeless"}
    fam = eff[(eff["source"] == "its") & (eff["estimand"] == "level_change")
              & (eff["dimension"] != "all")]
    assert (fam["p_adjusted"] >= fam["p_value"] - 1e-12).all()
    twin = eff[(eff["source"] == "its") & (eff["estimand"] == "level_change_or")
               & (eff["dimension"] != "all")]
    assert np.allclose(twin["p_adjusted"].to_numpy(), fam["p_adjusted"].to_numpy())
    assert "Holm" in thi.adjustment_note and str(thi.n_tests) in thi.adjustment_note
    gaps = thi.gaps[thi.gaps["outcome"] == "bbv_test"]
    assert set(gaps["measure"]) == {"absolute_gap", "relative_gap", "sii", "rii"}
    assert set(gaps["period"]) == {"before", "after", "change"}
    assert {"stratified_its", "sii_its"} <= set(thi.gap_change["source"])
    assert {"level_change", "slope_change", "level_and_slope_change"} <= set(
        thi.heterogeneity["estimand"])
    assert {"gap_observed", "gap_counterfactual", "gap_cf_low", "sii"} <= set(thi.gap_series.columns)


def test_before_after_strata_sum_to_all(thi):
    ba = thi.before_after[thi.before_after["outcome"] == "bbv_test"].set_index(
        ["dimension", "stratum"])
    total = ba.loc[("all", "all"), "denominator_before"]
    assert ba.loc["imd_quintile", "denominator_before"].sum() == total
    assert ba.loc["sex", "numerator_after"].sum() == ba.loc[("all", "all"), "numerator_after"]


def test_absolute_gap_matches_before_after_counts(thi):
    ba = thi.before_after.set_index(["outcome", "dimension", "stratum"])
    q1, q5 = ba.loc[("bbv_test", "imd_quintile", "1")], ba.loc[("bbv_test", "imd_quintile", "5")]
    gap = thi.gaps.set_index(["outcome", "period", "measure"]).loc[
        ("bbv_test", "before", "absolute_gap"), "estimate"]
    assert gap == pytest.approx(q1["numerator_before"] / q1["denominator_before"]
                                - q5["numerator_before"] / q5["denominator_before"])


def _quintile_panel(seed: int, extra_q1: float = 0.0, n_months: int = 48, den: int = 300):
    """Q1 and Q5 series: Q1 starts lower; common level change 0.3 (+ extra in Q1)."""
    common = dict(n_months=n_months, start="2019-01", denominator=den, family="binomial")
    q1 = simulate_series(phases=[("2021-01", 0.3 + extra_q1, 0.0)], baseline=0.08,
                         trend=0.002, seed=seed * 2, unit="u", **common)
    q5 = simulate_series(phases=[("2021-01", 0.3, 0.0)], baseline=0.12, trend=0.002,
                         seed=seed * 2 + 1, unit="u", **common)
    return q1, q5


ONE_PHASE = {"family": "quasibinomial", "phases": [{"name": "start", "start": "2021-01"}],
             "horizons": [12]}


def test_stratified_difference_equals_controlled_its_interaction():
    """Quintile 5 as the comparator series of a controlled ITS: same point estimate (the
    two-group model is saturated in group), SE within 15% (pooled vs separate dispersion)."""
    q1, q5 = _quintile_panel(3, extra_q1=0.4)
    diff = gap_change_between(q1, q5, ONE_PHASE).set_index(["estimand", "phase"])
    joint = fit_its(pd.concat([q1.assign(unit="q1"), q5.assign(unit="q5")]),
                    {**ONE_PHASE, "comparator_units": ["q5"]}).effects.set_index(["estimand", "phase"])
    a, b = diff.loc[("level_change", "start")], joint.loc[("level_change", "start")]
    assert a["estimate"] == pytest.approx(b["estimate"], abs=1e-8)
    assert (a["ci_high"] - a["ci_low"]) == pytest.approx(b["ci_high"] - b["ci_low"], rel=0.15)


def test_gap_change_ci_covers_zero_about_95_percent_without_gap_change():
    """Fast version of benchmarks/equity_gap_simulation.py: 200 datasets, no gap change."""
    covered = []
    for seed in range(200):
        q1, q5 = _quintile_panel(seed)
        row = gap_change_between(q1, q5, ONE_PHASE).set_index("estimand").loc["level_change"]
        covered.append(row["ci_low"] <= 0 <= row["ci_high"])
    rate = float(np.mean(covered))
    assert 0.90 <= rate <= 0.99, rate  # binomial SE at 95% with 200 draws is 1.5 points


def test_cochran_q_univariate_formula():
    b, v = np.array([0.1, 0.3, 0.5]), np.array([0.01, 0.02, 0.04])
    w = 1 / v
    pooled = (w * b).sum() / w.sum()
    q, df, p, i2 = cochran_q(b, v)
    assert q == pytest.approx((w * (b - pooled) ** 2).sum())
    assert df == 2 and p == pytest.approx(stats.chi2.sf(q, 2))
    assert i2 == pytest.approx(max(0, (q - 2) / q))


def test_heterogeneity_detects_different_effects():
    frames = []
    for i, level in enumerate((0.0, 0.0, 0.8)):
        s = simulate_series(n_months=48, start="2019-01", phases=[("2021-01", level, 0.0)],
                            baseline=0.2, denominator=400, seed=10 + i, unit="u")
        frames.append(s.assign(dimension="sex" if i < 2 else "x", stratum=str(i)))
    data = pd.concat(frames[:2] + [frames[2].assign(dimension="sex")], ignore_index=True)
    allrows = data.groupby(["month", "unit"], as_index=False)[["numerator", "denominator"]].sum()
    data = pd.concat([data, allrows.assign(dimension="all", stratum="all")], ignore_index=True)
    res = evaluate_equity(data.assign(outcome="o"), {"o": ONE_PHASE}, ("sex",), (), "none")
    het = res.heterogeneity.set_index("estimand").loc["level_change"]
    assert het["p_value"] < 0.001 and het["df"] == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="multiplicity"):
        evaluate_equity(pd.DataFrame(), {}, multiplicity="bonferroni")
    with pytest.raises(ValueError, match="missing column"):
        evaluate_equity(pd.DataFrame({"month": []}), {})


# -- the report's equity section ------------------------------------------------------------

@pytest.mark.parametrize("change, low, high, baseline, verdict", [
    (0.02, -0.01, 0.05, -0.05, "no clear change"),
    (0.02, -0.15, 0.19, -0.05, "too uncertain to tell"),  # half-width 17 points > 10
    (0.02, 0.01, 0.03, -0.05, "narrowed"),
    (-0.02, -0.03, -0.01, -0.05, "widened"),
    (0.12, 0.10, 0.14, -0.05, "widened"),  # overshoots: a larger gap the other way
    (0.02, 0.01, 0.03, None, "widened"),  # no clear gap before: a gap opens
])
def test_gap_verdict(change, low, high, baseline, verdict):
    assert equity_answer.gap_verdict(change, low, high, baseline) == verdict


def test_gap_sentence_is_one_careful_sentence(thi):
    text = equity_answer.gap_sentence(thi, "bbv_test", "BBV test uptake")
    assert text.count(". ") <= 1 and text.endswith((".", ")."))
    assert "95% CI" in text and "caus" not in text and "most minus least deprived" in text
    answer = equity_answer.gap_answer(thi, "bbv_test")
    row = thi.headline("bbv_test")
    assert (answer.estimate, answer.low, answer.high) == (row["estimate"], row["ci_low"],
                                                          row["ci_high"])
    assert answer.verdict in text.lower()


def test_figures_have_labelled_axes_and_okabe_ito_colours(thi):
    fig = equity_figures.forest_figure(thi, "bbv_test", "BBV test uptake")
    ax = fig.axes[0]
    assert "odds ratio" in ax.get_xlabel() and ax.get_xscale() == "log"
    assert any("p(adj)" in t.get_text() for t in ax.texts)
    published = equity_tables.published_tables(thi, Disclosure())["equity_gap_series"]
    gap = equity_figures.gap_figure(published, "bbv_test", "BBV test uptake", thi.alpha,
                                    ["2021-09"])
    assert "percentage points" in gap.axes[0].get_ylabel()
    assert gap.axes[-1].get_xlabel() == "Month"
    colours = {line.get_color() for a in gap.axes for line in a.get_lines()}
    assert set(OKABE_ITO.values()) & colours


def test_published_equity_tables_pass_the_scan(thi, tmp_path):
    """The equity tables, as published, carry no small or unrounded count (scan)."""
    for name, table in equity_tables.published_tables(thi, Disclosure()).items():
        table.to_csv(tmp_path / f"{name}.csv", index=False)
    assert scan(tmp_path) == []
    raw = thi.before_after
    raw.to_csv(tmp_path / "raw.csv", index=False)
    assert scan(tmp_path), "unprotected counts must be caught"


# -- gap change from the fits' own SEs and df (docs/adr/0105) ---------------------------------

def _statsmodels_slope(series: pd.DataFrame, start: str):
    """Slope change, SE and residual df of a quasi-binomial segmented regression fitted by
    statsmodels directly (Pearson X2 scale, as R's quasibinomial): an outside reference."""
    import statsmodels.api as sm

    months = pd.to_datetime(series["month"]).dt.to_period("M")
    t = np.array([(m - months.iloc[0]).n for m in months], float)
    s = (pd.Period(start, "M") - months.iloc[0]).n
    post = (t >= s).astype(float)
    X = np.column_stack([np.ones_like(t), t, post, post * (t - s)])
    n = series["denominator"].to_numpy(float)
    res = sm.GLM(series["numerator"].to_numpy(float) / n, X, family=sm.families.Binomial(),
                 var_weights=n).fit(scale="X2")
    return float(res.params[3]), float(res.bse[3]), float(res.df_resid)


def test_gap_change_interval_uses_each_fits_se_and_welch_df():
    """The gap change of a quasi-binomial fit: SE = hypot of the two strata's model SEs and a
    t quantile on the Welch-Satterthwaite df of their residual df, as computed from statsmodels
    fits of the same model. The old rule (SE read back from the t intervals with a normal z)
    gives a wider interval and fails this test."""
    common = dict(n_months=36, start="2019-01", baseline=0.3, denominator=150,
                  overdispersion=0.02)
    most = simulate_series(phases=[("2020-07", 0.3, 0.02)], seed=11, **common)
    least = simulate_series(phases=[("2020-07", 0.0, 0.0)], seed=12, **common)
    spec = {"family": "quasibinomial", "errors": "independent",
            "phases": [{"name": "go", "start": "2020-07"}], "horizons": [6]}
    rows = gap_change_between(most, least, spec).set_index(["estimand", "phase"])
    got = rows.loc[("slope_change", "go")]
    b1, se1, df1 = _statsmodels_slope(most, "2020-07")
    b5, se5, df5 = _statsmodels_slope(least, "2020-07")
    v1, v5 = se1 ** 2, se5 ** 2
    df = (v1 + v5) ** 2 / (v1 ** 2 / df1 + v5 ** 2 / df5)
    half = stats.t.ppf(0.975, df) * np.hypot(se1, se5)
    assert got["estimate"] == pytest.approx(b1 - b5, rel=1e-6)
    assert got["ci_high"] - got["estimate"] == pytest.approx(half, rel=1e-6)
    assert got["p_value"] == pytest.approx(2 * stats.t.sf(abs(b1 - b5) / np.hypot(se1, se5), df),
                                           rel=1e-5)
    assert "Welch-Satterthwaite" in got["method"]


def test_gap_change_of_a_binomial_fit_stays_normal():
    """Binomial fits have normal intervals: the difference has a normal interval too."""
    common = dict(n_months=36, start="2019-01", baseline=0.3, denominator=150)
    most = simulate_series(phases=[("2020-07", 0.3, 0.0)], seed=3, **common)
    least = simulate_series(phases=[("2020-07", 0.0, 0.0)], seed=4, **common)
    spec = {"family": "binomial", "phases": [{"name": "go", "start": "2020-07"}],
            "horizons": [6]}
    got = gap_change_between(most, least, spec).set_index(["estimand", "phase"]).loc[
        ("level_change", "go")]
    a = fit_its(most, spec).model_results
    b = fit_its(least, spec).model_results
    se = np.hypot(a.bse.iloc[2] if hasattr(a.bse, "iloc") else a.bse[2],
                  b.bse.iloc[2] if hasattr(b.bse, "iloc") else b.bse[2])
    assert got["ci_high"] - got["estimate"] == pytest.approx(stats.norm.ppf(0.975) * se, rel=1e-6)
    assert "normal interval" in got["method"]
