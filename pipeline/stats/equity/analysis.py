"""Equity analysis: did the intervention narrow the gap between the most and least deprived?

One entry point, :func:`evaluate_equity` (this module), a pure function of the monthly series
(``docs/architecture.md``) and the outcomes' ITS specifications. It returns an
:class:`EquityResult` of tidy tables (``docs/equity.md``):

``stratum_effects``
    Every outcome x dimension x stratum: the segmented-regression estimands of
    :func:`pipeline.stats.its.fit_its` fitted to the stratum's own series (same design as the
    overall analysis: single, staggered or controlled) and the before/after comparison of
    proportions, with p-values adjusted across strata and outcomes (:mod:`.multiplicity`).
``before_after``
    The before/after counts and proportions per stratum (UNROUNDED counts: publish them only
    through :func:`pipeline.disclosure.protect_table`).
``heterogeneity``
    A test of whether the intervention effect differs across the strata of each dimension:
    the Wald test of stratum-specific against common level (and slope) changes, computed as
    the (multivariate) Cochran's Q of the stratum estimates (docs/adr/0010).
``gaps``
    Absolute gap (most - least deprived proportion, Newcombe interval), relative gap (ratio,
    log interval), SII and RII (PHE method) in the before and after windows, and their change
    (MOVER interval for the absolute gap, simulation for the SII).
``gap_change``
    The change in the gap attributable to the interruption, with its CI: (a) the difference
    between IMD quintile 1 and quintile 5 in level change, slope change and the
    counterfactual difference at each horizon from the stratified ITS (quintile 5 as the
    reference series); (b) the level and slope change of an ITS of the monthly SII series.
``gap_series``
    Monthly observed, fitted and counterfactual gap (Q1 - Q5) with its band, and the monthly
    SII with its interval, for the figure.

The questions live in their own modules: :mod:`.strata` (fits and before/after per stratum),
:mod:`.heterogeneity`, :mod:`.gaps` (gaps and SII before/after) and :mod:`.gap_change` (the
change in the gap from the stratified ITS, and the gap series).

Models are fitted on unrounded aggregate counts; nothing here is published as it stands.
Orientation: every gap is **most deprived minus least deprived** (Q1 - Q5); the SII is
computed with PHE's multiplier -1 so it has the same orientation (fitted value at the most
deprived end minus the least deprived end), and the RII is most / least.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..estimand_key import KEY_COLUMNS, horizons_as_floats
from ..its_spec import validate_spec
from ..multiplicity import adjust_table, check_method, describe
from .gap_change import gap_change_stratified, gap_series
from .gaps import gap_rows, monthly_sii, sii_its
from .heterogeneity import heterogeneity_rows
from .strata import (OVERALL, before_after_effect_rows, select, stratum_before_after,
                     stratum_fits)

DIMENSIONS = ("imd_quintile", "ethnicity", "sex", "age_band")
EFFECT_COLUMNS = ["outcome", "dimension", "stratum", "source", "estimand", "phase", "estimate",
                  "ci_low", "ci_high", "p_value", "p_adjusted", "significant_adjusted",
                  "adjustment", "method", "n", "scale", *KEY_COLUMNS]


@dataclass
class EquityResult:
    """Result of :func:`evaluate_equity`; every table is tidy (see the module docstring).

    ``its`` maps ``(outcome, dimension, stratum)`` to the fit of that series: the overall
    series' ``ITSResult`` (the evaluation's own when it passed ``overall_fits``) and each
    stratum's :class:`pipeline.stats.its.StratumFit`; both carry ``effects``, ``params``,
    ``cov``, ``inference`` and ``spec``. ``sii_its`` maps an outcome to the ITS of its monthly
    SII.
    """

    stratum_effects: pd.DataFrame
    before_after: pd.DataFrame
    heterogeneity: pd.DataFrame
    gaps: pd.DataFrame
    gap_change: pd.DataFrame
    gap_series: pd.DataFrame
    multiplicity: str
    alpha: float
    n_tests: int
    adjustment_note: str
    most: str = "1"
    least: str = "5"
    its: dict = field(default_factory=dict, repr=False)
    sii_its: dict = field(default_factory=dict, repr=False)
    warnings: list = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tidy tables by name (for writing; counts in ``before_after`` are unrounded)."""
        return {"equity_stratum_effects": self.stratum_effects,
                "equity_before_after": self.before_after,
                "equity_heterogeneity": self.heterogeneity, "equity_gaps": self.gaps,
                "equity_gap_change": self.gap_change, "equity_gap_series": self.gap_series}

    def headline(self, outcome: str, horizon: int | None = None) -> pd.Series | None:
        """The gap-change row the report's sentence rests on (largest horizon by default)."""
        change = self.gap_change
        rows = change[(change["outcome"] == outcome) & (change["source"] == "stratified_its")
                      & (change["quantity"] == "difference")
                      & (change["estimand_scale"] == "absolute")]
        if rows.empty:
            return None
        hs = rows["horizon"].astype(int)
        pick = hs.idxmax() if horizon is None else hs[hs == horizon].index
        return rows.loc[pick] if horizon is None else (rows.loc[pick].iloc[0] if len(pick) else None)



