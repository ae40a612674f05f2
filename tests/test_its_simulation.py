"""Fast version of the simulation study (benchmarks/its_simulation.py, 1,000 series per cell).

Same cells, same code, fewer series: 200 per cell (100 for the slower AR and negative binomial
fits) with and without an effect. Bounds are the benchmark's targets widened to about 3 Monte
Carlo SEs at these sizes: coverage 0.90-0.99 (SE 1.5 points at 200), type I error 0.01-0.10,
relative bias under 10% (the level changes are 3-5 SEs, so the Monte Carlo SE of the bias is
1-2% of the truth). The gaussian HAC cells use 300 series (SE 1.26 points): at 200 the
120-month cell's null series happen to give 1 rejection (0.5%) - in blocks of 200 the first
1,000 null series give 1, 14, 10, 14 and 14 rejections, 5.3% in all - a 1-in-2,000 draw that
300 series dilute (Monte Carlo, not a bias of the method; the 1,000-series benchmark is the
measurement). The gaussian HAC default (bias-reduced Newey-West with Satterthwaite df,
``hac_small_sample: "bm"``) is held to the same bounds; the plain Newey-West (n/(n-p)) and EWC
cells are pinned as under-covering at 48 months (the measured result; see
docs/statistics.md section 3).
"""

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "its_simulation.py"
spec = importlib.util.spec_from_file_location("its_simulation", PATH)
its_simulation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(its_simulation)

UNDER_COVERING = ["gaussian / HAC (NW, n/(n-p)), 48 months", "gaussian / HAC (EWC), 48 months"]
HONEST = [name for name in its_simulation.CELLS
          if "HAC" not in name or not any(k in name for k in ("EWC", "n/(n-p)"))]


@pytest.mark.parametrize("name", HONEST)
def test_cell_meets_widened_targets(name):
    n = 100 if ("AR" in name or "negbin" in name) else 300 if "HAC" in name else 200
    r = its_simulation.run_cell(name, n, seed0=50_000)
    assert abs(r["bias"]) < 0.10, r
    lo = 0.88 if n == 100 else 0.90
    assert lo <= r["coverage"] <= 0.99, r
    assert 0.01 <= r["type1"] <= (0.11 if n == 100 else 0.10), r


@pytest.mark.parametrize("name", UNDER_COVERING)
def test_hac_short_series_under_covers(name):
    """Measured: Newey-West with the n/(n-p) correction (``hac_small_sample: true``, the
    default for the GLM families) and the equal-weighted cosine
    kernel with t_nu intervals both under-cover level changes in 48-month series (85.5% and
    80.2% over 1,000 series) - the documented limitation."""
    r = its_simulation.run_cell(name, 200, seed0=50_000)
    assert abs(r["bias"]) < 0.10
    assert 0.75 <= r["coverage"] < 0.93


# --- autocorrelation (issue 16) -------------------------------------------------------------
# Fast rows of the benchmark's autocorrelation table: 300 null series of the reports' model
# (48-month quasi-binomial, 1,000 a month, 20% baseline, latent AR(1) on the logit scale with
# SD 0.15) at lag-1 correlation 0.6. Binomial tolerance around 95%: SE sqrt(.95 x .05 / 300)
# = 1.26 points, 3 SEs -> coverage in [0.912, 0.988], type I error in [0.012, 0.088]. The old
# default (independent errors) covered 77% over 2,000 series and is pinned below the band.

import importlib
import pkgutil
import types

import numpy as np

import pipeline.stats
from pipeline.stats.its import fit_its
from pipeline.stats.its_ar_errors import fit_ar
from pipeline.stats.its_glm import irls, working_response
from pipeline.stats.its_spec import validate_spec
from pipeline.stats.simulation import simulate_series

BAND_COVER, BAND_TYPE1 = (0.912, 0.988), (0.012, 0.088)


def test_auto_errors_keep_coverage_at_lag_one_correlation_0_6():
    r = its_simulation.run_ac_cell("quasibinomial", "auto", 0.6, 48, 300, seed0=70_000)
    for est in its_simulation.AC_ESTIMANDS:
        assert BAND_COVER[0] <= r[est]["coverage"] <= BAND_COVER[1], (est, r)
        assert BAND_TYPE1[0] <= r[est]["type1"] <= BAND_TYPE1[1], (est, r)


