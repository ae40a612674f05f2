"""SII and RII following PHE's method (PHEindicatormethods::phe_sii; Low & Low 2004).

Published worked example (reproduced end to end below)
------------------------------------------------------
PHEindicatormethods 1.3.2 (CRAN, 2020-06-23), vignette "Worked examples for phe_sii function"
(Emma Clegg), rendered ``inst/doc/WorkedExamples_phe_sii.html`` of the CRAN source package
(https://cran.r-project.org/package=PHEindicatormethods, archive
``src/contrib/Archive/PHEindicatormethods/PHEindicatormethods_1.3.2.tar.gz``; read from the
GitHub mirror https://github.com/cran/PHEindicatormethods at commit
09d6b75598b2aea1938ee8f33bb3b6c48fc451fb). Its printed tables give, for three examples:

* Example 1 (life expectancy, ``value_type = 0``, SE given, 1,000 repetitions): ``sii``,
  ``sii_lower95_0cl``, ``sii_upper95_0cl`` for ``LE_data`` by Sex x GeoCode;
* Example 2 (DSRs, ``value_type = 1``, 95% limits given, default 100,000 repetitions,
  ``rii = TRUE``): ``sii``, ``rii`` and their 95% limits for ``DSR_data`` by Period 2010-2015;
* Example 3 (NCMP obesity prevalence, ``value_type = 2``, limits given, 100,000 repetitions,
  ``multiplier = -100``): ``sii`` and limits for ``prevalence_data`` by Period x SchoolYear.

The example datasets ship as binary ``.rda`` files; their values were taken from the CSVs in the
package repository (https://github.com/ukhsa-collaboration/PHEindicatormethods,
``tests/testthat/DSR_testdata.csv`` commit 1dbbdc08e5b8df8c06d9f3bb491f931775752bdd,
``tests/testthat/LE_testdata.csv`` and ``NCMP_testdata.csv`` commit
fcc3e35735abfb3b7e979097f56850931b849bef). That these CSVs are the vignette's data is shown by
the point estimates, which agree to every printed digit (6 SIIs and 6 RIIs of Example 2, 2 SIIs of
Example 1, 2 SIIs of Example 3).
Later releases (2.x) changed the rate example to ``transform = TRUE`` (a log-scale SII), so the
numbers here are pinned to 1.3.2; the transformed SII is tested against the 2.x test workbook in
``tests/test_phe_methods.py``.

Monte Carlo tolerance: PHE's limits are one simulation run with an unknown seed; ours is another
(seeded). Each order-statistic limit has Monte Carlo SE ``sqrt(p (1 - p) / R) / f(q_p)``
(asymptotic SE of a sample quantile; ``f`` estimated from our own draws). Two independent runs
differ with SE ``sqrt(2)`` times that; we allow 4 such SEs. (PHE's own ``sii_mad95_0`` /
``rii_mad95_0`` reliability statistics printed in the vignette, e.g. 0.0187 / 0.000119 for 2010,
are of the same size as this SE: 0.017 / 0.00012.) For Example 1 (``value_type = 0``) the
limits are compared with the exact normal limits the simulation converges to, allowing 4 Monte
Carlo SEs of PHE's 1,000-draw run. Its 99.8% limits are not checked: with 1,000 draws they are
the 1st and 999th order statistics.

Other sources:
* PHEindicatormethods ``phe_sii`` documentation (section "Calculation"): the relative rank of
  a quantile is the midpoint of its cumulative population share (12% -> 0.06; a following 10%
  -> 0.17), the regression ``Y sqrt(a) = b0 sqrt(a) + b1 b sqrt(a)`` and ``RII = (Y0 + SII) /
  Y0``; its roxygen example data (two areas x 10 deciles, life expectancy with SEs and 95%
  limits) are used as inputs below.
* The point estimate is also checked against statsmodels' weighted least squares (an
  independent implementation of the same regression), the simulated limits against the exact
  normal limits they converge to for ``value_type = 0`` (the SII is linear in the values).
* PHE's unit-test expectations (``tests/testthat/testdata_SII.xlsx``) are a binary spreadsheet
  and were not read; the vignette above is the published reference.
"""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from pipeline.stats.inequality import (phe_sii, ridit_midpoints, sii_change, sii_point,
                                       sii_proportions, simulate_sii)

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


