"""The target group of an intervention against everyone else (docs/adr/0078).

Each case names who it is for: a PLUS group (people experiencing homelessness), one equity
stratum, or an intersection (Asian women). The question is "did the gap between the target
group and everyone else narrow?". The series of *everyone else* is the overall series minus
the target stratum, month by month and unit by unit, so the two are disjoint and add up to the
whole; both enter the equity evaluation as the two strata of the dimension ``target_group``
(stratified ITS, before/after, a heterogeneity test), and the change in the gap is the
difference between their ITS effects (target minus everyone else), with a Wald interval from
the two independent fits: the stratified approach of Lopez Bernal, Cummins & Gasparrini (2017)
and of the IMD gap (docs/equity.md), with the target group in place of quintile 1.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import ConfigError, Intervention

DIMENSION = "target_group"
TARGET, REST = "target group", "everyone else"


def describe(cfg: Intervention) -> str:
    """The target group in words: "ethnicity Asian and sex Female", "homeless (PLUS group)"."""
    parts = []
    for dim, value in (cfg.target_group or {}).items():
        if dim in cfg.plus_groups and value in ("1", "True", "true"):
            parts.append(f"{dim.replace('_', ' ')} (PLUS group)")
        else:
            parts.append(f"{dim.replace('_', ' ')} {value}")
    return " and ".join(parts)


def with_target_rows(cfg: Intervention, series: pd.DataFrame) -> pd.DataFrame:
    """``series`` plus the two strata of ``target_group``: the target and everyone else."""
    dim, stratum = cfg.target_stratum
    overall = series[series["dimension"] == "all"]
    target = series[(series["dimension"] == dim) & (series["stratum"] == stratum)]
    if target.empty:
        known = sorted(series.loc[series["dimension"] == dim, "stratum"].unique())
        raise ConfigError(
            f"params.yaml: interventions.{cfg.key}.target_group {cfg.target_group} has no rows "
            f"in the prepared series (the strata of {dim!r} are {known[:12]}). Fix: write the "
            "value as the data codes it (e.g. Female, 1), and run prepare again.")
    keys = ["month", "unit", "outcome"]
    counts = target[keys + ["numerator", "denominator"]]
    merged = overall.merge(counts, on=keys, how="left", suffixes=("", "_t")).fillna(
        {"numerator_t": 0, "denominator_t": 0})
    rest = overall.assign(
        numerator=(merged["numerator"] - merged["numerator_t"]).astype("int64").to_numpy(),
        denominator=(merged["denominator"] - merged["denominator_t"]).astype("int64").to_numpy(),
        dimension=DIMENSION, stratum=REST)
    mine = overall[keys].merge(counts, on=keys, how="left").fillna(0)
    tgt = overall.assign(numerator=mine["numerator"].astype("int64").to_numpy(),
                         denominator=mine["denominator"].astype("int64").to_numpy(),
                         dimension=DIMENSION, stratum=TARGET)
    return pd.concat([series, tgt, rest], ignore_index=True)


def gap_change(cfg: Intervention, equity, outcomes) -> pd.DataFrame:
    """Change in the gap (target minus everyone else) per outcome, from the stratified ITS."""
    from pipeline.stats.equity import gap_change_stratified

    rows = []
    for o in outcomes:
        rows += gap_change_stratified(o.key, equity.its, TARGET, REST, cfg.alpha, DIMENSION,
                                       names=(TARGET, REST))
    return pd.DataFrame(rows)


def verdict(gap_before: tuple[float, float, float] | None, low: float, high: float) -> str:
    """"narrowed", "widened", "shifted ..." or "no clear change" (the words of the IMD gap,
    docs/equity.md): the change's interval against the gap before (estimate, low, high). A
    change away from zero widens the gap; when the gap before could be zero (its interval
    spans 0, or it is hidden) a clear change only "shifted" the difference."""
    if low <= 0 <= high:
        return "no clear change"
    favour = "the target group" if low > 0 else "everyone else"
    if gap_before is None or gap_before[1] <= 0 <= gap_before[2]:
        return f"the difference shifted, in favour of {favour}"
    return "narrowed" if (low > 0) != (gap_before[0] > 0) else "widened"


def answer(label: str, outcome_label: str, change: pd.DataFrame, before_after: pd.DataFrame,
           outcome: str, alpha: float = 0.05) -> str | None:
    """One paragraph: did the gap between the target group and everyone else narrow?

    ``change`` is :func:`gap_change`; ``before_after`` the *published* equity before/after
    table (the gap before and after, Newcombe interval, from published counts only). The change is the stratified ITS estimate
    at the largest horizon (difference in fitted minus counterfactual, in percentage points).
    """
    from pipeline.report import wording
    from pipeline.stats.before_after import compare_proportions

    rows = change[(change["outcome"] == outcome) & change["estimand"].str.startswith("abs_diff_h")] \
        if len(change) else change
    if rows.empty:
        return (f"**Target group: {label}.** The gap in {wording.noun(outcome_label)} between "
                "the target group and everyone else could not be modelled (too few records).")
    horizon = rows["estimand"].str.removeprefix("abs_diff_h").astype(int)
    row = rows.loc[horizon.idxmax()]
    ba = before_after[(before_after["outcome"] == outcome)
                      & (before_after["dimension"] == DIMENSION)].set_index("stratum")
    gap_before, text = None, ""
    try:
        c = {(s, w): (int(ba.at[s, f"numerator_{w}"]), int(ba.at[s, f"denominator_{w}"]))
             for s in (TARGET, REST) for w in ("before", "after")}
        gaps = {w: compare_proportions(*c[(TARGET, w)], *c[(REST, w)], alpha)
                for w in ("before", "after")}
        b, a = gaps["before"], gaps["after"]
        gap_before = (b["difference"], b["difference_low"], b["difference_high"])
        text = (f"The gap (target group minus everyone else) was "
                f"{wording.points(b['difference'])} "
                f"({wording.interval(b['difference_low'] * 100, b['difference_high'] * 100, 1)})"
                f" before the start and {wording.points(a['difference'])} after it. ")
    except (KeyError, TypeError, ValueError):   # a count hidden by the disclosure rule
        pass
    result = verdict(gap_before, row["ci_low"], row["ci_high"])
    h = int(horizon.max())
    return (f"**Target group: {label}.** Did the gap in {wording.noun(outcome_label)} between "
            f"them and everyone else narrow? {text}{h} months after the start the gap changed "
            f"by {wording.points(row['estimate'])} "
            f"({wording.interval(row['ci_low'] * 100, row['ci_high'] * 100, 1)}) against the "
            f"earlier trends (stratified ITS): {result}.")