def test_auto_errors_keep_coverage_of_quasi_poisson_at_0_6():
    """The other report model (quasi-Poisson, 100 events a month) at 0.6."""
    r = its_simulation.run_ac_cell("quasipoisson", "auto", 0.6, 48, 300, seed0=71_000)
    for est in its_simulation.AC_ESTIMANDS:
        assert BAND_COVER[0] <= r[est]["coverage"] <= BAND_COVER[1], (est, r)
        assert BAND_TYPE1[0] <= r[est]["type1"] <= BAND_TYPE1[1], (est, r)


def test_equity_gap_change_keeps_coverage_under_auto_at_0_6():
    """The change in the Q1 - Q5 gap, as the reports combine two stratum fits, on 150 pairs
    of null series at correlation 0.6: coverage in the band (SE 1.8 points, 3 SEs: 0.885 to
    1); with independent errors the same pairs under-cover (each stratum's interval does)."""
    r = its_simulation.run_gap_cell("quasibinomial", 0.6, 48, 150, seed0=74_000)
    old = its_simulation.run_gap_cell("quasibinomial", 0.6, 48, 150, seed0=74_000,
                                      errors="independent")
    for est in its_simulation.AC_ESTIMANDS:
        assert 0.885 <= r[est]["coverage"] <= 1.0, (est, r)
        assert old[est]["coverage"] < 0.885, (est, old)


def test_independent_errors_under_cover_at_lag_one_correlation_0_6():
    """The same rows with the old default fall far outside the band (the issue's finding)."""
    r = its_simulation.run_ac_cell("quasibinomial", "independent", 0.6, 48, 300, seed0=70_000)
    for est in its_simulation.AC_ESTIMANDS:
        assert r[est]["coverage"] < BAND_COVER[0] - 0.03, (est, r)


def _ar_data(seed=4, n=60, rho=0.5):
    return simulate_series(n_months=n, start="2018-01", phases=[("2020-07", 0.3, 0.01)],
                           family="binomial", baseline=0.2, denominator=800, sd=0.15,
                           ar=rho, seed=seed)


def _spec(**kw):
    return {"phases": [{"name": "p", "start": "2020-07"}], "horizons": [12], **kw}


def test_ar1_reml_and_gls_match_independent_routes():
    """Gaussian AR(1) by REML: the batched-grid REML rho equals the Cholesky/Brent REML of
    ``fit_ar``, and the GLS coefficients and plug-in SEs equal statsmodels' GLS with the
    AR(1) correlation matrix at that rho."""
    import statsmodels.api as sm

    data = _ar_data()
    res = fit_its(data, _spec(family="gaussian", errors="ar", ar_small_sample="kr"))
    X = res.model_results.model.exog
    y = (data["numerator"] / data["denominator"]).to_numpy()
    m = np.arange(len(y))
    _, _, phi, *_ = fit_ar(X, y, m, np.zeros(len(y)), 1, "reml")
    rho = res.diagnostics["ar_coefs"][0]
    # the batched grid stops at a step of 9.3e-4 in atanh(rho), with no interpolation (so
    # rho does not move with the objective's rounding noise): the REML rho is within half a
    # step, and the fit uses it with its bias removed, rho (1 + 2 / n)
    n = len(y)
    assert rho == pytest.approx(phi[0] * (1 + 2 / n),
                                abs=(1 + 2 / n) * 4.6e-4 * (1 - phi[0] ** 2) + 1e-9)
    ref = sm.GLS(y, X, sigma=rho ** np.abs(np.subtract.outer(m, m))).fit()
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=1e-7)
    plug = res.fit.contrasts.sigma2 * res.fit.contrasts.F
    np.testing.assert_allclose(np.sqrt(np.diag(plug)), ref.bse, rtol=1e-6)


