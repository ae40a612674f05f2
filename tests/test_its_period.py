"""``period: month | week | quarter | year``: series fitted in their own periods, not as fake
months (docs/adr/0130-its-period.md).

Published reference: Linden A. Conducting interrupted time-series analysis for single- and
multiple-group comparisons. Stata Journal 2015;15(2):480-500, multiple-group example
(California's Proposition 99, annual cigarette sales 1970-2000, intervention 1989; ``itsa
cigsale, treatid(3) trperiod(1989) lag(1) posttrend``), printed coefficients as restated in
the help file of Linden's ``power itsa`` (see tests/test_its_stacked.py): pre-trend -1.779474,
post-trend -3.274126 and difference in level change -2.806417 (P = 0.631) per YEAR. With
``period: year`` they are our estimates as they stand; the fake-month coding of
tests/test_its_stacked.py needs them divided by 12.

Known effects: quarterly and weekly series simulated by :func:`simulate_series` (one step per
period) with a level and slope change; and the same quarterly data coded as fake months (each
quarter as its first month) fit identically, slopes per month a third of those per quarter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import periods
from pipeline.stats import fit_its
from pipeline.stats.its_spec import validate_spec
from pipeline.stats.simulation import simulate_series

PROP99 = Path(__file__).parent / "references" / "prop99_cigsale.csv"


def _eff(result):
    return result.effects.set_index("estimand")


def _as_period(sim: pd.DataFrame, period: str, first: str) -> pd.DataFrame:
    """A simulated series (one step per row) re-dated as consecutive periods from ``first``."""
    start = periods.to_period(first, period, "first")
    out = sim.drop(columns="month")
    out.insert(0, period, periods.start_dates(start + np.arange(len(sim)), period))
    return out


# -- ordinals and labels -------------------------------------------------------------------

def test_ordinals_count_consecutive_periods_and_label_them():
    weeks = pd.Series(pd.to_datetime(["1970-01-05", "1970-01-12", "2020-12-28", "2021-01-04"]),
                      name="week")
    assert periods.ordinals(weeks, "week").tolist() == [0, 1, 2660, 2661]
    assert periods.label(2661, "week") == "2021-01-04"  # ISO week 2021-W01 starts Monday 4 Jan
    quarters = pd.Series(["2019-10-01", "2020-01-01", "2020-04-01"], name="quarter")
    q = periods.ordinals(quarters, "quarter")
    assert np.diff(q).tolist() == [1, 1] and periods.label(q[-1], "quarter") == "2020Q2"
    assert periods.ordinals(pd.Series([1988, 1989], name="year"), "year").tolist() == [1988, 1989]
    assert periods.ordinals(pd.Series(["1989-01-01"], name="year"), "year").tolist() == [1989]
    back = periods.start_dates(q, "quarter")
    assert [str(d)[:10] for d in back] == ["2019-10-01", "2020-01-01", "2020-04-01"]
    assert periods.plural(4, "quarter") == "4 quarters" and periods.plural(1, "year") == "1 year"


# -- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize("period,dates,bad_row,bad_day", [
    ("quarter", ["2020-01-01", "2020-04-01", "2020-08-01"], 2, "2020-08-01"),
    ("week", ["2020-01-06", "2020-01-12"], 1, "2020-01-12"),  # a Sunday: week ending dates
    ("year", ["2019-01-01", "2020-06-30"], 1, "2020-06-30"),
])
def test_a_date_that_is_not_a_period_start_names_the_row_and_the_fix(period, dates, bad_row, bad_day):
    series = pd.DataFrame({period: dates, "unit": "a", "numerator": 1.0, "denominator": 10.0})
    spec = {"period": period, "phases": [{"start": dates[0]}]}
    with pytest.raises(ValueError) as err:
        fit_its(series, spec)
    msg = str(err.value)
    assert f"row {bad_row}" in msg and bad_day in msg and f"first day of a {period}" in msg
    assert "give every" in msg


def test_spec_validation_of_period():
    with pytest.raises(ValueError, match="period.*choose one of: month, week, quarter, year"):
        validate_spec({"period": "fortnight", "phases": [{"start": "2020-01"}]})
    with pytest.raises(ValueError, match=r"phases\[0\].start.*not the first day of a quarter"):
        validate_spec({"period": "quarter", "phases": [{"start": "2020-02-01"}]})
    with pytest.raises(ValueError, match="seasonality.*period'] is 'year'"):
        validate_spec({"period": "year", "seasonality": "fourier", "phases": [{"start": "2020"}]})
    with pytest.raises(ValueError, match="harmonics'] = 3 must be at most 2"):
        validate_spec({"period": "quarter", "seasonality": "fourier", "harmonics": 3,
                       "phases": [{"start": "2020-01-01"}]})
    with pytest.raises(ValueError, match="needs period 'month'"):
        validate_spec({"period": "quarter", "seasonality": "month", "phases": [{"start": "2020-01-01"}]})
    spec = validate_spec({"period": "year", "phases": [{"start": 1989}]})
    assert spec.period == "year" and spec.phases[0].start == pd.Period("1989", "Y")
    assert validate_spec({"phases": [{"start": "2020-03"}]}).period == "month"


def test_missing_time_column_says_which_column_the_period_needs():
    series = pd.DataFrame({"date": ["2020-01-01"], "unit": "a", "numerator": 1.0, "denominator": 2.0})
    with pytest.raises(ValueError, match=r"missing column\(s\) \['quarter'\].*first day of each quarter"):
        fit_its(series, {"period": "quarter", "phases": [{"start": "2020-01-01"}]})


def test_a_month_column_holds_period_starts_and_is_checked_as_such():
    """The pipeline's series keep the column name ``month`` at every period (docs/adr/0160):
    its values must still be the period's first days."""
    series = pd.DataFrame({"month": ["2020-02-01"], "unit": "a", "numerator": 1.0,
                           "denominator": 2.0})
    with pytest.raises(ValueError, match=r"series\['month'\] row 0 is 2020-02-01, not the first "
                                         r"day of a quarter"):
        fit_its(series, {"period": "quarter", "phases": [{"start": "2020-01-01"}]})


