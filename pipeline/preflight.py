"""Params against the data: what ``evaluate`` would refuse, ``validate`` refuses first.

``validate`` and ``prepare`` check the extract against its schema; this module checks the
intervention's design in params.yaml against the monthly series the extract gives, so that an
input that passes ``validate`` runs to a report (docs/adr/0042):

1. every unit named in ``unit_starts`` or ``comparator_units`` is in the data (a near miss in
   case, spaces, hyphens or underscores gets a "did you mean");
2. every phase start and unit start falls inside the months of the series (after the
   reporting lag), with months before it;
3. each treated unit and each comparator unit has at least the engine's minimum number of
   months with records before its start and from its start (after any washout);
4. every outcome's model can be built and fitted: the ITS engine itself runs on the overall
   series, and any refusal is passed on in its own words.

The CLI runs these checks in ``validate`` and ``prepare`` (before anything is written) and in
``evaluate`` (before the notebook starts), so the three commands refuse with the same message.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipeline.config import Intervention
from pipeline.errors import PipelineError, excerpt


class DesignError(PipelineError):
    """The params' design cannot be evaluated on this data; ``problems`` lists why."""

    def __init__(self, key: str, problems: list[str]):
        self.problems = list(problems)
        n = len(problems)
        head = (f"{n} problem{'s' if n != 1 else ''} with params.yaml (interventions.{key}) "
                f"against its data:")
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


def _fold(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name).strip().lower())


def did_you_mean(name: str, known) -> str | None:
    """The known unit that differs from ``name`` only in case, spaces, hyphens or underscores."""
    near = [k for k in known if _fold(k) == _fold(name)]
    return near[0] if len(near) == 1 else None


def _label(ts) -> str:
    return f"{pd.Timestamp(ts):%Y-%m}"