def test_kenward_roger_matches_the_general_formula():
    """The covariance is Kenward & Roger's Phi + 2 Phi [sum_ij A_ij (Q_ij - P_i Phi P_j)] Phi
    over theta = (sigma^2, rho), computed here densely with every term (the module keeps only
    the rho-rho term, the others cancel for V = sigma^2 R(rho))."""
    data = _ar_data(seed=9)
    res = fit_its(data, _spec(family="quasibinomial", errors="auto"))
    fit, c = res.fit, res.fit.contrasts
    rows = len(data)
    X = res.model_results.model.exog
    spec = validate_spec(_spec(family="quasibinomial", errors="auto"))  # weights of the
    # independent fit, which the AR(1) step starts from
    num, den = data["numerator"].to_numpy(float), data["denominator"].to_numpy(float)
    beta0, _ = irls(X, num, den, "binomial")
    _, w = working_response(X, num, den, beta0, spec)
    Xw = X * np.sqrt(w)[:, None]
    rho, s2 = fit.ar_coefs[0], c.sigma2
    d = np.abs(np.subtract.outer(np.arange(rows), np.arange(rows))).astype(float)
    R = rho ** d
    V = s2 * R
    Vi = np.linalg.inv(V)
    dV = [R, s2 * d * rho ** np.maximum(d - 1, 0)]
    Phi = np.linalg.inv(Xw.T @ Vi @ Xw)
    P = [-Xw.T @ Vi @ Vi_ @ Vi @ Xw for Vi_ in dV]
    inner = sum(c.A[i, j] * (Xw.T @ Vi @ dV[i] @ Vi @ dV[j] @ Vi @ Xw - P[i] @ Phi @ P[j])
                for i in range(2) for j in range(2))
    np.testing.assert_allclose(Phi, s2 * c.F, rtol=1e-8)
    np.testing.assert_allclose(fit.cov, Phi + 2 * Phi @ inner @ Phi, rtol=1e-6)


def test_auto_resolves_to_ar1_kenward_roger_for_every_family():
    for family in ("quasibinomial", "binomial", "quasipoisson", "poisson", "negbin", "gaussian"):
        checked = validate_spec(_spec(family=family, errors="auto"))
        assert (checked.errors, checked.ar_order, checked.ar_small_sample) == ("ar", 1, "kr")
        assert checked.errors_auto and checked.ci_quantile == "t"


def test_params_use_auto_errors_and_config_accepts_them():
    from pipeline import config

    for key in config.intervention_keys():
        cfg = config.load_intervention(key)
        for outcome in cfg.outcomes:
            assert validate_spec(cfg.its_spec(outcome)).errors_auto, (key, outcome)


def test_report_says_how_much_too_narrow_independent_intervals_are():
    """Autocorrelated data fitted with independent errors: the diagnostics give the AR(1)
    standard-error ratio and the resulting coverage, and name errors: auto."""
    data = simulate_series(n_months=48, phases=[("2021-01", 0.0, 0.0)], family="binomial",
                           baseline=0.2, denominator=1000, sd=0.15, ar=0.6, seed=11)
    res = fit_its(data, {"family": "quasibinomial", "phases": [{"name": "p", "start": "2021-01"}]})
    cost = res.diagnostics["autocorrelation_cost"]
    assert cost["se_ratio"] > 1.2 and cost["coverage"] < 0.9
    text = next(w for w in res.diagnostics["warnings"] if w.startswith("autocorrelation"))
    assert "too narrow" in text and f"{cost['coverage']:.0%}" in text and "errors: auto" in text
    auto = fit_its(data, {"family": "quasibinomial", "errors": "auto",
                          "phases": [{"name": "p", "start": "2021-01"}]})
    assert auto.diagnostics["autocorrelation_cost"] is None
    assert "AR(1) errors (errors: auto)" in auto.method
    ind = res.effects.set_index("estimand").loc["level_change"]
    ar = auto.effects.set_index("estimand").loc["level_change"]
    assert (ar["ci_high"] - ar["ci_low"]) > 1.2 * (ind["ci_high"] - ind["ci_low"])


def test_simulated_coverage_quoted_in_diagnostics_matches_the_benchmark():
    """The figures the warning quotes are those of benchmarks/out/its_autocorrelation.json."""
    import json

    from pipeline.stats.its_diagnostics import SIMULATED_COVERAGE

    cells = json.loads(its_simulation.OUT_AC.read_text())["cells"]
    for rho, cover in SIMULATED_COVERAGE.items():
        row = cells[its_simulation.ac_key("quasibinomial", "independent", rho, 48)]
        assert row["level_change"]["coverage"] == pytest.approx(cover, abs=5e-4)
    from pipeline.stats.its_diagnostics import AUTO_COVERAGE_AT_06

    assert {t for _, t in AUTO_COVERAGE_AT_06} == set(its_simulation.AC_MONTHS)
    for (family, months), covers in AUTO_COVERAGE_AT_06.items():
        row = cells[its_simulation.ac_key(family, "auto", 0.6, months)]
        for estimand, cover in covers.items():
            assert row[estimand]["coverage"] == pytest.approx(cover, abs=5e-4), (family, months)


