"""Tests of the ITS extensions of issue 3: negative binomial, AR errors, HAC small-sample
correction, covariates, ramps, excluded months, influence diagnostics and the verdict, and the
batch entry point ``fit_its_many``.

Independent routes: statsmodels' own ``NegativeBinomial`` (ML, observed information),
``SARIMAX`` with exog (exact ML of a regression with AR errors), ``GLS`` with the AR
correlation matrix, OLS ``cov_type="HAC"`` with ``use_correction``/``use_t``, the formula API
with a covariate, and ``get_influence().cooks_distance``.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.diagnostic import acorr_breusch_godfrey
from statsmodels.tsa.statespace.sarimax import SARIMAX

from pipeline.stats.its import fit_its, fit_its_many
from pipeline.stats.its_ar_errors import ar_acf, pacf_to_ar
from pipeline.stats.simulation import simulate_series

START = "2021-01"
PHASE = [{"name": "launch", "start": START}]


def _spec(**kw):
    return {"phases": PHASE, "horizons": [3, 6], **kw}


def _gauss(seed=4, ar=0.5, n=60):
    return simulate_series(n_months=n, start="2019-01", phases=[(START, 0.05, 0.0)],
                           family="gaussian", sd=0.02, ar=ar, trend=0.001, seed=seed)


def _counts(seed=3, od=0.05):
    return simulate_series(n_months=48, start="2019-01", phases=[(START, 0.3, 0.0)],
                           family="poisson", baseline=0.02, denominator=2000,
                           overdispersion=od, seed=seed)


# --- negative binomial ------------------------------------------------------------------

def test_negbin_matches_statsmodels_negative_binomial():
    """Our profile-likelihood NB2 fit = statsmodels' joint ML NegativeBinomial (Newton), with
    ``negbin_scale: none`` (the ML covariance); the default scales it by Pearson X2/(n-p)."""
    data = _counts()
    res = fit_its(data, _spec(family="negbin", negbin_scale="none"))
    scaled = fit_its(data, _spec(family="negbin"))
    np.testing.assert_allclose(scaled.cov.to_numpy(),
                               res.cov.to_numpy() * scaled.diagnostics["dispersion"], rtol=1e-12)
    assert scaled.diagnostics["ci_df"] == scaled.diagnostics["df_resid"] - 1
    X = res.model_results.model.exog
    ref = sm.NegativeBinomial(data["numerator"].to_numpy(), X,
                              offset=np.log(data["denominator"].to_numpy()),
                              loglike_method="nb2").fit(disp=0, maxiter=200, method="newton")
    np.testing.assert_allclose(res.params.to_numpy(), ref.params[:-1], rtol=1e-5, atol=1e-8)
    assert res.diagnostics["nb_alpha"] == pytest.approx(ref.params[-1], rel=1e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), ref.bse[:-1], rtol=1e-4)
    eff = res.effects.set_index("estimand")
    assert "level_change_rr" in eff.index and "alpha" in res.method
    assert "negative binomial" in res.diagnostics["verdict"]


# --- AR errors ---------------------------------------------------------------------------

def test_ar_ml_matches_sarimax_with_exog():
    """errors='ar', ar_method='ml' = exact Gaussian ML of SARIMAX(y, exog=X, order=(1,0,0)).
    SARIMAX's optimiser (L-BFGS, numerical Hessian) limits agreement to about 1e-3."""
    data = _gauss()
    res = fit_its(data, _spec(family="gaussian", errors="ar", ar_method="ml"))
    X = res.model_results.model.exog
    y = (data["numerator"] / data["denominator"]).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SARIMAX(y, exog=X, order=(1, 0, 0), trend="n").fit(
            disp=False, method="nm", maxiter=20000, xtol=1e-10, ftol=1e-12)
        ref = SARIMAX(y, exog=X, order=(1, 0, 0), trend="n").fit(
            start_params=ref.params, disp=False, method="bfgs", gtol=1e-10, cov_type="oim")
    k = X.shape[1]
    np.testing.assert_allclose(res.params.to_numpy(), ref.params[:k], rtol=2e-3, atol=2e-5)
    assert res.diagnostics["ar_coefs"][0] == pytest.approx(ref.params[k], abs=2e-3)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), ref.bse[:k], rtol=0.05)


