"""Simulation study of the staggered roll-out estimators when wards differ (issue 17).

Five wards start as in ``params.yaml`` (smoking_advice: 2022-03, -05, -07, -08, -10), 52 months
from 2020-01, 150 smokers a ward-month, baseline 30%, a common pre-trend of 0.005 a month on
the logit, binomial counts (:func:`pipeline.stats.simulation.simulate_panel`). Scenarios (level
and slope changes on the logit scale, drawn afresh for every panel so that the wards are a
random sample of wards, the model the interval assumes):

* ``all alike``: every ward level 0.5, slope 0.02 a month;
* ``levels differ``: levels uniform on 0.2-1.0, slope 0.02;
* ``slopes differ``: level 0.5, slopes uniform on 0-0.06;
* ``early wards respond more``: levels uniform on 0.2-1.0 and slopes on 0-0.06, sorted so
  that the earliest ward gets the largest of each;
* ``..., fixed``: the same three with the wards' effects evenly spaced over the range in start
  order (levels 0.2, 0.4, ..., 1.0 and slopes 0, 0.015, ..., 0.06, the earliest ward the
  smallest; reversed for early wards respond more) and the same in every panel: the setting of
  issue 17, where the target is these five wards' own average.

Per panel: the joint model with every ward's own level and slope change and their
equal-weight average (:func:`pipeline.stats.staggered.unit_effects`), and the pooled staggered
model (the old headline). Columns:

* bias: (mean estimate - mean of the panels' own ward averages) / that mean, level change;
* ``cover``: the report's interval (these wards, from the joint covariance) against the
  panel's own ward average (the target of issue 17);
* ``cover sample``: the interval for wards as a sample (adds tau^2) against the mean of the
  distribution the wards' effects are drawn from;
* pooled: the pooled model's bias and coverage against the panel's own ward average.

Targets (issue 17): |bias| < 5% and 93-97% coverage of the average level and slope change.
With 200 panels the Monte Carlo SE of a 95% coverage is 1.5 points.

Run from the repository root::

    .venv/bin/python benchmarks/staggered_simulation.py              # 200 panels a row
    .venv/bin/python benchmarks/staggered_simulation.py --n 60 --errors independent

Prints the table and writes ``benchmarks/out/staggered.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.stats.its_spec import validate_spec  # noqa: E402
from pipeline.stats.simulation import simulate_panel  # noqa: E402
from pipeline.stats.staggered import change_rows, unit_effects  # noqa: E402

STARTS = {"ward_a": "2022-03", "ward_b": "2022-05", "ward_c": "2022-07", "ward_d": "2022-08",
          "ward_e": "2022-10"}
LEVELS, SLOPES = (0.2, 1.0), (0.0, 0.06)
RANDOM = ("all alike", "levels differ", "slopes differ", "early wards respond more")
FIXED = ("levels differ, fixed", "slopes differ, fixed", "early wards respond more, fixed")
SCENARIOS = RANDOM + FIXED
COMMON = dict(n_months=52, start="2020-01", baseline=0.3, trend=0.005, denominator=150,
              family="binomial")


def draw_effects(scenario: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Ward level and slope changes of one panel, and the means of their distributions."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario {scenario!r} is not one of {SCENARIOS}")
    k = len(STARTS)
    level, slope = np.full(k, 0.5), np.full(k, 0.02)
    mean_level, mean_slope = 0.5, 0.02
    if scenario.endswith(", fixed"):  # evenly spaced in start order, the same in every panel
        if scenario.startswith(("levels", "early")):
            level, mean_level = np.linspace(*LEVELS, k), float(np.mean(LEVELS))
        if scenario.startswith(("slopes", "early")):
            slope, mean_slope = np.linspace(*SLOPES, k), float(np.mean(SLOPES))
        if scenario.startswith("early"):
            level, slope = level[::-1], slope[::-1]
        return level, slope, mean_level, mean_slope
    if scenario in ("levels differ", "early wards respond more"):
        level, mean_level = rng.uniform(*LEVELS, k), float(np.mean(LEVELS))
    if scenario in ("slopes differ", "early wards respond more"):
        slope, mean_slope = rng.uniform(*SLOPES, k), float(np.mean(SLOPES))
    if scenario == "early wards respond more":
        level, slope = np.sort(level)[::-1], np.sort(slope)[::-1]
    return level, slope, mean_level, mean_slope


def spec(errors: str = "auto") -> dict:
    return {"family": "quasibinomial", "errors": errors, "unit_starts": STARTS,
            "phases": [{"name": "VBA training", "start": "2022-03"}], "horizons": [12]}


def panel(scenario: str, seed: int):
    """One simulated roll-out: the data and its truths."""
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    level, slope, mean_level, mean_slope = draw_effects(scenario, rng)
    units = {u: {"phases": [(s, float(level[i]), float(slope[i]))]}
             for i, (u, s) in enumerate(STARTS.items())}
    data = simulate_panel(units, seed=seed * 10 + SCENARIOS.index(scenario), **COMMON)
    truth = {"level_change": (float(level.mean()), mean_level),
             "slope_change": (float(slope.mean()), mean_slope)}
    return data, truth


def score(scenario: str, seed: int, errors: str = "auto") -> list[dict]:
    """Estimates and interval hits of one panel, one row per estimand."""
    data, truth = panel(scenario, seed)
    checked = validate_spec(spec(errors))
    _, average, _ = unit_effects(data, checked)
    pooled = {r["estimand"]: r for r in change_rows(data, checked)[0]}
    rows = []
    for estimand, g in average.groupby("estimand", sort=False):
        own, population = truth[estimand]
        these = g[g["interval"] == "these units"].iloc[0]
        sample = g[g["interval"] == "units as a sample"].iloc[0]
        p = pooled[estimand]
        rows.append({"scenario": scenario, "seed": seed, "estimand": estimand,
                     "estimate": these["estimate"], "own": own, "population": population,
                     "cover_these": these["ci_low"] <= own <= these["ci_high"],
                     "cover_sample": sample["ci_low"] <= population <= sample["ci_high"],
                     "pooled": p["estimate"],
                     "cover_pooled": p["ci_low"] <= own <= p["ci_high"]})
    return rows


def run(n: int, errors: str = "auto", scenarios=SCENARIOS) -> pd.DataFrame:
    """Every panel of every scenario (seeds 1..n)."""
    return pd.DataFrame([r for s in scenarios for seed in range(1, n + 1)
                         for r in score(s, seed, errors)])


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario: bias and coverage (in %) of the average and of the pooled model."""
    rows = []
    for scenario, g in raw.groupby("scenario", sort=False):
        lv, sl = g[g["estimand"] == "level_change"], g[g["estimand"] == "slope_change"]
        target = lv["own"].mean()
        rows.append({
            "scenario": scenario, "panels": len(lv),
            "level bias %": 100 * (lv["estimate"].mean() - target) / target,
            "level cover %": 100 * lv["cover_these"].mean(),
            "slope cover %": 100 * sl["cover_these"].mean(),
            "level cover sample %": 100 * lv["cover_sample"].mean(),
            "slope cover sample %": 100 * sl["cover_sample"].mean(),
            "pooled level bias %": 100 * (lv["pooled"].mean() - target) / target,
            "pooled level cover %": 100 * lv["cover_pooled"].mean(),
            "pooled slope cover %": 100 * sl["cover_pooled"].mean(),
        })
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, errors: str, seconds: float) -> str:
    head = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    body = ["| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row) + " |"
            for row in table.itertuples(index=False)]
    return "\n".join([
        "# Staggered roll-out: per-ward average against the pooled model",
        "",
        f"Generated by `benchmarks/staggered_simulation.py` (errors: {errors}; {seconds:.0f} s). "
        "Five wards, 52 months, 150 a ward-month, baseline 30%. Rows without ', fixed': ward "
        "effects drawn afresh per panel; ', fixed': evenly spaced in start order, the same "
        "every panel. 'cover' = the report's interval (these wards, joint covariance) against "
        "the panel's own ward average; 'cover sample' = the interval for wards as a sample "
        "(adds tau^2) against the mean of the distribution the effects are drawn from; pooled = "
        "the pooled staggered model against the panel's own ward average. Targets: |level "
        "bias| < 5%, coverage 93-97%.",
        "", head, rule, *body, "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="panels per scenario")
    parser.add_argument("--errors", default="auto", help="ITS errors of every fit (auto, independent)")
    parser.add_argument("--scenarios", choices=("all", "random", "fixed"), default="all")
    parser.add_argument("--out", default="staggered.md", help="file name under benchmarks/out")
    args = parser.parse_args()
    chosen = {"all": SCENARIOS, "random": RANDOM, "fixed": FIXED}[args.scenarios]
    t0 = time.perf_counter()
    table = summarise(run(args.n, args.errors, chosen))
    seconds = time.perf_counter() - t0
    text = markdown(table, args.errors, seconds)
    print(text)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / args.out).write_text(text)


if __name__ == "__main__":
    main()
