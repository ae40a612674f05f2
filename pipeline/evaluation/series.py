"""The series an evaluation is fitted to: which rows, which months, which units, which windows.

Pure functions of the prepared monthly series and the validated params (docs/architecture.md);
nothing here fits a model. :func:`load_series` is the one reader of ``series.parquet``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import Intervention, Outcome
from pipeline.stats.before_after import compare_windows, window_offsets
from pipeline.stats.before_after import window_masks as window_masks_from_offsets

def load_series(path) -> pd.DataFrame:
    """The prepare step's ``series.parquet``, strata as text."""
    series = pd.read_parquet(path)
    series["stratum"] = series["stratum"].astype(str)
    return series


COVARIATE_PREFIX = "covariate_"


def covariates(series: pd.DataFrame) -> list[str]:
    """Covariate columns the prepare step added (a modelled disruption, a coding change)."""
    return [c for c in series.columns if c.startswith(COVARIATE_PREFIX)]


def select(series: pd.DataFrame, outcome: str, dimension: str = "all",
           stratum: str = "all") -> pd.DataFrame:
    """The monthly series of one outcome in one stratum, by unit (with any covariates)."""
    rows = series[(series["outcome"] == outcome) & (series["dimension"] == dimension)
                  & (series["stratum"] == stratum)]
    keep = ["month", "unit", "numerator", "denominator", *covariates(series)]
    return rows[keep].reset_index(drop=True)


def measured(cfg: Intervention, series: pd.DataFrame) -> pd.DataFrame:
    """The series without the months before each outcome's ``measured_from``.

    Before collection began the extract has zeros, not a rate of zero: those months are no
    baseline and are dropped, so every table, model and figure of that outcome starts when
    the measure did (docs/adr/0075).
    """
    starts = {o.key: o.measured_from for o in cfg.outcomes if o.measured_from is not None}
    if not starts:
        return series
    first = series["outcome"].map(starts)
    return series[first.isna() | (series["month"] >= first)].reset_index(drop=True)


def equity_outcomes(cfg: Intervention) -> list[Outcome]:
    """Outcomes with an equity breakdown: patients' outcomes reported on their own (staff
    outcomes have no patient strata; grouped outcomes, such as the areas of unmet need, are
    broken down through the group's overall measure; docs/adr/0076, 0077)."""
    return [o for o in cfg.outcomes if o.population == "patients" and o.group is None]


def data_spec(series: pd.DataFrame, quality: dict | None) -> dict:
    """ITS spec keys that come from the data rather than params: months the prepare step
    excluded (a disruption window) and covariate columns it added (docs/data.md, quirks)."""
    spec: dict = {}
    quality = quality or {}   # at a quarter or year: the periods holding them (docs/adr/0160)
    excluded = quality.get("excluded_periods", quality.get("excluded_months")) or []
    if excluded:
        spec["exclude_months"] = [[m, m] for m in excluded]
    if covariates(series):
        spec["covariates"] = covariates(series)
    return spec


def treated_units(cfg: Intervention, units) -> list[str]:
    """Units that received the intervention: all but the comparators."""
    comparators = set(cfg.comparator_units or ())
    return sorted(u for u in units if u not in comparators)


def window_masks(cfg: Intervention, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows in the before and after windows, relative to each unit's own start.

    Before: the ``before_months`` months up to the start; after: ``after_months`` months
    from the start plus any washout (the washout months themselves are excluded). The start
    is the unit's own (staggered) or the outcome's first evaluated phase
    (:meth:`Intervention.phases_of`: a measure collected from part-way through is compared
    around the first phase after collection began).
    """
    firsts = {o.key: cfg.phases_of(o)[0].start for o in cfg.outcomes}
    before = np.zeros(len(frame), bool)
    after = np.zeros(len(frame), bool)
    ba = cfg.before_after
    starts = {u: s.strftime("%Y-%m") for u, s in (cfg.unit_starts or {}).items()}
    outcomes = frame["outcome"] if "outcome" in frame else pd.Series("", index=frame.index)
    for outcome, idx in outcomes.groupby(outcomes, sort=False).indices.items():
        part = frame.iloc[idx]
        first = firsts.get(outcome, cfg.phases[0].start).strftime("%Y-%m")
        offset = window_offsets(part["month"], part["unit"], first, starts)
        before[idx], after[idx] = window_masks_from_offsets(
            offset, ba.before_months, ba.after_months, ba.washout_months)
    return before, after


def before_after_table(cfg: Intervention, series: pd.DataFrame) -> pd.DataFrame:
    """Before/after proportions (Wilson) and their difference (Newcombe) per outcome x stratum
    of the treated units, by :func:`pipeline.stats.before_after.compare_windows` (a stratum
    empty in either window is not compared: no row). Only params' outcomes: a staff process
    measure in the series (``staff_process``, docs/adr/0120) is described, never compared."""
    units = treated_units(cfg, series["unit"].unique())
    frame = series[series["unit"].isin(units)
                   & series["outcome"].isin([o.key for o in cfg.outcomes])].reset_index(drop=True)
    before, after = window_masks(cfg, frame)
    table, _ = compare_windows(frame, before, after, ["outcome", "dimension", "stratum"],
                               cfg.alpha)
    return table


def treated_monthly(cfg: Intervention, series: pd.DataFrame, outcome_key: str) -> pd.DataFrame:
    """Monthly totals of one outcome over the units with the intervention (unrounded: publish
    them through the disclosure rule before showing them)."""
    rows = select(series, outcome_key)
    rows = rows[rows["unit"].isin(treated_units(cfg, rows["unit"].unique()))]
    return rows.groupby("month", as_index=False)[["numerator", "denominator"]].sum()