# --- PHEindicatormethods 1.3.2 vignette "Worked examples for phe_sii function" -------------
# Inputs: the package's example datasets (see module docstring for where the values come from).

# DSR_data (tests/testthat/DSR_testdata.csv): Period -> quintile 1..5 (1 = most deprived)
DSR = {
    2010: ([1434002, 1450590, 1453827, 1440980, 1457780],
           [150.2200205, 131.0221747, 127.4954973, 130.494241, 135.4664241],
           [147.3194185, 128.3676972, 125.0421198, 128.2469515, 133.2469515],
           [153.1498241, 133.7051129, 129.975513, 132.7657553, 137.8657553]),
    2011: ([1445258, 1467772, 1470806, 1454888, 1457780],
           [148.4061234, 131.7211691, 125.0341288, 130.3084574, 135.4664241],
           [145.5359227, 129.0779928, 122.6267941, 128.0909634, 133.2469515],
           [151.3052827, 134.3924424, 127.4677057, 132.549757, 137.8657553]),
    2012: ([1456919, 1482837, 1486250, 1467811, 1457780],
           [146.3620464, 130.836935, 123.9613632, 129.1611122, 135.4664241],
           [143.5339285, 128.2283616, 121.5935782, 126.9843883, 133.2469515],
           [149.218782, 133.4731892, 126.3549356, 131.361204, 137.8657553]),
    2013: ([1471562, 1499928, 1502931, 1481042, 1457780],
           [144.6298219, 130.2174816, 123.4222104, 127.5460197, 135.4664241],
           [141.8398707, 127.6418787, 121.0885952, 125.4162627, 133.2469515],
           [147.4480316, 132.8203233, 125.781154, 129.6986819, 137.8657553]),
    2014: ([1490242, 1519238, 1521454, 1495993, 1457780],
           [144.7302585, 128.7774474, 123.0128932, 126.4499704, 135.4664241],
           [141.9631164, 126.2475781, 120.7189438, 124.3638326, 133.2469515],
           [147.5252412, 131.3340493, 125.3316289, 128.5585283, 137.8657553]),
    2015: ([1508923, 1538008, 1538564, 1509602, 1457780],
           [143.8177637, 127.2058426, 122.4106945, 126.3922397, 135.4664241],
           [141.0941843, 124.7351196, 120.1654081, 124.3450367, 133.2469515],
           [146.568661, 129.7026732, 124.6801651, 128.4613495, 137.8657553]),
}
# Vignette Example 2 printed output: sii, rii, sii_lower95_0cl, sii_upper95_0cl,
# rii_lower95_0cl, rii_upper95_0cl
DSR_PUBLISHED = {
    2010: (-14.848683, 0.8956758, -18.94895, -10.767618, 0.8689296, 0.9231619),
    2011: (-13.528326, 0.9039924, -17.59739, -9.440905, 0.8770905, 0.9319611),
    2012: (-11.680045, 0.9159389, -15.71630, -7.668494, 0.8886555, 0.9439264),
    2013: (-10.544273, 0.9232984, -14.53828, -6.573173, 0.8959216, 0.9514144),
    2014: (-10.591214, 0.9226440, -14.50746, -6.646637, 0.8956632, 0.9506939),
    2015: (-9.042367, 0.9332670, -12.97108, -5.145767, 0.9057449, 0.9614199),
}

# LE_data (tests/testthat/LE_testdata.csv), Sex 1: GeoCode -> (Pop, LifeExp, SE) by decile
LE = {
    "E06000001": ([13837, 14519, 14940, 14599, 12311, 13196, 13335, 13388, 13685, 11779],
                  [70.56313911, 72.61347473, 75.06710359, 75.20662276, 76.23469045,
                   75.21801932, 77.09240397, 79.84156222, 80.81329918, 82.73763832],
                  [1.133868862, 1.020288759, 1.108685178, 1.485618539, 1.311653285,
                   1.169033147, 1.306645801, 1.090905616, 0.979426096, 1.319452272]),
    "E06000002": ([21675, 20065, 19750, 24713, 20112, 19618, 22408, 19752, 18939, 19312],
                  [70.54853186, 71.57155734, 72.48698671, 73.51985519, 73.14605425,
                   76.15898712, 78.65444871, 80.56476961, 80.85486627, 79.9711253],
                  [0.947488056, 1.043688022, 0.969320245, 1.023567868, 1.006757968,
                   0.906037647, 0.724013864, 1.118131371, 0.848327099, 0.94159082]),
}
# Vignette Example 1 printed output (1,000 repetitions): sii, sii_lower95_0cl, sii_upper95_0cl
LE_PUBLISHED = {"E06000001": (11.68886, 9.384847, 14.20602),
                "E06000002": (12.54785, 10.390660, 14.63612)}

