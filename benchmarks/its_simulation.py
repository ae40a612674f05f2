"""Simulation study of the ITS engine: bias, 95% CI coverage and type I error of the level
change, per family x error structure (docs/design.md section 4, issue 3).

For every cell, ``n`` seeded series are simulated with a known level change (and ``n`` more
with none) by :func:`pipeline.stats.simulation.simulate_series`, fitted through the
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

Second table, autocorrelation (``--table autocorrelation``, issue 16): every family with latent
AR(1) noise on the link scale (SD 0.15; 0.02 on the proportion for gaussian) at lag-1
correlation 0, 0.3 and 0.6, at 24, 48 and 120 months (start in the middle), no true effect,
for the level change, the slope change and the 12-month difference (``abs_diff_h12``): 95% CI
coverage of 0, type I error and median SE / SD of the estimates (SE read off the
width as width / (2 x 1.96)), with ``errors: auto`` (AR(1)
working correlation, Kenward-Roger, Satterthwaite df) everywhere, the old default
``errors: independent`` at 48 months, and Newey-West (3 lags) for quasi-binomial at 48
months; and the change in the Q1 - Q5 equity gap for the reports' families (pairs of series
combined by ``pipeline.stats.equity.gap_change_stratified``, :func:`run_gap_cell`). Binomial-type data: 1,000
trials a month, 20% baseline; Poisson-type: 5,000 person-months, rate 0.02. Writes
``benchmarks/out/its_autocorrelation.json`` and ``.md`` (rows added one at a time under a
lock, so several processes can fill the table side by side). The committed table was run as
2,000 series a row for the quasi-binomial and quasi-Poisson rows at 24 and 48 months, 1,000
for the others and at 120 months; the gap rows, re-run after docs/adr/0105, 1,000 pairs at 48
months and 500 at 24 and 120 months (each row records its n; about 1.5 h on 2 shared cores;
the gap rows alone about 15 min, one process per family)::

    .venv/bin/python benchmarks/its_simulation.py --table autocorrelation --n 2000 --only 48 24
    .venv/bin/python benchmarks/its_simulation.py --table autocorrelation --n 1000 --only 120
    .venv/bin/python benchmarks/its_simulation.py --table autocorrelation --n 200 --only 48 \\
        --errors auto "auto gap" --families quasibinomial --rhos 0.6   # a quick look

Third table, by period (``--table periods``, issue 12, docs/adr/0160): quasi-binomial series
of 156 weeks, 32 quarters or 20 years fitted in their own period (``errors: auto``, Fourier
seasonality over the period's seasons), bias and coverage of the level change, the slope
change and the difference one year after the start over ``n`` series with a known effect, type
I error over ``n`` without; saved under ``periods`` in ``its_autocorrelation.json`` and at the
end of its ``.md`` (1,000 series a row: about 10 min on 2 shared cores)::

    .venv/bin/python benchmarks/its_simulation.py --table periods --n 1000

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
from pipeline.stats.simulation import simulate_panel, simulate_series  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "its_simulation.json"
OUT_AC = ROOT / "benchmarks" / "out" / "its_autocorrelation.json"
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
    # controlled ITS, comparators stacked as Stata itsa (1 treated + 5 comparator units, each
    # simulated with its own noise; the level change only in the treated unit)
    "controlled stacked gaussian / HAC, 48 months": (
        dict(family="gaussian", baseline=0.3, trend=0.001, sd=0.02, ar=0.3, comparators=5),
        dict(family="gaussian", errors="hac", comparators="stacked"), 0.05),
    "controlled stacked quasibinomial / independent": (
        dict(family="binomial", baseline=0.3, trend=0.005, denominator=400, overdispersion=0.01,
             comparators=5),
        dict(family="quasibinomial", comparators="stacked"), 0.5),
}


def _simulate(sim: dict, start: str, effect: float, seed: int):
    """One simulated data set: a single series, or with ``comparators: k`` a treated unit
    (with the effect) and k comparator units (without) for a controlled design."""
    sim = dict(sim)
    k = sim.pop("comparators", 0)
    if not k:
        return simulate_series(**sim, phases=[(start, effect, 0.0)], seed=seed)
    units = {"treated": {"phases": [(start, effect, 0.0)]},
             **{f"comparator_{j}": {"phases": []} for j in range(1, k + 1)}}
    return simulate_panel(units, seed=seed, **sim)


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
    if sim.get("comparators"):
        spec["comparator_units"] = [f"comparator_{j}" for j in range(1, sim["comparators"] + 1)]
    out = {}
    t0 = time.perf_counter()
    for label, effect, offset in (("effect", level, 0), ("null", 0.0, 10**6)):
        series = {i: _simulate(sim, start, effect, seed0 + offset + i) for i in range(n)}
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
    out["spec"] = {k: v for k, v in spec.items()
                   if k not in ("phases", "horizons", "comparator_units")}
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


# --- autocorrelation table (issue 16) ------------------------------------------------------

AC_FAMILIES = ("quasibinomial", "binomial", "quasipoisson", "poisson", "negbin", "gaussian")
AC_RHOS = (0.0, 0.3, 0.6)
AC_MONTHS = (24, 48, 120)
AC_ESTIMANDS = ("level_change", "slope_change", "abs_diff_h12")
AC_DATA = {  # simulated family -> simulate_series arguments (no effect)
    "binomial": dict(family="binomial", baseline=0.2, denominator=1000, sd=0.15),
    "poisson": dict(family="poisson", baseline=0.02, denominator=5000, sd=0.15),
    "gaussian": dict(family="gaussian", baseline=0.2, sd=0.02),
}
AC_ERRORS = {"auto": {"errors": "auto"}, "independent": {"errors": "independent"},
             "hac": {"errors": "hac", "hac_lags": 3}}


def ac_cells() -> list[tuple[str, str, float, int]]:
    """(family, errors, rho, months) of every row of the autocorrelation table; errors
    ``"auto gap"`` is the change in the equity gap (:func:`run_gap_cell`)."""
    cells = []
    for t in (48, 24, 120):  # the target length first
        cells += [(f, "auto", r, t) for f in AC_FAMILIES for r in AC_RHOS]
        cells += [(f, "auto gap", r, t) for f in AC_GAP_FAMILIES for r in AC_RHOS]
        if t == 48:
            cells += [(f, "independent", r, 48) for f in AC_FAMILIES for r in AC_RHOS]
            cells += [("quasibinomial", "hac", r, 48) for r in AC_RHOS]
    return cells


# equity-gap rows: the reports' families
AC_GAP_FAMILIES = ("quasibinomial", "quasipoisson")
GAP_BASELINE = {"1": 1.25, "5": 0.75}  # most / least deprived: baseline x this factor


# Under AR errors the scale is always estimated, so binomial and Poisson fits equal their
# quasi twins on the same data (same seeds): their rows are copied, not recomputed.
AC_TWINS = {"binomial": "quasibinomial", "poisson": "quasipoisson"}


def ac_key(family, errors, rho, months) -> str:
    return f"{family} / {errors} / rho {rho:g} / {months} months"


def run_ac_cell(family: str, errors: str, rho: float, months: int, n: int,
                seed0: int = 0) -> dict:
    """Coverage, type I error and SE/SD of the three estimands over ``n`` null series."""
    t0 = time.perf_counter()
    long, spec = _simulated_null(family, rho, months, n, seed0, errors=errors)
    batch = fit_its_many(long, spec, by="stratum")
    out = {"n": n, "spec": {k: v for k, v in spec.items() if k not in ("phases", "horizons")},
           **_coverage(batch.effects)}
    out["ci_df_median"] = float(np.median([d["ci_df"] for d in batch.diagnostics.values()
                                           if d["ci_df"] is not None] or [np.nan]))
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _simulated_null(family: str, rho: float, months: int, n: int, seed0: int,
                    strata=(None,), errors: str = "auto"):
    """Long frame of ``n`` null series per stratum label (seeds ``seed0 + i`` for the first
    label, shifted by 10**6 per further label) and the spec of the table's model."""
    import pandas as pd

    sim = AC_DATA[family.removeprefix("quasi") if family != "negbin" else "poisson"]
    start = str(pd.Period(BASE["start"], "M") + months // 2)
    spec = {"family": family, **AC_ERRORS[errors], "phases": [{"name": "launch", "start": start}],
            "horizons": [12]}
    frames = []
    for j, label in enumerate(strata):
        args = dict(sim)
        if label is not None:
            args["baseline"] = sim["baseline"] * GAP_BASELINE[label]
        frames += [simulate_series(n_months=months, start=BASE["start"], ar=rho,
                                   seed=seed0 + j * 10**6 + i, **args)
                   .assign(stratum=i if label is None else f"{i}:{label}") for i in range(n)]
    long = pd.concat(frames, ignore_index=True)[["month", "unit", "stratum", "numerator",
                                                  "denominator"]]
    return long, spec


def run_gap_cell(family: str, rho: float, months: int, n: int, seed0: int = 0,
                 errors: str = "auto") -> dict:
    """Coverage and type I error of the change in the equity gap, as the reports compute it.

    ``n`` pairs of null series (most and least deprived: baselines 1.25 and 0.75 times the
    table's, each with its own latent AR(1) noise) are fitted with ``errors`` and
    combined by the reports' own code, :func:`pipeline.stats.equity.gap_change_stratified`
    (difference of the two strata's estimates; variance the sum of each fit's per-contrast
    variance, t interval on the Welch-Satterthwaite df of the two contrasts' df, docs/adr/0105).
    The true change in the gap is 0 for the level and slope changes (link scale) and the
    12-month difference.
    """
    import pandas as pd

    from pipeline.stats.equity import gap_change_stratified

    long, spec = _simulated_null(family, rho, months, n, seed0, strata=("1", "5"),
                                 errors=errors)
    t0 = time.perf_counter()
    batch = fit_its_many(long, spec, by="stratum")
    rows = []
    for i in range(n):
        fits = {("o", "imd_quintile", q): batch.fits[f"{i}:{q}"] for q in ("1", "5")}
        rows += gap_change_stratified("o", fits, "1", "5", 0.05)
    out = {"n": n, "spec": {"family": family, "errors": errors},
           **_coverage(pd.DataFrame(rows))}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _coverage(eff) -> dict:
    """Coverage of 0, type I error and median SE / SD of each estimand, and whether all
    three are in the target bands."""
    out = {}
    for est in AC_ESTIMANDS:
        v = eff.loc[eff["estimand"] == est, ["estimate", "ci_low", "ci_high", "p_value"]].to_numpy()
        out[est] = {
            "coverage": float(np.mean((v[:, 1] <= 0) & (0 <= v[:, 2]))),
            "type1": float(np.mean(v[:, 3] < 0.05)),
            # width / (2 * 1.96): the SE an analyst reads off, whatever the quantile
            "median_se_over_sd": float(np.median((v[:, 2] - v[:, 1]) / (2 * 1.959964))
                                       / v[:, 0].std()),
        }
    out["meets_target"] = bool(all(
        TARGETS["coverage"][0] <= out[e]["coverage"] <= TARGETS["coverage"][1]
        and TARGETS["type1"][0] <= out[e]["type1"] <= TARGETS["type1"][1] for e in AC_ESTIMANDS))
    return out


def ac_markdown(results: dict) -> str:
    """The autocorrelation table as markdown (coverage / type I error per estimand, series
    per row and the Monte Carlo SE of a 95% coverage at that number)."""
    head = ("| family | errors | months | lag-1 rho | series (MC SE) | level change cover / "
            "type I | slope change cover / type I | 12-month difference cover / type I | "
            "target |\n|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for (f, e, r, t) in ac_cells():
        res = results.get(ac_key(f, e, r, t))
        if res is None:
            continue
        cells = " | ".join(f"{res[x]['coverage']:.1%} / {res[x]['type1']:.1%}" for x in AC_ESTIMANDS)
        mcse = 100 * np.sqrt(0.95 * 0.05 / res["n"])
        what = "auto, equity gap Q1 - Q5" if e == "auto gap" else e
        lines.append(f"| {f} | {what} | {t} | {r:g} | {res['n']:,} ({mcse:.1f}) | {cells} | "
                     f"{'met' if res['meets_target'] else '**missed**'} |")
    return ("Coverage of a nominal 95% interval and type I error at the 5% level over null "
            "series (no effect); target 93-97% and 3-7%. Series per row and, in brackets, "
            "the Monte Carlo SE of a 95% coverage in points. Binomial and Poisson rows under "
            "`auto` are their quasi twins' (the scale is always estimated). Equity gap rows: "
            "pairs of series (most and least deprived), combined as the reports do "
            "(`pipeline.stats.equity.gap_change_stratified`: per-contrast SEs, Welch-Satterthwaite "
            "df).\n\n" + head + "\n".join(lines) + "\n")


def _save_ac(key: str, res: dict | None = None, period_rows: dict | None = None) -> dict:
    """Add one row to the saved table (or, with ``period_rows``, the rows by period),
    re-reading it under a lock first, so that several processes (e.g. one per series length)
    can fill the table side by side."""
    import fcntl
    import tempfile

    OUT_AC.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "its_autocorrelation.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = json.loads(OUT_AC.read_text()) if OUT_AC.exists() else {}
        results = saved.get("cells", {})
        if res is not None:
            results[key] = res
        by_period = {**saved.get("periods", {}), **(period_rows or {})}
        ordered = {ac_key(*c): results[ac_key(*c)] for c in ac_cells() if ac_key(*c) in results}
        by_period = {period_key(*c): by_period[period_key(*c)] for c in PERIOD_CELLS
                     if period_key(*c) in by_period}
        OUT_AC.write_text(json.dumps({"targets": {"coverage": [0.93, 0.97], "type1": [0.03, 0.07],
                                                  "abs_relative_bias_below": 0.05},
                                      "estimands": list(AC_ESTIMANDS), "cells": ordered,
                                      **({"periods": by_period} if by_period else {})},
                                     indent=2) + "\n")
        OUT_AC.with_suffix(".md").write_text(ac_markdown(ordered)
                                             + (period_markdown(by_period) if by_period else ""))
    return ordered


# --- rows by period (issue 12, docs/adr/0160) ------------------------------------------------

# period -> periods in the series, seasons per year (None: no season), Fourier harmonics,
# trials per period, level change (log odds), slope change per period (log odds), horizon
PERIOD_DESIGNS = {
    "week": dict(length=156, seasons=365.25 / 7, harmonics=2, denominator=250, level=0.3,
                 slope=0.008, horizon=52),
    "quarter": dict(length=32, seasons=4, harmonics=2, denominator=3000, level=0.5,
                    slope=0.06, horizon=4),
    "year": dict(length=20, seasons=None, harmonics=0, denominator=12000, level=0.5,
                 slope=0.1, horizon=1),
}
PERIOD_CELLS = [(p, r) for p in PERIOD_DESIGNS for r in (0.0, 0.3)]
PERIOD_ESTIMANDS = ("level_change", "slope_change", "abs_diff_h")


def period_key(period: str, rho: float) -> str:
    return f"quasibinomial / auto / rho {rho:g} / {period}"


def _period_series(period: str, rho: float, effect: bool, seed: int):
    """One quasi-binomial series of ``period``s (baseline 20%, latent AR(1) noise SD 0.15 on
    the logit, a seasonal sine of amplitude 0.2 over the period's seasons per year), with the
    design's level and slope change from the middle period when ``effect``, re-dated as
    consecutive period starts from 2010 (:mod:`pipeline.periods`)."""
    import pandas as pd

    from pipeline import periods

    d = PERIOD_DESIGNS[period]
    start = "2010-01"
    mid = str(pd.Period(start, "M") + d["length"] // 2)
    sim = simulate_series(n_months=d["length"], start=start, family="binomial", baseline=0.2,
                          denominator=d["denominator"], sd=0.15, ar=rho,
                          amplitude=0.2 if d["seasons"] else 0.0, seasons=d["seasons"] or 12,
                          phases=[(mid, d["level"], d["slope"])] if effect else [], seed=seed)
    first = periods.to_period("2010-01-04" if period == "week" else "2010-01-01", period, "first")
    ordinals = first + np.arange(d["length"])
    return sim.drop(columns="month").assign(
        **{period: periods.start_dates(ordinals, period)}), \
        str(periods.start_dates([first + d["length"] // 2], period)[0])[:10]


def run_period_cell(period: str, rho: float, n: int, seed0: int = 0) -> dict:
    """Bias and coverage of the level change, slope change and the difference one year after
    the start (``abs_diff_h<horizon>``, true value from the noise-free means) over ``n``
    series with the effect, and type I error over ``n`` without, fitted as the reports fit
    (``errors: auto``, Fourier seasonality in the period's own seasons per year)."""
    import pandas as pd

    d = PERIOD_DESIGNS[period]
    t0 = time.perf_counter()
    out = {"n": n, "length": d["length"], "spec": {}}
    for label, effect, offset in (("effect", True, 0), ("null", False, 10**6)):
        frames, truth = [], None
        for i in range(n):
            series, start = _period_series(period, rho, effect, seed0 + offset + i)
            frames.append(series.assign(stratum=i))
            if truth is None:
                h = series.index[series[period] >= pd.Timestamp(start)][d["horizon"] - 1]
                truth = float(series.loc[h, "true_mean"] - series.loc[h, "true_counterfactual"])
        spec = {"family": "quasibinomial", "errors": "auto", "period": period,
                "phases": [{"name": "launch", "start": start}], "horizons": [d["horizon"]],
                "seasonality": "fourier" if d["seasons"] else "none",
                **({"harmonics": d["harmonics"]} if d["seasons"] else {})}
        out["spec"] = {k: v for k, v in spec.items() if k != "phases"}
        batch = fit_its_many(pd.concat(frames, ignore_index=True)
                             .drop(columns=["true_mean", "true_counterfactual"]), spec,
                             by="stratum")
        eff = batch.effects
        true = {"level_change": d["level"], "slope_change": d["slope"], "abs_diff_h": truth}
        for est in PERIOD_ESTIMANDS:
            name = f"abs_diff_h{d['horizon']}" if est == "abs_diff_h" else est
            v = eff.loc[eff["estimand"] == name,
                        ["estimate", "ci_low", "ci_high", "p_value"]].to_numpy()
            row = out.setdefault(est, {})
            if effect:
                row["truth"] = true[est]
                row["bias"] = float((v[:, 0].mean() - true[est]) / true[est])
                row["bias_mcse"] = float(v[:, 0].std() / np.sqrt(n) / abs(true[est]))
                row["coverage"] = float(np.mean((v[:, 1] <= true[est]) & (true[est] <= v[:, 2])))
            else:
                row["type1"] = float(np.mean(v[:, 3] < 0.05))
                row["null_coverage"] = float(np.mean((v[:, 1] <= 0) & (0 <= v[:, 2])))
    out["meets_target"] = bool(all(
        abs(out[e]["bias"]) < TARGETS["bias"]
        and TARGETS["coverage"][0] <= out[e]["coverage"] <= TARGETS["coverage"][1]
        and TARGETS["type1"][0] <= out[e]["type1"] <= TARGETS["type1"][1]
        for e in PERIOD_ESTIMANDS))
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def period_markdown(rows: dict) -> str:
    """The rows by period as markdown: bias, coverage and type I error per estimand."""
    head = ("| period | length | lag-1 rho | series (MC SE) | level change bias / cover / "
            "type I | slope change bias / cover / type I | difference 1 year after bias / "
            "cover / type I | target |\n|---|---|---|---|---|---|---|---|\n")
    lines = []
    for (p, r) in PERIOD_CELLS:
        res = rows.get(period_key(p, r))
        if res is None:
            continue
        cells = " | ".join(f"{res[x]['bias']:+.1%} ({res[x]['bias_mcse']:.1%}) / "
                           f"{res[x]['coverage']:.1%} / "
                           f"{res[x]['type1']:.1%}" for x in PERIOD_ESTIMANDS)
        mcse = 100 * np.sqrt(0.95 * 0.05 / res["n"])
        lines.append(f"| {p} | {res['length']} {p}s | {r:g} | {res['n']:,} ({mcse:.1f}) | "
                     f"{cells} | {'met' if res['meets_target'] else '**missed**'} |")
    return ("\n## By period (week, quarter, year)\n\nQuasi-binomial series fitted in their own "
            "period (`period: week | quarter | year`, docs/adr/0130, 0160) with `errors: auto` "
            "and Fourier seasonality over the period's seasons per year (weeks: 52.18, 2 "
            "harmonics; quarters: 4, 2 harmonics; years: none); latent AR(1) noise SD 0.15 on "
            "the logit, a seasonal sine of amplitude 0.2, baseline 20%, the start in the middle. "
            "Bias (relative to the true level change, slope change per period and the true "
            "difference one year after the start) and coverage over series with the effect; "
            "type I error over as many without. Targets |bias| < 5%, coverage 93-97%, type I "
            "3-7%; Monte Carlo SE of the bias beside it and of a 95% coverage in the series "
            "column.\n\n"
            + head + "\n".join(lines) + "\n")


def main_periods(n: int) -> dict:
    """Run and save the rows by period."""
    rows = {}
    for (p, r) in PERIOD_CELLS:
        res = run_period_cell(p, r, n, seed0=int(r * 10) * 100_000 + 7_000_000)
        rows[period_key(p, r)] = res
        print(f"{period_key(p, r):40s} " + "  ".join(
            f"{res[x]['bias']:+6.1%}/{res[x]['coverage']:6.1%}/{res[x]['type1']:5.1%}"
            for x in PERIOD_ESTIMANDS)
            + f"  {res['seconds']:6.1f}s  {'met' if res['meets_target'] else 'MISSED'}",
            flush=True)
        _save_ac("", period_rows={period_key(p, r): res})
    return rows


def main_autocorrelation(n: int, only_months=None, n_long: int | None = None,
                         resume: bool = False, errors=None, families=None,
                         rhos=None) -> dict:
    """Run the autocorrelation table (optionally only some series lengths or errors) and save
    it; ``n_long`` series per row at 120 months (default ``n``)."""
    results = json.loads(OUT_AC.read_text()).get("cells", {}) if OUT_AC.exists() else {}
    for (f, e, r, t) in ac_cells():
        if (only_months and t not in only_months) or (errors and e not in errors) \
                or (families and f not in families) or (rhos and r not in rhos):
            continue
        size = n_long if (n_long and t == 120) else n
        key = ac_key(f, e, r, t)
        if resume and key in results and results[key]["n"] == size:
            continue
        twin = ac_key(AC_TWINS.get(f, f), e, r, t)
        seed0 = int(r * 10) * 100_000 + t * 1000
        if e == "auto" and f in AC_TWINS and twin in results and results[twin]["n"] == size:
            res = {**results[twin], "same_as": twin}
        elif e == "auto gap":
            res = run_gap_cell(f, r, t, size, seed0=seed0 + 50_000)
        else:
            res = run_ac_cell(f, e, r, t, size, seed0=seed0)
        print(f"{key:52s} " + "  ".join(
            f"{res[x]['coverage']:6.1%}/{res[x]['type1']:5.1%}" for x in AC_ESTIMANDS)
            + f"  {res['seconds']:6.1f}s  {'met' if res['meets_target'] else 'MISSED'}",
            flush=True)
        results = _save_ac(key, res)
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="series per cell (default 1000)")
    parser.add_argument("--cells", nargs="*", default=list(CELLS))
    parser.add_argument("--table", choices=("effects", "autocorrelation", "periods"), default="effects")
    parser.add_argument("--only", type=int, nargs="*", help="autocorrelation: series lengths")
    parser.add_argument("--resume", action="store_true",
                        help="autocorrelation: keep rows already saved with the same n")
    parser.add_argument("--n-long", type=int, default=None,
                        help="autocorrelation: series per 120-month row (default --n)")
    parser.add_argument("--errors", nargs="*",
                        help="autocorrelation: only these errors (auto, 'auto gap', "
                             "independent, hac)")
    parser.add_argument("--families", nargs="*", help="autocorrelation: only these families")
    parser.add_argument("--rhos", type=float, nargs="*", help="autocorrelation: only these rho")
    args = parser.parse_args(argv)
    if args.table == "periods":
        return main_periods(args.n)
    if args.table == "autocorrelation":
        return main_autocorrelation(args.n, args.only, args.n_long, args.resume, args.errors,
                                    args.families, args.rhos)
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
