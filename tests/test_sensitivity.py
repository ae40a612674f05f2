"""Tests of the sensitivity table (pipeline.stats.sensitivity)."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from pipeline.stats.sensitivity import COLUMNS, run_sensitivity, validate_options
from pipeline.stats.simulation import simulate_panel, simulate_series

START = "2021-01"
SPEC = {"family": "quasibinomial", "phases": [{"name": "launch", "start": START}],
        "horizons": [3]}


def statsmodels_level_change(series, start: str) -> float:
    """Level change (log odds) of the segmented quasi-binomial regression fitted by statsmodels
    directly (slope counter 1 in the start month, Lopez Bernal et al. 2017): an outside
    reference for the primary and placebo rows."""
    months = series["month"].dt.to_period("M")
    t = np.array([(m - months.iloc[0]).n for m in months], float)
    s = (pd.Period(start, "M") - months.iloc[0]).n
    post = (t >= s).astype(float)
    X = np.column_stack([np.ones_like(t), t, post, post * (t - s + 1)])
    n = series["denominator"].to_numpy(float)
    fit = sm.GLM(series["numerator"].to_numpy(float) / n, X, family=sm.families.Binomial(),
                 var_weights=n).fit(scale="X2")
    return float(fit.params[2])


@pytest.fixture(scope="module")
def data():
    return simulate_series(n_months=48, start="2019-01", phases=[(START, 0.4, 0.0)],
                           denominator=500, seed=1)


def test_default_table(data):
    table = run_sensitivity(data, SPEC, {})
    assert list(table.columns) == COLUMNS
    variants = list(dict.fromkeys(table["variant"]))
    assert variants == ["primary", "placebo_6", "placebo_12", "washout_1", "washout_2",
                        "seasonality_fourier", "seasonality_month", "family_binomial",
                        "family_gaussian", "errors_hac"]
    primary = table[(table["variant"] == "primary") & (table["estimand"] == "level_change_or")]
    assert primary["estimate"].iloc[0] == pytest.approx(
        np.exp(statsmodels_level_change(data, START)), rel=1e-6)
    # same coefficients, different errors: binomial vs quasibinomial estimates agree
    lc = table[table["estimand"] == "level_change"].set_index("variant")["estimate"]
    assert lc["family_binomial"] == pytest.approx(lc["primary"], rel=1e-9)
    assert table.loc[table["variant"] == "family_gaussian", "estimand"].tolist() == ["level_change"]
    enabled = run_sensitivity(data, SPEC, {"enabled": True})
    assert list(dict.fromkeys(enabled["variant"])) == variants


def test_placebo_uses_pre_period_only_and_finds_nothing(data):
    table = run_sensitivity(data, SPEC, {"placebo_months": [12], "washout_months": [],
                                         "seasonality": [], "families": [], "errors": []})
    row = table[(table["variant"] == "placebo_12") & (table["estimand"] == "level_change")].iloc[0]
    pre = data[data["month"] < START].reset_index(drop=True)
    assert row["estimate"] == pytest.approx(statsmodels_level_change(pre, "2020-01"), rel=1e-6)
    assert row["ci_low"] <= 0 <= row["ci_high"]


def test_unfittable_variant_is_a_row_with_a_note(data):
    table = run_sensitivity(data, SPEC, {"placebo_months": [22], "washout_months": [],
                                         "seasonality": [], "families": [], "errors": ["ar"]})
    placebo = table[table["variant"] == "placebo_22"].iloc[0]
    assert np.isnan(placebo["estimate"]) and "not fitted" in placebo["note"] and "segment" in placebo["note"]
    ar = table[table["variant"] == "errors_ar"].iloc[0]
    assert "gaussian" in ar["note"]


def test_poisson_alternatives_and_staggered():
    counts = simulate_series(n_months=48, phases=[(START, 0.3, 0.0)], family="poisson",
                             baseline=0.02, denominator=2000, overdispersion=0.03, seed=2)
    table = run_sensitivity(counts, {**SPEC, "family": "quasipoisson"},
                            {"placebo_months": [], "washout_months": [], "seasonality": []})
    assert {"family_poisson", "family_negbin", "errors_hac"} <= set(table["variant"])
    assert "level_change_rr" in set(table["estimand"])
    starts = {"a": "2021-01", "b": "2021-05"}
    panel = simulate_panel({u: {"phases": [(s, 0.4, 0.0)]} for u, s in starts.items()}, seed=3,
                           n_months=48, start="2019-01", denominator=300)
    table = run_sensitivity(panel, {**SPEC, "unit_starts": starts}, {"placebo_months": [6],
                            "washout_months": [], "seasonality": [], "families": [], "errors": []})
    assert table["note"].str.contains("not fitted").sum() == 0


def test_disabled_and_bad_options(data):
    assert run_sensitivity(data, SPEC, {"enabled": False}).empty
    for options, message in [({"placebo": [6]}, r"unknown sensitivity option\(s\) \['placebo'\]"),
                             ({"placebo_months": [0]}, r"'placebo_months' = \[0\] must be a list of integers >= 1"),
                             ({"seasonality": ["weekly"]}, r"'seasonality' .* must be a list drawn from: none, fourier, month"),
                             ({"families": "poisson"}, r"'families' = 'poisson' must be a list"),
                             ({"enabled": "yes"}, r"'enabled' = 'yes' must be true or false")]:
        with pytest.raises(ValueError, match=message):
            validate_options(options)
