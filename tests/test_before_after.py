"""Before/after comparison of proportions against published worked examples.

Single proportions: Wilson (1927) score interval, values from Newcombe RG. Two-sided
confidence intervals for the single proportion: comparison of seven methods. Stat Med
1998;17:857-872, Table I, method 3 (score, no continuity correction).

Differences: Newcombe RG. Interval estimation for the difference between independent
proportions: comparison of eleven methods. Stat Med 1998;17:873-890, Table II, method 10
(hybrid score, no continuity correction). Tolerance: the papers print 4 decimals, so 5e-5.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.stats.before_after import before_after_table, compare_proportions

TOL = 5e-5  # published values are rounded to 4 decimals


@pytest.mark.parametrize("x, n, low, high", [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_newcombe_1998a_table_1(x, n, low, high):
    """Newcombe (1998a) Table I, method 3 (Wilson score)."""
    r = compare_proportions(x, n, 5, 10)  # proportion under test as "after"
    assert r["after"] == pytest.approx(x / n)
    assert r["after_low"] == pytest.approx(low, abs=TOL)
    assert r["after_high"] == pytest.approx(high, abs=TOL)


@pytest.mark.parametrize("x1, n1, x0, n0, low, high", [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
    (10, 10, 0, 10, 0.6075, 1.0000),
])
def test_newcombe_1998b_table_2_method_10(x1, n1, x0, n0, low, high):
    """Newcombe (1998b) Table II, examples (a)-(h), method 10 (hybrid score)."""
    r = compare_proportions(x1, n1, x0, n0)
    assert r["difference"] == pytest.approx(x1 / n1 - x0 / n0)
    assert r["difference_low"] == pytest.approx(low, abs=TOL)
    assert r["difference_high"] == pytest.approx(high, abs=TOL)


def test_chi_square_when_expected_counts_large():
    """Pearson chi-square without continuity correction (scipy as independent route)."""
    r = compare_proportions(56, 70, 48, 80)
    assert r["test"] == "chi-square"
    expected = stats.chi2_contingency([[56, 14], [48, 32]], correction=False)[1]
    assert r["p_value"] == pytest.approx(expected, rel=1e-12)


def test_fisher_when_expected_count_below_5():
    """Any expected count < 5 switches to Fisher's exact test."""
    r = compare_proportions(9, 10, 3, 10)
    assert r["test"] == "Fisher exact"
    assert r["p_value"] == pytest.approx(stats.fisher_exact([[9, 1], [3, 7]])[1], rel=1e-12)


def test_ratios_log_intervals():
    """Risk ratio (Katz) and odds ratio (Woolf) on 56/70 vs 48/80, computed by hand."""
    r = compare_proportions(56, 70, 48, 80)
    z = stats.norm.ppf(0.975)
    se_rr = np.sqrt(1 / 56 - 1 / 70 + 1 / 48 - 1 / 80)
    assert r["risk_ratio"] == pytest.approx((56 / 70) / (48 / 80))
    assert r["risk_ratio_low"] == pytest.approx(np.exp(np.log(4 / 3) - z * se_rr))
    se_or = np.sqrt(1 / 56 + 1 / 14 + 1 / 48 + 1 / 32)
    assert r["odds_ratio"] == pytest.approx(56 * 32 / (14 * 48))
    assert r["odds_ratio_high"] == pytest.approx(56 * 32 / (14 * 48) * np.exp(z * se_or))


@pytest.mark.parametrize("args, message", [
    ((5, 4, 1, 10), "after"),
    ((1, 10, -1, 10), "before"),
    ((1, 0, 1, 10), "denominator > 0"),
])
def test_bad_counts(args, message):
    with pytest.raises(ValueError, match=message):
        compare_proportions(*args)


def _monthly():
    months = pd.period_range("2020-01", periods=24, freq="M").to_timestamp()
    rows = []
    for unit in ("a", "b"):
        for i, m in enumerate(months):
            rows.append({"month": m, "unit": unit, "numerator": 10 + (i >= 12) * 5, "denominator": 40})
    return pd.DataFrame(rows)


def test_before_after_table_sums_units_and_windows():
    """Windows are inclusive; units are summed: 12 months x 2 units x 10/40 before, 15/40 after."""
    table = before_after_table(_monthly(), ("2020-01", "2020-12"), ("2021-01", "2021-12"))
    assert list(table.columns) == ["estimand", "estimate", "ci_low", "ci_high", "p_value", "method", "n"]
    rows = table.set_index("estimand")
    expected = compare_proportions(360, 960, 240, 960)
    assert rows.loc["difference", "estimate"] == pytest.approx(0.125)
    assert rows.loc["difference", "ci_low"] == pytest.approx(expected["difference_low"])
    assert rows.loc["proportion_before", "n"] == 960
    assert rows.loc["difference", "n"] == 1920
    assert "Newcombe" in rows.loc["difference", "method"]