# -- known effects -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quarterly():
    """32 quarters from 2015 Q1, quasi-binomial, start 2019 Q1: log OR level -0.3, slope
    -0.04 per quarter, pre-trend 0.01 per quarter, a quarterly season (+-0.15)."""
    # simulate_series steps in months: its 17th step (2016-05) is the 17th quarter, 2019 Q1
    sim = simulate_series(n_months=32, start="2015-01", phases=[("2016-05", -0.3, -0.04)],
                          baseline=0.3, trend=0.01, family="binomial", denominator=20000,
                          seed=12)
    q = _as_period(sim, "quarter", "2015-01-01")
    season = 0.15 * np.cos(2 * np.pi * np.arange(32) / 4)
    p = 1 / (1 + np.exp(-(np.log(sim["true_mean"] / (1 - sim["true_mean"])) + season)))
    q["numerator"] = np.random.default_rng(3).binomial(q["denominator"], p)
    return q


QUARTER_SPEC = {"period": "quarter", "family": "quasibinomial", "seasonality": "fourier",
                "harmonics": 2, "phases": [{"name": "policy", "start": "2019-01-01"}],
                "horizons": [1, 4, 40]}


def test_quarterly_series_recovers_the_level_and_slope_change(quarterly):
    result = fit_its(quarterly, QUARTER_SPEC)
    e = _eff(result)
    for name, truth in (("level_change", -0.3), ("slope_change", -0.04), ("pre_trend", 0.01)):
        est, lo, hi = e.loc[name, ["estimate", "ci_low", "ci_high"]]
        assert lo < truth < hi, name
        assert est == pytest.approx(truth, abs=0.25 * abs(truth) + 0.01), name
    assert {"sin1", "cos1", "cos2"} <= set(result.params.index)
    assert "sin2" not in result.params.index  # sin(pi q) is identically 0
    # horizons count quarters and warn in quarters
    assert "abs_diff_h4" in e.index
    assert any("horizon 40 quarter(s) is past the data (last quarter 2022Q4)" in w
               for w in result.diagnostics["warnings"])
    assert str(result.series["quarter"].iloc[16])[:10] == "2019-01-01"
    assert result.horizon_labels == {1: "1 quarter", 4: "4 quarters", 40: "40 quarters"}


