"""Tests of the Making Data Count SPC charts (``pipeline.stats.spc``) and their figure.

Reference values and rule vectors come from NHSRplotthedots (NHS-R Community,
https://github.com/nhs-r-community/NHSRplotthedots), the open R implementation of MDC:

* ``tests/testthat/_snaps/ptd_spc_standard.md`` - mean and limits of ``set.seed(123);
  rnorm(20)``, with and without outlier screening after setting point 15 to 10;
* ``tests/testthat/_snaps/ptd_spc.md`` - the same data split in two groups of 10 (used here as
  a rebase at point 11), and "20 common cause" points;
* ``tests/testthat/test-ptd_calculate_point_type.R`` - the rule helpers on small vectors;
* ``tests/testthat/test-ptd_spc_standard.R`` - two points close to the limits on opposite
  sides of the mean are not special cause;
* pull request #180 (2023) - trend points take the direction of the trend, not their side of
  the mean.

The p-chart is checked against Montgomery, Introduction to Statistical Quality Control (6th
ed., 2009), Example 7.1 (orange-juice cans, 30 samples of n = 50: p_bar = 0.2313, UCL =
0.4102, LCL = 0.0524, samples 15 and 23 above the UCL). No published p'-chart example with its
data was found in the sources searchable here (Laney 2002's own data were not available), so
Laney's p' is checked by an independent numpy computation of his formulas and by his identity
that with a constant denominator the p'-chart equals an individuals chart of the proportions
with limits p_bar +/- 3 MR_bar / 1.128.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from pipeline.report.spc_figure import alt_text, spc_figure  # noqa: E402
from pipeline.stats.spc import p_chart, spc_chart, xmr_chart  # noqa: E402
from pipeline.stats.spc_rules import (  # noqa: E402
    part_of_run, run_ends_one_side, trend_ends, two_in_three,
)

# R: set.seed(123); rnorm(20) (printed to 8 decimals in the NHSRplotthedots snapshot)
RNORM_123 = [-0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499,
             0.46091621, -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383,
             0.40077145, 0.11068272, -0.55584113, 1.78691314, 0.49785048, -1.96661716,
             0.70135590, -0.47279141]
# Montgomery (2009) Table 7.1: nonconforming cans in 30 samples of 50
MONTGOMERY_7_1 = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20,
                  18, 24, 15, 9, 12, 7, 13, 9, 6]


def series(values, start="2020-01"):
    return pd.DataFrame({"month": pd.period_range(start, periods=len(values), freq="M"),
                         "value": values})


# ---------------------------------------------------------------------------------- limits

def test_xmr_hand_worked_limits():
    # mean 12; moving ranges 2, 1, 3, 1 -> mean MR 1.75; limits 12 +/- 2.66 x 1.75
    r = xmr_chart(series([10, 12, 11, 14, 13]))
    row = r.data.iloc[0]
    assert row["centre"] == pytest.approx(12.0)
    assert r.phases["mean_moving_range"][0] == pytest.approx(1.75)
    assert row["upper"] == pytest.approx(16.655)
    assert row["lower"] == pytest.approx(7.345)
    assert row["upper_2s"] == pytest.approx(12 + 2 * 2.66 / 3 * 1.75)
    assert row["lower_2s"] == pytest.approx(12 - 2 * 2.66 / 3 * 1.75)
    assert not r.data["special_cause"].any()


def test_xmr_matches_nhsrplotthedots_snapshot():
    # _snaps/ptd_spc_standard.md, r1: mean_col 0.1416238, lpl -3.01138, upl 3.294627
    r = xmr_chart(series(RNORM_123))
    assert r.data["centre"][0] == pytest.approx(0.1416238, abs=1e-7)
    assert r.data["lower"][0] == pytest.approx(-3.01138, abs=1e-5)
    assert r.data["upper"][0] == pytest.approx(3.294627, abs=1e-6)
    # _snaps/ptd_spc.md summary: 20 points, 20 common cause
    assert (r.data["point_type"] == "common_cause").sum() == 20
    assert r.variation_icon == "common_cause"
    assert r.assurance_icon is None


@pytest.mark.parametrize("screen, lpl, upl", [(True, -2.383666, 3.722497),
                                              (False, -4.596625, 5.935457)])
def test_xmr_outlier_screening_matches_nhsrplotthedots(screen, lpl, upl):
    # _snaps/ptd_spc_standard.md, r2 (screened) and r3 (not): y[15] <- 10, mean 0.6694159
    values = list(RNORM_123)
    values[14] = 10
    r = xmr_chart(series(values), screen_outliers=screen)
    assert r.data["centre"][0] == pytest.approx(0.6694159, abs=1e-7)
    assert r.data["lower"][0] == pytest.approx(lpl, abs=1e-6)
    assert r.data["upper"][0] == pytest.approx(upl, abs=1e-6)


def test_rebase_recalculates_each_phase_as_nhsrplotthedots_facets():
    # _snaps/ptd_spc.md, facets of 10: (0.0746, -2.60, 2.75) and (0.209, -3.28, 3.70)
    r = xmr_chart(series(RNORM_123), rebase_at=["2020-11"])
    got = r.data.groupby("phase")[["centre", "lower", "upper"]].first()
    expected = pd.DataFrame({"centre": [0.0746, 0.209], "lower": [-2.60, -3.28],
                             "upper": [2.75, 3.70]})
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=0.006)
    assert list(r.data["phase"]) == [0] * 10 + [1] * 10
    assert r.data["phase_start"].iloc[-1] == pd.Timestamp("2020-11-01")
    # 10 points per phase: fewer than 12, so NHSRplotthedots' short-group warning applies
    assert r.phases["short_phase"].all() and len(r.warnings) == 2


def test_fix_after_uses_the_first_points_only():
    values = list(RNORM_123)
    r = xmr_chart(series(values), fix_after=12)
    base = np.array(values[:12])
    amr = np.abs(np.diff(base)).mean()
    assert r.data["centre"][0] == pytest.approx(base.mean())
    assert r.data["upper"].iloc[-1] == pytest.approx(base.mean() + 2.66 * amr)


# ----------------------------------------------------------------------------------- rules
# Vectors from NHSRplotthedots tests/testthat/test-ptd_calculate_point_type.R

def test_seven_point_one_side_mean_vectors():
    assert list(run_ends_one_side([1] * 6)) == [0] * 6
    assert list(run_ends_one_side([1] * 6 + [-1])) == [0] * 7
    assert list(run_ends_one_side([1] * 8 + [-1])) == [0] * 6 + [1, 1, 0]
    assert list(run_ends_one_side([-1] * 8 + [1])) == [0] * 6 + [1, 1, 0]
    assert list(run_ends_one_side([-1] + [1] * 8 + [-1])) == [0] * 7 + [1, 1, 0]
    assert list(part_of_run(run_ends_one_side([1] * 8 + [-1]))) == [True] * 8 + [False]


def test_seven_point_trend_vectors():
    assert list(trend_ends([1, 2, 3, 4, 5, 6])) == [0] * 6
    assert list(trend_ends([1, 2, 3, 3, 4, 5, 6])) == [0] * 7   # a tie breaks the trend
    assert list(trend_ends(range(1, 8))) == [0] * 6 + [1]
    assert list(trend_ends([2, *range(1, 8), 3])) == [0] * 7 + [1, 0]
    assert list(trend_ends(range(7, 0, -1))) == [0] * 6 + [-1]
    assert list(trend_ends([2, *range(7, 0, -1), 3])) == [0] * 7 + [-1, 0]
    # the decreasing trend is flagged (NHSRplotthedots issue #167)
    assert part_of_run(trend_ends(range(0, -8, -1))).sum() == 8


def test_two_in_three_vectors():
    same = lambda v: [1] * len(v)  # noqa: E731  all on one side of the mean
    for v in ([1, 0, 1], [0, 1, 1], [1, 1, 0]):
        assert list(two_in_three(v, same(v))) == [1, 1, 1]
    assert list(two_in_three([0, 0, 0], same([0] * 3))) == [0, 0, 0]
    g = [0, 0, 1, 0, 1, 0, 0]
    assert list(two_in_three(g, same(g))) == [0, 0, 1, 1, 1, 0, 0]
    h = [0, 0, 1, 1, 0, 0, 0]
    assert list(two_in_three(h, same(h))) == [0, 1, 1, 1, 1, 0, 0]
    # ptd_part_of_two_in_three: only the points near a limit are flagged
    for v, expected in (([1, 0, 0, 1], [0, 0, 0, 0]), ([1, 0, 0, 1, 1], [0, 0, 0, 1, 1]),
                        ([1, 0, 1], [1, 0, 1])):
        part = (two_in_three(v, same(v)) == 1) & (np.array(v) == 1)
        assert list(part.astype(int)) == expected
    # not all three on the same side: no signal
    assert list(two_in_three([1, 1, 0], [1, 1, -1])) == [0, 0, 0]


def test_two_close_points_on_opposite_sides_are_common_cause():
    # NHSRplotthedots test-ptd_spc_standard.R: symmetric data, points 15 and 16 at +/- 5.5
    values = [1.0, -1.0] * 8
    values[14], values[15] = 5.5, -5.5
    r = xmr_chart(series(values))
    last = r.data.tail(2)
    assert (last["value"] > last["upper_2s"]).iloc[0] and (last["value"] < last["lower_2s"]).iloc[1]
    assert not last[["outside_limits"]].any().any()
    assert list(last["point_type"]) == ["common_cause", "common_cause"]


def test_two_in_three_on_one_side_flags_the_close_points():
    # limits fixed on 16 baseline points: mean 0.25, mean MR 0.5, 2-sigma 1.137, limit 1.58
    values = [0.0, 0.5] * 8 + [1.3, 0.5, 1.3]
    r = xmr_chart(series(values), fix_after=16)
    d = r.data
    assert d["upper_2s"][0] < 1.3 < d["upper"][0] and d["centre"][0] < 0.5
    assert list(d["two_in_three"].tail(3)) == [True, False, True]
    assert d["rule"].iloc[-1] == "two_in_three" and r.variation_icon == "improvement_high"


def test_shift_of_seven_and_a_point_on_the_mean_breaks_it():
    base = [2.0, 0.0] * 6                       # limits fixed on these: mean 1
    six = xmr_chart(series(base + [1.5] * 6 + [0.5] * 6), fix_after=12)
    assert not six.data["shift"].any()
    seven = xmr_chart(series(base + [1.4] * 7 + [0.6] * 7), fix_after=12)
    assert seven.data["shift"].sum() == 14
    assert (seven.data.loc[seven.data["shift"], "rule"] == "shift").all()
    assert list(seven.data["direction"].tail(14)) == ["high"] * 7 + ["low"] * 7
    broken = xmr_chart(series(base + [1.4] * 3 + [1.0] + [1.4] * 3 + [0.6] * 6), fix_after=12)
    assert broken.data["value"][15] == broken.data["centre"][0]
    assert not broken.data["shift"].any()


def test_trend_points_take_the_direction_of_the_trend():
    # NHSRplotthedots PR #180: a falling trend above the mean is a concern when higher is
    # better, even though the points are above the mean.
    values = [0, 1] * 5 + [9, 8, 7, 6, 5, 4, 3]
    r = xmr_chart(series(values), improvement="increase")
    d = r.data
    assert d["trend"].sum() == 7 and (d["side"].tail(7) == 1).all()
    # the moving range of 8 is screened out (>= 3.267 x mean MR), so the upper limit is 5.42
    assert d["upper"][0] == pytest.approx(47 / 17 + 2.66 * 1.0)
    assert list(d["rule"].tail(7)) == ["outside_limits"] * 4 + ["trend"] * 3
    assert list(d["point_type"].tail(7)) == ["special_cause_improvement"] * 4 + \
        ["special_cause_concern"] * 3
    assert r.variation_icon == "concern_low"
    assert "each been lower than the month before" in r.summary_sentence


def test_rules_do_not_run_across_a_rebase():
    values = [0.0, 2.0] * 6 + [1.5] * 3 + [10.5] * 4 + [9.0, 11.0] * 6
    whole = xmr_chart(series(values))
    assert whole.data["shift"].iloc[12:19].all()
    split = xmr_chart(series(values), rebase_at=["2021-04"])   # month 16
    assert split.data["phase"][15] == 1 and split.data["phase"][14] == 0
    assert not split.data["shift"].iloc[12:19].any()


# ----------------------------------------------------------------------------------- icons

@pytest.mark.parametrize("improvement, icon, point_type", [
    ("increase", "improvement_high", "special_cause_improvement"),
    ("decrease", "concern_high", "special_cause_concern"),
    ("neutral", "neither_high", "special_cause_neither"),
])
def test_variation_icon_of_a_last_point_above_the_limit(improvement, icon, point_type):
    r = xmr_chart(series(RNORM_123 + [6.0]), improvement=improvement)
    assert r.data["outside_limits"].iloc[-1]
    assert r.variation_icon == icon and r.data["point_type"].iloc[-1] == point_type
    assert "latest month (September 2021" in r.summary_sentence
    assert r.summary_sentence.startswith("Special cause variation – ")


@pytest.mark.parametrize("improvement, target, icon", [
    ("increase", 5.0, "fail_consistently"), ("decrease", 5.0, "pass_consistently"),
    ("increase", -5.0, "pass_consistently"), ("decrease", -5.0, "fail_consistently"),
    ("increase", 0.5, "hit_and_miss"), ("neutral", 5.0, None),
])
def test_assurance_icon(improvement, target, icon):
    # ptd_calculate_assurance_type: the target against the limits of the latest point
    r = xmr_chart(series(RNORM_123), improvement=improvement, target=target)
    assert r.assurance_icon == icon
    if icon:
        assert r.assurance_label and "target" in r.summary_sentence


def test_summary_sentence_after_a_rebase():
    values = [20.0, 22.0] * 10 + [10, 9, 10, 9, 10, 11, 12, 11, 12, 11, 12, 11]
    r = xmr_chart(series(values, start="2020-01"), rebase_at=["2021-09"])
    assert r.data["rule"].iloc[-1] == "shift"
    assert r.summary_sentence == (
        "Special cause variation – improvement: the last 7 months, up to August 2022, are all "
        "above the mean (10.7) after the rebase in September 2021.")
    common = xmr_chart(series(RNORM_123), rebase_at=["2020-11"])
    assert common.summary_sentence.startswith(
        "Common cause variation since the rebase in November 2020: the latest month (August "
        "2021")


# --------------------------------------------------------------------------------- p-charts

def test_p_chart_matches_montgomery_example_7_1():
    d = pd.DataFrame({"month": pd.period_range("2019-01", periods=30, freq="M"),
                      "numerator": MONTGOMERY_7_1, "denominator": 50})
    r = p_chart(d, improvement="decrease")
    row = r.data.iloc[0]
    assert row["centre"] == pytest.approx(347 / 1500)
    assert round(row["centre"], 4) == 0.2313
    assert round(row["upper"], 4) == 0.4102 and round(row["lower"], 4) == 0.0524
    assert list(np.flatnonzero(r.data["outside_limits"]) + 1) == [15, 23]
    assert (r.data.loc[r.data["outside_limits"], "point_type"] == "special_cause_concern").all()


def _laney_by_hand(x, n):
    p, pbar = x / n, x.sum() / n.sum()
    s = np.sqrt(pbar * (1 - pbar) / n)
    z = (p - pbar) / s
    sigma_z = np.mean(np.abs(np.diff(z))) / 1.128
    return pbar, np.clip(pbar - 3 * s * sigma_z, 0, 1), np.clip(pbar + 3 * s * sigma_z, 0, 1), \
        sigma_z


def test_laney_p_prime_against_direct_formula():
    rng = np.random.default_rng(7)
    n = rng.integers(800, 5000, 36).astype(float)
    p_true = np.clip(0.3 + rng.normal(0, 0.03, 36), 0.01, 0.99)   # overdispersed
    x = rng.binomial(n.astype(int), p_true).astype(float)
    d = pd.DataFrame({"month": pd.period_range("2020-01", periods=36, freq="M"),
                      "numerator": x, "denominator": n})
    r = p_chart(d, laney=True)
    pbar, lower, upper, sigma_z = _laney_by_hand(x, n)
    np.testing.assert_allclose(r.data["centre"], pbar)
    np.testing.assert_allclose(r.data["lower"], lower)
    np.testing.assert_allclose(r.data["upper"], upper)
    assert r.phases["sigma_z"][0] == pytest.approx(sigma_z) and sigma_z > 1.5
    plain = p_chart(d)
    assert (r.data["upper"] - r.data["lower"] > plain.data["upper"] - plain.data["lower"]).all()
    assert spc_chart(d, "pprime").data["upper"].equals(r.data["upper"])


def test_laney_with_constant_n_is_an_individuals_chart():
    # Laney (2002): with equal subgroup sizes sigma_pi x sigma_z = MR_bar(p) / 1.128
    x = np.array(MONTGOMERY_7_1, float)
    d = pd.DataFrame({"month": pd.period_range("2019-01", periods=30, freq="M"),
                      "numerator": x, "denominator": 50})
    r = p_chart(d, laney=True)
    p = x / 50
    half = 3 * np.mean(np.abs(np.diff(p))) / 1.128
    assert r.data["upper"][0] == pytest.approx(p.mean() + half)
    assert r.data["lower"][0] == pytest.approx(max(p.mean() - half, 0))


def test_p_chart_accepts_the_monthly_series_format():
    from pipeline.stats.simulation import simulate_series
    s = simulate_series(n_months=36, start="2019-01", phases=[("2020-07", 0.5, 0.0)],
                        baseline=0.3, denominator=400, seed=3)
    r = p_chart(s, rebase_at=["2020-07"], target=0.35)
    assert len(r.data) == 36 and r.data["phase"].max() == 1
    assert r.data.groupby("phase")["centre"].first().is_monotonic_increasing


# ------------------------------------------------------------------------------ validation

@pytest.mark.parametrize("kwargs, message", [
    ({"improvement": "up"}, "improvement must be one of"),
    ({"rebase_at": ["2030-01"]}, "not in the data"),
    ({"shift_run": 1}, "shift_run"),
])
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        xmr_chart(series(RNORM_123), **kwargs)


def test_bad_series_raise():
    d = series(RNORM_123)
    with pytest.raises(ValueError, match="one row per month"):
        xmr_chart(pd.concat([d, d]))
    with pytest.raises(ValueError, match="gaps"):
        xmr_chart(d.drop(index=5))
    with pytest.raises(ValueError, match="not finite"):
        xmr_chart(d.assign(value=d["value"].where(d.index != 3)))
    p = pd.DataFrame({"month": ["2020-01", "2020-02"], "numerator": [1, 2], "denominator": [0, 5]})
    with pytest.raises(ValueError, match="denominator > 0"):
        p_chart(p)
    with pytest.raises(ValueError, match="chart must be"):
        spc_chart(d, "u")


# --------------------------------------------------------------------------------- figure

def test_spc_figure_draws_the_chart_icons_and_counterfactual():
    values = [20.0, 22.0] * 10 + [10, 9, 10, 9, 10, 11, 12, 11, 12, 11, 12, 11]
    r = xmr_chart(series(values), rebase_at=["2021-09"], improvement="increase", target=15)
    months = r.data["month"]
    cf = pd.DataFrame({"month": months, "fitted": 21.0,
                       "counterfactual": np.where(months >= "2021-09", 21.0 + 0.1, 21.0)})
    cf["cf_low"], cf["cf_high"] = cf["counterfactual"] - 1, cf["counterfactual"] + 1
    fig = spc_figure(r, "Admissions", "Admissions per 1,000 population", counterfactual=cf,
                     hidden_months=["2020-03"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Month" and ax.get_ylabel() == "Admissions per 1,000 population"
    assert ax.get_title(loc="left") == "Admissions"
    texts = [t.get_text() for t in ax.texts]
    assert "H" in texts and "F" in texts          # improvement (high); target above limits
    assert "Variation: improvement (high); assurance: fails consistently" in texts
    assert any("Rebase Sep 2021" in t for t in texts)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ITS counterfactual (95% band)" in labels and "Special cause – improvement" in labels
    observed = [ln for ln in ax.lines if ln.get_marker() == "o"][0]
    assert np.isnan(observed.get_ydata()[2])       # the hidden month is not drawn
    plt.close(fig)


def test_spc_figure_of_a_p_chart_in_per_cent_and_alt_text():
    d = pd.DataFrame({"month": pd.period_range("2019-01", periods=30, freq="M"),
                      "numerator": MONTGOMERY_7_1, "denominator": 50})
    r = p_chart(d, improvement="decrease")
    fig = spc_figure(r, "Nonconforming cans", "Per cent nonconforming (%)")
    ys = np.concatenate([ln.get_ydata() for ln in fig.axes[0].lines if len(ln.get_ydata())])
    assert np.nanmax(ys) == pytest.approx(48.0)  # 24/50 as a per cent
    plt.close(fig)
    text = alt_text(r, "Nonconforming cans")
    assert text.startswith("P-chart titled “Nonconforming cans”, showing 30 monthly values")
    assert "Mean 23.1%, limits 5.2% to 41.0%." in text
    assert "concern" in text and r.summary_sentence in text
    assert "\n" not in text


def test_counterfactual_with_several_groups_is_refused():
    r = xmr_chart(series(RNORM_123))
    cf = pd.DataFrame({"month": list(r.data["month"]) * 2, "counterfactual": 0.0,
                       "group": ["a"] * 20 + ["b"] * 20})
    with pytest.raises(ValueError, match="several groups"):
        spc_figure(r, "t", "y", counterfactual=cf)
    plt.close("all")


@pytest.mark.parametrize("n_points, short", [(12, True), (13, False)])
def test_short_phase_threshold_is_nhsrplotthedots_n_below_13(n_points, short):
    # R/ptd_add_short_group_warnings.R (NHSRplotthedots, commit 050b07d): a group is short
    # when dplyr::n() < getOption("ptd_spc.warning_threshold", 13), so 12 points still warn
    # and 13 do not.
    values = (RNORM_123 * 2)[:n_points]
    r = xmr_chart(series(values))
    assert bool(r.phases["short_phase"].iloc[0]) is short
    assert (len(r.warnings) == 1) is short


# ------------------------------------------------------------- baseline carried forward (MDC)

def _shifted(seed=11):
    """24 baseline months near 8%, then a sustained rise (log OR 0.8, to about 16%) from
    January 2021 with overdispersion: the situation of a successful intervention."""
    from pipeline.stats.simulation import simulate_series
    return simulate_series(n_months=40, start="2019-01", phases=[("2021-01", 0.8, 0.0)],
                           baseline=0.08, denominator=600, overdispersion=0.002, seed=seed)


def test_baseline_limits_are_carried_forward_as_fix_after_n_points():
    # NHSRplotthedots' fix_after_n_points: the limits of the first n points, extended
    d = _shifted()
    carried = p_chart(d, laney=True, baseline_before="2021-01")
    fixed = p_chart(d, laney=True, fix_after=24)
    cols = ["centre", "lower", "upper", "point_type"]
    pd.testing.assert_frame_equal(carried.data[cols], fixed.data[cols])
    base = d.iloc[:24]
    assert carried.data["centre"].iloc[-1] == pytest.approx(
        base["numerator"].sum() / base["denominator"].sum())
    assert carried.settings["baseline_before"] == "2021-01"
    assert carried.settings["baseline_points"] == 24


@pytest.mark.parametrize("improvement, icon, kind", [
    ("increase", "improvement_high", "special_cause_improvement"),
    ("decrease", "concern_high", "special_cause_concern"),
])
def test_a_sustained_shift_after_the_start_is_special_cause(improvement, icon, kind):
    d = _shifted()
    r = p_chart(d, laney=True, baseline_before="2021-01", improvement=improvement)
    assert r.variation_icon == icon
    post = r.data[r.data["month"] >= "2021-01"]
    assert (post["point_type"] == kind).mean() > 0.8
    assert "carried forward" in r.summary_sentence
    word = "improvement" if improvement == "increase" else "concern"
    assert r.summary_sentence.startswith(f"Special cause variation – {word}")
    # the figure shows the icon: H on blue for improvement, H on orange for concern
    from pipeline.palette import OKABE_ITO
    fig = spc_figure(r, "Shift", "%")
    letters = {t.get_text(): t.get_bbox_patch().get_facecolor()
               for t in fig.axes[0].texts if t.get_bbox_patch() is not None}
    colour = OKABE_ITO["blue" if improvement == "increase" else "orange"]
    assert matplotlib.colors.same_color(letters["H"], colour)
    plt.close(fig)


def test_rebasing_at_the_start_hides_the_same_shift():
    # the old behaviour (limits recalculated at the start) judges the post-period against
    # itself: the shift is absorbed and the latest month looks like common cause
    r = p_chart(_shifted(), laney=True, rebase_at=["2021-01"])
    assert r.variation_icon == "common_cause"


def test_no_target_is_said_and_a_target_gives_assurance():
    d = _shifted()
    none = p_chart(d, laney=True, baseline_before="2021-01")
    assert none.assurance_icon is None
    assert none.assurance_note == "Assurance: no target set, so there is no assurance icon."
    low = p_chart(d, laney=True, baseline_before="2021-01", target=0.01)
    assert low.assurance_icon == "pass_consistently"
    assert low.assurance_note.startswith("Assurance: the process will consistently pass")


def test_a_short_baseline_is_flagged_and_bad_baselines_refused():
    d = _shifted()
    r = p_chart(d, laney=True, baseline_before="2019-10")
    assert r.phases["short_phase"].iloc[0]
    assert any("baseline (January 2019 to September 2019) has 9 points" in w
               for w in r.warnings)
    with pytest.raises(ValueError, match="not both"):
        p_chart(d, baseline_before="2021-01", fix_after=12)
    with pytest.raises(ValueError, match="before the first rebase"):
        p_chart(d, baseline_before="2021-06", rebase_at=["2021-01"])
    with pytest.raises(ValueError, match="at least 2 months before it"):
        p_chart(d, baseline_before="2019-01")


def test_binomial_limits_stay_within_0_and_100_percent():
    d = pd.DataFrame({"month": pd.period_range("2020-01", periods=24, freq="M"),
                      "numerator": [0, 1, 0, 2, 0, 1] * 4, "denominator": 3})
    r = p_chart(d, baseline_before="2021-01")
    assert (r.data["lower"] >= 0).all() and (r.data["upper"] <= 1).all()
