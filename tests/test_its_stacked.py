"""Controlled ITS with stacked comparator units (Stata ``itsa``'s multiple-group model), the
``slope_coding`` option and the ``post_trend`` estimand.

Published reference: Linden A. Conducting interrupted time-series analysis for single- and
multiple-group comparisons. Stata Journal 2015;15(2):480-500, multiple-group example:
California's Proposition 99, per-capita cigarette sales (packs), California (treated) against
the 38 other states of Abadie, Diamond & Hainmueller (2010), 1970-2000, intervention 1989,
``itsa cigsale, treatid(3) trperiod(1989) lag(1) posttrend`` (OLS, Newey-West with 1 lag
within each state). Its printed coefficients are restated, to the digits below, in the help
file of Linden's ``power itsa`` (SSC S459461, 2025), which re-estimates "the first example of a
multiple-group ITSA in the itsa package": treated intercept 132.2258, pre-trend -1.779474,
post-trend -3.274126, step -20.0581; controls intercept 135.4995, pre-trend -.5477701,
post-trend -1.051279, step -17.25168; difference in level change (_z_x1989) -2.806417 with
P = 0.631; difference in trends (_z_x_t1989) P = 0.136. Data: ``tests/references/
prop99_cigsale.csv`` (see tests/references/README.md). Years enter the monthly engine as
January months, so per-month slopes are the per-year ones divided by 12.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.stats import fit_its
from pipeline.stats.its_spec import validate_spec

PROP99 = Path(__file__).parent / "references" / "prop99_cigsale.csv"


@pytest.fixture(scope="module")
def prop99():
    d = pd.read_csv(PROP99)
    series = pd.DataFrame({"month": pd.to_datetime(d["year"].astype(str) + "-01-01"),
                           "unit": d["state"], "numerator": d["cigsale"], "denominator": 1.0})
    return series, sorted(set(d["state"]) - {"California"})


def _itsa_spec(comparators, mode, **kw):
    return {"family": "gaussian", "errors": "hac", "hac_lags": 1, "hac_small_sample": True,
            "phases": [{"name": "Proposition 99", "start": "1989-01"}],
            "comparator_units": comparators, "comparators": mode, "slope_coding": "itsa",
            "horizons": [], **kw}


@pytest.fixture(scope="module")
def stacked(prop99):
    series, comparators = prop99
    return fit_its(series, _itsa_spec(comparators, "stacked"))


@pytest.fixture(scope="module")
def pooled(prop99):
    series, comparators = prop99
    return fit_its(series, _itsa_spec(comparators, "pooled"))


def _eff(result):
    return result.effects.set_index("estimand")


def test_stacked_reproduces_itsa_prop99_coefficients(stacked):
    b = stacked.params
    per_year = 12.0
    # fitted level in 1970 (itsa's intercept, _t = 0 there; our time counter is 1 there)
    assert b["const"] + b["time"] == pytest.approx(135.4995, abs=5e-5)
    assert b["const"] + b["group"] + b["time"] + b["group:time"] == pytest.approx(132.2258, abs=5e-5)
    assert b["time"] * per_year == pytest.approx(-0.5477701, abs=5e-8)
    assert b["level[Proposition 99]"] == pytest.approx(-17.25168, abs=5e-6)
    assert (b["time"] + b["slope[Proposition 99]"]) * per_year == pytest.approx(-1.051279, abs=5e-7)
    e = _eff(stacked)["estimate"]
    assert e["pre_trend"] * per_year == pytest.approx(-1.779474, abs=5e-7)
    assert e["post_trend"] * per_year == pytest.approx(-3.274126, abs=5e-7)
    assert e["level_change"] == pytest.approx(-2.806417, abs=5e-7)
    assert e["level_change"] + b["level[Proposition 99]"] == pytest.approx(-20.0581, abs=5e-5)


def test_stacked_reproduces_itsa_prop99_p_values(stacked):
    p = _eff(stacked)["p_value"]
    assert round(p["level_change"], 3) == 0.631  # _z_x1989, printed P = 0.631
    # _z_x_t1989: printed P = 0.136; Newey-West with n/(n-k) and t(1201) gives 0.1368 (the
    # printed value looks truncated; rounding gives 0.137): within a thousandth
    assert p["slope_change"] == pytest.approx(0.136, abs=1e-3)
    assert stacked.fit.df == 31 * 39 - 8


def test_pooled_and_stacked_agree_on_coefficients_not_on_standard_errors(stacked, pooled):
    s, p = _eff(stacked), _eff(pooled)
    for name in ("pre_trend", "level_change", "slope_change", "post_trend"):
        assert s.loc[name, "estimate"] == pytest.approx(p.loc[name, "estimate"], rel=1e-9)
    se = {k: (r.loc["level_change", "ci_high"] - r.loc["level_change", "ci_low"]) / 2
          for k, r in (("stacked", s), ("pooled", p))}
    from scipy import stats
    assert se["stacked"] / stats.t.ppf(0.975, 1201) == pytest.approx(5.8418, abs=1e-3)
    assert se["pooled"] / stats.t.ppf(0.975, pooled.fit.df) == pytest.approx(7.46, abs=0.01)
    assert pooled.fit.df == 62 - 8
    assert "stacked" in s["method"].iloc[0] and "stacked" not in p["method"].iloc[0]


def test_stacked_keeps_units_apart_and_labels_comparators(stacked):
    groups = stacked.series["group"]
    assert groups.nunique() == 39 and len(stacked.series) == 39 * 31
    assert "unit[Alabama]" not in stacked.params.index  # one intercept per group, as itsa


def test_stacked_needs_comparator_units():
    with pytest.raises(ValueError, match="comparator_units"):
        validate_spec({"phases": [{"start": "2020-01"}], "comparators": "stacked"})
    with pytest.raises(ValueError, match="pooled, stacked"):
        validate_spec({"phases": [{"start": "2020-01"}], "comparators": "mixed"})
    with pytest.raises(ValueError, match="lopez_bernal, itsa"):
        validate_spec({"phases": [{"start": "2020-01"}], "slope_coding": "stata"})


def _line(sd=0.0, seed=0):
    months = pd.period_range("2019-01", periods=48, freq="M")
    t = np.arange(1, 49)
    since = np.where(t >= 25, t - 25, -1)
    y = 0.30 + 0.002 * t + np.where(since >= 0, 0.04 + 0.003 * since, 0.0)
    y = y + np.random.default_rng(seed).normal(0, sd, 48)
    return pd.DataFrame({"month": months.to_timestamp(), "unit": "a", "numerator": y,
                         "denominator": 1.0})


def test_slope_coding_itsa_counts_zero_in_the_start_month():
    """Noise-free line with step 0.04 at the start month and slope change 0.003 counted from 0
    there: the itsa coding returns the step as generated, ours one slope unit less, and the
    slope change, post trend and every fitted-minus-counterfactual estimand are identical."""
    data = _line()
    spec = {"family": "gaussian", "errors": "independent",
            "phases": [{"name": "p", "start": "2021-01"}]}
    itsa = _eff(fit_its(data, {**spec, "slope_coding": "itsa"}))["estimate"]
    ours = _eff(fit_its(data, spec))["estimate"]
    assert itsa["level_change"] == pytest.approx(0.04, abs=1e-9)
    assert ours["level_change"] == pytest.approx(0.04 - 0.003, abs=1e-9)
    for name in ("slope_change", "pre_trend", "post_trend", "abs_diff_h3", "cumulative_excess"):
        assert itsa[name] == pytest.approx(ours[name], abs=1e-9)
    assert itsa["post_trend"] == pytest.approx(0.005, abs=1e-9)


def test_post_trend_interval_is_the_interval_of_the_sum():
    data = _line(sd=0.01, seed=3)
    res = fit_its(data, {"family": "gaussian", "errors": "independent",
                         "phases": [{"name": "p", "start": "2021-01"}]})
    names = list(res.params.index)
    g = np.zeros(len(names))
    g[names.index("time")] = g[names.index("slope[p]")] = 1.0
    est = g @ res.params.to_numpy()
    se = np.sqrt(g @ res.cov.to_numpy() @ g)
    from scipy import stats
    q = stats.t.ppf(0.975, res.fit.df)
    row = _eff(res).loc["post_trend"]
    assert row["estimate"] == pytest.approx(est)
    assert row["ci_low"] == pytest.approx(est - q * se)
    assert row["ci_high"] == pytest.approx(est + q * se)
    assert row["phase"] == "p"


def test_post_trend_for_every_design_and_natural_scale_twin():
    data = _line(sd=0.005, seed=4)
    other = data.assign(unit="b", numerator=data["numerator"] * 0.9)
    both = pd.concat([data, other])
    both = both.assign(numerator=(both["numerator"] * 1000).round(), denominator=1000.0)
    for spec in ({}, {"comparator_units": ["b"]},
                 {"comparator_units": ["b"], "comparators": "stacked"},
                 {"unit_starts": {"a": "2021-01", "b": "2021-07"}}):
        res = fit_its(both, {"family": "quasibinomial",
                             "phases": [{"name": "p", "start": "2021-01"}], **spec})
        e = _eff(res)
        assert {"post_trend", "post_trend_or"} <= set(e.index), spec
        assert e.loc["post_trend_or", "estimate"] == pytest.approx(np.exp(e.loc["post_trend", "estimate"]))
        assert e.loc["post_trend", "ci_low"] < e.loc["post_trend", "estimate"] < e.loc["post_trend", "ci_high"]
