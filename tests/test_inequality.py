"""SII and RII following PHE's method (PHEindicatormethods::phe_sii; Low & Low 2004).

Sources:
* PHEindicatormethods ``phe_sii`` documentation (section "Calculation"): the relative rank of
  a quantile is the midpoint of its cumulative population share (12% -> 0.06; a following 10%
  -> 0.17), the regression ``Y sqrt(a) = b0 sqrt(a) + b1 b sqrt(a)`` and ``RII = (Y0 + SII) /
  Y0``; its roxygen example data (two areas x 10 deciles, life expectancy with SEs and 95%
  limits) are used as inputs below.
* The point estimate is checked against statsmodels' weighted least squares (an independent
  implementation of the same regression), the simulated limits against the exact normal
  limits they converge to for ``value_type = 0`` (the SII is linear in the values).
* PHE's published numeric test results (tests/testthat/testdata_SII.xlsx in the
  PHEindicatormethods repository) are a binary spreadsheet and could not be read here; see
  docs/equity.md.
"""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from pipeline.stats.inequality import (phe_sii, ridit_midpoints, sii_change, sii_point,
                                       sii_proportions)

POP = {"Area1": [7291, 7997, 6105, 7666, 5790, 6934, 5918, 5974, 7147, 7534],
       "Area2": [21675, 20065, 19750, 24713, 20112, 19618, 22408, 19752, 18939, 19312]}
VALUE = {"Area1": [75.9, 78.3, 83.8, 83.6, 80.5, 81.1, 81.7, 84.2, 80.6, 86.3],
         "Area2": [70.5, 71.6, 72.5, 73.5, 73.1, 76.2, 78.7, 80.6, 80.9, 80]}
LOWER = {"Area1": [72.7, 75.3, 80.9, 80.2, 77.1, 78, 79, 81.4, 75.8, 83.2],
         "Area2": [70.1, 71.1, 72, 73.1, 72.7, 75.7, 78.2, 80.1, 80.4, 79.5]}
UPPER = {"Area1": [79.1, 81.4, 86.8, 87.1, 83.8, 84.2, 84.4, 86.9, 85.4, 89.4],
         "Area2": [71, 72.1, 73.2, 73.7, 75.8, 78.8, 79.8, 81.2, 81.3, 80.9]}
SE = {"Area1": [1.64, 1.58, 1.51, 1.78, 1.7, 1.56, 1.37, 1.4, 2.43, 1.57],
      "Area2": [0.23, 0.26, 0.3, 0.16, 0.79, 0.78, 0.4, 0.28, 0.23, 0.35]}


def test_ridit_midpoints_phe_documented_example():
    b = ridit_midpoints([12, 10, 78])
    assert b[0] == pytest.approx(0.06) and b[1] == pytest.approx(0.17)
    assert b[2] == pytest.approx(0.22 + 0.39)


@pytest.mark.parametrize("area", ["Area1", "Area2"])
def test_sii_point_equals_weighted_least_squares(area):
    pop, y = np.array(POP[area], float), np.array(VALUE[area])
    fit = sm.WLS(y, sm.add_constant(ridit_midpoints(pop)), weights=pop / pop.sum()).fit()
    r = sii_point(y, pop)
    assert r["sii"] == pytest.approx(fit.params[1], abs=1e-10)
    assert r["intercept"] == pytest.approx(fit.params[0], abs=1e-10)
    assert r["rii"] == pytest.approx((fit.params[0] + fit.params[1]) / fit.params[0], abs=1e-12)


def test_sii_roxygen_example_values():
    """Point estimates on phe_sii's example data (WLS, deterministic), to 4 decimals."""
    assert sii_point(VALUE["Area1"], POP["Area1"])["sii"] == pytest.approx(7.0002, abs=5e-5)
    assert sii_point(VALUE["Area1"], POP["Area1"])["intercept"] == pytest.approx(78.0321, abs=5e-5)


