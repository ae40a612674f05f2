"""Estimability checks: each fires on crafted data with its reason code and fixed wording.

A model that cannot be estimated must be refused by an explicit check whose tolerance is far
from floating-point noise, with the same fixed text on every CPU: before these checks, a
separated stratum reached ``np.linalg.solve`` on a singular X'WX and the report carried
"Singular matrix" on one BLAS kernel and "estimates not finite or unstable" on another
(docs/adr/0030-estimability-checks.md). Kernels cannot be switched inside a test (the
variable must never be set in tests); benchmarks/cpu_independence.py compares the published
bytes across kernels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.stats import estimability, its_fit, its_glm
from pipeline.stats.equity import evaluate_equity
from pipeline.stats.estimability import REASONS, NotEstimable
from pipeline.stats.its import fit_its, fit_its_many
from pipeline.stats.its_spec import validate_spec
from pipeline.stats.simulate_series import simulate_series
from pipeline.stats.sensitivity import run_sensitivity

START = "2021-01"  # month 25 of 48 from 2019-01
SPEC = {"family": "quasibinomial", "phases": [{"name": "launch", "start": START}],
        "horizons": [6]}


def series(seed=1, baseline=0.3, denominator=40, n_months=48):
    return simulate_series(n_months=n_months, start="2019-01", phases=[(START, 0.3, 0.0)],
                           baseline=baseline, denominator=denominator, seed=seed)


def reason_of(data, spec=SPEC):
    with pytest.raises(NotEstimable) as info:
        fit_its(data, spec)
    return info.value


def post(data):
    return pd.to_datetime(data["month"]) >= pd.Timestamp(START)


def test_sound_series_passes_every_check():
    res = fit_its(series(), SPEC)
    assert np.isfinite(res.effects["estimate"]).all()


def test_all_zero_segment():
    data = series()
    data.loc[post(data), "numerator"] = 0
    exc = reason_of(data)
    assert exc.reason == "segment_all_zero"
    assert str(exc) == exc.message == REASONS["segment_all_zero"]


def test_all_zero_series_poisson():
    data = series()
    data["numerator"] = 0
    exc = reason_of(data, {**SPEC, "family": "poisson"})
    assert exc.reason == "segment_all_zero"


def test_all_successes_segment():
    data = series(baseline=0.8)
    data.loc[post(data), "numerator"] = data.loc[post(data), "denominator"]
    exc = reason_of(data)
    assert exc.reason == "segment_all_success"
    assert str(exc) == REASONS["segment_all_success"]


def test_quasi_complete_separation():
    """No segment is all zeros or all successes, yet the pre-period is split by time:
    months 1-12 have no events, months 13-24 only successes. A time direction, cancelled
    after the start by the level and slope terms, separates them: the MLE is infinite."""
    data = series()
    pre = ~post(data)
    early = pre & (np.arange(len(data)) < 12)
    data.loc[early, "numerator"] = 0
    data.loc[pre & ~early, "numerator"] = data.loc[pre & ~early, "denominator"]
    exc = reason_of(data)
    assert exc.reason == "separation"
    assert str(exc) == REASONS["separation"]


def test_separation_lp_finds_nothing_in_sound_data():
    data = series()
    X = np.column_stack([np.ones(48), np.arange(1, 49.0), post(data).astype(float)])
    num, den = data["numerator"].to_numpy(float), data["denominator"].to_numpy(float)
    num[:3] = 0  # a few months without events do not separate
    assert not estimability.separated(X, num, den, "binomial")


def test_rank_deficient_design_in_the_fit():
    n = 48
    t = np.arange(1, n + 1.0)
    X = np.column_stack([np.ones(n), t, t * (1 + 1e-12)])  # two columns equal to 1e-12
    num, den = np.full(n, 10.0), np.full(n, 40.0)
    spec = validate_spec(SPEC)
    with pytest.raises(NotEstimable) as info:
        its_fit.fit_arrays(X, num, den, np.zeros(n), t, spec)
    assert info.value.reason == "rank_deficient"
    assert str(info.value) == REASONS["rank_deficient"]


def test_design_rank_uses_the_stated_tolerance():
    """A covariate equal to time up to 1e-10 is rank-deficient at the stated tolerance
    (reciprocal condition 1e-8), although numpy's default rank (tolerance ~1e-14) calls it
    full rank: that default decides in the last bits."""
    data = series()
    t = np.arange(1, 49.0)
    data["near_time"] = t + 1e-10 * np.cos(t)
    Xc = np.column_stack([np.ones(48), t, data["near_time"]])
    assert np.linalg.matrix_rank(Xc) == 3
    with pytest.raises(ValueError, match="rank-deficient"):
        fit_its(data, {**SPEC, "covariates": ["near_time"]})


def test_non_convergence(monkeypatch):
    monkeypatch.setattr(its_glm, "MAXITER", 2)  # two IRLS steps cannot reach 1e-11
    exc = reason_of(series())
    assert exc.reason == "not_converged"
    assert str(exc) == REASONS["not_converged"]


def test_extreme_linear_predictor():
    """Proportions of about 1e-10 (a real MLE, no separation) put the fitted logit below -20."""
    data = series(denominator=40)
    data["denominator"] = 10 ** 10
    data["numerator"] = 1 + (np.arange(48) % 2)
    exc = reason_of(data)
    assert exc.reason == "extreme_linear_predictor"


def test_weighted_rank_deficient():
    """Weights that vanish wherever a column is non-zero leave that column unidentified."""
    n = 20
    X = np.column_stack([np.ones(n), np.r_[np.zeros(10), np.ones(10)]])
    weight = np.r_[np.ones(10), np.zeros(10)]
    with pytest.raises(NotEstimable) as info:
        estimability.check_after_fit(X, np.zeros(n), np.ones(n), weight, "binomial", True)
    assert info.value.reason == "weighted_rank_deficient"


def test_reciprocal_condition_is_scale_free():
    t = np.arange(1, 49.0)
    X = np.column_stack([np.ones(48), t])
    assert estimability.reciprocal_condition(X) == pytest.approx(
        estimability.reciprocal_condition(X * [1.0, 1e6]), rel=1e-12)
    assert estimability.reciprocal_condition(np.column_stack([t, t])) < 1e-15


def test_irls_does_not_raise_on_a_singular_weighted_design():
    """The old normal-equations solve raised "Singular matrix" here (kernel-dependent)."""
    n = 30
    t = np.arange(1, n + 1.0)
    X = np.column_stack([np.ones(n), t, t])
    beta, _ = its_glm.irls(X, np.full(n, 5.0), np.full(n, 20.0), "binomial")
    assert np.isfinite(beta).all()


def test_every_reason_has_fixed_wording_without_numbers_from_the_fit():
    for code, text in REASONS.items():
        exc = NotEstimable(code)
        assert (exc.reason, exc.message, str(exc)) == (code, text, text)
    with pytest.raises(KeyError):
        NotEstimable("Singular matrix")


def test_failure_text():
    assert estimability.failure_text(NotEstimable("separation")) == REASONS["separation"]
    assert estimability.failure_text(np.linalg.LinAlgError("Singular matrix")) == \
        estimability.LINALG_FAILURE
    assert estimability.failure_text(ValueError("series['month'] ...")) == "series['month'] ..."


def _strata(separated_stratum: str) -> pd.DataFrame:
    frames = []
    for k, s in enumerate("12345"):
        d = series(seed=10 + k)
        if s == separated_stratum:  # all zeros after the start
            d.loc[post(d), "numerator"] = 0
        frames.append(d.assign(dimension="imd_quintile", stratum=s, outcome="o"))
    return pd.concat(frames, ignore_index=True)


def test_fit_its_many_records_the_fixed_wording():
    long = _strata("3")
    batch = fit_its_many(long[long["outcome"] == "o"], SPEC, by=["dimension", "stratum"],
                         on_error="record")
    assert batch.errors == {("imd_quintile", "3"): REASONS["segment_all_zero"]}
    with pytest.raises(ValueError, match="stratum .*no events in any fitted month"):
        fit_its_many(long, SPEC, by=["dimension", "stratum"], on_error="raise")


def test_equity_records_the_fixed_wording_for_a_separated_stratum():
    result = evaluate_equity(_strata("3"), {"o": SPEC}, ("imd_quintile",), (), "holm", 0.05,
                             sii_repetitions=1000)
    expected = f"o imd_quintile=3: not estimable ({REASONS['segment_all_zero']})"
    assert expected in result.warnings
    assert not any("Singular" in w or "unstable" in w for w in result.warnings)
    effects = result.stratum_effects
    fitted = set(effects.loc[effects["source"] != "before_after", "stratum"])
    assert "3" not in fitted and {"1", "2", "4", "5"} <= fitted


def test_sensitivity_notes_the_fixed_wording():
    data = series()
    data.loc[post(data), "numerator"] = 0
    table = run_sensitivity(data, SPEC, {"placebo_months": [], "washout_months": [],
                                         "seasonality": [], "families": [], "errors": []})
    assert table.loc[0, "note"] == f"not fitted: {REASONS['segment_all_zero']}"


@pytest.mark.parametrize("errors", ["auto", "ar"])
def test_the_ar1_route_runs_the_same_checks(errors):
    """``errors: auto`` (the reports' default) refits with an AR(1) working correlation; it
    must refuse a separated or degenerate stratum with the same reason first, or the AR step's
    linear algebra decides, differently on each kernel (seen: hcv_referral IMD 3 and 5)."""
    spec = {**SPEC, "errors": errors}
    data = series()
    pre = ~post(data)
    early = pre & (np.arange(len(data)) < 12)
    data.loc[early, "numerator"] = 0
    data.loc[pre & ~early, "numerator"] = data.loc[pre & ~early, "denominator"]
    assert reason_of(data, spec).reason == "separation"
    zero = series()
    zero.loc[post(zero), "numerator"] = 0
    assert reason_of(zero, spec).reason == "segment_all_zero"