def evaluate_equity(series: pd.DataFrame, outcome_specs: dict, dimensions=DIMENSIONS,
                    plus_groups=(), multiplicity: str = "holm", alpha: float = 0.05, *,
                    before_after_months: tuple[int, int] = (12, 12), most: str = "1",
                    least: str = "5", sii_repetitions: int = 20_000,
                    seed: int = 0, overall_fits: dict | None = None) -> EquityResult:
    """Every equity statistic of one intervention, from its monthly series.

    Parameters
    ----------
    series : DataFrame
        The long monthly series (``month, unit, dimension, stratum, outcome, numerator,
        denominator``), unrounded.
    outcome_specs : dict
        ``{outcome key: ITS spec dict}`` (``Intervention.its_spec(outcome)``); the spec's
        design (phases, unit starts, comparators, washout, horizons) is used in every stratum.
    dimensions : sequence of str
        Equity dimensions present in ``series['dimension']`` (IMD quintile, ethnicity, ...).
    plus_groups : sequence of str
        PLUS-group flag dimensions (e.g. ``homeless`` with strata "0"/"1"), analysed like the
        dimensions.
    multiplicity : {"holm", "fdr_bh", "none"}
    alpha : float
        1 - confidence level, and the error rate of the adjustment.
    before_after_months : (int, int)
        Months before each unit's start and after it (after any washout) for the before/after
        comparisons.
    most, least : str
        IMD strata of the most and least deprived fifths.
    sii_repetitions, seed : int
        Simulation draws and seed of the PHE SII intervals (before/after).
    overall_fits : dict, optional
        ``{outcome key: ITSResult}`` of the overall series already fitted by the caller
        (:func:`pipeline.evaluation.run`) with the same spec: reused, not refitted.

    Returns
    -------
    EquityResult
    """
    check_method(multiplicity)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r} must be strictly between 0 and 1")
    missing = {"month", "unit", "dimension", "stratum", "outcome", "numerator",
               "denominator"} - set(series.columns)
    if missing:
        raise ValueError(f"series is missing column(s) {sorted(missing)}")
    series = series.assign(stratum=series["stratum"].astype(str),
                           unit=series["unit"].astype(str))
    warnings: list = []
    present = set(series["dimension"])
    dims = []
    for d in (*dimensions, *plus_groups):
        if d in present and d not in dims:
            dims.append(d)
        elif d not in present:
            warnings.append(f"dimension {d!r} is not in the series; skipped")

    effects, ba_frames, het, gaps, change, gap_series_frames = [], [], [], [], [], []
    fits_all, sii_fits = {}, {}
    for outcome, raw_spec in outcome_specs.items():
        if outcome not in set(series["outcome"]):
            warnings.append(f"outcome {outcome!r} is not in the series; skipped")
            continue
        spec = {**raw_spec, "alpha": alpha}
        spec_v = validate_spec(spec)
        overall = (overall_fits or {}).get(outcome)
        fits = stratum_fits(series, outcome, spec, dims, warnings, overall)
        fits_all.update(fits)
        for (o, d, s), r in fits.items():
            effects.append(r.effects.assign(outcome=o, dimension=d, stratum=s, source="its"))
        ba = stratum_before_after(series, outcome, spec_v, dims, before_after_months, alpha,
                                  warnings)
        ba_frames.append(ba)
        if not ba.empty:
            effects.append(pd.DataFrame(before_after_effect_rows(ba)))
        het += heterogeneity_rows(fits, outcome, dims, spec_v)
        if "imd_quintile" in dims:
            change += gap_change_stratified(outcome, fits, most, least, alpha)
            subs = {k: select(series, *k) for k in fits if k[1] == "imd_quintile"}
            gs = gap_series(subs, outcome, fits, most, least, alpha)
            sii = monthly_sii(series, outcome, spec_v, warnings)
            sres, srows = sii_its(sii, spec, outcome, warnings)
            change += srows
            if sres is not None:
                sii_fits[outcome] = sres
            if not gs.empty and not sii.empty:
                treated_sii = sii[sii["key"].isin(["all", "treated"])] \
                    if spec_v.design != "staggered" else pd.DataFrame()
                if not treated_sii.empty:
                    gs = gs.merge(treated_sii[["month", "sii", "sii_low", "sii_high", "rii"]],
                                  on="month", how="left")
            gap_series_frames.append(gs)
            if not ba.empty:
                gaps += gap_rows(ba, outcome, most, least, alpha, sii_repetitions, seed, warnings)

    table = pd.concat(effects, ignore_index=True) if effects else pd.DataFrame(columns=EFFECT_COLUMNS)
    # an estimand and its ratio twin are one test: they share the quantity (docs/adr/0150)
    is_its = table["source"] == "its"
    base = table["quantity"].where(is_its, table["estimand"]) if len(table) else table["estimand"]
    its_family = is_its & base.isin(["level_change", "slope_change"]) \
        & (table["dimension"] != OVERALL)
    table = table.assign(_base=base)
    adjusted = adjust_table(table, multiplicity, alpha, family=its_family,
                            share=["outcome", "dimension", "stratum", "phase", "_base"])
    n_tests = int(adjusted.loc[its_family].drop_duplicates(
        ["outcome", "dimension", "stratum", "phase", "_base"]).shape[0])
    ba_family = (adjusted["source"] == "before_after") & (adjusted["dimension"] != OVERALL)
    if ba_family.any():
        ba_adj = adjust_table(table, multiplicity, alpha, family=ba_family,
                              share=["outcome", "dimension", "stratum"])
        for col in ("p_adjusted", "significant_adjusted", "adjustment"):
            adjusted.loc[ba_family, col] = ba_adj.loc[ba_family, col]
    adjusted = adjusted.drop(columns="_base")
    adjusted = adjusted[[c for c in EFFECT_COLUMNS if c in adjusted.columns]]

    het_table = pd.DataFrame(het)
    if not het_table.empty:
        het_table = adjust_table(het_table, multiplicity, alpha)
    return EquityResult(
        stratum_effects=adjusted.reset_index(drop=True),
        before_after=pd.concat(ba_frames, ignore_index=True) if ba_frames else pd.DataFrame(),
        heterogeneity=het_table, gaps=pd.DataFrame(gaps), gap_change=horizons_as_floats(pd.DataFrame(change)),
        gap_series=(pd.concat(gap_series_frames, ignore_index=True) if gap_series_frames
                    else pd.DataFrame()),
        multiplicity=multiplicity, alpha=alpha, n_tests=n_tests,
        adjustment_note=describe(multiplicity, n_tests, alpha), most=most, least=least,
        its=fits_all, sii_its=sii_fits, warnings=warnings)