@pytest.mark.parametrize("area", ["Area1", "Area2"])
def test_simulated_limits_converge_to_exact_normal_limits(area):
    """For value_type 0 the simulated SII is exactly normal: its limits must match
    ``SII +/- z sqrt(g' diag(se^2) g)`` up to Monte Carlo error (100,000 draws)."""
    pop, y, se = np.array(POP[area], float), np.array(VALUE[area]), np.array(SE[area])
    share = pop / pop.sum()
    X = np.column_stack([np.ones(10), ridit_midpoints(pop)])
    g = np.linalg.solve(X.T @ (share[:, None] * X), X.T * share)[1]
    sd = float(np.sqrt(g**2 @ se**2))
    r = phe_sii(y, pop, se=se, repetitions=100_000, seed=1)
    z = stats.norm.ppf(0.975)
    assert r["sii_low"] == pytest.approx(r["sii"] - z * sd, abs=0.02 * sd)
    assert r["sii_high"] == pytest.approx(r["sii"] + z * sd, abs=0.02 * sd)
    assert phe_sii(y, pop, se=se, repetitions=100_000, seed=1) == r  # seeded: reproducible


def test_limits_from_confidence_limits_match_limits_from_se():
    """phe_sii's example: supplying the 95% limits instead of the SE gives the same result."""
    a = phe_sii(VALUE["Area1"], POP["Area1"], se=SE["Area1"], repetitions=50_000, seed=3)
    b = phe_sii(VALUE["Area1"], POP["Area1"], lower_cl=LOWER["Area1"],
                upper_cl=UPPER["Area1"], repetitions=50_000, seed=3)
    assert b["sii_low"] == pytest.approx(a["sii_low"], abs=0.05)
    assert b["sii_high"] == pytest.approx(a["sii_high"], abs=0.05)


def test_negative_multiplier_flips_sii_and_inverts_rii():
    a = phe_sii(VALUE["Area2"], POP["Area2"], se=SE["Area2"], repetitions=2000, seed=0)
    b = phe_sii(VALUE["Area2"], POP["Area2"], se=SE["Area2"], repetitions=2000, seed=0,
                multiplier=-1)
    assert b["sii"] == pytest.approx(-a["sii"])
    assert (b["sii_low"], b["sii_high"]) == pytest.approx((-a["sii_high"], -a["sii_low"]))
    assert b["rii"] == pytest.approx(1 / a["rii"])
    # inverted draws sit one order statistic apart (positions round(R a/2), as phe_sii)
    assert (b["rii_low"], b["rii_high"]) == pytest.approx((1 / a["rii_high"], 1 / a["rii_low"]),
                                                          rel=1e-3)


def test_proportions_simulation_and_analytic_agree():
    x, n = [50, 60, 70, 80, 90], [1000, 1100, 900, 1000, 950]
    sim = sii_proportions(x, n, repetitions=100_000, seed=2)
    ana = sii_proportions(x, n, method="analytic")
    assert sim["sii"] == ana["sii"]
    assert sim["sii_low"] == pytest.approx(ana["sii_low"], abs=0.002)
    assert sim["sii_high"] == pytest.approx(ana["sii_high"], abs=0.002)


def test_sii_change_is_difference_of_points():
    before = ([50, 60, 70, 80, 90], [1000] * 5)
    after = ([90, 85, 80, 85, 90], [1000] * 5)
    c = sii_change(before, after, repetitions=20_000)
    p0 = sii_point(np.array(before[0]) / 1000, before[1])["sii"]
    p1 = sii_point(np.array(after[0]) / 1000, after[1])["sii"]
    assert c["sii_change"] == pytest.approx(p1 - p0)
    assert c["sii_change_low"] < c["sii_change"] < c["sii_change_high"]
    assert c["sii_change_high"] < 0  # the gradient clearly flattened


@pytest.mark.parametrize("kwargs, message", [
    ({"values": [1, 2], "population": [1, 0], "se": [1, 1]}, "positive"),
    ({"values": [1, 2], "population": [1, 1]}, "se"),
    ({"values": [1, 2], "population": [1, 1], "se": [1, 1], "repetitions": 10}, "1000"),
])
def test_bad_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        phe_sii(**kwargs)


def test_zero_proportion_has_no_logit_se():
    with pytest.raises(ValueError, match="0%"):
        sii_proportions([0, 5, 6], [10, 10, 10])