def test_before_after_table_groups_by_stratum():
    data = pd.concat([_monthly().assign(stratum=s) for s in ("1", "5")], ignore_index=True)
    table = before_after_table(data, ("2020-01", "2020-12"), ("2021-01", "2021-12"))
    assert list(table["stratum"].unique()) == ["1", "5"]
    assert len(table) == 10


@pytest.mark.parametrize("before, after, message", [
    (("2019-01", "2019-12"), ("2021-01", "2021-12"), "outside the data"),
    (("2020-01", "2020-12"), ("2020-06", "2021-06"), "must start after"),
    (("2020-06", "2020-01"), ("2021-01", "2021-12"), "ends before it starts"),
    (("2020-01",), ("2021-01", "2021-12"), "two months"),
])
def test_before_after_table_bad_windows(before, after, message):
    with pytest.raises(ValueError, match=message):
        before_after_table(_monthly(), before, after)


# -- rates, means, paired proportions, Mantel-Haenszel (issue 4) ------------------------------

from statsmodels.stats.contingency_tables import StratifiedTable, mcnemar  # noqa: E402
from statsmodels.stats import rates as sm_rates  # noqa: E402
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW  # noqa: E402

from pipeline.stats.other_comparisons import (  # noqa: E402
    compare_means, compare_means_data, compare_rates, mantel_haenszel, mantel_haenszel_table,
    paired_proportions, poisson_interval, poisson_rate, window_counts)


@pytest.mark.parametrize("x, low, high", [
    (0, 0.0, 3.6889), (1, 0.0253, 5.5716), (5, 1.6235, 11.6683), (10, 4.7954, 18.3904),
    (20, 12.2165, 30.8884),
])
def test_exact_poisson_interval_published_table(x, low, high):
    """Exact (Garwood) 95% limits for a Poisson count, as tabulated in Breslow & Day (1987),
    Statistical Methods in Cancer Research vol. II, Table 2.10 (4 decimals here), and the
    same limits from statsmodels' independent ``confint_poisson(method="exact-c")``."""
    lo, hi = poisson_interval(x)
    assert lo == pytest.approx(low, abs=TOL)
    assert hi == pytest.approx(high, abs=TOL)
    sm_lo, sm_hi = sm_rates.confint_poisson(x, 1, method="exact-c")
    assert (lo, hi) == pytest.approx((float(sm_lo), float(sm_hi)), abs=1e-8)


def test_poisson_rate_scales_by_person_time():
    r = poisson_rate(10, 2000, per=1000)
    assert r["rate"] == pytest.approx(5.0)
    assert r["rate_low"] == pytest.approx(4.7954 / 2, abs=TOL)


def test_rate_ratio_exact_conditional_boice_monson():
    """Boice & Monson (1977) breast cancer after fluoroscopy, the worked example of Rothman &
    Greenland (Modern Epidemiology, person-time data): 41 cases in 28,010 exposed person-years,
    15 in 19,017 unexposed. Rate ratio 1.86. The exact conditional p-value agrees with
    statsmodels' independent ``test_poisson_2indep(method="exact-cond")``; the limits are
    checked by their defining property (each binomial tail = 2.5% at the limit)."""
    r = compare_rates(41, 28010, 15, 19017)
    assert r["rate_ratio"] == pytest.approx(1.8558, abs=TOL)
    sm = sm_rates.test_poisson_2indep(41, 28010, 15, 19017, method="exact-cond")
    assert r["p_value"] == pytest.approx(sm.pvalue, abs=1e-10)
    t1, t0 = 28010, 19017
    for limit, tail in ((r["rate_ratio_low"], "upper"), (r["rate_ratio_high"], "lower")):
        pi = t1 * limit / (t1 * limit + t0)
        prob = stats.binom.sf(40, 56, pi) if tail == "upper" else stats.binom.cdf(41, 56, pi)
        assert prob == pytest.approx(0.025, abs=1e-8)
    assert r["rate_ratio_low"] == pytest.approx(1.0057, abs=TOL)
    assert r["rate_ratio_high"] == pytest.approx(3.6093, abs=TOL)