def test_ar_reml_gls_step_matches_statsmodels_gls():
    """Given the REML AR coefficient, coefficients and SEs are those of statsmodels' GLS with
    the AR(1) correlation matrix (REML sigma^2 = RSS/(n-p), the GLS scale)."""
    data = _gauss(seed=7)
    res = fit_its(data, _spec(family="gaussian", errors="ar", ar_small_sample="none"))
    phi = res.diagnostics["ar_coefs"][0]
    X = res.model_results.model.exog
    y = (data["numerator"] / data["denominator"]).to_numpy()
    lags = np.abs(np.subtract.outer(np.arange(len(y)), np.arange(len(y))))
    ref = sm.GLS(y, X, sigma=phi ** lags).fit()
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), ref.bse, rtol=1e-6)
    assert "AR(1) errors by GLS (REML" in res.method
    # t intervals on n - p - 1 df
    row = res.effects.set_index("estimand").loc["level_change"]
    se = np.sqrt(res.cov.iloc[2, 2])
    from scipy import stats
    assert row["ci_high"] - row["estimate"] == pytest.approx(stats.t.ppf(0.975, 60 - 4 - 1) * se)


def test_ar_order_two_and_acf():
    phi = pacf_to_ar(np.array([0.5, 0.2]))
    from statsmodels.tsa.arima_process import arma_acf
    np.testing.assert_allclose(ar_acf(phi, 10), arma_acf(np.r_[1, -phi], [1], 11), rtol=1e-10)
    res = fit_its(_gauss(seed=2, ar=0.6), _spec(family="gaussian", errors="ar", ar_order=2))
    assert len(res.diagnostics["ar_coefs"]) == 2
    assert res.diagnostics["breusch_godfrey_p"] is None


# --- HAC small-sample correction ---------------------------------------------------------

def test_hac_small_sample_matches_statsmodels_use_correction():
    data = _gauss(ar=0.3, n=48)
    res = fit_its(data, _spec(family="gaussian", errors="hac", hac_lags=3, hac_small_sample=True))
    X = res.model_results.model.exog
    y = (data["numerator"] / data["denominator"]).to_numpy()
    ref = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": 3, "use_correction": True},
                           use_t=True)
    np.testing.assert_allclose(np.sqrt(np.diag(res.cov)), ref.bse, rtol=1e-8)
    row = res.effects.set_index("estimand").loc["level_change"]
    np.testing.assert_allclose([row["ci_low"], row["ci_high"]], ref.conf_int()[2], rtol=1e-8)
    assert row["p_value"] == pytest.approx(ref.pvalues[2], rel=1e-8)
    assert "small-sample corrected" in res.method


def _bm_direct(X, y, contrast, lags):
    """Bias-reduced Newey-West variance and Satterthwaite df of ``contrast'beta`` from the
    n x n matrices (Bell & McCaffrey 2002; Imbens & Kolesar 2016), no shortcuts."""
    n = len(y)
    B = np.linalg.inv(X.T @ X)
    M = np.eye(n) - X @ B @ X.T
    e = M @ y
    d = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    K = np.clip(1 - d / (lags + 1), 0, None)
    a = X @ B @ contrast
    A = np.diag(a) @ K @ np.diag(a)
    AM = A @ M
    return (e @ A @ e) * (a @ a) / np.trace(AM), np.trace(AM) ** 2 / np.trace(AM @ AM)


def test_hac_bm_default_for_gaussian_matches_direct_formula():
    """``errors: hac`` for gaussian defaults to ``hac_small_sample: "bm"``: every estimand gets
    its own bias-reduced variance and Satterthwaite df; lags round(1.3 sqrt(48)) = 9."""
    data = _gauss(ar=0.3, n=48)
    res = fit_its(data, _spec(family="gaussian", errors="hac"))
    assert res.spec.hac_small_sample == "bm" and res.spec.ci_quantile == "t"
    assert res.diagnostics["hac_lags"] == 9
    assert "bias-reduced Newey-West SE (9 lags" in res.method
    X = res.model_results.model.exog
    y = (data["numerator"] / data["denominator"]).to_numpy()
    eff = res.effects.set_index("estimand")
    dfs = {}
    for name, col in (("level_change", 2), ("slope_change", 3), ("pre_trend", 1)):
        c = np.zeros(X.shape[1])
        c[col] = 1.0
        var, df = _bm_direct(X, y, c, 9)
        row = eff.loc[name]
        q = stats.t.ppf(0.975, df)
        assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * q * np.sqrt(var), rel=1e-8)
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(row["estimate"]) / np.sqrt(var), df),
                                               rel=1e-8)
        dfs[name] = df
    assert res.diagnostics["ci_df"] == pytest.approx(dfs["level_change"], rel=1e-10)
    assert dfs["level_change"] != pytest.approx(dfs["slope_change"], rel=1e-3)
    assert 2 < dfs["level_change"] < 44
    # the .cov matrix stays the n/(n-p) Newey-West sandwich (for code that needs one matrix)
    plain = fit_its(data, _spec(family="gaussian", errors="hac", hac_lags=9, hac_small_sample=True))
    np.testing.assert_allclose(res.cov.to_numpy(), plain.cov.to_numpy(), rtol=1e-12)
    # the GLM families keep n/(n-p) and t on n-p df
    glm = fit_its(_counts(), _spec(family="quasipoisson", errors="hac"))
    assert glm.spec.hac_small_sample is True and glm.diagnostics["ci_df"] == 44