def test_washout_and_excluded_ranges_count_quarters(quarterly):
    spec = {**QUARTER_SPEC, "washout_months": 2,
            "exclude_months": [["2016-01-01", "2016-04-01"]]}
    s = fit_its(quarterly, spec).series
    out = s.loc[~s["in_fit"], "quarter"].dt.strftime("%Y-%m").tolist()
    assert out == ["2016-01", "2016-04", "2019-01", "2019-04"]
    with pytest.raises(ValueError, match=r"exclude_months\[0\]\[1\].*not the first day of a quarter"):
        validate_spec({**spec, "exclude_months": [["2016-01-01", "2016-05-01"]]})


def test_quarterly_coding_fits_as_fake_months_do_with_slopes_per_quarter(quarterly):
    """The same quarters dated as months (Jan, Apr, Jul, Oct) with month indicators: the same
    column space, so the same fit; slopes per month are a third of those per quarter and, with
    the itsa slope coding (0 in the start period), the level change is the same number."""
    fake = quarterly.rename(columns={"quarter": "month"})
    common = {"family": "quasibinomial", "slope_coding": "itsa", "horizons": [1]}
    by_quarter = fit_its(quarterly, {**common, "period": "quarter", "seasonality": "fourier",
                                     "harmonics": 2, "phases": [{"start": "2019-01-01"}]})
    by_month = fit_its(fake, {**common, "seasonality": "month", "phases": [{"start": "2019-01"}]})
    q, m = _eff(by_quarter), _eff(by_month)
    assert q.loc["level_change", "estimate"] == pytest.approx(m.loc["level_change", "estimate"], rel=1e-8)
    assert q.loc["level_change", "ci_low"] == pytest.approx(m.loc["level_change", "ci_low"], rel=1e-8)
    for name in ("slope_change", "pre_trend", "post_trend"):
        assert q.loc[name, "estimate"] == pytest.approx(3 * m.loc[name, "estimate"], rel=1e-8)
    assert q.loc["abs_diff_h1", "estimate"] == pytest.approx(m.loc["abs_diff_h1", "estimate"], rel=1e-8)
    np.testing.assert_allclose(by_quarter.series["fitted"], by_month.series["fitted"], rtol=1e-9)


def test_weekly_series_with_a_yearly_season_recovers_the_effect():
    """156 ISO weeks from Monday 2018-01-01, Poisson rate, start week 2019-07-01: log RR
    level -0.2, slope 0 (level only), yearly season of amplitude 0.3 over 52.18 weeks."""
    n = 156
    sim = simulate_series(n_months=n, start="2018-01", phases=[("2019-07", 0.0, 0.0)],
                          baseline=0.05, family="poisson", denominator=5000, seed=1)
    weekly = _as_period(sim, "week", "2018-01-01")
    w = periods.ordinals(weekly["week"], "week")
    start = periods.to_period("2019-07-01", "week", "start")
    eta = np.log(0.05) + 0.3 * np.sin(2 * np.pi * w * 7 / 365.25) - 0.2 * (w >= start)
    weekly["numerator"] = np.random.default_rng(5).poisson(5000 * np.exp(eta))
    spec = {"period": "week", "family": "quasipoisson", "seasonality": "fourier",
            "harmonics": 1, "phases": [{"start": "2019-07-01", "change": "level"}],
            "horizons": [4, 52]}
    e = _eff(fit_its(weekly, spec))
    est, lo, hi = e.loc["level_change", ["estimate", "ci_low", "ci_high"]]
    assert lo < -0.2 < hi and est == pytest.approx(-0.2, abs=0.05)
    assert {"abs_diff_h4", "abs_diff_h52"} <= set(e.index)
    # without the season the fit is biased: the season is what the 52.18-week terms remove
    plain = _eff(fit_its(weekly, {**spec, "seasonality": "none"}))
    assert abs(plain.loc["level_change", "estimate"] + 0.2) > abs(est + 0.2)


# -- published reference: Prop 99 (annual) -------------------------------------------------

@pytest.fixture(scope="module")
def prop99_yearly():
    d = pd.read_csv(PROP99)
    series = pd.DataFrame({"year": d["year"], "unit": d["state"], "numerator": d["cigsale"],
                           "denominator": 1.0})
    comparators = sorted(set(d["state"]) - {"California"})
    spec = {"period": "year", "family": "gaussian", "errors": "hac", "hac_lags": 1,
            "hac_small_sample": True, "phases": [{"name": "Proposition 99", "start": 1989}],
            "comparator_units": comparators, "comparators": "stacked",
            "slope_coding": "itsa", "horizons": [1, 5]}
    return fit_its(series, spec)


