"""Simulation check of the change-in-the-gap estimators (issue 4; docs/design.md section 4).

Five IMD-quintile series are simulated with ``pipeline.stats.simulation.simulate_series``
(48 months, one interruption after 24, a deprivation gradient in the baseline, a common pre-
trend, beta-binomial over-dispersion), and the two gap-change estimators of
``pipeline.stats.equity`` are applied to every dataset:

(a) stratified ITS: quintile 1 minus quintile 5 level change (log odds), from
    ``gap_change_between`` (quasi-binomial, model-based SE scaled by the dispersion);
(b) ITS of the monthly SII (most - least deprived, PHE method): level change of a Gaussian
    segmented regression of the SII series.

Scenarios (truths from the noise-free means):
``no_effect``     no intervention effect anywhere: both gap changes are 0;
``common_logit``  the same log-odds level change (0.3) in every quintile: the gap change (a)
                  is 0 on the log-odds scale, while the absolute SII changes slightly (the
                  odds ratio is not collapsible to differences), which is the truth for (b);
``q1_extra``      quintile 1 gets 0.35 more (as thi_month's BBV testing): (a) truth 0.35.

For each: mean estimate, bias, empirical SD, mean SE, 95% CI coverage of the truth, and the
rejection rate of "no change" (type I error when the truth is 0, power otherwise).
Target (docs/design.md section 4): coverage between 93% and 97%, type I error near 5%.

Usage: ``.venv/bin/python benchmarks/equity_gap_simulation.py [--n 1000] [--seed 1]``.
Writes ``benchmarks/out/equity_gap_simulation.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.stats.equity import gap_change_between, monthly_sii, sii_its
from pipeline.stats.inequality import sii_point
from pipeline.stats.its_spec import validate_spec
from pipeline.stats.simulation import simulate_series

N_MONTHS, START, PHASE = 48, "2019-01", "2021-01"
BASELINES = {"1": 0.08, "2": 0.09, "3": 0.10, "4": 0.11, "5": 0.12}
DENOMINATOR = 250
OVERDISPERSION = 0.002  # beta-binomial intra-class correlation
SPEC = {"family": "quasibinomial", "errors": "independent",
        "phases": [{"name": "start", "start": PHASE}], "horizons": [12]}
SCENARIOS = {"no_effect": (0.0, 0.0), "common_logit": (0.3, 0.0), "q1_extra": (0.3, 0.35)}


def simulate(seed: int, level: float, extra_q1: float) -> pd.DataFrame:
    frames = []
    for i, (q, base) in enumerate(BASELINES.items()):
        change = level + (extra_q1 if q == "1" else 0.0)
        s = simulate_series(n_months=N_MONTHS, start=START, phases=[(PHASE, change, 0.0)],
                            baseline=base, trend=0.003, denominator=DENOMINATOR,
                            overdispersion=OVERDISPERSION, unit="service", seed=seed * 10 + i)
        frames.append(s.assign(stratum=q))
    return pd.concat(frames, ignore_index=True)


def true_sii_change(data: pd.DataFrame) -> float:
    first = data[data["month"] == pd.Timestamp(PHASE)].sort_values("stratum")
    n = first["denominator"].to_numpy(float)
    with_ = sii_point(first["true_mean"].to_numpy(), n, -1.0)["sii"]
    without = sii_point(first["true_counterfactual"].to_numpy(), n, -1.0)["sii"]
    return with_ - without


def one(seed: int, level: float, extra: float) -> dict:
    data = simulate(seed, level, extra)
    cols = ["month", "unit", "numerator", "denominator"]
    a = gap_change_between(data[data["stratum"] == "1"][cols], data[data["stratum"] == "5"][cols],
                           SPEC).set_index("estimand").loc["level_change"]
    long = data.assign(outcome="o", dimension="imd_quintile")
    sii = monthly_sii(long, "o", validate_spec(SPEC), [])
    res, rows = sii_its(sii, SPEC, "o", [])
    b = next(r for r in rows if r["estimand"] == "level_change")
    return {"a": (a["estimate"], a["ci_low"], a["ci_high"]),
            "b": (b["estimate"], b["ci_low"], b["ci_high"]), "b_truth": true_sii_change(data)}


def summarise(values: list, truth) -> dict:
    est, lo, hi = (np.array(v) for v in zip(*values))
    truth = np.broadcast_to(np.asarray(truth, float), est.shape)
    se = (hi - lo) / (2 * 1.959964)
    return {"truth": float(truth.mean()), "mean": float(est.mean()),
            "bias": float((est - truth).mean()), "empirical_sd": float(est.std(ddof=1)),
            "mean_se": float(se.mean()),
            "coverage": float(((lo <= truth) & (truth <= hi)).mean()),
            "reject_zero": float(((lo > 0) | (hi < 0)).mean())}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="datasets per scenario")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    out = {"n": args.n, "months": N_MONTHS, "denominator_per_quintile_month": DENOMINATOR,
           "overdispersion_icc": OVERDISPERSION, "scenarios": {}}
    for name, (level, extra) in SCENARIOS.items():
        t0 = time.perf_counter()
        runs = [one(args.seed * 100_000 + k, level, extra) for k in range(args.n)]
        out["scenarios"][name] = {
            "level_change_logit": level, "q1_extra_logit": extra,
            "stratified_its_gap_change": summarise([r["a"] for r in runs], extra),
            "sii_its_level_change": summarise([r["b"] for r in runs], [r["b_truth"] for r in runs]),
            "seconds": round(time.perf_counter() - t0, 1)}
        print(name, json.dumps(out["scenarios"][name], indent=1))
    path = Path(__file__).parent / "out" / "equity_gap_simulation.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