def test_strong_correlation_warning_says_which_designs_miss_the_target():
    """For every simulated design, the warning calls the intervals too narrow exactly when a
    measured coverage at correlation 0.6 is below 93%, wider than needed when one is above
    97%, and says "inside the target" otherwise;
    a series shorter than any simulated one, or a higher correlation, is said to be unmeasured."""
    from pipeline.stats.its_diagnostics import AUTO_COVERAGE_AT_06, _high_correlation_warning

    for (family, months), covers in AUTO_COVERAGE_AT_06.items():
        spec = validate_spec(_spec(family=family, errors="auto"))
        text = _high_correlation_warning(0.6, spec, months)
        assert f"{months}-month" in text
        for estimand, label in (("level_change", "the immediate change"),
                                ("slope_change", "the change in trend"),
                                ("abs_diff_h12", "the 12-month difference")):
            assert f"{covers[estimand]:.1%} for {label}" in text
        narrow = [c < 0.93 for c in covers.values()]
        wide = [c > 0.97 for c in covers.values()]
        assert ("too narrow" in text) == any(narrow)
        assert ("wider than needed" in text) == any(wide)
        assert ("inside the 93-97% target" in text) == (not any(narrow) and not any(wide))
    spec = validate_spec(_spec(family="binomial", errors="auto"))
    assert "quasibinomial model" in _high_correlation_warning(0.5, spec, 48)
    assert "shorter than any simulated" in _high_correlation_warning(0.5, spec, 18)
    assert "not measured" in _high_correlation_warning(0.85, spec, 48)


def test_bias_correction_removes_the_reml_bias_of_rho():
    """REML underestimates the AR(1) correlation of regression errors by about 2 rho / n
    (Cheang & Reinsel 2000); 400 Gaussian AR(1) series of 48 months (rho 0.6, the ITS design
    with a level and slope change): the corrected estimate averages closer to the truth than
    REML, within 2 Monte Carlo SEs (about 0.006 each) of 0.6, while REML's mean is below."""
    from pipeline.stats.its_ar import fit_ar1_working

    rng = np.random.default_rng(16)
    n, rho = 48, 0.6
    t = np.arange(n, dtype=float)
    X = np.column_stack([np.ones(n), t, t >= 24, np.maximum(t - 24, 0)])
    corrected, reml = [], []
    for _ in range(400):
        e = np.empty(n)
        e[0] = rng.normal()
        for i in range(1, n):
            e[i] = rho * e[i - 1] + rng.normal() * np.sqrt(1 - rho ** 2)
        fit = fit_ar1_working(X, X @ [1.0, 0.1, 0.0, 0.0] + e, np.ones(n), t, np.zeros(n))
        # rho (1 + 2/n), kept 0.02 inside the grid's bound 0.999
        assert fit.rho == pytest.approx(min(fit.rho_reml * (1 + 2 / n), 0.979), rel=1e-12)
        corrected.append(fit.rho)
        reml.append(fit.rho_reml)
    corrected, reml = np.mean(corrected), np.mean(reml)
    assert abs(corrected - rho) < abs(reml - rho)
    assert abs(corrected - rho) < 0.012 and reml < rho - 0.01


def test_strong_correlation_is_said_in_words_under_auto():
    """Where the default cannot reach 93% (change in trend at correlation 0.6), the report's
    diagnostics say so; with little correlation they do not."""
    from pipeline.stats.simulation import simulate_series

    def warnings_at(rho):
        data = simulate_series(n_months=48, start="2019-01", phases=[("2021-01", 0.0, 0.0)],
                               baseline=0.2, denominator=1000, ar=rho, sd=0.3, seed=3)
        spec = {"family": "quasibinomial", "errors": "auto",
                "phases": [{"name": "p", "start": "2021-01"}], "horizons": [12]}
        return " ".join(fit_its(data, spec).diagnostics["warnings"])

    assert "strongly correlated" in warnings_at(0.9)
    assert "strongly correlated" not in warnings_at(0.0)


def test_every_lazy_export_is_the_object_whatever_was_imported_before():
    """Importing every submodule first (which binds each as a package attribute) must not
    shadow an export: ``from pipeline.stats import simulate_series`` is the function."""
    for mod in pkgutil.iter_modules(pipeline.stats.__path__):
        importlib.import_module(f"pipeline.stats.{mod.name}")
    importlib.import_module("pipeline.stats.simulate_series")  # the old path still imports
    for name, where in pipeline.stats._EXPORTS.items():
        obj = getattr(pipeline.stats, name)
        assert not isinstance(obj, types.ModuleType), name
        assert obj is getattr(importlib.import_module(where, "pipeline.stats"), name)
    from pipeline.stats import simulate_series as exported
    assert exported is simulate_series
