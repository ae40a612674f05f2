"""One intervention's evaluation: the statistics the report shows, from its monthly series.

Ties an :class:`~pipeline.config.Intervention` to the pure functions of :mod:`pipeline.stats`:
before/after comparisons over the windows in params, a segmented regression per outcome in the
design the params describe (single series with phases, staggered roll-out or controlled), and
the headline outcome by IMD quintile. Everything here returns tidy tables (docs/architecture.md);
nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.analysis_options import check_staggered_options as check_options
from pipeline.config import Intervention, Outcome, crossed_name
from pipeline.stats.before_after import compare_windows, window_offsets
from pipeline.stats.before_after import window_masks as window_masks_from_offsets
from pipeline.stats.equity import EquityResult, evaluate_equity
from pipeline.stats.its import ITSResult, fit_its
from pipeline.stats.power import minimum_detectable_effect
from pipeline.stats.sensitivity import run_sensitivity
from pipeline.stats.staggered import StaggeredResult, evaluate_staggered

OVERALL = ("all", "all")


@dataclass
class Evaluation:
    cfg: Intervention
    series: pd.DataFrame
    before_after: pd.DataFrame
    its: dict[str, ITSResult]
    equity: EquityResult | None = None
    ols: dict[str, ITSResult] = field(default_factory=dict)
    sensitivity: pd.DataFrame | None = None  # robustness table of the headline outcome
    power: dict | None = None  # minimum detectable level change of the headline design
    target_gap: pd.DataFrame | None = None  # target group minus everyone else (docs/adr/0078)
    staggered: StaggeredResult | None = None  # per-unit effects of the headline (staggered only)
    # model: structural (docs/adr/0115): each outcome's structural counterfactual
    structural: dict = field(default_factory=dict)
    synthetic_control: object | None = None  # headline's synthetic control (docs/adr/0117)

    @property
    def effects(self) -> pd.DataFrame:
        """Every ITS estimate: one row per outcome x stratum x estimand (docs/design.md section 4)."""
        frames = [r.effects.assign(model="primary", outcome=k, dimension="all", stratum="all")
                  for k, r in self.its.items()]
        frames += [r.effects.assign(model="ols_newey_west", outcome=k, dimension="all",
                                    stratum="all") for k, r in self.ols.items()]
        table = pd.concat(frames, ignore_index=True)
        first = ["model", "outcome", "dimension", "stratum"]
        return table[first + [c for c in table.columns if c not in first]]


def load_series(path) -> pd.DataFrame:
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
    excluded = (quality or {}).get("excluded_months") or []
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


def fit_outcome(cfg: Intervention, outcome: Outcome, series: pd.DataFrame,
                dimension: str = "all", stratum: str = "all", quality: dict | None = None,
                **overrides) -> ITSResult:
    spec = {**cfg.its_spec(outcome), **data_spec(series, quality), **overrides}
    rows = select(series, outcome.key, dimension, stratum)
    if outcome.measured_from is not None:
        rows = rows[rows["month"] >= outcome.measured_from].reset_index(drop=True)
    return fit_its(rows, spec)


def fit_ols_newey_west(cfg: Intervention, outcome: Outcome, series: pd.DataFrame,
                       quality: dict | None = None) -> ITSResult:
    """The classic alternative: OLS on the monthly proportion with Newey-West errors.

    Shown beside the GLM because analysts know it from Stata's ``itsa`` (Linden 2015). Plain
    Newey-West intervals are too narrow in short series (docs/adr/0007), so the engine's default
    small-sample correction (Bell-McCaffrey variance, Satterthwaite df) is kept.
    """
    return fit_outcome(cfg, outcome, series, quality=quality, family="gaussian", errors="hac")


def run(cfg: Intervention, series: pd.DataFrame, quality: dict | None = None) -> Evaluation:
    """Every statistic of one intervention's report.

    ``quality`` is the prepare step's quality.json: months it excluded reach the models.
    """
    series = measured(cfg, series)
    its = {o.key: fit_outcome(cfg, o, series, quality=quality) for o in cfg.outcomes}
    specs = {o.key: {**cfg.its_spec(o), **data_spec(series, quality)} for o in cfg.outcomes}
    strata = series
    extra = [crossed_name(p) for p in cfg.crossed]
    if cfg.target_group:
        from pipeline import target_group

        strata, extra = target_group.with_target_rows(cfg, series), [*extra,
                                                                   target_group.DIMENSION]
    equity = evaluate_equity(
        strata, {o.key: specs[o.key] for o in equity_outcomes(cfg)},
        dimensions=[*cfg.equity, *extra], plus_groups=list(cfg.plus_groups),
        multiplicity=cfg.multiplicity, alpha=cfg.alpha,
        before_after_months=(cfg.before_after.before_months, cfg.before_after.after_months),
        most=cfg.equity_primary.most, least=cfg.equity_primary.least,
        overall_fits=its,
    )
    ols = {o.key: fit_ols_newey_west(cfg, o, series, quality) for o in cfg.outcomes}
    headline = cfg.headline
    sensitivity = run_sensitivity(select(series, headline.key), specs[headline.key],
                                  cfg.sensitivity)
    target_gap = None
    if cfg.target_group:
        target_gap = target_group.gap_change(cfg, equity, equity_outcomes(cfg))
    return Evaluation(cfg=cfg, series=series, before_after=before_after_table(cfg, series),
                      its=its, equity=equity, ols=ols, sensitivity=sensitivity,
                      power=design_power(cfg, series, its[headline.key]),
                      target_gap=target_gap,
                      staggered=staggered_effects(cfg, series, specs[headline.key],
                                                  its[headline.key]),
                      **other_models(cfg, series, specs))


def other_models(cfg: Intervention, series: pd.DataFrame, specs: dict) -> dict:
    """The models params add beside the segmented regression (docs/adr/0115, 0117): the
    structural counterfactual of every outcome (``model: structural``) and the synthetic
    control of the headline outcome (``synthetic_control: true``)."""
    from pipeline.other_models import fit_other_models

    return fit_other_models(cfg, series, specs, select)


def staggered_effects(cfg: Intervention, series: pd.DataFrame, spec: dict,
                      pooled: ITSResult) -> StaggeredResult | None:
    """Per-unit effects of the headline outcome, their average with the weights params name,
    the event study, and the pooled model as the sensitivity row (staggered designs only;
    docs/adr/0060)."""
    if cfg.design != "staggered":
        return None
    options = check_options(cfg.staggered)
    return evaluate_staggered(select(series, cfg.headline.key), spec, options["weights"],
                              pooled=pooled.effects, with_event_study=True,
                              trends=options["trends"])


def design_power(cfg: Intervention, series: pd.DataFrame, result: ITSResult) -> dict:
    """The smallest immediate change this design could detect with 80% power.

    A planning figure (simulation, :func:`pipeline.stats.power.minimum_detectable_effect`)
    for the headline outcome: this many months before and after the first start, the
    pre-period proportion, the mean monthly denominator and the dispersion seen here.
    """
    rows = select(series, cfg.headline.key)
    rows = rows[rows["unit"].isin(treated_units(cfg, rows["unit"].unique()))]
    monthly = rows.groupby("month")[["numerator", "denominator"]].sum()
    start = min(cfg.unit_starts.values()) if cfg.unit_starts else cfg.phases[0].start
    pre = monthly[monthly.index < start]
    family = result.spec.base_family
    return minimum_detectable_effect(
        n_pre=len(pre), n_post=len(monthly) - len(pre),
        baseline=float(pre["numerator"].sum() / pre["denominator"].sum()),
        denominator=float(monthly["denominator"].mean()),
        family=family, dispersion=max(float(result.diagnostics["dispersion"]), 1.0),
        alpha=cfg.alpha, seed=0,
    )
