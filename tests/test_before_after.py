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