def _months_with_records(series: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per unit, the months (sorted Timestamps) with at least one record in any outcome."""
    overall = series[(series["dimension"] == "all") & (series["denominator"] > 0)]
    return {u: np.sort(g["month"].unique()) for u, g in overall.groupby("unit")}


def check_units(cfg: Intervention, units: list[str]) -> list[str]:
    where = f"interventions.{cfg.key}"
    problems = []
    named = [("unit_starts", u) for u in cfg.unit_starts or {}]
    named += [("comparator_units", u) for u in cfg.comparator_units or ()]
    for key, unit in named:
        if unit in units:
            continue
        near = did_you_mean(unit, units)
        shown = ", ".join(excerpt(u) for u in units[:12]) + (", ..." if len(units) > 12 else "")
        hint = f"; did you mean '{near}'?" if near else ""
        fix = (f"write it as the data does ('{near}'), or recode the data's name on read with "
               f"data: {{values: {{unit: {{\"{near}\": {unit}}}}}}}" if near else
               f"correct the name, or add the unit's rows to the extract")
        problems.append(f"params.yaml: {where}.{key} names unit '{excerpt(unit)}', which is not "
                        f"in the data (its units: {shown}){hint}. Fix: {fix}.")
    if cfg.comparator_units and not set(units) - set(cfg.comparator_units):
        problems.append(f"params.yaml: {where}.comparator_units lists every unit of the data: a "
                        "controlled design needs treated units too. Fix: list only the units "
                        "without the intervention.")
    return problems


def _starts(cfg: Intervention, units: list[str]) -> dict[str, tuple[str, pd.Timestamp]]:
    """Each modelled unit's start and the params key it comes from."""
    where = f"interventions.{cfg.key}"
    if cfg.unit_starts:
        return {u: (f"{where}.unit_starts.{u}", s) for u, s in cfg.unit_starts.items()
                if u in units}
    first = cfg.phases[0]
    return {u: (f"{where}.phases[0].start", first.start) for u in units}


def check_starts(cfg: Intervention, series: pd.DataFrame) -> list[str]:
    """Phase and unit starts inside the series, each with months before it."""
    lo, hi = series["month"].min(), series["month"].max()
    where = f"interventions.{cfg.key}"
    dated = [(f"{where}.phases[{i}].start ({p.name})", p.start) for i, p in enumerate(cfg.phases)]
    dated += [(f"{where}.unit_starts.{u}", s) for u, s in (cfg.unit_starts or {}).items()]
    problems = []
    for key, start in dated:
        if not lo < start <= hi:
            problems.append(
                f"params.yaml: {key} = {_label(start)} is outside the months of the data "
                f"({_label(lo)} to {_label(hi)}, after any reporting lag): the model needs months "
                f"before and from each start. Fix: correct the date, or widen the window (and the "
                f"extract) to include it.")
    return problems


def check_segments(cfg: Intervention, series: pd.DataFrame, quality: dict | None,
                   minimum: int) -> list[str]:
    """Each treated and comparator unit has ``minimum`` months with records before its start
    and from its start (washout and excluded months not counted)."""
    months = _months_with_records(series)
    units = sorted(months)
    quality = quality or {}   # at a quarter or year: the periods holding them (docs/adr/0160)
    excluded = {pd.Timestamp(m + "-01") for m in
                quality.get("excluded_periods", quality.get("excluded_months", []))}
    washout = cfg.before_after.washout_months
    comparators = set(cfg.comparator_units or ())
    starts = _starts(cfg, units)
    problems = []
    for unit in units:
        if unit not in starts:      # staggered: a unit without a start is never treated
            continue
        key, start = starts[unit]
        if unit in comparators:
            key = f"interventions.{cfg.key}.comparator_units"
        m = pd.DatetimeIndex([x for x in months[unit] if pd.Timestamp(x) not in excluded])
        after_washout = start + pd.DateOffset(months=washout)
        pre, post = int((m < start).sum()), int((m >= after_washout).sum())
        role = "comparator unit" if unit in comparators else f"{cfg.unit_label} with the intervention"
        for n, side in ((pre, "before"), (post, "from")):
            if n < minimum:
                extra = f" (after the {washout}-month washout)" if side == "from" and washout else ""
                problems.append(
                    f"{role} '{excerpt(unit)}' has {n} month(s) with records {side} its start "
                    f"{_label(start)}{extra} ({key}); segmented regression needs at least "
                    f"{minimum}. Fix: extend the extract or the window, correct the start, or "
                    f"leave the unit out of the design in params.yaml.")
    return problems


def check_fits(cfg: Intervention, series: pd.DataFrame, quality: dict | None) -> list[str]:
    """Build and fit every outcome's overall model, as the report will; pass on refusals."""
    from pipeline.evaluation import fit_outcome

    problems = []
    for outcome in cfg.outcomes:
        try:
            fit_outcome(cfg, outcome, series, quality=quality)
        except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
            problems.append(f"outcome '{outcome.key}': the model cannot be fitted: "
                            f"{excerpt(exc, 400)}. Fix: check the design in params.yaml "
                            f"(interventions.{cfg.key}: phases, unit_starts, comparator_units, "
                            f"its) against the months and units of the data.")
    return problems


def series_from_table(table) -> pd.DataFrame:
    """A prepared series (pyarrow table) as the evaluation reads series.parquet."""
    series = table.to_pandas()
    series["stratum"] = series["stratum"].astype(str)
    return series


def check_prepared(cfg: Intervention, paths) -> None:
    """:func:`check_design` on the prepared ``series.parquet`` (``evaluate``'s first step)."""
    import json

    from pipeline.evaluation import load_series

    series_path = paths.series(cfg.key)
    if not series_path.exists():
        raise DesignError(cfg.key, [f"there is no prepared series at {series_path}. Fix: run "
                                    f"`python -m pipeline prepare {cfg.key}` (or `make repro`)."])
    quality_path = paths.processed(cfg.key) / "quality.json"
    quality = json.loads(quality_path.read_text()) if quality_path.exists() else {}
    check_design(cfg, load_series(series_path), quality)


def check_design(cfg: Intervention, series: pd.DataFrame, quality: dict | None = None) -> None:
    """Raise :class:`DesignError` listing every way the design does not fit the data."""
    from pipeline.stats.its_series import MIN_POINTS

    if series.empty:
        raise DesignError(cfg.key, ["the monthly series is empty. Fix: run prepare again."])
    units = sorted(series.loc[series["dimension"] == "all", "unit"].unique())
    problems = check_units(cfg, units) + check_starts(cfg, series)
    if problems:     # the checks below would only repeat these in other words
        raise DesignError(cfg.key, problems)
    problems = check_segments(cfg, series, quality, MIN_POINTS)
    if problems:
        raise DesignError(cfg.key, problems)
    problems = check_fits(cfg, series, quality)
    if problems:
        raise DesignError(cfg.key, problems)
