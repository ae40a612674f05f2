"""Simulation rows of the structural model and the synthetic control (issue 12, item 8).

Targets of the existing engine (docs/design.md sec. 4): |bias| < 5%, 95% coverage 93-97%, type I
error 3-7%. Rows:

structural, local level
    48 months from 2020-01, start 2022-07 (30 before, 18 after); the true proportion is a
    random walk from 0.40 (step SD 0.004 a month) with binomial counts of 400 a month; the
    effect is a constant ``delta`` added from the start (0.05, or 0 for type I). Model: local
    level (:func:`pipeline.stats.structural.fit_structural`). Bias and coverage of
    ``average_effect`` and ``abs_diff_h6`` against ``delta``; type I error of the
    ``average_effect`` p-value at ``delta = 0``.
structural, level + seasonal
    as above over 60 months (start 2023-01, 36 before) with a seasonal wave of amplitude 0.03
    (period 12); model: local level + trigonometric seasonal (2 harmonics).
synthetic control
    20 units over 30 periods (start at period 20): ``y_it = a_i + l_i f_t + e_it`` with two
    common factors ``f_t`` (random walks), loadings uniform on 0-1, unit effects ``a_i`` from
    N(50, 5), noise SD 1; the treated unit's ``a`` and loadings are a random convex combination of
    three donors' (so a synthetic control exists), effect ``delta = -5`` (or 0). Bias of the
    average post-period gap; type I error of the placebo p-value <= 0.05 at ``delta = 0``
    (with 19 placebos, 0.05 = rank 1 of 20). Synthetic control has no interval: coverage is
    not defined (n/a).

Run from the repository root::

    .venv/bin/python benchmarks/model_simulation.py            # 500 series a row
    .venv/bin/python benchmarks/model_simulation.py --n 100

Prints the table and writes ``benchmarks/out/model_simulation.md``. The fast form is
``tests/test_model_simulation.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.stats.structural import fit_structural  # noqa: E402
from pipeline.stats.synthetic_control import fit_synthetic_control  # noqa: E402

ALPHA = 0.05


def structural_series(seed: int, delta: float, n: int = 48, pre: int = 30,
                      seasonal_amp: float = 0.0, den: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    p = 0.4 + np.cumsum(rng.normal(0, 0.004, n)) + seasonal_amp * np.sin(2 * np.pi * t / 12)
    p = np.clip(p + np.where(t >= pre, delta, 0.0), 0.01, 0.99)
    months = pd.period_range("2020-01", periods=n, freq="M").to_timestamp()
    return pd.DataFrame({"month": months, "numerator": rng.binomial(den, p),
                         "denominator": den})


def structural_row(name: str, reps: int, seed0: int, n: int, pre: int, seasonal_amp: float,
                   options: dict) -> dict:
    start = str(pd.Period("2020-01", freq="M") + pre)
    spec = {"family": "gaussian", "phases": [{"name": "x", "start": start}], "horizons": [6]}
    est, cover, cover_h6, est_h6, reject0 = [], [], [], [], []
    delta = 0.05
    for i in range(reps):
        r = fit_structural(structural_series(seed0 + i, delta, n, pre, seasonal_amp), spec,
                           options).effects.set_index("estimand")
        a, h6 = r.loc["average_effect"], r.loc["abs_diff_h6"]
        est.append(a["estimate"])
        est_h6.append(h6["estimate"])
        cover.append(a["ci_low"] <= delta <= a["ci_high"])
        cover_h6.append(h6["ci_low"] <= delta <= h6["ci_high"])
        r0 = fit_structural(structural_series(seed0 + reps + i, 0.0, n, pre, seasonal_amp),
                            spec, options).effects.set_index("estimand")
        reject0.append(r0.loc["average_effect", "p_value"] < ALPHA)
    return {"row": name, "n": reps,
            "bias average_effect (%)": 100 * (np.mean(est) - delta) / delta,
            "bias abs_diff_h6 (%)": 100 * (np.mean(est_h6) - delta) / delta,
            "coverage average_effect (%)": 100 * np.mean(cover),
            "coverage abs_diff_h6 (%)": 100 * np.mean(cover_h6),
            "type I average_effect (%)": 100 * np.mean(reject0)}


def sc_panel(seed: int, delta: float, units: int = 20, periods: int = 30, start: int = 20):
    rng = np.random.default_rng(seed)
    f = np.cumsum(rng.normal(0, 1, (periods, 2)), axis=0)
    a = rng.normal(50, 5, units - 1)
    load = rng.uniform(0, 1, (units - 1, 2))
    pick = rng.choice(units - 1, 3, replace=False)
    w = rng.dirichlet(np.ones(3))
    a_t, load_t = w @ a[pick], w @ load[pick]
    y = a[None, :] + f @ load.T + rng.normal(0, 1, (periods, units - 1))
    y_t = a_t + f @ load_t + rng.normal(0, 1, periods) + np.where(np.arange(periods) >= start,
                                                                  delta, 0.0)
    rows = [(f"d{j}", t, y[t, j]) for j in range(units - 1) for t in range(periods)]
    rows += [("T", t, y_t[t]) for t in range(periods)]
    return pd.DataFrame(rows, columns=["unit", "period", "value"])


def sc_row(reps: int, seed0: int) -> dict:
    delta = -5.0
    gaps, reject0 = [], []
    for i in range(reps):
        r = fit_synthetic_control(sc_panel(seed0 + i, delta), "T", 20)
        gaps.append(r.effects.set_index("estimand").loc["average_gap", "estimate"])
        r0 = fit_synthetic_control(sc_panel(seed0 + reps + i, 0.0), "T", 20)
        reject0.append(r0.p_value <= ALPHA)
    return {"row": "synthetic control (20 units, 20 pre / 10 post)", "n": reps,
            "bias average_effect (%)": 100 * (np.mean(gaps) - delta) / abs(delta),
            "bias abs_diff_h6 (%)": np.nan, "coverage average_effect (%)": np.nan,
            "coverage abs_diff_h6 (%)": np.nan,
            "type I average_effect (%)": 100 * np.mean(reject0)}


def run(reps: int) -> pd.DataFrame:
    """The three rows, each in its own process (independent seeds: the same table as in
    one process)."""
    with ProcessPoolExecutor() as pool:
        jobs = [
            pool.submit(structural_row, "structural: local level (48 months, 30 before)", reps,
                        1_000, 48, 30, 0.0, {"trend": "local_level"}),
            pool.submit(structural_row, "structural: level + seasonal (60 months, 36 before)",
                        reps, 50_000, 60, 36, 0.03,
                        {"trend": "local_level", "seasonal": 12, "harmonics": 2}),
            pool.submit(sc_row, reps, 90_000),
        ]
        return pd.DataFrame([job.result() for job in jobs])


def monte_carlo_se(reps: int) -> str:
    """Monte Carlo SE of a 95% coverage and of a 5% type I error over ``reps`` series."""
    se = 100 * np.sqrt(0.05 * 0.95 / reps)
    return (f"{reps} series a row; Monte Carlo SE of a 95% coverage and of a 5% type I error "
            f"{se:.1f} points each.")


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """Each figure against its target: bias < 5%, coverage 93-97%, type I 3-7%."""
    out = table.copy()
    def mark(v, ok):
        return "n/a" if pd.isna(v) else f"{v:.1f}{'' if ok(v) else ' (missed)'}"
    for c in out.columns:
        if c.startswith("bias"):
            out[c] = [mark(v, lambda x: abs(x) < 5) for v in table[c]]
        elif c.startswith("coverage"):
            out[c] = [mark(v, lambda x: 93 <= x <= 97) for v in table[c]]
        elif c.startswith("type I"):
            out[c] = [mark(v, lambda x: 3 <= x <= 7) for v in table[c]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="series (panels) a row")
    args = parser.parse_args()
    t0 = time.perf_counter()
    table = verdicts(run(args.n))
    text = table.to_markdown(index=False) + "\n\n" + monte_carlo_se(args.n)
    print(text)
    print(f"\n{time.perf_counter() - t0:.1f} s")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "model_simulation.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