# prevalence_data (tests/testthat/NCMP_testdata.csv), Period 607, England: SchoolYear ->
# (Measured, Rate %, LCL %, UCL %) by decile
NCMP = {
    "6": ([34353, 32112, 27715, 25372, 23889, 23260, 23180, 24193, 23609, 24488],
          [21.2121212121212, 21.4281265570503, 20.4077214504781, 19.1865048084503,
           17.4808489262841, 16.6638005159071, 15.6039689387403, 14.6571322283305,
           14.0370197805921, 12.0875530872264],
          [20.7830499225555, 20.9827711465288, 19.9373517258999, 18.7066648694241,
           17.0044640703038, 16.190410576997, 15.1425075468518, 14.2170753783533,
           13.5997670936376, 11.6852009907382],
          [21.6476300812899, 21.8803170788612, 20.8862933590925, 19.675673996565,
           17.9676905527535, 17.148199783417, 16.0768288675927, 15.1084110529924,
           14.4859737537153, 12.5017980504761]),
    "R": ([36111, 31803, 26681, 24184, 23023, 21506, 22197, 23679, 23271, 23464],
          [12.0794217828363, 11.7410307203723, 11.3638919080994, 10.5896460469732,
           10.0073839204274, 9.41132707151493, 8.730909582376, 8.36606275602855,
           7.97559193846418, 6.96812137742925],
          [11.7473271937339, 11.3918517825361, 10.9886239767609, 10.2080757108839,
           9.62638859468932, 9.02830437346462, 8.36665612937408, 8.02012076260088,
           7.63441201710209, 6.64933849950753],
          [12.4195834343315, 12.0994510822713, 11.7502836842961, 10.9837345114021,
           10.4017228033421, 9.80884729303046, 9.10944479237356, 8.72551115710111,
           8.33064392278473, 7.30099206057122]),
}
# Vignette Example 3 printed output (multiplier -100): sii, sii_lower95_0cl, sii_upper95_0cl
NCMP_PUBLISHED = {"6": (10.720032, 10.219930, 11.216222), "R": (5.818547, 5.413881, 6.214953)}

REPS = 100_000


def _mc_se_of_limit(draws, p):
    """Monte Carlo SE of the p-quantile of len(draws) draws: sqrt(p(1-p)/R) / f(q_p), with the
    density estimated by the spread of the draws' quantiles at p +/- 0.005."""
    d = 0.005
    q_lo, q_hi = np.quantile(draws, [p - d, p + d])
    return float(np.sqrt(p * (1 - p) / draws.size) * (q_hi - q_lo) / (2 * d))


def _tol(draws, p, scale=1.0):
    """4 SEs of the difference of two independent R-draw runs (ours and PHE's)."""
    return 4 * np.sqrt(2) * abs(scale) * _mc_se_of_limit(draws, p)