def test_welch_matches_scipy_and_statsmodels():
    """Welch's t: p-value from scipy.stats.ttest_ind(equal_var=False); interval from
    statsmodels CompareMeans.tconfint_diff(usevar="unequal") (independent implementations)."""
    rng = np.random.default_rng(4)
    after, before = rng.normal(10, 2, 30), rng.normal(9, 3.5, 45)
    r = compare_means_data(after, before)
    ref = stats.ttest_ind(after, before, equal_var=False)
    assert r["p_value"] == pytest.approx(ref.pvalue, abs=1e-10)
    assert r["t"] == pytest.approx(ref.statistic, abs=1e-10)
    lo, hi = CompareMeans(DescrStatsW(after), DescrStatsW(before)).tconfint_diff(usevar="unequal")
    assert (r["difference_low"], r["difference_high"]) == pytest.approx((lo, hi), abs=1e-10)
    with pytest.raises(ValueError, match="at least 2"):
        compare_means(1, 1, 1, 1, 1, 5)


def test_mcnemar_agresti_presidential_approval():
    """Agresti (2002), Categorical Data Analysis, 2nd ed., Table 10.1 (approval of the Prime
    Minister in two surveys of the same 1600 people: 794, 150, 86, 570): McNemar z^2 = 17.36,
    difference of proportions 0.59 - 0.55 with 95% Wald CI (0.02, 0.06) (section 10.1)."""
    r = paired_proportions(794, 150, 86, 570)
    assert r["statistic"] == pytest.approx(17.3559, abs=TOL)
    assert r["statistic"] == pytest.approx(
        mcnemar([[794, 150], [86, 570]], exact=False, correction=False).statistic)
    assert r["test"] == "McNemar chi-square"
    assert r["before"] == pytest.approx(0.59) and r["after"] == pytest.approx(0.55)
    assert r["difference"] == pytest.approx(-0.04)
    assert r["difference_low"] == pytest.approx(-0.0587, abs=TOL)
    assert r["difference_high"] == pytest.approx(-0.0213, abs=TOL)
    assert round(-r["difference_high"], 2) == 0.02 and round(-r["difference_low"], 2) == 0.06


def test_mcnemar_exact_when_few_discordant_pairs():
    r = paired_proportions(20, 2, 9, 30)
    assert r["test"] == "McNemar exact (binomial)"
    assert r["p_value"] == pytest.approx(stats.binomtest(2, 11, 0.5).pvalue, abs=1e-12)


def test_mantel_haenszel_matches_hand_formulas():
    """Pooled OR = sum(a d / n) / sum(b c / n) (Mantel & Haenszel 1959) and the Robins,
    Breslow & Greenland (1986) variance, written out by hand; CMH test vs statsmodels."""
    tables = [[[10, 20], [5, 25]], [[12, 18], [6, 24]], [[30, 70], [22, 78]]]
    r = mantel_haenszel(tables)
    R = S = PR = PS_QR = QS = 0.0
    for (a, b), (c, d) in tables:
        n = a + b + c + d
        R_i, S_i = a * d / n, b * c / n
        P_i, Q_i = (a + d) / n, (b + c) / n
        R += R_i
        S += S_i
        PR += P_i * R_i
        PS_QR += P_i * S_i + Q_i * R_i
        QS += Q_i * S_i
    or_mh = R / S
    var = PR / (2 * R**2) + PS_QR / (2 * R * S) + QS / (2 * S**2)
    z = stats.norm.ppf(0.975)
    assert r["odds_ratio"] == pytest.approx(or_mh, abs=1e-10)
    assert r["odds_ratio_low"] == pytest.approx(or_mh * np.exp(-z * np.sqrt(var)), abs=1e-8)
    assert r["odds_ratio_high"] == pytest.approx(or_mh * np.exp(z * np.sqrt(var)), abs=1e-8)
    st = StratifiedTable(np.moveaxis(np.array(tables, float), 0, 2))
    assert r["p_value"] == pytest.approx(st.test_null_odds(correction=False).pvalue)


def _strata_series():
    months = pd.period_range("2020-01", periods=24, freq="M").to_timestamp()
    rows = []
    for s, (before, after) in {"1": (5, 10), "2": (10, 12)}.items():
        for i, m in enumerate(months):
            rows.append({"month": m, "unit": "u", "outcome": "o", "dimension": "imd_quintile",
                         "stratum": s, "numerator": after if i >= 12 else before,
                         "denominator": 40})
    return pd.DataFrame(rows)


def test_window_counts_exclusions_and_mh_table():
    data = _strata_series()
    counts = window_counts(data, ("2020-01", "2020-12"), ("2021-01", "2021-12"),
                           exclude=["2021-01"], keys=("outcome", "stratum"))
    first = counts.set_index("stratum").loc["1"]
    assert first["numerator_before"] == 60 and first["denominator_after"] == 11 * 40
    table = mantel_haenszel_table(data, ("2020-01", "2020-12"), ("2021-01", "2021-12"),
                                  "imd_quintile")
    assert table.loc[0, "estimand"] == "odds_ratio_mh" and table.loc[0, "estimate"] > 1