def test_hac_bm_delta_method_and_band_use_their_own_df():
    data = _gauss(ar=0.3, n=48)
    res = fit_its(data, _spec(family="gaussian", errors="hac"))
    X = res.model_results.model.exog
    y = (data["numerator"] / data["denominator"]).to_numpy()
    # abs_diff_h3 of a gaussian model is the linear contrast X_post - X_cf at month 3
    design_rows = res.series.index[res.series["month"] == pd.Timestamp("2021-03-01")]
    cf = np.array(X[design_rows[0]])
    cf[2:] = 0.0
    var, df = _bm_direct(X, y, X[design_rows[0]] - cf, 9)
    row = res.effects.set_index("estimand").loc["abs_diff_h3"]
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * stats.t.ppf(0.975, df) * np.sqrt(var),
                                                           rel=1e-8)
    i = 30  # a post-period month: band of the counterfactual linear predictor
    var, df = _bm_direct(X, y, np.r_[X[i, :2], 0.0, 0.0], 9)
    band = res.series.iloc[i]
    assert band["cf_high"] - band["cf_low"] == pytest.approx(
        2 * stats.t.ppf(0.975, df) * np.sqrt(var), rel=1e-8)


def test_hac_bm_many_equals_single():
    frames = {s: _gauss(seed=s, ar=0.3, n=48) for s in (1, 2, 3)}
    spec = _spec(family="gaussian", errors="hac")
    batch = fit_its_many(frames, spec)
    for s, data in frames.items():
        one = fit_its(data, spec).effects
        many = batch.effects[batch.effects.iloc[:, 0] == s]
        np.testing.assert_allclose(many[["estimate", "ci_low", "ci_high", "p_value"]].to_numpy(),
                                   one[["estimate", "ci_low", "ci_high", "p_value"]].to_numpy(),
                                   rtol=1e-10)


# --- covariates, ramp, excluded months ---------------------------------------------------

def _with_covid(data):
    m = data["month"].dt.strftime("%Y-%m")
    return data.assign(covid=m.between("2020-04", "2020-09").astype(int))


def test_covariate_matches_formula_api():
    data = _with_covid(simulate_series(n_months=48, start="2019-01", phases=[(START, 0.3, 0.0)],
                                       denominator=400, seed=5))
    res = fit_its(data, _spec(family="binomial", covariates=["covid"]))
    d = data.copy()
    d["time"] = np.arange(1, 49)
    d["level"] = (d["month"] >= START).astype(int)
    d["slope"] = np.where(d["level"] == 1, d["time"] - 24, 0)
    d["failures"] = d["denominator"] - d["numerator"]
    ref = smf.glm("numerator + failures ~ time + covid + level + slope", d,
                  family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-6)
    assert "covid" in res.params.index and "covariates covid" in res.method
    # the covariate is never zeroed in the counterfactual
    s = res.series.set_index("month")
    np.testing.assert_allclose(s.loc[s.index < START, "fitted"], s.loc[s.index < START, "counterfactual"])


def test_covariate_aggregation_and_errors():
    a = _with_covid(simulate_series(n_months=48, phases=[(START, 0.3, 0.0)], unit="a", seed=1))
    b = _with_covid(simulate_series(n_months=48, phases=[(START, 0.3, 0.0)], unit="b", seed=2))
    res = fit_its(pd.concat([a, b]), _spec(covariates=["covid"]))
    assert res.params["covid"] == pytest.approx(res.params["covid"])  # fitted
    b.loc[b.index[21], "covid"] = 1
    with pytest.raises(ValueError, match=r"covariate 'covid' differs between the units summed into one series in 1 month\(s\) \(all 2020-10\)"):
        fit_its(pd.concat([a, b]), _spec(covariates=["covid"]))
    with pytest.raises(ValueError, match=r"covariate column\(s\) \['strike'\] named in spec\['covariates'\] are not in the series"):
        fit_its(a, _spec(covariates=["strike"]))


