"""The equity tables as they may be published, and the heterogeneity table a reader sees.

* :func:`published_tables` -- the equity tables under ``reports/`` (disclosure rule,
  secondary suppression, crossed strata protected by :func:`protect_crossed`; counts never
  leave unrounded; observed gaps and the monthly SII restated from the published counts);
* :func:`heterogeneity_view` -- the tests of "does the change differ between groups" that
  show evidence after adjustment, and the sentence that goes with them.

Nothing is fitted here: the model estimates come from the
:class:`~pipeline.stats.equity.EquityResult`.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Disclosure
from pipeline.intervention import CROSS_SEP
from pipeline.disclosure import SUPPRESSED, is_suppressed, published_counts, secondary_mask
from pipeline.report.publish import (BEFORE_AFTER_COUNTS, protect_before_after,
                                     restate_from_published)
from pipeline.report.wording import estimand_label, p_value
from pipeline.stats.equity import OVERALL, EquityResult, gap_rows, monthly_sii

DIMENSION_LABELS = {"imd_quintile": "IMD quintile (1 = most deprived)", "ethnicity": "Ethnicity",
                    "sex": "Sex", "age_band": "Age band", "homeless": "Homeless",
                    OVERALL: "All patients"}


HETEROGENEITY_COLUMNS = ["dimension", "phase", "estimand", "statistic", "df", "p_value",
                         "p_adjusted", "i_squared", "n_strata"]
HETEROGENEITY_CSV = "tables/equity_heterogeneity.csv"


def heterogeneity_view(het: pd.DataFrame, alpha: float) -> tuple[pd.DataFrame, str]:
    """The heterogeneity tests a reader needs, and the sentence that goes with them.

    Of the tests of one outcome (dozens: every dimension, phase and estimand), only those with
    evidence after the multiplicity adjustment (adjusted p below ``alpha``) are shown, most
    convincing first; the sentence says how many of how many, or names the closest one when
    none has evidence. The full table is the CSV the caption links to.
    """
    tested = het[het["p_adjusted"].notna()]
    shown = tested[tested["p_adjusted"] < alpha].sort_values(["p_adjusted", "p_value"])
    shown = shown.assign(dimension=shown["dimension"].map(lambda d: DIMENSION_LABELS.get(d, d)))
    if len(shown):
        text = (f"{len(shown)} of {len(tested)} tests show evidence that the change differs "
                f"between groups after adjustment (adjusted p < {alpha:g}); they are shown "
                "below.")
    elif len(tested):
        best = tested.sort_values(["p_adjusted", "p_value"]).iloc[0]
        text = (f"None of the {len(tested)} tests shows evidence that the change differs "
                f"between groups after adjustment (adjusted p < {alpha:g}); the closest is "
                f"{DIMENSION_LABELS.get(best['dimension'], best['dimension'])}, "
                f"{estimand_label(best['estimand']).lower()} at “{best['phase']}” (adjusted "
                f"p {p_value(best['p_adjusted'])}).")
    else:
        text = "No test of heterogeneity could be made (too few strata modelled)."
    return shown[HETEROGENEITY_COLUMNS], text


GAP_COUNTS = {"q1": ("numerator_q1", "denominator_q1"), "q5": ("numerator_q5", "denominator_q5")}
SII_COLUMNS = ["sii", "sii_low", "sii_high", "rii"]


def _published_gap_series(result: EquityResult, rule: Disclosure, series: pd.DataFrame | None):
    """The monthly gap series with its observed side restated from published counts.

    Q1 and Q5 counts are rounded (or hidden); observed proportions and the observed gap come
    from them; the monthly SII is recomputed from each month's published quintile counts
    (months with a hidden quintile count are left blank). Fitted and counterfactual gaps are
    model estimates and stay as they are.
    """
    gs = result.gap_series
    if gs.empty:
        return gs
    gs = gs.drop(columns=[c for c in SII_COLUMNS if c in gs.columns]).copy()
    for q, (num, den) in GAP_COUNTS.items():
        gs[num], gs[den] = published_counts(gs[num], gs[den], rule)
        gs[f"{q}_observed"] = gs[num] / gs[den].where(gs[den] > 0)
    gs["gap_observed"] = gs["q1_observed"] - gs["q5_observed"]
    if series is not None:
        gs = gs.merge(_published_sii(result, rule, series), on=["outcome", "month"], how="left")
    for num, den in GAP_COUNTS.values():
        for column in (num, den):
            gs[column] = gs[column].map(lambda v: SUPPRESSED if pd.isna(v) else int(v))
    return gs


def _published_sii(result: EquityResult, rule: Disclosure, series: pd.DataFrame) -> pd.DataFrame:
    """Monthly SII of the treated series from published quintile counts (empty if none)."""
    def publish(x, n):
        return published_counts(x, n, rule)

    frames = []
    for outcome in result.gap_series["outcome"].unique():
        fit = result.its.get((outcome, "imd_quintile", result.most))
        if fit is None or fit.spec.design == "staggered":
            continue
        sii = monthly_sii(series.assign(stratum=series["stratum"].astype(str)), outcome,
                          fit.spec, [], counts=publish)
        if not sii.empty:
            frames.append(sii[sii["key"].isin(["all", "treated"])])
    if not frames:
        return pd.DataFrame(columns=["outcome", "month", *SII_COLUMNS])
    return pd.concat(frames)[["outcome", "month", *SII_COLUMNS]]


def _published_gaps(result: EquityResult, published_ba: pd.DataFrame,
                    repetitions: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Inequality before and after (gaps, SII, RII and their change) from published counts.

    Withheld for an outcome whose Q1 or Q5 counts are hidden; the SII and RII rows are
    withheld too when any quintile's count is hidden.
    """
    rows = []
    for outcome, ba in published_ba.groupby("outcome", sort=False):
        imd = ba[ba["dimension"] == "imd_quintile"]
        hidden = imd[BEFORE_AFTER_COUNTS].eq(SUPPRESSED).any(axis=1)
        visible = imd[~hidden].astype({c: float for c in BEFORE_AFTER_COUNTS})
        found = gap_rows(visible, outcome, result.most, result.least, result.alpha,
                         repetitions, seed, [])
        if hidden.any():
            found = [r for r in found if r["measure"] not in ("sii", "rii")]
        rows += found
    return pd.DataFrame(rows, columns=result.gaps.columns if not result.gaps.empty else None)


