"""How should the structural model carry the uncertainty of its variances? Each alternative
measured on the simulation rows of ``benchmarks/model_simulation.py`` (docs/adr/0165).

Same series (seeds, random-walk proportion, binomial counts of 400), same maximum-likelihood
fit (:func:`pipeline.stats.structural_fit.maximise_likelihood`); the alternatives differ in
how the forecast carries the variances:

``plugin``, ``plugin_t``
    the MLE variances plugged in, normal or t quantile (df = pre months - parameters - 1);
``ci0.01``, ``ci0.1``
    CausalImpact's prior on the level SD (bsts ``SdPrior``: inverse gamma with guess
    ``prior.level.sd`` x SD(y), 32 prior observations, upper limit SD(y); R package
    CausalImpact, ``ConstructModel``), posterior on the grid of
    :func:`pipeline.stats.structural_mixture.level_sd_grid`, other variances at their MLE;
``loguniform``, ``uniform``
    those priors on the same grid (uniform up to the larger of the first differences' SD and
    twice the MLE: ADR 0115's prior);
``lrcd``
    the likelihood-ratio confidence distribution of the level SD (what the package uses).

Each with the observation variance free (``free:``) or the binomial variance p(1-p)/n of the
pre-period mean proportion known plus an estimated extra irregular variance (``binom:``).

Run from the repository root (about 3 s of CPU a series pair)::

    .venv/bin/python benchmarks/structural_alternatives.py --n 100

Prints the table and writes ``benchmarks/out/structural_alternatives.md``.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from model_simulation import structural_series  # noqa: E402
from pipeline.stats.structural_fit import forecast_covariance, maximise_likelihood  # noqa: E402
from pipeline.stats.structural_mixture import (LevelMixture, confidence_weights,  # noqa: E402
                                               grid_forecasts, level_sd_grid,
                                               mle_level_variance)

DELTA = 0.05


def known_noise_model(y: np.ndarray, known: np.ndarray, **kwargs):
    """UnobservedComponents whose observation variance is ``known`` (per month) plus the
    estimated irregular variance, as survey time series carry their sampling error."""
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    class KnownNoise(UnobservedComponents):
        def update(self, params, **kw):
            super().update(params, **kw)
            extra = float(self.ssm["obs_cov"][0, 0, 0])  # sigma2.irregular, just set
            self.ssm["obs_cov", 0, 0] = extra + known

    model = KnownNoise(y, **kwargs)
    model.ssm["obs_cov"] = np.zeros((1, 1, model.nobs))
    return model


def sd_prior(sds, guess, n0, upper):
    """log density in the SD of bsts' SdPrior (1/s^2 ~ Gamma(n0/2, n0 guess^2/2), s <= upper)."""
    s = np.maximum(sds, 1e-150)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lp = stats.gamma.logpdf(1 / s**2, n0 / 2, scale=2 / (n0 * guess**2)) + np.log(2) \
            - 3 * np.log(s)
    return np.where((sds > 0) & (sds <= upper), lp, -np.inf)


def alternatives(y: np.ndarray, pre: np.ndarray, seasonal: bool, known: np.ndarray) -> dict:
    """name -> (weights, means, covs) of the forecast of the post months."""
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    kw = {"level": "llevel", "use_exact_diffuse": True}
    if seasonal:
        kw["freq_seasonal"] = [{"period": 12, "harmonics": 2}]
    post = np.flatnonzero(~pre)
    y_sd, diff_sd = float(np.nanstd(y[pre], ddof=1)), float(np.nanstd(np.diff(y[pre])))
    out = {}
    for tag, model in (("free", UnobservedComponents(y, **kw)),
                       ("binom", known_noise_model(y, known, **kw))):
        res = maximise_likelihood(model)
        mean, cov = forecast_covariance(res, post)
        out[f"{tag}:plugin"] = (np.ones(1), mean[None], cov[None])
        mle_sd = float(np.sqrt(mle_level_variance(res)))
        sds = level_sd_grid(y_sd, diff_sd, mle_sd)
        llf, means, covs = grid_forecasts(res, post, sds)
        width = np.gradient(sds)

        def posterior(log_prior):
            lw = llf + log_prior + np.log(width)
            w = np.exp(lw - lw[np.isfinite(lw)].max())
            w[~np.isfinite(w)] = 0.0
            return w / w.sum()

        top = max(diff_sd, 2 * mle_sd)
        out[f"{tag}:uniform"] = (posterior(np.where(sds <= top, 0.0, -np.inf)), means, covs)
        out[f"{tag}:loguniform"] = (posterior(np.where(
            sds >= 1e-3 * y_sd, -np.log(np.maximum(sds, 1e-300)), -np.inf)), means, covs)
        out[f"{tag}:ci0.01"] = (posterior(sd_prior(sds, 0.01 * y_sd, 32, y_sd)), means, covs)
        out[f"{tag}:ci0.1"] = (posterior(sd_prior(sds, 0.1 * y_sd, 32, y_sd)), means, covs)
        out[f"{tag}:lrcd"] = (confidence_weights(sds, llf, mle_sd, float(res.llf)), means,
                              covs)
    return out