def test_ramp_recovers_phased_in_level_change():
    """Noise-free Gaussian: a level change of 0.06 phased in over 3 months (0.02, 0.04, 0.06)."""
    data = simulate_series(n_months=48, start="2019-01", family="gaussian", sd=1e-9, seed=1,
                           baseline=0.3, trend=0.001)
    ramp = np.clip((np.arange(48) - 23) / 3, 0, 1) * 0.06
    data["numerator"] = data["numerator"] + ramp * data["denominator"]
    res = fit_its(data, {"phases": [{"name": "launch", "start": START, "ramp_months": 3}],
                         "family": "gaussian", "horizons": [1, 2, 6]})
    eff = res.effects.set_index("estimand")["estimate"]
    assert eff["level_change"] == pytest.approx(0.06, abs=1e-6)
    assert eff["abs_diff_h1"] == pytest.approx(0.02, abs=1e-6)
    assert eff["abs_diff_h2"] == pytest.approx(0.04, abs=1e-6)
    assert "ramped in" in res.method
    # the top-level key applies to every phase with a level change
    res2 = fit_its(data, {"phases": PHASE, "ramp_months": 3, "family": "gaussian", "horizons": [1]})
    assert res2.params.equals(res.params)


def test_exclude_months_equals_dropping_rows():
    data = simulate_series(n_months=48, start="2019-01", phases=[(START, 0.3, 0.0)],
                           denominator=400, seed=6)
    res = fit_its(data, _spec(family="quasibinomial", exclude_months=[["2020-03", "2020-08"]]))
    months = res.series.loc[~res.series["in_fit"], "month"].dt.strftime("%Y-%m").tolist()
    assert months == ["2020-03", "2020-04", "2020-05", "2020-06", "2020-07", "2020-08"]
    assert res.diagnostics["n_obs"] == 42
    # same coefficients as fitting without those rows (time keeps counting from 2019-01)
    kept = data[~data["month"].dt.strftime("%Y-%m").between("2020-03", "2020-08")]
    ref = fit_its(kept, _spec(family="quasibinomial"))
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-9)
    assert "months excluded from the fit (2020-03..2020-08)" in res.method


# --- diagnostics --------------------------------------------------------------------------

def test_cooks_distance_matches_statsmodels_and_verdict():
    data = simulate_series(n_months=48, start="2019-01", phases=[(START, 0.3, 0.0)],
                           denominator=400, overdispersion=0.01, seed=8)
    data.loc[30, "numerator"] = data.loc[30, "numerator"] + 120  # an outlier in 2021-07
    res = fit_its(data, _spec(family="quasibinomial"))
    X = res.model_results.model.exog
    ref = sm.GLM((data["numerator"] / data["denominator"]).to_numpy(), X,
                 family=sm.families.Binomial(), var_weights=data["denominator"].to_numpy()
                 ).fit(scale="X2")
    np.testing.assert_allclose(res.diagnostics["cooks_distance"],
                               ref.get_influence().cooks_distance[0], rtol=1e-6)
    assert "2021-07" in res.diagnostics["influential_months"]
    v = res.diagnostics["verdict"]
    assert v.startswith("Model checks: ") and "influential month" in v and "2021-07" in v
    assert "overdispersion" in v and "quasi-likelihood" in v


def test_ols_cooks_and_breusch_godfrey_match_statsmodels():
    data = _gauss(ar=0.4, n=48)
    res = fit_its(data, _spec(family="gaussian"))
    ols = res.model_results
    np.testing.assert_allclose(res.diagnostics["cooks_distance"],
                               ols.get_influence().cooks_distance[0], rtol=1e-8)
    ref = acorr_breusch_godfrey(ols, nlags=res.diagnostics["ljung_box_lags"], result_object=True)
    assert res.diagnostics["breusch_godfrey_p"] == pytest.approx(ref.lmpval, rel=1e-8)


def test_plot_residuals_and_summary_verdict():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = fit_its(_counts(), _spec(family="quasipoisson"))
    fig = res.plot_residuals()
    assert fig.axes[0].get_ylabel() == "Pearson residual"
    plt.close(fig)
    assert res.diagnostics["verdict"] in res.summary()


