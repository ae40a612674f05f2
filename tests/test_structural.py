"""The structural time-series counterfactual (pipeline.stats.structural, structural_fit).

Published reference: Durbin J, Koopman SJ. Time Series Analysis by State Space Methods, 2nd ed.
(Oxford University Press 2012), section 8.2, the UK seat-belt law: log monthly car drivers killed
or seriously injured (Jan 1969 - Dec 1984) with a local level, a trigonometric seasonal and an
irregular, and as regressors the log real petrol price and the seat-belt law (a level shift from
February 1983). Printed estimates (coefficient, root mean square error): log petrol price
-0.29140 (0.09832), seat-belt law -0.23773 (0.04632). The data are Commandeur & Koopman's
(2007) book files, tests/references/uk_drivers_ksi.csv (see tests/references/README.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.analysis_options import check_structural_options
from pipeline.stats import structural, structural_fit

REF = Path(__file__).parent / "references" / "uk_drivers_ksi.csv"


@pytest.fixture(scope="module")
def seatbelt():
    return pd.read_csv(REF)


@pytest.fixture(scope="module")
def seatbelt_fit(seatbelt):
    y = np.log(seatbelt["drivers_ksi"].to_numpy(float))
    X = seatbelt[["log_petrol_price", "law"]].to_numpy(float)
    res = structural_fit.unobserved_components(y, X, "local_level", seasonal=12, harmonics=6)
    return structural_fit.regression_coefficients(res, ["petrol", "law"]).set_index("term")


def test_reference_data_is_the_books_series(seatbelt):
    assert len(seatbelt) == 192
    assert seatbelt["month"].iloc[0] == "1969-01" and seatbelt["month"].iloc[-1] == "1984-12"
    assert seatbelt.loc[seatbelt["law"] == 1, "month"].iloc[0] == "1983-02"
    assert seatbelt["drivers_ksi"].iloc[0] == 1687


def test_seat_belt_law_and_petrol_price_as_printed_by_durbin_and_koopman(seatbelt_fit):
    # DK 2012 sec. 8.2: petrol -0.29140 (0.09832), law -0.23773 (0.04632).
    petrol, law = seatbelt_fit.loc["petrol"], seatbelt_fit.loc["law"]
    assert round(petrol["estimate"], 5) == -0.29140
    assert round(petrol["rmse"], 5) == 0.09832
    assert round(law["rmse"], 5) == 0.04632
    # Our maximum-likelihood optimum gives -0.2377373: one unit of the printed fifth decimal
    # from -0.23773 (the variance likelihood is flat; DK's optimiser stopped a little
    # elsewhere). Held to within 1e-5, not to the printed rounding.
    assert abs(law["estimate"] - (-0.23773)) < 1e-5


def test_joint_forecast_covariance_of_a_local_level_is_the_textbook_one():
    # Local level, no regressors: given data to n, y_{n+h} = mu_n + sum of h-1... level steps
    # + noise, so Cov(y_{n+h}, y_{n+k}) = P + (min(h, k) - 1) s_eta + [h == k] s_eps with P the
    # predicted level variance of month n + 1 (DK 2012 sec. 2.8).
    rng = np.random.default_rng(3)
    y = 10 + np.cumsum(rng.normal(0, 0.3, 40)) + rng.normal(0, 0.5, 40)
    y[30:] = np.nan
    res = structural_fit.unobserved_components(y, None)
    s_eps, s_eta = res.params
    months = np.arange(30, 40)
    mean, cov = structural_fit.forecast_covariance(res, months)
    P = res.predicted_state_cov[0, 0, 30]
    h = np.arange(1, 11)
    expected = P + (np.minimum.outer(h, h) - 1) * s_eta + np.eye(10) * s_eps
    np.testing.assert_allclose(cov, expected, rtol=1e-7)
    np.testing.assert_allclose(mean, res.predicted_state[0, 30], rtol=1e-12)
    # the marginal variances are statsmodels' own prediction variances
    pred = res.get_prediction()
    np.testing.assert_allclose(np.diag(cov), pred.var_pred_mean[months], rtol=1e-7)


def _series(effect, seed, n=48, start=30, den=400, step_sd=0.004):
    rng = np.random.default_rng(seed)
    level = 0.4 + np.cumsum(rng.normal(0, step_sd, n))
    p = np.clip(level + np.where(np.arange(n) >= start, effect, 0.0), 0.01, 0.99)
    months = pd.period_range("2020-01", periods=n, freq="M").to_timestamp()
    return pd.DataFrame({"month": months, "numerator": rng.binomial(den, p),
                         "denominator": den})


SPEC = {"family": "gaussian", "phases": [{"name": "change", "start": "2022-07"}],
        "horizons": [3, 6, 12]}


def test_known_effect_is_recovered_with_the_report_estimands():
    result = structural.fit_structural(_series(0.08, seed=11), SPEC)
    rows = result.effects.set_index("estimand")
    assert {"abs_diff_h3", "abs_diff_h12", "average_effect", "cumulative_excess",
            "average_rel_effect"} <= set(rows.index)
    avg = rows.loc["average_effect"]
    assert avg["ci_low"] < 0.08 < avg["ci_high"] and avg["p_value"] < 0.05
    # cumulative = total post denominator x average; its interval scales alike
    total = 400 * 18
    assert rows.loc["cumulative_excess", "estimate"] == pytest.approx(total * avg["estimate"])
    s = result.series
    assert s["in_fit"].sum() == 30 and s["fitted"].notna().sum() == 30
    post = s[~s["in_fit"]]
    assert np.allclose(post["pointwise"], post["observed"] - post["counterfactual"])
    assert post["cumulative"].iloc[-1] == pytest.approx(rows.loc["cumulative_excess",
                                                                  "estimate"])
    assert (post["cf_low"] < post["counterfactual"]).all()


def test_comparators_are_regressors():
    treated = _series(0.0, seed=5)
    comp = treated.copy()
    comp["numerator"] = (treated["numerator"] * 0.9).round().astype(int)
    frame = pd.concat([treated.assign(unit="t"), comp.assign(unit="c1")], ignore_index=True)
    spec = {**SPEC, "comparator_units": ["c1"]}
    result = structural.fit_structural(frame, spec)
    assert "comparator c1" in set(result.parameters["term"])
    assert "regressors: comparator c1" in result.method


@pytest.mark.parametrize("options, words", [
    ({"trend": "quadratic"}, "structural trend"),
    ({"seasonal": 1}, "period in months"),
    ({"harmonics": 2}, "without a seasonal period"),
    ({"cycle": 1}, "unknown structural option"),
])
def test_bad_options_name_the_key(options, words):
    with pytest.raises(ValueError, match=words):
        check_structural_options(options)


def test_too_few_pre_months_and_staggered_are_refused():
    short = _series(0.0, seed=1, n=20, start=8)
    with pytest.raises(ValueError, match="at least 12"):
        structural.fit_structural(short, {**SPEC, "phases": [{"name": "x",
                                                               "start": "2020-09"}]})
    panel = pd.concat([_series(0.0, 1).assign(unit="a"), _series(0.0, 2).assign(unit="b")])
    with pytest.raises(ValueError, match="staggered"):
        structural.fit_structural(panel, {**SPEC,
                                          "unit_starts": {"a": "2022-01", "b": "2022-06"}})