def test_prop99_by_year_reproduces_itsa_per_year(prop99_yearly):
    e = _eff(prop99_yearly)
    b = prop99_yearly.params
    assert e.loc["pre_trend", "estimate"] == pytest.approx(-1.779474, abs=5e-7)
    assert e.loc["post_trend", "estimate"] == pytest.approx(-3.274126, abs=5e-7)
    assert e.loc["level_change", "estimate"] == pytest.approx(-2.806417, abs=5e-7)
    assert b["time"] == pytest.approx(-0.5477701, abs=5e-8)  # controls' pre-trend
    assert b["const"] + b["time"] == pytest.approx(135.4995, abs=5e-5)
    assert round(e.loc["level_change", "p_value"], 3) == 0.631
    assert e.loc["slope_change", "p_value"] == pytest.approx(0.136, abs=1e-3)
    assert prop99_yearly.fit.df == 31 * 39 - 8
    assert "abs_diff_h5" in e.index
    assert str(prop99_yearly.series["year"].iloc[0])[:10] == "1970-01-01"


# -- SPC -------------------------------------------------------------------------------------

def test_spc_limits_do_not_depend_on_the_period_labels_do():
    """The same 12 values charted as quarters and as months: the same centre, limits and
    special causes (they count points); sentences, warnings and the time column name the
    quarter, and 12 quarters are a short phase as 12 months are (fewer than 13 points)."""
    from pipeline.stats.spc import xmr_chart
    values = [10, 12, 11, 14, 13, 12, 15, 16, 17, 18, 19, 25]
    by_month = xmr_chart(pd.DataFrame({"month": pd.period_range("2019-01", periods=12, freq="M"),
                                       "value": values}))
    quarters = pd.DataFrame({"quarter": periods.start_dates(np.arange(12) + 2019 * 4, "quarter"),
                             "value": values})
    by_quarter = xmr_chart(quarters, month="quarter", period="quarter")
    cols = ["centre", "lower", "upper", "special_cause", "rule", "point_type"]
    pd.testing.assert_frame_equal(by_month.data[cols], by_quarter.data[cols])
    assert "quarter" in by_quarter.data.columns and "month" not in by_quarter.data.columns
    assert str(by_quarter.data["quarter"].iloc[-1])[:10] == "2021-10-01"
    assert "latest quarter (2021 Q4" in by_quarter.summary_sentence
    assert "latest month (December 2019" in by_month.summary_sentence
    assert by_quarter.warnings == ["phase 0 (from 2019 Q1) has 12 points, fewer than 13: its "
                                   "limits are provisional"]
    assert by_quarter.summary()["start"].iloc[0] == pd.Timestamp("2019-01-01")


def test_spc_refuses_dates_that_are_not_period_starts_and_gaps():
    from pipeline.stats.spc import xmr_chart
    weeks = pd.DataFrame({"week": ["2021-01-04", "2021-01-11", "2021-01-17"], "value": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"row 2 is 2021-01-17, not the first day of a week"):
        xmr_chart(weeks, month="week", period="week")
    gap = pd.DataFrame({"year": [2018, 2019, 2021], "value": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"yearly series has gaps.*missing: \['2020'\]"):
        xmr_chart(gap, month="year", period="year")
    with pytest.raises(ValueError, match="period must be one of"):
        xmr_chart(gap, month="year", period="decade")


def test_figures_draw_a_quarterly_fit(quarterly):
    import matplotlib
    matplotlib.use("Agg")
    result = fit_its(quarterly, QUARTER_SPEC)
    fig = result.plot()
    xs = fig.axes[0].collections[0].get_offsets()[:, 0]
    assert len(xs) == 32
    assert result.plot_residuals() is not None


def test_many_strata_of_a_quarterly_series_fit_as_one_by_one(quarterly):
    """The batched equity path (one design reused across strata) honours the period too."""
    from pipeline.stats import fit_its_many
    other = quarterly.assign(numerator=(quarterly["numerator"] * 0.9).round())
    batch = fit_its_many({"a": quarterly, "b": other}, QUARTER_SPEC)
    one = _eff(fit_its(other, QUARTER_SPEC))
    got = batch.effects[batch.effects.iloc[:, 0] == "b"].set_index("estimand")
    for name in ("level_change", "slope_change", "abs_diff_h4"):
        assert got.loc[name, "estimate"] == pytest.approx(one.loc[name, "estimate"], rel=1e-9)