# --- new spec keys: validation --------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"errors": "ar", "family": "binomial", "ar_order": 2}, r"spec\['errors'\] = 'ar' for family 'binomial' .* need family 'gaussian'"),
    ({"errors": "ar", "family": "gaussian", "ar_method": "ml", "ar_small_sample": "kr"}, r"'kr' \(Kenward-Roger\) needs ar_order 1"),
    ({"errors": "ar", "family": "gaussian", "ar_order": 0}, r"spec\['ar_order'\] = 0 must be an integer >= 1"),
    ({"ar_method": "yw"}, r"spec\['ar_method'\] = 'yw' is not allowed; choose one of: reml, ml"),
    ({"hac_small_sample": "no"}, r"spec\['hac_small_sample'\] = 'no' must be true, false or 'bm'"),
    ({"hac_small_sample": "bm", "family": "quasipoisson", "errors": "hac"}, r"'bm' .* needs family 'gaussian'"),
    ({"hac_small_sample": "bm", "family": "gaussian", "errors": "hac", "hac_kernel": "ewc"},
     r"needs family 'gaussian' and hac_kernel 'bartlett'"),
    ({"covariates": "covid"}, r"spec\['covariates'\] = 'covid' must be a list of column names"),
    ({"covariates": ["numerator"]}, r"cannot name the series' own column"),
    ({"exclude_months": [["2020-06", "2020-03"]]}, r"the last month is before the first"),
    ({"exclude_months": ["2020-03"]}, r"must be a list of \[first, last\] month pairs"),
    ({"ramp_months": -1}, r"spec\['ramp_months'\] = -1 must be an integer >= 0"),
    ({"phases": [{"name": "x", "start": START, "ramp_months": 2.5}]}, r"\['ramp_months'\] = 2.5 must be an integer"),
    ({"phases": [{"name": "x", "start": START, "change": "slope", "ramp_months": 3}]}, r"needs a level change"),
])
def test_bad_new_spec_keys(change, message):
    with pytest.raises(ValueError, match=message):
        fit_its(_gauss(), {**_spec(family="gaussian"), **change})


def test_bad_inputs_issue_list():
    data = _counts(od=0.0)
    with pytest.raises(ValueError, match="outside the data"):
        fit_its(data, _spec(phases=[{"name": "x", "start": "2030-01"}]))
    bad = data.copy()
    bad.loc[4, "numerator"] = -2
    with pytest.raises(ValueError, match="negative counts"):
        fit_its(bad, _spec(family="poisson"))
    with pytest.raises(ValueError, match="every month has a zero denominator"):
        fit_its(data.assign(denominator=0, numerator=0), _spec(family="poisson"))


# --- fit_its_many -------------------------------------------------------------------------

def test_fit_its_many_equals_fit_its():
    frames = []
    for i in range(6):
        d = simulate_series(n_months=48, start="2019-01", phases=[(START, 0.2, 0.0)],
                            family="poisson", baseline=0.01, denominator=3000, amplitude=0.2,
                            seed=i)
        frames.append(d.assign(dimension="imd_quintile", stratum=str(i)))
    frames[4] = frames[4].iloc[2:]  # another layout: fitted alone
    frames[5].loc[frames[5].index[7], ["numerator", "denominator"]] = 0  # a zero month
    long = pd.concat(frames, ignore_index=True)
    spec = _spec(family="quasipoisson", errors="hac", seasonality="fourier")
    batch = fit_its_many(long, spec, by=["dimension", "stratum"])
    assert (batch.n_fast, batch.n_fallback) == (4, 2)
    for i, f in enumerate(frames):
        one = fit_its(f.drop(columns=["dimension", "stratum"]), spec)
        got = batch.effects[batch.effects["stratum"] == str(i)].drop(
            columns=["dimension", "stratum"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, one.effects, rtol=1e-9)
        key = ("imd_quintile", str(i))
        assert batch.diagnostics[key]["verdict"] == one.diagnostics["verdict"]
        assert batch.diagnostics[key]["warnings"] == one.diagnostics["warnings"]
    # dict input and on_error="record"
    by_dict = {str(i): f.drop(columns=["dimension", "stratum"]) for i, f in enumerate(frames)}
    by_dict["short"] = by_dict["0"].iloc[:26]
    rec = fit_its_many(by_dict, spec, on_error="record")
    assert "fitted month" in rec.errors["short"]
    assert set(rec.effects["stratum"]) == {str(i) for i in range(6)}
    with pytest.raises(ValueError, match=r"stratum 'short': "):
        fit_its_many(by_dict, spec)
    assert rec.result("1").effects.equals(fit_its(by_dict["1"], spec).effects)


@pytest.mark.parametrize("spec", [
    _spec(family="negbin"),
    _spec(family="gaussian", errors="ar"),
])
def test_fit_its_many_fast_path_negbin_and_ar(spec):
    if spec["family"] == "negbin":
        frames = {i: _counts(seed=i) for i in range(3)}
    else:
        frames = {i: _gauss(seed=i, n=48) for i in range(3)}
    batch = fit_its_many(frames, spec)
    assert batch.n_fast == 3
    for i, f in frames.items():
        got = batch.effects[batch.effects["stratum"] == i].drop(columns="stratum").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, fit_its(f, spec).effects, rtol=1e-9)
