"""What the evaluation concludes beyond each model's estimates, decided once from the fits.

* SPC charts of each reported outcome from the published monthly counts (docs/spc.md);
* each group of outcomes with its p-values adjusted across the group (docs/adr/0077);
* whether the robustness variants agree with the headline, and the evidence the confidence
  rating rests on;
* the decisions the models made for params (``errors: auto``) with their reasons.

The report words these; it never recomputes them (docs/adr/0140).
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Intervention, Outcome
from pipeline.disclosure import published_counts
from pipeline.evaluation.result import (ConfidenceEvidence, ControlChart, Decision,
                                        Robustness, level_change_name,
                                        null_value)
from pipeline.evaluation.series import treated_monthly
from pipeline.stats.its import ITSResult
from pipeline.stats.multiplicity import adjust
from pipeline.stats.spc import spc_chart

RATE_PER = 1000  # a count against a registered population is shown per 1,000 (docs/adr/0079)
SHORT_PHASE_UNKNOWN = 99  # no segment record: no short-phase warning


def rate_per(outcome: Outcome) -> int:
    """Proportions are shown per 100 (percentages); counts against a registered population
    per 1,000 population (docs/adr/0079)."""
    return RATE_PER if outcome.population_table is not None else 100


def control_chart(cfg: Intervention, series: pd.DataFrame, outcome: Outcome, rule,
                  rebase: bool = False) -> ControlChart:
    """The NHS "Making Data Count" chart of ``outcome``: a Laney p'-chart of the treated units'
    published monthly counts, limits from the baseline before the first start carried forward
    (``rebase=True``: recalculated at each start), the assurance icon against the outcome's
    ``target`` (docs/spc.md, docs/adr/0080, 0101).

    Published counts, like every observed figure: when a month's count is hidden the chart is
    not drawn (runs, trends and moving ranges need every month) and ``hidden`` says how many.
    """
    monthly = treated_monthly(cfg, series, outcome.key)
    monthly["numerator"], monthly["denominator"] = published_counts(
        monthly["numerator"], monthly["denominator"], rule)
    starts = sorted({s for s in (cfg.unit_starts or {}).values()}
                    or {p.start for p in cfg.phases_of(outcome)})
    hidden = int(monthly["numerator"].isna().sum())
    if hidden:
        return ControlChart(outcome.key, None, pd.Timestamp(starts[0]), rebase,
                            (hidden, len(monthly)))
    how = ({"rebase_at": [starts[0]] if cfg.unit_starts else starts} if rebase
           else {"baseline_before": starts[0]})
    per = rate_per(outcome)
    result = spc_chart(monthly[["month", "numerator", "denominator"]], "pprime",
                       improvement=outcome.improvement, target=outcome.target,
                       per=None if per == 100 else per, period=cfg.period, **how)
    return ControlChart(outcome.key, result, pd.Timestamp(starts[0]), rebase)


def group_table(cfg: Intervention, its: dict[str, ITSResult], group: str) -> pd.DataFrame:
    """One row per outcome of ``group``: the immediate change at its first evaluated phase
    (odds or rate ratio, 95% CI) and its p-value adjusted across the group by the
    intervention's multiplicity method (Holm 1979 or Benjamini-Hochberg 1995)."""
    rows = []
    for o in (o for o in cfg.outcomes if o.group == group):
        phase = cfg.phases_of(o)[0].name
        effects = its[o.key].effects
        level = effects[(effects["estimand"] == level_change_name(o.family))
                        & (effects["phase"] == phase)].iloc[0]
        rows.append({"key": o.key, "outcome": o.label, "phase": phase,
                     "estimate": level["estimate"], "ci_low": level["ci_low"],
                     "ci_high": level["ci_high"], "p_value": level["p_value"]})
    table = pd.DataFrame(rows)
    table["p_adjusted"] = adjust(table["p_value"].to_numpy(float), cfg.multiplicity,
                                 cfg.alpha)[0]
    return table


