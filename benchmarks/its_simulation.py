"""Simulation study of the ITS engine: bias, 95% CI coverage and type I error of the level
change, per family x error structure (DESIGN.md section 4, issue 3).

For every cell, ``n`` seeded series are simulated with a known level change (and ``n`` more
with none) by :func:`pipeline.stats.simulate_series.simulate_series`, fitted through the
public batch entry point ``fit_its_many`` (equal to ``fit_its`` per series), and the level
change on the link scale is compared with the truth:

* relative bias = (mean estimate - truth) / truth, target |bias| < 5%;
* coverage of the 95% interval, target 93% to 97%;
* type I error (p < 0.05 when there is no effect), target 3% to 7%.

With 1,000 series the Monte Carlo SE of a 95% coverage is 0.69 points and of a 5% rejection
rate 0.69 points, so the targets are about +/-3 Monte Carlo SEs.

Run from the repository root::

    .venv/bin/python benchmarks/its_simulation.py            # 1,000 series per cell (~2-4 min)
    .venv/bin/python benchmarks/its_simulation.py --n 200    # quick look

Prints the table and writes ``benchmarks/out/its_simulation.json``; with ``--cells`` only the
named cells are rerun and the others are kept from the existing file. Each cell is fitted with
the spec's defaults (``ci_quantile`` included: t quantiles on the residual df for gaussian,
quasi-Poisson, quasi-binomial and negative binomial, normal for Poisson and binomial), and the
JSON records the resolved quantile and df of every cell (for the gaussian HAC cells, whose
default ``hac_small_sample: "bm"`` gives every contrast its own Satterthwaite df, the df of
the level change of the first series). ``tests/test_its_simulation.py`` runs the same cells
with fewer series.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# small matrices: BLAS threads only add overhead on a shared 2-core machine
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.stats.its import fit_its_many  # noqa: E402
from pipeline.stats.its_estimands import quantile  # noqa: E402
from pipeline.stats.its_spec import validate_spec  # noqa: E402
from pipeline.stats.simulate_series import simulate_series  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "its_simulation.json"
TARGETS = {"bias": 0.05, "coverage": (0.93, 0.97), "type1": (0.03, 0.07)}

# name -> (simulation arguments, spec, level change on the link scale)
BASE = dict(n_months=48, start="2019-01")
CELLS = {
    "gaussian / independent": (
        dict(family="gaussian", baseline=0.3, trend=0.001, sd=0.02),
        dict(family="gaussian", errors="independent"), 0.05),
    # Newey-West with the n/(n-p) correction and t on n-p df: the gaussian default before
    # hac_small_sample "bm" (kept to show what the bias-reduced variance fixes)
    "gaussian / HAC (NW, n/(n-p)), 48 months": (
        dict(family="gaussian", baseline=0.3, trend=0.001, sd=0.02, ar=0.3),
        dict(family="gaussian", errors="hac", hac_small_sample=True), 0.05),
    "gaussian / HAC (NW, n/(n-p)), 120 months": (
        dict(family="gaussian", baseline=0.3, trend=0.0005, sd=0.02, ar=0.3, n_months=120,
             start="2016-01"),
        dict(family="gaussian", errors="hac", hac_small_sample=True), 0.03),
    "gaussian / HAC, 48 months": (
        dict(family="gaussian", baseline=0.3, trend=0.001, sd=0.02, ar=0.3),
        dict(family="gaussian", errors="hac"), 0.05),
    "gaussian / HAC, 120 months": (
        dict(family="gaussian", baseline=0.3, trend=0.0005, sd=0.02, ar=0.3, n_months=120,
             start="2016-01"),
        dict(family="gaussian", errors="hac"), 0.03),
    "gaussian / HAC, 240 months": (
        dict(family="gaussian", baseline=0.3, trend=0.0002, sd=0.02, ar=0.3, n_months=240,
             start="2011-01"),
        dict(family="gaussian", errors="hac"), 0.02),
    "gaussian / HAC (EWC), 48 months": (
        dict(family="gaussian", baseline=0.3, trend=0.001, sd=0.02, ar=0.3),
        dict(family="gaussian", errors="hac", hac_kernel="ewc"), 0.05),
    "gaussian / HAC (EWC), 120 months": (
        dict(family="gaussian", baseline=0.3, trend=0.0005, sd=0.02, ar=0.3, n_months=120,
             start="2016-01"),
        dict(family="gaussian", errors="hac", hac_kernel="ewc"), 0.03),
    "gaussian / AR(1), 48 months": (
        dict(family="gaussian", baseline=0.3, trend=0.001, sd=0.02, ar=0.3),
        dict(family="gaussian", errors="ar"), 0.05),
    "poisson / independent": (
        dict(family="poisson", baseline=0.01, trend=0.002, denominator=20000),
        dict(family="poisson"), 0.15),
    "quasipoisson / independent": (
        dict(family="poisson", baseline=0.01, trend=0.002, denominator=20000, overdispersion=0.01),
        dict(family="quasipoisson"), 0.15),
    "negbin / independent": (
        dict(family="poisson", baseline=0.02, trend=0.002, denominator=2000, overdispersion=0.05),
        dict(family="negbin"), 0.3),
    "binomial / independent": (
        dict(family="binomial", baseline=0.3, trend=0.005, denominator=400),
        dict(family="binomial"), 0.3),
    "quasibinomial / independent": (
        dict(family="binomial", baseline=0.3, trend=0.005, denominator=400, overdispersion=0.01),
        dict(family="quasibinomial"), 0.5),
}


def _phase_start(sim: dict) -> str:
    """The interruption in the middle of the series."""
    import pandas as pd

    start = pd.Period(sim.get("start", BASE["start"]), "M")
    return str(start + sim.get("n_months", BASE["n_months"]) // 2)


def run_cell(name: str, n: int, seed0: int = 0) -> dict:
    """Bias, coverage and type I error of one cell over ``n`` series (and ``n`` null series)."""
    sim, spec, level = CELLS[name]
    sim = {**BASE, **sim}
    start = _phase_start(sim)
    spec = {**spec, "phases": [{"name": "launch", "start": start}], "horizons": []}
    out = {}
    t0 = time.perf_counter()
    for label, effect, offset in (("effect", level, 0), ("null", 0.0, 10**6)):
        series = {i: simulate_series(**sim, phases=[(start, effect, 0.0)], seed=seed0 + offset + i)
                  for i in range(n)}
        batch = fit_its_many(series, spec)
        eff = batch.effects
        ci_df = batch.diagnostics[0]["ci_df"]
        est = eff.loc[eff["estimand"] == "level_change",
                      ["estimate", "ci_low", "ci_high", "p_value"]].to_numpy()
        if label == "effect":
            out["bias"] = float((est[:, 0].mean() - effect) / effect)
            out["coverage"] = float(np.mean((est[:, 1] <= effect) & (effect <= est[:, 2])))
            q = quantile(0.05, ci_df)  # the interval's own quantile: SE = width / (2 q)
            out["mean_se_ratio"] = float(np.mean((est[:, 2] - est[:, 1]) / (2 * q))
                                         / est[:, 0].std())
        else:
            out["type1"] = float(np.mean(est[:, 3] < 0.05))
            out["null_coverage"] = float(np.mean((est[:, 1] <= 0) & (0 <= est[:, 2])))
    checked = validate_spec(spec)
    out["spec"] = {k: v for k, v in spec.items() if k not in ("phases", "horizons")}
    out["ci_quantile"] = checked.ci_quantile
    out["ci_df"] = ci_df
    out["hac_kernel"] = checked.hac_kernel if checked.errors == "hac" else None
    out["n"] = n
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["true_level"] = level
    out["meets_target"] = bool(abs(out["bias"]) < TARGETS["bias"]
                               and TARGETS["coverage"][0] <= out["coverage"] <= TARGETS["coverage"][1]
                               and TARGETS["type1"][0] <= out["type1"] <= TARGETS["type1"][1])
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="series per cell (default 1000)")
    parser.add_argument("--cells", nargs="*", default=list(CELLS))
    args = parser.parse_args(argv)
    results = {}
    if OUT.exists() and set(args.cells) != set(CELLS):
        kept = json.loads(OUT.read_text()).get("cells", {})
        results = {k: v for k, v in kept.items() if k in CELLS}
    print(f"{'family / errors':32s} {'bias':>7s} {'cover':>6s} {'type I':>7s} {'SE/SD':>6s} "
          f"{'n':>5s} {'s':>6s}  target")
    for name in args.cells:
        r = run_cell(name, args.n)
        results[name] = r
        print(f"{name:32s} {r['bias']:+7.2%} {r['coverage']:6.1%} {r['type1']:7.1%} "
              f"{r['mean_se_ratio']:6.2f} {r['n']:5d} {r['seconds']:6.1f}  "
              f"{'met' if r['meets_target'] else 'MISSED'}", flush=True)
    results = {name: results[name] for name in CELLS if name in results}  # table order
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"targets": {"abs_relative_bias_below": 0.05,
                                           "coverage": [0.93, 0.97], "type1": [0.03, 0.07]},
                               "cells": results}, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