def protect_crossed(raw: pd.DataFrame, published: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Complementary suppression across the margins of crossed strata (docs/adr/0078).

    A crossed cell ("Asian & Female") is also a part of two one-dimension strata ("Asian",
    "Female"): with one hidden cell among the crossed cells of a margin, the margin's own row
    gives it away by subtraction. :func:`pipeline.disclosure.secondary_mask` is run on each such
    margin (the crossed cells sharing a value, with the one-dimension row as their total), and
    on the usual margins against the ``all`` row again, until nothing changes; the cells hidden
    here are then suppressed and the estimates restated, as :func:`protect_before_after` does.
    """
    crossed = [d for d in raw["dimension"].unique() if CROSS_SEP in str(d)]
    if not crossed:
        return published
    counts = [c for c in BEFORE_AFTER_COUNTS if c in published.columns]
    raw = raw.reset_index(drop=True)
    out = published.reset_index(drop=True).copy()
    mask = out[counts].map(is_suppressed)
    margins = []   # (crossed rows, the one-dimension row), per outcome and margin value
    for dim in crossed:
        parts = str(dim).split(CROSS_SEP)
        for outcome, rows in raw[raw["dimension"] == dim].groupby("outcome"):
            values = rows["stratum"].str.split(CROSS_SEP, expand=True)
            for i, part in enumerate(parts):
                for value, cells in rows.groupby(values[i]):
                    total = raw.index[(raw["outcome"] == outcome) & (raw["dimension"] == part)
                                      & (raw["stratum"] == value)]
                    margins.append((list(cells.index), list(total)))
    changed = True
    while changed:
        before = mask.copy()
        mask = secondary_mask(raw, mask, counts, by=["outcome"], total=OVERALL)
        for cells, total in margins:
            sub = raw.loc[cells + total].assign(
                dimension=["cells"] * len(cells) + ["total"] * len(total), outcome="")
            mask.loc[cells + total] = secondary_mask(sub, mask.loc[cells + total], counts,
                                                     by=["outcome"], total="total").to_numpy()
        changed = not mask.equals(before)
    for column in counts:
        out[column] = out[column].astype(object).where(~mask[column], SUPPRESSED)
    hidden = mask.any(axis=1)
    estimates = [c for c in out.columns if c not in counts + ["outcome", "dimension", "stratum"]]
    for column in estimates:
        out[column] = out[column].astype(object).where(~hidden, SUPPRESSED)
    return restate_from_published(out, alpha)


def published_tables(result: EquityResult, rule: Disclosure,
                     series: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The equity tables as they may be published under ``reports/`` (docs/adr/0022).

    * ``equity_before_after``: counts suppressed (1..7, and numerators whose complement is
      small), secondary suppression within each outcome's breakdowns against the ``all`` row,
      the rest rounded; every estimate recomputed from the published counts (hidden where a
      count is hidden).
    * ``equity_stratum_effects``: the ITS rows (model estimates; ``n_months`` is months fitted,
      not people). Before/after rows are in ``equity_before_after``.
    * ``equity_gap_series``: Q1 and Q5 counts as published, observed proportions, gap and
      monthly SII from them (``series`` is needed for the SII); fitted and counterfactual gaps
      are model estimates.
    * ``equity_gaps``: gaps, SII and RII before and after, from the published counts.
    * heterogeneity and gap change: model estimates, published as they are.
    """
    out = {}
    ba = result.before_after
    out["equity_before_after"] = (protect_crossed(
        ba, protect_before_after(ba, rule, result.alpha, total=OVERALL), result.alpha)
        if not ba.empty else ba)
    eff = result.stratum_effects
    eff = eff[eff["source"] != "before_after"].rename(columns={"n": "n_months"})
    out["equity_stratum_effects"] = eff.reset_index(drop=True)
    out["equity_gap_series"] = _published_gap_series(result, rule, series)
    out["equity_heterogeneity"] = result.heterogeneity
    out["equity_gaps"] = (_published_gaps(result, out["equity_before_after"])
                          if not ba.empty else result.gaps)
    out["equity_gap_change"] = result.gap_change
    return out
