"""UKHSA / PHEindicatormethods methods against the package's own published test expectations.

Source: https://github.com/ukhsa-collaboration/PHEindicatormethods at commit
093fd288d8f8949dbcfbed70049dbbf385b6141d, ``tests/testthat/testdata_Byars_Wilson.xlsx``,
``testdata_Rate.xlsx``, ``testdata_Proportion.xlsx``, ``testdata_DSR_ISR.xlsx`` and
``testdata_SII.xlsx``, copied cell for cell to ``tests/references/phe_*.csv`` (see
``references/README.md``). The package's testthat files (testByars.R, testWilson.R, testRates.R,
testProportions.R, testDSRs.R, testSII.R) compare its functions with these sheets using
``expect_equal``'s default tolerance (1.5e-8 relative) for the closed-form methods and 5%
relative for the simulated SII limits; we hold ours to 1e-12 relative where the sheet stores full
doubles, to the printed digits where it stores rounded ones (the non-independent DSRs: 8
decimals), and the simulated limits to 4 Monte Carlo SEs (as tests/test_inequality.py).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.stats import calculate_dsr, phe_proportion, phe_rate
from pipeline.stats.inequality import phe_sii, simulate_sii
from pipeline.stats.phe import byars_interval

REFERENCES = Path(__file__).resolve().parent / "references"
# PHEindicatormethods data/esp2013.rda: the 2013 European Standard Population, 19 age bands
ESP2013 = [5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000, 5500,
           5000, 4000, 2500, 1500, 1000]
LIMITS = ["lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl"]


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCES / name)


def _level(text: str) -> float:
    return float(text.rstrip("%"))


def _same(ours, theirs, rtol=1e-12, atol=0.0):
    """Equal to ``rtol``, with NaN exactly where the package gives NA."""
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


# --- Byar's interval and Wilson (testByars.R, testWilson.R) ----------------------------------

def test_byars_limits_match_package_sheet():
    """testdata_B_W, Byars rows: 65, 1045, 1 at 95%; 65, 1045, 10 and 1 at 99.8% (the lower
    limit of 1 at 99.8% is negative, hence NA in the package)."""
    sheet = _csv("phe_byars_wilson.csv").query("method == 'Byars'")
    assert len(sheet) == 7
    for level, rows in sheet.groupby("confidence"):
        lower, upper = byars_interval(rows["x"], _level(level))
        _same(lower, rows["lowercl"])
        _same(upper, rows["uppercl"])


def test_wilson_limits_match_package_sheet():
    """testdata_B_W, Wilson rows (65/100, 1045/5000, 0.445/1 at 95% and 99.8%)."""
    sheet = _csv("phe_byars_wilson.csv").query("method == 'Wilson'")
    assert len(sheet) == 6
    for level, rows in sheet.groupby("confidence"):
        out = phe_proportion(rows["x"], rows["n"], _level(level))
        _same(out["lowercl"], rows["lowercl"])
        _same(out["uppercl"], rows["uppercl"])


# --- phe_rate (testRates.R) -----------------------------------------------------------------

@pytest.mark.parametrize("multiplier", [100, 100_000])
def test_phe_rate_matches_package_sheet(multiplier):
    """testdata_Rate: 1, 5 (exact) and 20 ... 7.8 million events (Byar's), 95% and 99.8%,
    per 100 and per 100,000; missing numerator or denominator gives NA; 250 events in 220
    person-years (numerator above denominator is allowed for a rate)."""
    sheet = _csv("phe_rate.csv").query("multiplier == @multiplier")
    out = phe_rate(sheet["Numerator"], sheet["Denominator"], (0.95, 0.998), multiplier)
    for column in ["value", *LIMITS]:
        _same(out[column], sheet[column])
    assert list(out["method"].fillna("NA")) == list(sheet["method"].fillna("NA"))


def test_phe_rate_switches_to_exact_below_ten():
    """PHE's rule: 9 events take the exact chi-square limits, 10 take Byar's (the switch the
    package codes as ``if_else(x < 10, qchisq(...), byars_...)``)."""
    out = phe_rate([9, 10], [1000, 1000], multiplier=1000)
    assert list(out["method"]) == ["Exact", "Byars"]
    assert out["lowercl"][0] == pytest.approx(4.115373, abs=5e-7)  # chi2(0.025, 18) / 2
    assert out["uppercl"][0] == pytest.approx(17.084803, abs=5e-7)  # chi2(0.975, 20) / 2
    lower, upper = byars_interval([10])
    assert (out["lowercl"][1], out["uppercl"][1]) == (lower[0], upper[0])


def test_single_confidence_level_names_and_percent_input():
    """One level gives lowercl / uppercl; 99.8 and 0.998 are the same level (as the package)."""
    a = phe_rate([65], [100], 99.8, 100)
    b = phe_rate([65], [100], 0.998, 100)
    assert list(a.columns) == ["value", "lowercl", "uppercl", "method"]
    sheet = _csv("phe_rate.csv").query("Area == 'Area4' and multiplier == 100")
    _same(a["lowercl"], sheet["lower99_8cl"])
    pd.testing.assert_frame_equal(a, b)


# --- phe_proportion with a multiplier (testProportions.R) ------------------------------------

@pytest.mark.parametrize("multiplier", [1, 100])
def test_phe_proportion_matches_package_sheet(multiplier):
    """testdata_Prop: proportions (multiplier 1) and percentages (multiplier 100), 95% and
    99.8% Wilson limits; missing values give NA."""
    sheet = _csv("phe_proportion.csv").query("multiplier == @multiplier")
    out = phe_proportion(sheet["Numerator"], sheet["Denominator"], (0.95, 0.998), multiplier)
    for column in ["value", *LIMITS]:
        _same(out[column], sheet[column])


def test_phe_proportion_per_100000_is_the_proportion_scaled():
    """A multiplier of 100,000 scales value and limits alike (the package multiplies the
    Wilson limits): checked against the sheet's proportion row for 222 / 3215."""
    sheet = _csv("phe_proportion.csv").query("Area == 'Area7' and multiplier == 1")
    out = phe_proportion([222], [3215], (0.95, 0.998), multiplier=100_000)
    for column in ["value", *LIMITS]:
        _same(out[column], sheet[column] * 100_000)


# --- calculate_dsr (testDSRs.R) -------------------------------------------------------------

def _multiarea() -> pd.DataFrame:
    data = _csv("phe_dsr_multiarea.csv")
    data["esp2013"] = ESP2013 * data["area"].nunique()
    return data


@pytest.mark.parametrize("multiplier, rows", [(10_000, slice(0, 3)), (100_000, slice(4, 7))])
def test_dsr_matches_package_sheet(multiplier, rows):
    """testdata_multiarea (three areas x 19 age bands, ESP 2013) against testresults_DSR:
    'big' (895 events), 'small' (91) and 'tiny' (9: no DSR below 10 events, as the package),
    per 10,000 and per 100,000, 95% and 99.8% Dobson limits."""
    expected = _csv("phe_dsr_results.csv").iloc[rows].reset_index(drop=True)
    out = calculate_dsr(_multiarea(), "count", "pop", "esp2013", by=["area"],
                        confidence=(0.95, 0.998), multiplier=multiplier)
    assert list(out["area"]) == list(expected["area"])
    for column in ["total_count", "total_pop", "value", *LIMITS]:
        _same(out[column], expected[column])
    assert out["note"].iloc[2] == "DSR not calculated: total count < 10"


def test_dsr_with_user_standard_population():
    """testdata_1976 (ESP 1976, 18 bands, no grouping) against testresults_DSR row 4, per
    10,000 (the package's test checks the 95% columns only)."""
    expected = _csv("phe_dsr_results.csv").iloc[3]
    out = calculate_dsr(_csv("phe_dsr_1976.csv"), "count", "pop", "esp1976", multiplier=10_000)
    for ours, theirs in [("total_count", "total_count"), ("value", "value"),
                         ("lowercl", "lower95_0cl"), ("uppercl", "upper95_0cl")]:
        assert out[ours].iloc[0] == pytest.approx(expected[theirs], rel=1e-12)


def _nonindependent() -> pd.DataFrame:
    """testdata_nonindepe pivoted as the package's data-raw/LoadTestdata.R: one row per area,
    age band and event frequency; f4 dropped for the dummy, small and tiny areas."""
    wide = _csv("phe_dsr_nonindependent.csv").drop(columns="count")
    wide["esp2013"] = ESP2013 * wide["area"].nunique()
    long = wide.melt(id_vars=["area", "ageband", "pop", "esp2013"], var_name="freq",
                     value_name="persons")
    long["freq"] = long["freq"].str[1:].astype(int)
    return long[(long["area"] == "testdata_nonind_big") | (long["freq"] < 4)]


def test_dsr_non_independent_events_matches_package_sheet():
    """testresults_DSR rows 9-12 (``independent_events = FALSE``, eventfreq / ageband): same
    DSR as with independent events, wider limits; the sheet prints 8 decimals."""
    expected = _csv("phe_dsr_results.csv").iloc[8:12].reset_index(drop=True)
    out = calculate_dsr(_nonindependent(), "persons", "pop", "esp2013", by=["area"],
                        confidence=(0.95, 0.998), independent_events=False, eventfreq="freq",
                        ageband="ageband")
    assert list(out["area"]) == list(expected["area"])
    for column in ["total_count", "total_pop", "value", *LIMITS]:
        _same(out[column], expected[column], rtol=0, atol=1e-8)
    assert set(out["method"]) == set(expected["method"])
    # the adjustment matters: 'big' has the same events as testdata_big but wider limits
    independent = calculate_dsr(_multiarea(), "count", "pop", "esp2013", by=["area"])
    assert out["value"].iloc[0] == pytest.approx(independent["value"].iloc[0], rel=1e-12)
    assert out["lower95_0cl"].iloc[0] < independent["lowercl"].iloc[0] - 150


def test_dsr_errors_name_the_column():
    data = _multiarea()
    with pytest.raises(ValueError, match="'people' is not in the data"):
        calculate_dsr(data, "count", "people", "esp2013")
    bad = data.assign(pop=data["pop"].where(data.index != 3, 0))
    with pytest.raises(ValueError, match="'pop' must be greater than zero"):
        calculate_dsr(bad, "count", "pop", "esp2013")
    with pytest.raises(ValueError, match="eventfreq and ageband"):
        calculate_dsr(data, "count", "pop", "esp2013", independent_events=False)
    clash = _nonindependent()
    clash.loc[clash.index[0], "pop"] = 1  # package's test_DSR_nonind_err1
    with pytest.raises(ValueError, match="different 'pop' or 'esp2013'"):
        calculate_dsr(clash, "persons", "pop", "esp2013", by=["area"],
                      independent_events=False, eventfreq="freq", ageband="ageband")


@pytest.mark.parametrize("call, message", [
    (lambda: phe_rate([-1], [10]), "numerators must all be zero or more"),
    (lambda: phe_rate([1], [0]), "denominators must all be greater than zero"),
    (lambda: phe_proportion([11], [10]), "exceeds its denominator"),
    (lambda: phe_proportion([1], [10], 0.7), "between 0.9 and 1"),
    (lambda: phe_rate([1], [10], (0.9, 0.95, 0.99)), "one or two confidence levels"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- phe_sii(transform = TRUE) (testSII.R) -------------------------------------------------

def _mc_tol(draws, p, mapped):
    """4 SEs of the difference of two independent runs (ours and PHE's) of the p-quantile,
    carried through the monotone back-transformation ``mapped``."""
    d = 0.005
    q_lo, q_hi = np.quantile(draws, [p - d, p + d])
    se = np.sqrt(p * (1 - p) / draws.size) * (q_hi - q_lo) / (2 * d)
    q = np.quantile(draws, p)
    return 4 * np.sqrt(2) * abs(mapped(q + se) - mapped(q))


SII_CASES = {  # first record of each test block -> (value_type, confidence, multiplier)
    306: (1, 0.95, 1), 346: (2, 0.95, -1), 326: (2, 0.95, 1), 386: (1, 0.95, -1),
    406: (1, 0.98, 1), 466: (2, 0.98, 1),
}


@pytest.mark.parametrize("start", sorted(SII_CASES))
@pytest.mark.parametrize("area", [0, 1])
def test_sii_transform_matches_package_sheet(start, area):
    """testdata_SII records 306-485: log (rates) and logit (proportions) transformed SII, RII
    and intercept, 95% and 98%, multiplier 1 and -1, 100,000 repetitions. Points to the
    sheet's full precision; limits within 4 Monte Carlo SEs of two independent runs."""
    value_type, confidence, multiplier = SII_CASES[start]
    sheet = _csv("phe_sii_transform.csv")
    first = start + 10 * area
    rows = sheet[(sheet["RecordNo"] >= first) & (sheet["RecordNo"] < first + 10)]
    head = rows.iloc[0]
    assert int(head["ValueType"]) == value_type and (multiplier < 0) == ("negative" in
                                                                         head["TestDescription"])
    args = dict(lower_cl=rows["LowerCL"], upper_cl=rows["UpperCL"], value_type=value_type,
                confidence=confidence, multiplier=multiplier, seed=12)
    r = phe_sii(rows["Value"], rows["Population"], transform=True, **args)
    for ours, theirs in [("sii", "sii"), ("rii", "rii"), ("intercept", "Intercept")]:
        assert r[ours] == pytest.approx(head[theirs], rel=1e-10)

    slopes, _ = simulate_sii(rows["Value"], rows["Population"], lower_cl=rows["LowerCL"],
                             upper_cl=rows["UpperCL"], value_type=value_type, seed=12,
                             transform=True)
    fwd = np.log if value_type == 1 else (lambda p: np.log(p / (1 - p)))
    back = np.exp if value_type == 1 else (lambda e: 1 / (1 + np.exp(-e)))
    t = fwd(rows["Value"].to_numpy())
    share = rows["Population"].to_numpy() / rows["Population"].sum()
    rank = np.cumsum(share) - share / 2
    c1 = np.sum(share * (rank - np.sum(share * rank)) * t) / np.sum(share * (rank - np.sum(
        share * rank)) ** 2)
    mid = np.sum(share * t) - c1 * np.sum(share * rank) + c1 / 2

    def sii_of(s):
        return multiplier * (back(mid + s / 2) - back(mid - s / 2))

    def rii_of(s):
        ratio = back(mid + s / 2) / back(mid - s / 2)
        return 1 / ratio if multiplier < 0 else ratio

    alpha = 1 - confidence
    low_p, high_p = (1 - alpha / 2, alpha / 2) if multiplier < 0 else (alpha / 2, 1 - alpha / 2)
    assert r["sii_low"] == pytest.approx(head["sii_lowercl_1"],
                                         abs=_mc_tol(slopes, low_p, sii_of))
    assert r["sii_high"] == pytest.approx(head["sii_uppercl_1"],
                                          abs=_mc_tol(slopes, high_p, sii_of))
    assert r["rii_low"] == pytest.approx(head["rii_lowercl_1"],
                                         abs=_mc_tol(slopes, low_p, rii_of))
    assert r["rii_high"] == pytest.approx(head["rii_uppercl_1"],
                                          abs=_mc_tol(slopes, high_p, rii_of))
    # the tolerance is meaningful: under a tenth of the interval's width
    width = head["sii_uppercl_1"] - head["sii_lowercl_1"]
    assert _mc_tol(slopes, alpha / 2, sii_of) < 0.1 * abs(width)


def test_sii_transform_differs_from_untransformed_and_checks_inputs():
    """transform=True is a different estimate from the natural-scale fit (records 306-315:
    -3.156 against the linear SII), and refuses what phe_sii refuses."""
    rows = _csv("phe_sii_transform.csv").query("306 <= RecordNo <= 315")
    args = dict(lower_cl=rows["LowerCL"], upper_cl=rows["UpperCL"], value_type=1,
                repetitions=1000)
    linear = phe_sii(rows["Value"], rows["Population"], **args)["sii"]
    logged = phe_sii(rows["Value"], rows["Population"], transform=True, **args)["sii"]
    assert logged == pytest.approx(-3.1559071389545599, rel=1e-10)
    assert abs(linear - logged) > 0.05
    with pytest.raises(ValueError, match="value_type 1"):
        phe_sii(rows["Value"], rows["Population"], transform=True,
                **{**args, "value_type": 0})
    with pytest.raises(ValueError, match="not se"):
        phe_sii(rows["Value"], rows["Population"], se=rows["StandardError"], transform=True,
                value_type=1, repetitions=1000)


def test_sii_transform_fractional_multiplier_keeps_limits_ordered():
    """Deliberate difference from the package (docs/statistics.md section 4): a multiplier of
    0.5 halves the SII and its limits, in order, and leaves the RII as with multiplier 1."""
    rows = _csv("phe_sii_transform.csv").query("306 <= RecordNo <= 315")
    args = dict(lower_cl=rows["LowerCL"], upper_cl=rows["UpperCL"], value_type=1,
                transform=True, repetitions=10_000, seed=3)
    one = phe_sii(rows["Value"], rows["Population"], **args)
    half = phe_sii(rows["Value"], rows["Population"], multiplier=0.5, **args)
    assert half["sii_low"] < half["sii"] < half["sii_high"]
    for key in ("sii", "sii_low", "sii_high"):
        assert half[key] == pytest.approx(0.5 * one[key], rel=1e-12)
    for key in ("rii", "rii_low", "rii_high"):
        assert half[key] == pytest.approx(one[key], rel=1e-12)