def robustness(sensitivity: pd.DataFrame | None) -> Robustness:
    """Do the variants agree with the primary model, and does any placebo show a change?

    On the link scale (``level_change`` rows of the robustness table): agreement when every
    fitted non-placebo variant has the primary estimate's sign and the same verdict on whether
    its 95% interval excludes zero."""
    if sensitivity is None:
        return Robustness(None, None, 0, ())
    unfitted = tuple(sensitivity.loc[sensitivity["estimate"].isna(), "variant"].unique())
    rows = sensitivity[(sensitivity["estimand"] == "level_change")
                       & sensitivity["estimate"].notna()]
    if rows.empty:
        return Robustness(None, None, 0, unfitted)
    significant = (rows["ci_low"] > 0) | (rows["ci_high"] < 0)
    placebo = rows["variant"].str.startswith("placebo")
    primary = rows[rows["variant"] == "primary"].iloc[0]
    primary_sig = primary["ci_low"] > 0 or primary["ci_high"] < 0
    others = rows[~placebo]
    agrees = bool(((others["estimate"] > 0) == (primary["estimate"] > 0)).all()
                  and (significant[~placebo] == primary_sig).all())
    return Robustness(agrees, bool(significant[placebo].any()) if placebo.any() else None,
                      len(rows), unfitted)


def first_phase_months(cfg: Intervention, result: ITSResult) -> int:
    """Fitted months of the first phase (shortest series when there are several)."""
    months = [s["months"] for s in result.diagnostics.get("points_per_segment", [])
              if s["segment"] == cfg.phases[0].name and s["series"] != "comparator"]
    return min(months) if months else SHORT_PHASE_UNKNOWN


def confidence_evidence(cfg: Intervention, result: ITSResult,
                        checks: Robustness) -> ConfidenceEvidence:
    """The checks behind the headline's confidence rating: its first-phase interval against no
    change, the shortest segment, autocorrelated residuals (Ljung-Box p < 0.05), the
    robustness variants and the placebo starts."""
    outcome = cfg.headline
    level = result.effects[(result.effects["estimand"]
                            == level_change_name(outcome.family))
                           & (result.effects["phase"] == cfg.phases[0].name)].iloc[0]
    null = null_value(outcome.family)
    d = result.diagnostics
    points = min((p.get("months", p.get("n", 99)) for p in d.get("points_per_segment", [])),
                 default=99)
    return ConfidenceEvidence(
        ci_excludes_null=not (level["ci_low"] <= null <= level["ci_high"]),
        min_points_per_segment=int(points), autocorrelated=d["ljung_box_p"] < 0.05,
        sensitivity_agrees=checks.agrees, placebo_significant=checks.placebo_significant)


AUTO_ERRORS_REASON = (
    "chosen by simulation, not by a pre-test on the residuals: an AR(1) working correlation "
    "kept 95% intervals at 93-97% coverage for lag-1 correlation 0 to 0.6 at 48 months, where "
    "independent errors fell to 77% and Newey-West to 78%; a pre-test would inherit the test's "
    "low power in short series (docs/adr/0045, 0090)")


def errors_words(spec) -> str:
    """The error structure a fitted spec used, in a few words."""
    if spec.errors == "ar":
        small = ", Kenward-Roger covariance" if spec.ar_small_sample == "kr" else ""
        return f"AR({spec.ar_order}) working correlation by {spec.ar_method.upper()}{small}"
    if spec.errors == "hac":
        return f"Newey-West standard errors ({spec.hac_lags} lags)"
    return "independent months"


def decisions(cfg: Intervention, its: dict[str, ITSResult]) -> list:
    """The choices made for params, with their reasons: the headline's error structure (what
    ``errors: auto`` resolved to, and why), its family, and the before/after windows."""
    spec = its[cfg.headline.key].spec
    asked = spec.errors_requested or spec.errors
    ba = cfg.before_after
    return [
        Decision("error structure", asked, errors_words(spec),
                 AUTO_ERRORS_REASON if spec.errors_auto else "as params ask (`its.errors`)"),
        Decision("model family", cfg.headline.family, spec.family,
                 "as params ask (the outcome's `family`)"),
        Decision("before/after windows",
                 f"before_months: {ba.before_months}, after_months: {ba.after_months}, "
                 f"washout_months: {ba.washout_months}",
                 f"{ba.before_months} months before each start; {ba.after_months} months from "
                 + (f"the end of a {ba.washout_months}-month washout" if ba.washout_months
                    else "the start (no washout)"),
                 "as params ask (`before_after`)"),
    ]
