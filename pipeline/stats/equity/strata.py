"""What happened in each stratum? The ITS fits and before/after comparisons per stratum.

Every outcome x dimension x stratum is fitted with the outcome's own ITS specification (same
design as the overall analysis: single, staggered or controlled) in one
:func:`pipeline.stats.its.fit_its_many` call per outcome; the overall series reuses the fit the
evaluation already made when it is passed in. Before/after counts and comparisons per stratum
come from :func:`pipeline.stats.before_after.compare_windows`, the pipeline's one before/after
implementation (an empty stratum is not compared and is named in the warnings).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..before_after import compare_windows, window_masks, window_offsets
from ..its import fit_its_many

OVERALL = "all"
MAX_CI_WIDTH = 50.0  # link-scale interval wider than this: a sparse stratum, left out
SERIES_COLUMNS = ["month", "unit", "numerator", "denominator"]


def select(series: pd.DataFrame, outcome: str, dimension: str, stratum: str) -> pd.DataFrame:
    """One stratum's monthly series (``month, unit, numerator, denominator``)."""
    rows = series[(series["outcome"] == outcome) & (series["dimension"] == dimension)
                  & (series["stratum"] == stratum)]
    return rows[SERIES_COLUMNS].reset_index(drop=True)


def treated(spec, units) -> list:
    """Units that received the intervention: all but the comparators."""
    comparators = set(spec.comparator_units or ())
    return sorted(u for u in units if u not in comparators)


def _usable(fit, label: str, warnings: list) -> bool:
    """A stratum fit whose level/slope estimates are finite and whose intervals are not
    absurdly wide (sparse data): otherwise left out, with a warning."""
    eff = fit.effects
    core = eff[eff["estimand"].isin(["level_change", "slope_change"])]
    if not np.isfinite(core[["estimate", "ci_low", "ci_high"]].to_numpy(float)).all() or \
            (core["ci_high"] - core["ci_low"] > MAX_CI_WIDTH).any():
        warnings.append(f"{label}: estimates not finite or unstable (sparse data); left out")
        return False
    return True


def strata_keys(series: pd.DataFrame, outcome: str, dims) -> list:
    """``(dimension, stratum)`` pairs of one outcome, dimensions in the given order."""
    return [(d, s) for d in dims
            for s in sorted(series.loc[(series["dimension"] == d) & (series["outcome"] == outcome),
                                       "stratum"].unique())]


def stratum_fits(series: pd.DataFrame, outcome: str, spec: dict, dims, warnings: list,
                 overall=None) -> dict:
    """``{(outcome, dimension, stratum): fit}`` of the overall series and every stratum.

    ``overall`` is the evaluation's own fit of the overall series (an ``ITSResult``); without
    it the overall series is fitted here. Strata are :class:`pipeline.stats.its.StratumFit`
    objects from one :func:`fit_its_many` call; a stratum with no events or no denominator,
    or one the checks refuse, is left out with a warning naming the reason.
    """
    fits = {}
    combos = [(OVERALL, OVERALL)] + strata_keys(series, outcome, dims)
    frames = {}
    for d, s in combos:
        sub = select(series, outcome, d, s)
        if sub.empty:
            continue
        if sub["denominator"].sum() == 0 or sub["numerator"].sum() == 0:
            warnings.append(f"{outcome} {d}={s}: no events or no denominator; not estimable")
            continue
        frames[(d, s)] = sub
    if (OVERALL, OVERALL) in frames and overall is not None:
        fits[(outcome, OVERALL, OVERALL)] = overall
        del frames[(OVERALL, OVERALL)]
    order = list(frames)  # fit_its_many keys are positions: (dimension, stratum) pairs
    batch = None
    if order:
        with np.errstate(all="ignore"):
            batch = fit_its_many({i: frames[k] for i, k in enumerate(order)}, spec,
                                 on_error="record")
    for i, (d, s) in enumerate(order):
        label = f"{outcome} {d}={s}"
        if i in batch.errors:
            warnings.append(f"{label}: not estimable ({batch.errors[i]})")
            continue
        fit = batch.fits[i]
        if _usable(fit, label, warnings):
            fits[(outcome, d, s)] = fit
    return fits


def stratum_before_after(series, outcome, spec, dims, months, alpha, warnings) -> pd.DataFrame:
    """Before/after counts and comparison of proportions per stratum of the treated units,
    windows relative to each unit's own start (washout skipped)."""
    rows = series[(series["outcome"] == outcome)
                  & series["dimension"].isin((OVERALL, *dims))]
    rows = rows[rows["unit"].isin(treated(spec, rows["unit"].unique()))]
    starts = {u: str(m) for u, m in (spec.unit_starts or {}).items()}
    offset = window_offsets(rows["month"], rows["unit"], str(spec.phases[0].start), starts)
    before, after = window_masks(offset, *months, spec.washout_months)
    table, skipped = compare_windows(rows, before, after, ["dimension", "stratum"], alpha)
    for d, s in skipped:
        warnings.append(f"{outcome} {d}={s}: empty before or after window; not compared")
    return table.assign(outcome=outcome)[["outcome", *table.columns]]


def before_after_effect_rows(ba: pd.DataFrame) -> list:
    """The difference, risk ratio and odds ratio of each stratum as rows of the stratum
    effects table (source ``before_after``)."""
    rows = []
    for r in ba.itertuples(index=False):
        n = int(r.denominator_before + r.denominator_after)
        test = f"{r.test} test"
        for est, method, scale in (
                ("difference", f"Newcombe hybrid score interval; {test}", "difference in proportion"),
                ("risk_ratio", f"log (Katz) interval; {test}", "risk ratio"),
                ("odds_ratio", f"log (Woolf) interval; {test}", "odds ratio")):
            rows.append({"outcome": r.outcome, "dimension": r.dimension, "stratum": r.stratum,
                         "source": "before_after", "estimand": est, "phase": "after vs before",
                         "estimate": getattr(r, est), "ci_low": getattr(r, f"{est}_low"),
                         "ci_high": getattr(r, f"{est}_high"), "p_value": r.p_value,
                         "method": method, "n": n, "scale": scale})
    return rows
