"""Speed of stratified ITS fits (docs/design.md section 7: 1,000 fits, estimands and diagnostics
included, in under 2 s on 2 cores).

The workload: 1,000 strata of one 48-month Poisson series each (quasi-Poisson, two Fourier
pairs, one level + slope change, horizons 3, 6 and 12), as an equity breakdown produces,
fitted with the reports' default ``errors: auto`` (AR(1) working correlation by REML,
Kenward-Roger covariance, Satterthwaite df per estimand) and, for comparison, with
Newey-West errors (3 lags) and independent errors. Three routes are timed side by side in the
same run (absolute times drift on shared machines, ratios less so):

* ours: ``fit_its_many(long_frame, spec, by="stratum")`` (each errors option): validation, designs, fits, every
  estimand with its delta-method interval, and diagnostics (Durbin-Watson, Ljung-Box, Cook's
  distance, verdict) for every stratum;
* formula: statsmodels' formula API, one ``smf.glm(...).fit(cov_type="HAC")`` per stratum on a
  prepared per-stratum DataFrame (model fit and ``conf_int`` only: no derived estimands, no
  diagnostics);
* array: statsmodels' array API, ``sm.GLM(y, X, offset=...).fit(cov_type="HAC")`` per stratum
  with the design matrix built once (fit and ``conf_int`` only).

Also times one ``fit_its`` call (the single-series path, with its pandas result tables).

Run from the repository root::

    .venv/bin/python benchmarks/its_speed.py            # about 20 s
    .venv/bin/python benchmarks/its_speed.py --n 300    # quicker

Prints the table and writes ``benchmarks/out/its_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

# small matrices: BLAS threads only add overhead on a shared 2-core machine
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.stats.its import fit_its, fit_its_many  # noqa: E402
from pipeline.stats.simulation import simulate_series  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "its_speed.json"
TARGET_S = 2.0
SPEC = {"family": "quasipoisson", "errors": "hac", "hac_lags": 3, "seasonality": "fourier",
        "harmonics": 2, "phases": [{"name": "launch", "start": "2021-01"}],
        "horizons": [3, 6, 12]}
SPEC_AUTO = {**SPEC, "errors": "auto"}  # the reports' default (AR(1), Kenward-Roger)
SPEC_INDEPENDENT = {**SPEC, "errors": "independent"}


def _data(n: int) -> pd.DataFrame:
    frames = [simulate_series(n_months=48, start="2019-01", phases=[("2021-01", 0.2, 0.002)],
                              family="poisson", baseline=0.01, denominator=4000 + 10 * i,
                              amplitude=0.2, overdispersion=0.01, seed=i).assign(stratum=f"s{i}")
              for i in range(n)]
    return pd.concat(frames, ignore_index=True)[["month", "unit", "stratum", "numerator",
                                                  "denominator"]]


def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="strata (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of (default 3)")
    args = parser.parse_args(argv)
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    long = _data(args.n)
    fit_its_many(long.head(48 * 5), SPEC, by="stratum")  # warm imports

    fit_its_many(long.head(48 * 5), SPEC_AUTO, by="stratum")
    ours = _best(lambda: fit_its_many(long, SPEC, by="stratum"), args.repeat)
    auto = _best(lambda: fit_its_many(long, SPEC_AUTO, by="stratum"), args.repeat)
    independent = _best(lambda: fit_its_many(long, SPEC_INDEPENDENT, by="stratum"), args.repeat)
    for spec in (SPEC, SPEC_AUTO):
        batch = fit_its_many(long, spec, by="stratum")
        assert batch.n_fast == args.n, "every stratum should take the fast path"

    # the formula and array routes: same model, per stratum
    one = fit_its(long[long["stratum"] == "s0"].drop(columns="stratum"), SPEC)
    X = np.asarray(one.model_results.model.exog)
    names = [f"x{i}" for i in range(1, X.shape[1])]
    frames = []
    for _, g in long.groupby("stratum", sort=False):
        f = pd.DataFrame(X[:, 1:], columns=names)
        f["y"] = g["numerator"].to_numpy()
        f["log_den"] = np.log(g["denominator"].to_numpy())
        frames.append(f)
    formula = "y ~ " + " + ".join(names)

    def formula_route():
        for f in frames:
            smf.glm(formula, f, family=sm.families.Poisson(), offset=f["log_den"]).fit(
                scale="X2", cov_type="HAC", cov_kwds={"maxlags": 3}).conf_int()

    arrays = [(f["y"].to_numpy(), f["log_den"].to_numpy()) for f in frames]

    def array_route():
        for y, off in arrays:
            sm.GLM(y, X, family=sm.families.Poisson(), offset=off).fit(
                scale="X2", cov_type="HAC", cov_kwds={"maxlags": 3}).conf_int()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        formula_s = _best(formula_route, 1)
        array_s = _best(array_route, max(1, args.repeat - 1))
    single = long[long["stratum"] == "s1"].drop(columns="stratum")
    single_ms = _best(lambda: fit_its(single, SPEC), 20) * 1e3

    result = {
        "n_strata": args.n,
        "auto_s": round(auto, 3),
        "auto_ms_per_fit": round(auto / args.n * 1e3, 3),
        "auto_over_hac": round(auto / ours, 2),
        "independent_s": round(independent, 3),
        "ours_s": round(ours, 3),
        "ours_ms_per_fit": round(ours / args.n * 1e3, 3),
        "formula_s": round(formula_s, 3),
        "array_s": round(array_s, 3),
        "ratio_formula_over_ours": round(formula_s / ours, 1),
        "ratio_array_over_ours": round(array_s / ours, 1),
        "fit_its_single_ms": round(single_ms, 2),
        "target_s": TARGET_S * args.n / 1000,
        "meets_target": bool(ours <= TARGET_S * args.n / 1000),
        "auto_meets_target": bool(auto <= TARGET_S * args.n / 1000),
    }
    print(f"{args.n} stratified fits (48-month quasi-Poisson, Fourier 2)")
    print(f"  ours  errors: auto (AR(1), KR) {auto:7.3f} s  ({result['auto_ms_per_fit']:.2f} ms a "
          f"fit; {auto / ours:.2f}x HAC)  target {result['target_s']:.1f} s: "
          f"{'met' if result['auto_meets_target'] else 'MISSED'}")
    print(f"  ours  errors: independent     {independent:7.3f} s")
    print("  HAC 3 lags:")
    print(f"  ours  fit_its_many        {ours:7.3f} s  ({result['ours_ms_per_fit']:.2f} ms a fit, "
          f"estimands + diagnostics)  target {result['target_s']:.1f} s: "
          f"{'met' if result['meets_target'] else 'MISSED'}")
    print(f"  statsmodels formula API   {formula_s:7.3f} s  ({formula_s / ours:.1f}x ours; fit only)")
    print(f"  statsmodels array API     {array_s:7.3f} s  ({array_s / ours:.1f}x ours; fit only)")
    print(f"  one fit_its call          {single_ms:7.2f} ms")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
