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

Added rows (issue 17, this session): ``baseline trends differ`` (effects as early wards respond
more, and each ward its own secular trend, uniform -0.01 to 0.02 a month on the logit, so
parallel trends fails) and ``never-treated ward`` (the same effects and a sixth ward without a
start).

Per panel: the joint model with every ward's own level and slope change and their
equal-weight average (:func:`pipeline.stats.staggered.unit_effects`) with each ward's own
trend (the report's default), the same with one trend shared by the wards, and the pooled
staggered model (the old headline). Columns:

* bias: (mean estimate - mean of the panels' own ward averages) / that mean, level change,
  with its Monte Carlo SE;
* ``cover``: the report's interval (these wards, from the joint covariance) against the
  panel's own ward average (the target of issue 17);
* ``cover sample``: the interval for wards as a sample (adds tau^2) against the mean of the
  distribution the wards' effects are drawn from;
* shared-trend: the same estimator with ``trends: common`` (ADR 0060's);
* pooled: the pooled model's bias and coverage against the panel's own ward average;
* ward slope cover: each ward's own slope interval against its own true slope change.

``--part controlled``: controlled ITS with comparator units that differ (one treated unit,
five comparators whose baselines and/or trends are drawn per panel; comparators pooled and
stacked; :func:`controlled_panel`).

Targets (issue 17): |bias| < 5% and 93-97% coverage of the average level and slope change.
With 200 panels the Monte Carlo SE of a 95% coverage is 1.5 points.

Run from the repository root::

    .venv/bin/python benchmarks/staggered_simulation.py              # 200 panels a row
    .venv/bin/python benchmarks/staggered_simulation.py --n 60 --errors independent \
        --scenarios "baseline trends differ;never-treated ward" --raw out.csv
    .venv/bin/python benchmarks/staggered_simulation.py --part controlled
    .venv/bin/python benchmarks/staggered_simulation.py --summarise a.csv b.csv

Prints the markdown table (the tables in ``benchmarks/out/staggered.md`` are these, with the
command lines that made them).
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
from pipeline.stats.staggered import unit_effects  # noqa: E402
from pipeline.stats.staggered_design import change_rows  # noqa: E402

STARTS = {"ward_a": "2022-03", "ward_b": "2022-05", "ward_c": "2022-07", "ward_d": "2022-08",
          "ward_e": "2022-10"}
NEVER = "ward_f"  # the never-treated ward of the "never-treated ward" row
LEVELS, SLOPES, TRENDS = (0.2, 1.0), (0.0, 0.06), (-0.01, 0.02)
RANDOM = ("all alike", "levels differ", "slopes differ", "early wards respond more")
FIXED = ("levels differ, fixed", "slopes differ, fixed", "early wards respond more, fixed")
ADDED = ("baseline trends differ", "never-treated ward")
SCENARIOS = RANDOM + FIXED + ADDED
COMMON = dict(n_months=52, start="2020-01", baseline=0.3, trend=0.005, denominator=150,
              family="binomial")


def draw_effects(scenario: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Ward level and slope changes of one panel, and the means of their distributions.

    The two added rows draw levels and slopes as ``early wards respond more`` (the hardest
    random row); ``baseline trends differ`` also gives each ward its own pre-trend
    (:func:`ward_trends`) and ``never-treated ward`` adds a sixth ward without a start."""
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
    both = ("early wards respond more", *ADDED)
    if scenario in ("levels differ", *both):
        level, mean_level = rng.uniform(*LEVELS, k), float(np.mean(LEVELS))
    if scenario in ("slopes differ", *both):
        slope, mean_slope = rng.uniform(*SLOPES, k), float(np.mean(SLOPES))
    if scenario in both:
        level, slope = np.sort(level)[::-1], np.sort(slope)[::-1]
    return level, slope, mean_level, mean_slope


def ward_trends(scenario: str, rng: np.random.Generator, k: int) -> np.ndarray:
    """Each ward's secular trend (logit a month): the common 0.005, or uniform on -0.01 to
    0.02 in ``baseline trends differ`` (parallel trends fails; each ward's own is linear)."""
    if scenario == "baseline trends differ":
        return rng.uniform(*TRENDS, k)
    return np.full(k, COMMON["trend"])


def spec(errors: str = "auto") -> dict:
    return {"family": "quasibinomial", "errors": errors, "unit_starts": STARTS,
            "phases": [{"name": "VBA training", "start": "2022-03"}], "horizons": [12]}


def panel(scenario: str, seed: int):
    """One simulated roll-out: the data and its truths."""
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    level, slope, mean_level, mean_slope = draw_effects(scenario, rng)
    trend = ward_trends(scenario, rng, len(STARTS))
    units = {u: {"phases": [(s, float(level[i]), float(slope[i]))], "trend": float(trend[i])}
             for i, (u, s) in enumerate(STARTS.items())}
    if scenario == "never-treated ward":
        units[NEVER] = {"phases": []}
    data = simulate_panel(units, seed=seed * 10 + SCENARIOS.index(scenario), **COMMON)
    truth = {"level_change": (float(level.mean()), mean_level),
             "slope_change": (float(slope.mean()), mean_slope),
             "wards": {"level_change": level, "slope_change": slope}}
    return data, truth


def _ward_cover(units: pd.DataFrame, estimand: str, truths: np.ndarray) -> float:
    """Share of the wards whose own interval covers their own true change."""
    rows = units[units["estimand"] == estimand]
    return float(np.mean((rows["ci_low"].to_numpy() <= truths)
                         & (truths <= rows["ci_high"].to_numpy())))


def _hit(row, truth) -> bool:
    return bool(row["ci_low"] <= truth <= row["ci_high"])


def score(scenario: str, seed: int, errors: str = "auto") -> list[dict]:
    """Estimates and interval hits of one panel, one row per estimand: the report's estimator
    (each ward's own trend), the same with a trend shared by the wards, and the pooled model."""
    data, truth = panel(scenario, seed)
    checked = validate_spec(spec(errors))
    units, average, _ = unit_effects(data, checked, trends="unit")
    shared_units, shared, _ = unit_effects(data, checked, trends="common")
    pooled = {r["estimand"]: r for r in change_rows(data, checked)[0]}
    rows = []
    for estimand, g in average.groupby("estimand", sort=False):
        own, population = truth[estimand]
        these = g[g["interval"] == "these units"].iloc[0]
        sample = g[g["interval"] == "units as a sample"].iloc[0]
        common = shared[(shared["estimand"] == estimand)
                        & (shared["interval"] == "these units")].iloc[0]
        p = pooled[estimand]
        rows.append({"scenario": scenario, "seed": seed, "estimand": estimand,
                     "estimate": these["estimate"], "se": these["se"], "own": own,
                     "population": population, "cover_these": _hit(these, own),
                     "cover_sample": _hit(sample, population),
                     "common": common["estimate"], "cover_common": _hit(common, own),
                     "pooled": p["estimate"], "cover_pooled": _hit(p, own),
                     "ward_cover": _ward_cover(units, estimand, truth["wards"][estimand]),
                     "ward_cover_common": _ward_cover(shared_units, estimand,
                                                      truth["wards"][estimand])})
    return rows


def run(n: int, errors: str = "auto", scenarios=SCENARIOS, first: int = 1) -> pd.DataFrame:
    """Every panel of every scenario (seeds first..first + n - 1)."""
    return pd.DataFrame([r for s in scenarios for seed in range(first, first + n)
                         for r in score(s, seed, errors)])


def _pct(x: pd.Series) -> float:
    return 100 * float(x.mean())


def _bias(estimate: pd.Series, target: float) -> tuple[float, float]:
    """Relative bias in % of the target and its Monte Carlo SE."""
    return (100 * (estimate.mean() - target) / target,
            100 * estimate.std(ddof=1) / np.sqrt(len(estimate)) / abs(target))


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario: bias and coverage (in %) of the report's average (each ward's
    own trend), the same with a shared trend, and the pooled model."""
    rows = []
    for scenario, g in raw.groupby("scenario", sort=False):
        lv, sl = g[g["estimand"] == "level_change"], g[g["estimand"] == "slope_change"]
        target = lv["own"].mean()
        bias, mcse = _bias(lv["estimate"], target)
        rows.append({
            "scenario": scenario, "panels": len(lv),
            "level bias %": bias, "bias MC SE %": mcse,
            "level cover %": _pct(lv["cover_these"]), "slope cover %": _pct(sl["cover_these"]),
            "level cover sample %": _pct(lv["cover_sample"]),
            "slope cover sample %": _pct(sl["cover_sample"]),
            "shared-trend level bias %": _bias(lv["common"], target)[0],
            "shared-trend level cover %": _pct(lv["cover_common"]),
            "shared-trend slope cover %": _pct(sl["cover_common"]),
            "pooled level bias %": _bias(lv["pooled"], target)[0],
            "pooled level cover %": _pct(lv["cover_pooled"]),
            "pooled slope cover %": _pct(sl["cover_pooled"]),
            # each ward's own interval against its own change (rows run since these columns)
            "ward slope cover %": _pct(sl["ward_cover"]) if "ward_cover" in sl else np.nan,
            "shared-trend ward slope cover %": (_pct(sl["ward_cover_common"])
                                                if "ward_cover_common" in sl else np.nan),
        })
    return pd.DataFrame(rows)


# --- controlled ITS with comparator units that differ ---------------------------------------

CONTROLLED = ("comparators alike", "comparator levels differ", "comparator trends differ",
              "comparator levels and trends differ")
COMPARATORS = tuple(f"comparator_{j}" for j in range(1, 6))
BASELINES = (0.15, 0.45)  # comparator baselines drawn uniform on this range (proportions)
CONTROLLED_EFFECT = (0.5, 0.02)  # the treated unit's level and slope change (logit)


def controlled_panel(scenario: str, seed: int) -> pd.DataFrame:
    """One treated unit (baseline 30%, trend 0.005, level 0.5 and slope 0.02 from 2022-03) and
    five comparator units without a change whose baselines (uniform 15-45%) and/or trends
    (uniform -0.01 to 0.02, mean 0.005: parallel to the treated unit on average) differ, drawn
    afresh per panel; 52 months, 150 a unit-month."""
    if scenario not in CONTROLLED:
        raise ValueError(f"scenario {scenario!r} is not one of {CONTROLLED}")
    rng = np.random.default_rng([seed, 100 + CONTROLLED.index(scenario)])
    k = len(COMPARATORS)
    base = rng.uniform(*BASELINES, k) if "levels" in scenario else np.full(k, COMMON["baseline"])
    trend = rng.uniform(*TRENDS, k) if "trends" in scenario else np.full(k, COMMON["trend"])
    units = {"treated": {"phases": [("2022-03", *CONTROLLED_EFFECT)]},
             **{u: {"phases": [], "baseline": float(base[j]), "trend": float(trend[j])}
                for j, u in enumerate(COMPARATORS)}}
    return simulate_panel(units, seed=seed * 10 + 100 + CONTROLLED.index(scenario), **COMMON)


def controlled_spec(comparators: str, errors: str = "auto") -> dict:
    return {"family": "quasibinomial", "errors": errors, "comparator_units": list(COMPARATORS),
            "comparators": comparators, "horizons": [12],
            "phases": [{"name": "training", "start": "2022-03"}]}


def score_controlled(scenario: str, seed: int, errors: str = "auto") -> list[dict]:
    """The controlled ITS's level and slope change (``group:`` terms), comparators pooled and
    stacked, against the treated unit's true changes (the comparators have none)."""
    data = controlled_panel(scenario, seed)
    rows = []
    for comparators in ("pooled", "stacked"):
        for r in change_rows(data, validate_spec(controlled_spec(comparators, errors)))[0]:
            truth = CONTROLLED_EFFECT[0 if r["estimand"] == "level_change" else 1]
            rows.append({"scenario": scenario, "comparators": comparators, "seed": seed,
                         "estimand": r["estimand"], "estimate": r["estimate"], "se": r["se"],
                         "own": truth, "cover": _hit(r, truth)})
    return rows


def run_controlled(n: int, errors: str = "auto", scenarios=CONTROLLED,
                   first: int = 1) -> pd.DataFrame:
    return pd.DataFrame([r for s in scenarios for seed in range(first, first + n)
                         for r in score_controlled(s, seed, errors)])


def summarise_controlled(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario and comparator route: level bias, its MC SE, coverage, and the
    ratio of the mean SE to the SD of the estimates (1 = honest intervals)."""
    rows = []
    for (scenario, comparators), g in raw.groupby(["scenario", "comparators"], sort=False):
        lv, sl = g[g["estimand"] == "level_change"], g[g["estimand"] == "slope_change"]
        bias, mcse = _bias(lv["estimate"], CONTROLLED_EFFECT[0])
        rows.append({"scenario": scenario, "comparators": comparators, "panels": len(lv),
                     "level bias %": bias, "bias MC SE %": mcse,
                     "slope bias %": _bias(sl["estimate"], CONTROLLED_EFFECT[1])[0],
                     "level cover %": _pct(lv["cover"]), "slope cover %": _pct(sl["cover"]),
                     "level SE/SD": lv["se"].mean() / lv["estimate"].std(ddof=1),
                     "slope SE/SD": sl["se"].mean() / sl["estimate"].std(ddof=1)})
    return pd.DataFrame(rows)


def table_markdown(table: pd.DataFrame) -> list[str]:
    head = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    body = ["| " + " | ".join(f"{v:.2f}" if isinstance(v, float) and abs(v) < 10 and "SE/SD" in c
                              else f"{v:.1f}" if isinstance(v, float) else str(v)
                              for c, v in zip(table.columns, row)) + " |"
            for row in table.itertuples(index=False)]
    return [head, rule, *body]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="panels per scenario")
    parser.add_argument("--errors", default="auto", help="ITS errors of every fit (auto, independent)")
    parser.add_argument("--part", choices=("staggered", "controlled"), default="staggered")
    parser.add_argument("--scenarios", default="all",
                        help="all, random, fixed, added, or scenario names separated by ';'")
    parser.add_argument("--first-seed", type=int, default=1,
                        help="seed of the first panel (more panels for a row: 201, 401, ...)")
    parser.add_argument("--raw", help="also write the per-panel rows to this CSV")
    parser.add_argument("--summarise", nargs="*", metavar="CSV",
                        help="print the table of earlier --raw files instead of running")
    args = parser.parse_args()
    controlled = args.part == "controlled"
    summary = summarise_controlled if controlled else summarise
    if args.summarise:
        raw = pd.concat([pd.read_csv(f) for f in args.summarise], ignore_index=True)
        print("\n".join(table_markdown(summary(raw))))
        return
    groups = {"all": CONTROLLED if controlled else SCENARIOS, "random": RANDOM, "fixed": FIXED,
              "added": ADDED}
    chosen = groups.get(args.scenarios) or tuple(args.scenarios.split(";"))
    t0 = time.perf_counter()
    parts = []
    for scenario in chosen:  # one scenario at a time: a long run keeps what it has done
        parts.append((run_controlled if controlled else run)(args.n, args.errors, (scenario,),
                                                              args.first_seed))
        raw = pd.concat(parts, ignore_index=True)
        if args.raw:
            raw.to_csv(args.raw, index=False)
        print(f"{scenario}: {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"{args.part}, errors: {args.errors}, {time.perf_counter() - t0:.0f} s")
    print("\n".join(table_markdown(summary(raw))))


if __name__ == "__main__":
    main()