def one_series(seed: int, delta: float, n: int, pre_n: int, amp: float, seasonal: bool):
    frame = structural_series(seed, delta, n, pre_n, amp)
    obs = (frame["numerator"] / frame["denominator"]).to_numpy(float)
    pre = np.arange(n) < pre_n
    p = obs[pre].mean()
    known = p * (1 - p) / frame["denominator"].to_numpy(float)
    k = n - pre_n
    A = np.vstack([np.full(k, 1 / k), np.eye(k)[5]])  # average effect, month 6
    o = A @ obs[~pre]
    rows = []
    for name, (w, means, covs) in alternatives(np.where(pre, obs, np.nan), pre, seasonal,
                                               known).items():
        mix = LevelMixture(weights=w, means=means, covs=covs, mle_level=np.nan,
                           mean_level_sd=np.nan)
        cf, low, high, p_value = mix.combinations(A, 0.05)
        versions = [(name, o - high, o - low, p_value(0, o[0]))]
        if name.endswith("plugin"):  # the same forecast with the t quantile
            df = pre_n - (5 if seasonal else 2) - 1
            sd = np.sqrt(np.einsum("jm,mn,jn->j", A, covs[0], A))
            q = stats.t.ppf(0.975, df)
            versions.append((name + "_t", o - cf - q * sd, o - cf + q * sd,
                             2 * stats.t.sf(abs(o[0] - cf[0]) / sd[0], df)))
        for label, lo, hi, p in versions:
            rows.append({"alternative": label, "delta": delta, "est_avg": o[0] - cf[0],
                         "est_h6": o[1] - cf[1], "cover_avg": lo[0] <= delta <= hi[0],
                         "cover_h6": lo[1] <= delta <= hi[1], "p": p})
    return rows


def row(label: str, reps: int, seed0: int, n: int, pre_n: int, amp: float, seasonal: bool):
    rows = []
    for i in range(reps):
        rows += one_series(seed0 + i, DELTA, n, pre_n, amp, seasonal)
        rows += one_series(seed0 + reps + i, 0.0, n, pre_n, amp, seasonal)
    d = pd.DataFrame(rows)
    eff, null = d[d["delta"] > 0].groupby("alternative"), d[d["delta"] == 0].groupby("alternative")
    return pd.DataFrame({
        "row": label, "n": eff.size(),
        "bias average (%)": 100 * (eff["est_avg"].mean() - DELTA) / DELTA,
        "coverage average (%)": 100 * eff["cover_avg"].mean(),
        "coverage month 6 (%)": 100 * eff["cover_h6"].mean(),
        "type I average (%)": 100 * null["p"].apply(lambda p: (p < 0.05).mean()),
    }).reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="series a row")
    args = parser.parse_args()
    with ProcessPoolExecutor() as pool:
        jobs = [pool.submit(row, "local level (48 months, 30 before)", args.n, 1_000, 48, 30,
                            0.0, False),
                pool.submit(row, "level + seasonal (60 months, 36 before)", args.n, 50_000,
                            60, 36, 0.03, True)]
        table = pd.concat([job.result() for job in jobs], ignore_index=True)
    se = 100 * np.sqrt(0.05 * 0.95 / args.n)
    text = (table.round(1).to_markdown(index=False)
            + f"\n\nMonte Carlo SE of a 95% coverage and of a 5% type I error {se:.1f} points.")
    print(text)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "structural_alternatives.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
