"""Reproduce the Sicily smoking-ban models M1-M4 through ``fit_its``.

Source: Lopez Bernal J, Cummins S, Gasparrini A. Interrupted time series regression for the
evaluation of public health interventions: a tutorial. Int J Epidemiol 2017;46(1):348-355
(doi:10.1093/ije/dyw098), with its 2020 correction (doi:10.1093/ije/dyaa118); data and R code
from the authors' repository ``gasparrini/2017_lopezbernal_IJE_codedata``. Reference values
as tabulated in ``references/README.md`` (R ``glm``, Wald intervals exp(b +/- 1.959964 SE)).

Tolerances (from the README): rate ratios 1e-8 absolute, CI limits 1e-6 absolute, dispersion
and SEs 1e-5 relative; R's glm stops iterating earlier than our tighter IRLS, hence these
rather than machine precision.

The published intervals are Wald intervals with the normal quantile 1.959964 for every model,
quasi-Poisson included, while our default for the estimated-dispersion families is t on the
residual df (``ci_quantile: "t"``, R's ``summary.glm`` convention for the p-values of quasi
families). So every fit here sets ``ci_quantile: "normal"`` explicitly to reproduce the paper;
``test_m2_default_t_quantile`` checks the default against R's t-test p-value.

The Sicily slope term is ``smokban * (time - 36)``, i.e. 1 in January 2005 (time 37), the
first month of the ban: the slope coding of ``pipeline.stats.its_design``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.stats.its import fit_its

# A copy of ../shared/references (the published data and results), kept in the repository so
# the test runs, and can fail, on any clone.
REFERENCES = Path(__file__).resolve().parent / "references"
RR_TOL, CI_TOL, REL_TOL = 1e-8, 1e-6, 1e-5
LEVEL_ONLY = {"name": "smoking ban", "start": "2005-01", "change": "level"}
LEVEL_SLOPE = {"name": "smoking ban", "start": "2005-01"}
FOURIER = {"seasonality": "fourier", "harmonics": 2}


@pytest.fixture(scope="module")
def sicily() -> pd.DataFrame:
    raw = pd.read_csv(REFERENCES / "sicily.csv")
    return pd.DataFrame({
        "month": pd.to_datetime(raw[["year", "month"]].assign(day=1)),
        "unit": "sicily",
        "numerator": raw["aces"],
        "denominator": raw["stdpop"],  # offset log(stdpop)
    })


def _fit(sicily, family, phase, **extra):
    spec = {"family": family, "errors": "independent", "phases": [phase], "horizons": [],
            "ci_quantile": "normal", **extra}  # the paper's intervals use 1.959964
    result = fit_its(sicily, spec)
    return result, result.effects.set_index("estimand")


def _assert_row(row, estimate, low, high):
    assert row["estimate"] == pytest.approx(estimate, abs=RR_TOL)
    assert row["ci_low"] == pytest.approx(low, abs=CI_TOL)
    assert row["ci_high"] == pytest.approx(high, abs=CI_TOL)


def test_m1_poisson(sicily):
    """M1: Poisson, smokban + time. RR 0.894376508 (0.864686417, 0.925086046); time RR 1.004957239."""
    result, eff = _fit(sicily, "poisson", LEVEL_ONLY)
    _assert_row(eff.loc["level_change_rr"], 0.894376508, 0.864686417, 0.925086046)
    assert eff.loc["pre_trend_rr", "estimate"] == pytest.approx(1.004957239, abs=RR_TOL)


def test_m2_quasipoisson(sicily):
    """M2: quasi-Poisson. RR 0.894376508 (0.839189004, 0.953193303); dispersion 3.559187;
    t-test p (56 df) 1.122e-03 (R's summary.glm uses t for quasi families; our table uses z,
    so the t p-value is recomputed here from our estimate and SE)."""
    result, eff = _fit(sicily, "quasipoisson", LEVEL_ONLY)
    _assert_row(eff.loc["level_change_rr"], 0.894376508, 0.839189004, 0.953193303)
    assert result.diagnostics["dispersion"] == pytest.approx(3.559187, rel=REL_TOL)
    se = np.sqrt(result.cov.loc["level[smoking ban]", "level[smoking ban]"])
    t_stat = result.params["level[smoking ban]"] / se
    assert result.diagnostics["df_resid"] == 56
    assert 2 * stats.t.sf(abs(t_stat), 56) == pytest.approx(1.122e-03, abs=5e-7)


def test_m2_default_t_quantile(sicily):
    """M2 with the default ``ci_quantile`` ("t" for quasi-Poisson): the table's p-value is R's
    ``summary.glm`` t-test p-value on 56 df (1.122e-03), and the interval is
    exp(b +/- t_{0.975, 56} SE), wider than the published normal-quantile one."""
    result = fit_its(sicily, {"family": "quasipoisson", "phases": [LEVEL_ONLY], "horizons": []})
    eff = result.effects.set_index("estimand")
    assert eff.loc["level_change", "p_value"] == pytest.approx(1.122e-03, abs=5e-7)
    b = result.params["level[smoking ban]"]
    se = np.sqrt(result.cov.loc["level[smoking ban]", "level[smoking ban]"])
    q = stats.t.ppf(0.975, 56)
    assert eff.loc["level_change_rr", "ci_low"] == pytest.approx(np.exp(b - q * se), rel=1e-12)
    assert eff.loc["level_change_rr", "ci_high"] == pytest.approx(np.exp(b + q * se), rel=1e-12)
    assert eff.loc["level_change_rr", "ci_low"] < 0.839189004


def test_m3_quasipoisson_fourier(sicily):
    """M3: M2 + sin/cos(2 pi k month / 12), k = 1, 2. RR 0.885071547 (0.839400956, 0.933227010);
    dispersion 2.262183; annual trend exp(12 b_time) 1.066807597."""
    result, eff = _fit(sicily, "quasipoisson", LEVEL_ONLY, **FOURIER)
    _assert_row(eff.loc["level_change_rr"], 0.885071547, 0.839400956, 0.933227010)
    assert result.diagnostics["dispersion"] == pytest.approx(2.262183, rel=REL_TOL)
    assert eff.loc["pre_trend_rr", "estimate"] ** 12 == pytest.approx(1.066807597, abs=RR_TOL)


def test_m4_slope_change(sicily):
    """M4: M3 + smokban*(time-36). RR 0.876464418 (0.826753210, 0.929164673); slope change
    RR per month 1.001483327 (0.997849532, 1.005130355); dispersion 2.274558."""
    result, eff = _fit(sicily, "quasipoisson", LEVEL_SLOPE, **FOURIER)
    _assert_row(eff.loc["level_change_rr"], 0.876464418, 0.826753210, 0.929164673)
    _assert_row(eff.loc["slope_change_rr"], 1.001483327, 0.997849532, 1.005130355)
    assert result.diagnostics["dispersion"] == pytest.approx(2.274558, rel=REL_TOL)


def test_m3_against_m4_f_test(sicily):
    """M3 vs M4 (R ``anova(m3, m4, test="F")``): F = 0.63879 on (1, 51) df, p = 0.42786.
    F = (deviance difference / 1) / dispersion of M4."""
    m3, _ = _fit(sicily, "quasipoisson", LEVEL_ONLY, **FOURIER)
    m4, _ = _fit(sicily, "quasipoisson", LEVEL_SLOPE, **FOURIER)
    f_stat = (m3.model_results.deviance - m4.model_results.deviance) / m4.diagnostics["dispersion"]
    assert m4.diagnostics["df_resid"] == 51
    assert f_stat == pytest.approx(0.63879, abs=5e-6)
    assert stats.f.sf(f_stat, 1, 51) == pytest.approx(0.42786, abs=5e-6)
