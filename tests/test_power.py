"""Tests of the simulation-based power calculation (pipeline.stats.power)."""

import numpy as np
import pytest

from pipeline.stats.power import minimum_detectable_effect


def test_binomial_mde_near_analytic_and_seeded():
    """The MDE is near the Wald approximation; its speed is benchmarks/' business, not a
    test's (no wall-clock assertion)."""
    out = minimum_detectable_effect(24, 24, baseline=0.3, denominator=200, n_sims=200, seed=1)
    # the Wald approximation: MDE ~ (z_0.975 + z_0.8) x SE = 2.80 SE
    assert out["mde_link"] == pytest.approx(2.80 * out["analytic_se"], rel=0.15)
    assert out["mde_ratio"] == pytest.approx(np.exp(out["mde_link"]))
    assert 0 < out["mde_absolute"] < 0.1
    curve = out["power_curve"]
    assert list(curve.columns) == ["effect_link", "effect_ratio", "effect_absolute", "power", "mc_se"]
    assert curve["power"].iloc[0] == pytest.approx(0.05, abs=0.04)  # size at no effect
    assert curve["power"].iloc[-1] > 0.95
    # the seed drives the simulation: another seed gives another draw of the same quantity,
    # within Monte Carlo error of the first
    other = minimum_detectable_effect(24, 24, baseline=0.3, denominator=200, n_sims=200, seed=2)
    assert other["mde_link"] != out["mde_link"]
    assert other["mde_link"] == pytest.approx(out["mde_link"], rel=0.15)


def test_more_data_and_less_dispersion_detect_smaller_effects():
    small = minimum_detectable_effect(24, 24, baseline=0.3, denominator=100, n_sims=150, seed=2)
    big = minimum_detectable_effect(24, 24, baseline=0.3, denominator=1000, n_sims=150, seed=2)
    disp = minimum_detectable_effect(24, 24, baseline=0.3, denominator=1000, dispersion=3.0,
                                     n_sims=150, seed=2)
    assert big["mde_link"] < small["mde_link"]
    assert big["mde_link"] < disp["mde_link"]
    assert "quasi-binomial" in disp["model"]


def test_poisson_and_gaussian_with_autocorrelation():
    pois = minimum_detectable_effect(24, 24, baseline=0.01, denominator=5000, family="poisson",
                                     dispersion=1.5, n_sims=150, seed=3)
    assert pois["mde_ratio"] > 1 and "quasi-Poisson" in pois["model"]
    g0 = minimum_detectable_effect(24, 24, baseline=0.3, denominator=1, family="gaussian",
                                   sd=0.02, n_sims=150, seed=4)
    g1 = minimum_detectable_effect(24, 24, baseline=0.3, denominator=1, family="gaussian",
                                   sd=0.02, ar=0.5, n_sims=150, seed=4)
    assert g0["mde_ratio"] is None and g0["mde_absolute"] == g0["mde_link"]
    assert g1["mde_link"] > g0["mde_link"]  # autocorrelation costs power
    assert "AR(1)" in g1["model"]


@pytest.mark.parametrize("kwargs, message", [
    ({"n_pre": 2}, "n_pre = 2 must be an integer >= 3"),
    ({"baseline": 1.2}, "must be a proportion strictly between 0 and 1"),
    ({"family": "negbin"}, "family = 'negbin' must be one of"),
    ({"dispersion": 0.5}, "dispersion = 0.5 must be >= 1"),
    ({"ar": 0.3}, "ar applies to the gaussian family only"),
    ({"family": "gaussian"}, "needs sd > 0"),
    ({"power": 1.0}, "strictly between 0 and 1"),
])
def test_bad_arguments(kwargs, message):
    args = dict(n_pre=24, n_post=24, baseline=0.3, denominator=200, n_sims=20)
    with pytest.raises(ValueError, match=message):
        minimum_detectable_effect(**{**args, **kwargs})