@pytest.mark.parametrize("period", sorted(DSR))
def test_phe_vignette_example2_rate_sii_rii(period):
    """PHEindicatormethods 1.3.2 vignette "Worked examples for phe_sii function", Example 2
    (DSR_data, value_type = 1, 95% limits supplied, 100,000 repetitions, rii = TRUE).

    Source: https://cran.r-project.org/package=PHEindicatormethods (version 1.3.2,
    inst/doc/WorkedExamples_phe_sii.html; GitHub mirror cran/PHEindicatormethods @ 09d6b755).
    Point SII and RII must agree to every printed digit; limits within Monte Carlo error."""
    pop, value, lower, upper = DSR[period]
    sii, rii, s_lo, s_hi, r_lo, r_hi = DSR_PUBLISHED[period]
    r = phe_sii(value, pop, lower_cl=lower, upper_cl=upper, value_type=1, repetitions=REPS,
                seed=2024)
    assert r["sii"] == pytest.approx(sii, abs=5e-7)  # printed to 6 decimals
    assert r["rii"] == pytest.approx(rii, abs=5e-8)  # printed to 7 decimals
    s_draws, r_draws = simulate_sii(value, pop, lower_cl=lower, upper_cl=upper, value_type=1,
                                    repetitions=REPS, seed=2024)
    assert r["sii_low"] == pytest.approx(s_lo, abs=_tol(s_draws, 0.025))
    assert r["sii_high"] == pytest.approx(s_hi, abs=_tol(s_draws, 0.975))
    assert r["rii_low"] == pytest.approx(r_lo, abs=_tol(r_draws, 0.025))
    assert r["rii_high"] == pytest.approx(r_hi, abs=_tol(r_draws, 0.975))
    # the tolerance is meaningful: about 0.1 on the SII (interval width ~8) and 0.0007 on the RII
    assert _tol(s_draws, 0.025) < 0.12 and _tol(r_draws, 0.025) < 0.001


@pytest.mark.parametrize("area", sorted(LE))
def test_phe_vignette_example1_life_expectancy(area):
    """PHEindicatormethods 1.3.2 vignette, Example 1 (LE_data, Sex 1, value_type = 0, SE
    supplied, 1,000 repetitions). PHE's limits are compared with the exact normal limits their
    simulation converges to (the SII is linear in the values), within 4 Monte Carlo SEs of a
    1,000-draw 2.5% / 97.5% order statistic."""
    pop, value, se = LE[area]
    sii, s_lo, s_hi = LE_PUBLISHED[area]
    assert sii_point(value, pop)["sii"] == pytest.approx(sii, abs=5e-6)  # printed to 5 d.p.
    pop_a, se_a = np.array(pop, float), np.array(se)
    share = pop_a / pop_a.sum()
    X = np.column_stack([np.ones(10), ridit_midpoints(pop_a)])
    g = np.linalg.solve(X.T @ (share[:, None] * X), X.T * share)[1]
    sd = float(np.sqrt(g**2 @ se_a**2))
    z = stats.norm.ppf(0.975)
    mc_se = sd * np.sqrt(0.025 * 0.975 / 1000) / stats.norm.pdf(z)  # ~0.1 here
    assert s_lo == pytest.approx(sii - z * sd, abs=4 * mc_se)
    assert s_hi == pytest.approx(sii + z * sd, abs=4 * mc_se)
    r = phe_sii(value, pop, se=se, repetitions=REPS, seed=7)  # ours, with 100,000 draws
    assert r["sii_low"] == pytest.approx(s_lo, abs=4 * mc_se + 0.02 * sd)
    assert r["sii_high"] == pytest.approx(s_hi, abs=4 * mc_se + 0.02 * sd)


@pytest.mark.parametrize("year", sorted(NCMP))
def test_phe_vignette_example3_proportion_negative_multiplier(year):
    """PHEindicatormethods 1.3.2 vignette, Example 3 (prevalence_data, Period 607, England;
    value_type = 2 with Rate, LCL, UCL / 100; 100,000 repetitions; multiplier = -100) - the
    orientation the equity tables use (most minus least deprived)."""
    pop, rate, lcl, ucl = NCMP[year]
    sii, s_lo, s_hi = NCMP_PUBLISHED[year]
    p, lo, hi = (np.array(x) / 100 for x in (rate, lcl, ucl))
    r = phe_sii(p, pop, lower_cl=lo, upper_cl=hi, value_type=2, repetitions=REPS,
                multiplier=-100, seed=2024)
    assert r["sii"] == pytest.approx(sii, abs=5e-7)  # printed to 6 decimals
    s_draws, _ = simulate_sii(p, pop, lower_cl=lo, upper_cl=hi, value_type=2,
                              repetitions=REPS, seed=2024)
    # multiplier -100: our lower limit is -100 x the upper 97.5% draw, and vice versa
    assert r["sii_low"] == pytest.approx(s_lo, abs=_tol(s_draws, 0.975, 100))
    assert r["sii_high"] == pytest.approx(s_hi, abs=_tol(s_draws, 0.025, 100))
    assert _tol(s_draws, 0.025, 100) < 0.02
