"""The report's equity section, written from an :class:`~pipeline.stats.equity.EquityResult`.

Entry points for the report (story.py / the notebook):

* :func:`gap_sentence` -- the answer to "did this intervention narrow the gap between our most
  and least deprived patients?" in words (narrowed, widened, no clear change, too uncertain to
  tell), with the direction, the number and its uncertainty; :func:`gap_answer` the same as
  data (for the summary, the index and the harm warning);
* :func:`forest_figure` -- effects by stratum across dimensions, with adjusted p-values;
* :func:`gap_figure` -- the observed gap (Q1 - Q5) over time, the fitted gap and the
  counterfactual gap from the stratified ITS with its band, and the monthly SII;
* :func:`published_tables` -- the equity tables as they may be published (disclosure rule,
  secondary suppression; counts never leave unrounded).

Wording follows :mod:`pipeline.report.wording`: a direction only when the interval excludes
no change, "no evidence of a change" otherwise, "associated with", never "caused".
Colours: Okabe & Ito (2008).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from pipeline import periods
from pipeline.config import EQUITY_ESTIMANDS, Disclosure, EquityPrimary
from pipeline.disclosure import SUPPRESSED, published_counts
from pipeline.report.figures import LEGEND_POINTS, legend_outside, mark_starts, month_axis
from pipeline.report.wording import estimand_label, fixed, p_value
from pipeline.stats.equity import OVERALL, EquityResult, gap_rows, monthly_sii

OKABE_ITO = {"blue": "#0072B2", "vermillion": "#D55E00", "green": "#009E73",
             "purple": "#CC79A7", "orange": "#E69F00", "sky": "#56B4E9", "black": "#000000",
             "yellow": "#F0E442"}
DIMENSION_LABELS = {"imd_quintile": "IMD quintile (1 = most deprived)", "ethnicity": "Ethnicity",
                    "sex": "Sex", "age_band": "Age band", "homeless": "Homeless",
                    OVERALL: "All patients"}
DIMENSION_COLOURS = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "purple", "orange",
                                            "sky")]


BASELINE_MEASURE = {"gap": "absolute_gap", "sii": "sii"}
ESTIMAND_NAMES = {"gap": "the stratified ITS", "sii": "the ITS of the monthly SII"}


def estimand_name(estimand: str, period: str = "month") -> str:
    """:data:`ESTIMAND_NAMES` at the series' period (``the ITS of the quarterly SII``)."""
    return ESTIMAND_NAMES[estimand].replace("monthly", periods.adjective(period))


def period_of(result: EquityResult) -> str:
    """The period the equity fits count (their spec's; docs/adr/0160)."""
    fit = next(iter(result.its.values()), None)
    return getattr(getattr(fit, "spec", None), "period", "month")


def _baseline_gap(result: EquityResult, outcome: str, estimand: str = "gap") -> float | None:
    """The gap (or SII) before the start, when its interval excludes 0; else None."""
    rows = result.gaps
    if rows.empty:
        return None
    pick = rows[(rows["outcome"] == outcome) & (rows["period"] == "before")
                & (rows["measure"] == BASELINE_MEASURE[estimand])]
    if not len(pick) or pick["ci_low"].iloc[0] <= 0 <= pick["ci_high"].iloc[0]:
        return None  # no clear gap before: "narrowed" or "widened" would mean nothing
    return float(pick["estimate"].iloc[0])


def gap_change_row(result: EquityResult, outcome: str, horizon: int | None = None,
                   estimand: str = "gap") -> pd.Series | None:
    """The change in the gap (``estimand`` gap: stratified ITS; sii: ITS of the monthly SII)
    at ``horizon`` months (the largest estimated when None); None when it was not estimated."""
    change = result.gap_change
    if change.empty:
        return None
    rows = change[(change["outcome"] == outcome) & (change["source"] == EQUITY_ESTIMANDS[estimand])
                  & change["estimand"].str.startswith("abs_diff_h")]
    if rows.empty:
        return None
    hs = rows["estimand"].str.removeprefix("abs_diff_h").astype(int)
    if horizon is None:
        return rows.loc[hs.idxmax()]
    rows = rows[hs == horizon]
    return rows.iloc[0] if len(rows) else None


def _lower_first(label: str) -> str:
    return label[0].lower() + label[1:] if len(label) > 1 and label[1].islower() else label


SMALLEST_EFFECT = 0.10
"""The default smallest change in the gap that matters, 10 percentage points (params'
``equity_primary.smallest_effect``; docs/adr/0121)."""
POWER = 0.80
"""The power at which the minimum detectable effect is read (the usual 80%; docs/adr/0121)."""

VERDICTS = ("narrowed", "widened", "no clear change", "too uncertain to tell")


def minimum_detectable(low: float, high: float, level: float = 0.95,
                       power: float = POWER) -> float:
    """The minimum detectable effect of an estimate with this confidence interval.

    With a normal-theory interval the standard error is ``(high - low) / (2 z)``, ``z`` the
    two-sided ``level`` quantile; a true change of ``(z + z_power) * se`` is detected (its
    interval excludes 0) with probability ``power`` (Bloom 1995, "Minimum detectable effects",
    Evaluation Review 19:547; the analytic rule that
    :func:`pipeline.stats.minimum_detectable_effect` refines by simulation for a design before
    it is run). At 95% and 80% it is 1.43 times the half-width.
    """
    z = norm.ppf(0.5 + level / 2)
    return (high - low) / 2 / z * (z + norm.ppf(power))


def gap_verdict(change: float, low: float, high: float, baseline: float | None,
                smallest_effect: float = SMALLEST_EFFECT, level: float = 0.95) -> str:
    """``narrowed``, ``widened``, ``no clear change`` or ``too uncertain to tell``.

    The gap is most minus least deprived (proportions). An interval that includes 0 is ``no
    clear change``, or ``too uncertain to tell`` when its minimum detectable effect
    (:func:`minimum_detectable`) exceeds ``smallest_effect``, the smallest change that matters:
    the data could have missed a change that matters. Otherwise the gap after (``baseline +
    change``) is compared with the gap before in size: smaller is ``narrowed``, larger
    ``widened``; with no clear gap before (``baseline`` None) a clear change opens a gap, so it
    is ``widened``.
    """
    if low <= 0 <= high:
        return ("too uncertain to tell" if minimum_detectable(low, high, level) > smallest_effect
                else "no clear change")
    before = baseline or 0.0
    return "narrowed" if abs(before + change) < abs(before) else "widened"


def favours(change: float, improvement: str) -> str:
    """The direction of a change in the gap (most minus least deprived) in words.

    With ``improvement: increase`` a rise in the gap is in favour of the most deprived; with
    ``decrease`` a fall is; a neutral outcome gets the plain direction.
    """
    if improvement == "neutral":
        return ("the most deprived's percentage rose against the least deprived's" if change > 0
                else "the most deprived's percentage fell against the least deprived's")
    good = change > 0 if improvement == "increase" else change < 0
    return "in favour of the most deprived" if good else "against the most deprived"


@dataclass(frozen=True)
class GapAnswer:
    """The equity answer for one outcome: the verdict in a word and the numbers it rests on."""

    verdict: str
    direction: str
    estimate: float
    low: float
    high: float
    horizon: int
    level: float
    clear_gap_before: bool
    estimand: str = "gap"  # gap (stratified ITS) or sii (ITS of the monthly SII)
    smallest_effect: float = SMALLEST_EFFECT  # the verdict's threshold (docs/adr/0121)
    period: str = "month"  # what the horizon counts (docs/adr/0160)

    @property
    def detectable(self) -> float:
        """The minimum detectable change of this estimate (:func:`minimum_detectable`)."""
        return minimum_detectable(self.low, self.high, self.level)

    @property
    def against_most_deprived(self) -> bool:
        """A clear change in the gap against the most deprived: always reported (a harm)."""
        return self.verdict in ("narrowed", "widened") and self.direction.startswith("against")

    def numbers(self) -> str:
        return (f"{_signed_pp(self.estimate)} percentage points ({self.level:.0%} CI "
                f"{_signed_pp(self.low)} to {_signed_pp(self.high)})")

    def short(self) -> str:
        """The answer in a few words, e.g. for the index: "Widened, against the most deprived:
        -8.5 percentage points (95% CI -15.9 to -1.1) at 12 months (gap = most minus least
        deprived)"."""
        how = f", {self.direction}" if self.verdict in ("narrowed", "widened") else ""
        what = "gap" if self.estimand == "gap" else "slope index of inequality"
        return (f"{self.verdict.capitalize()}{how}: {self.numbers()} at "
                f"{periods.plural(self.horizon, self.period)} ({what} = most minus least "
                "deprived)")


def _signed_pp(value: float) -> str:
    return fixed(100 * value, 1, signed=True)


def gap_answer(result: EquityResult, outcome: str, horizon: int | None = None,
               improvement: str = "increase", level: float | None = None,
               estimand: str = "gap", smallest_effect: float = SMALLEST_EFFECT
               ) -> GapAnswer | None:
    """The change in the gap (most minus least deprived quintile, fitted minus counterfactual)
    at ``horizon`` (the params' pre-specified one; the largest estimated when None) from the
    stratified ITS (``estimand`` gap) or the ITS of the monthly SII (sii), judged against the
    gap observed in the before window and the ``smallest_effect`` that matters; None when it
    could not be estimated."""
    row = gap_change_row(result, outcome, horizon, estimand)
    if row is None:
        return None
    est, lo, hi = (float(row[c]) for c in ("estimate", "ci_low", "ci_high"))
    return answer_from(est, lo, hi, _baseline_gap(result, outcome, estimand),
                       int(row["estimand"].removeprefix("abs_diff_h")), improvement,
                       level or 1 - result.alpha, estimand, smallest_effect,
                       period_of(result))


def answer_from(estimate: float, low: float, high: float, baseline: float | None,
                horizon: int, improvement: str, level: float, estimand: str = "gap",
                smallest_effect: float = SMALLEST_EFFECT, period: str = "month") -> GapAnswer:
    """A :class:`GapAnswer` from a change in a gap (most minus least deprived) and its CI."""
    return GapAnswer(verdict=gap_verdict(estimate, low, high, baseline, smallest_effect, level),
                     direction=favours(estimate, improvement), estimate=estimate, low=low,
                     high=high, horizon=horizon, level=level,
                     clear_gap_before=baseline is not None, estimand=estimand,
                     smallest_effect=smallest_effect, period=period)


def secondary_answers(result: EquityResult, outcome: str, published_gaps: pd.DataFrame,
                      improvement: str = "increase",
                      primary: EquityPrimary | None = None) -> dict[str, GapAnswer]:
    """The secondary equity estimates, by name: every change in the gap from the stratified
    ITS and the ITS of the monthly SII at each horizon other than the params' primary one
    (``primary``; default the stratified ITS at the largest horizon), and the before/after
    change in the slope index of inequality (from the published ``equity_gaps`` table)."""
    primary = primary or EquityPrimary(result.most, result.least, "gap", None)
    smallest = primary.smallest_effect
    first = gap_change_row(result, outcome, primary.horizon, primary.estimand)
    out = {}
    change = result.gap_change
    for estimand, source in EQUITY_ESTIMANDS.items():
        rows = change[(change["outcome"] == outcome) & (change["source"] == source)
                      & change["estimand"].str.startswith("abs_diff_h")] if len(change) else []
        for name in (rows["estimand"] if len(rows) else []):
            if first is not None and (source, name) == (first["source"], first["estimand"]):
                continue
            h = int(name.removeprefix("abs_diff_h"))
            name_at = f"{estimand_name(estimand, period_of(result))} at "
            out[name_at + periods.plural(h, period_of(result))] = gap_answer(
                result, outcome, h, improvement, estimand=estimand, smallest_effect=smallest)
    sii = published_gaps[(published_gaps["outcome"] == outcome)
                         & (published_gaps["measure"] == "sii")] if len(published_gaps) else []
    if len(sii):
        change = sii[sii["period"] == "change"]
        before = sii[sii["period"] == "before"]
        if len(change) and len(before):
            c, b = change.iloc[0], before.iloc[0]
            clear = not (b["ci_low"] <= 0 <= b["ci_high"])
            out["the slope index of inequality, before against after"] = answer_from(
                float(c["estimate"]), float(c["ci_low"]), float(c["ci_high"]),
                float(b["estimate"]) if clear else None, 0, improvement, 1 - result.alpha,
                "sii", smallest)
    return out


def disagreement_sentence(primary: GapAnswer, secondary: dict[str, GapAnswer]) -> str | None:
    """Name the secondary estimates whose verdict differs from the primary one (None if none).

    Only a clear secondary verdict (narrowed or widened) counts: an interval that includes no
    change cannot contradict a clear primary answer.
    """
    named = [f"{name}: {a.verdict}, {a.direction}, {a.numbers()}"
             for name, a in secondary.items()
             if a.verdict in ("narrowed", "widened")
             and (a.verdict, a.direction) != (primary.verdict, primary.direction)]
    if not named:
        return None
    return (f"Secondary estimates disagree with this answer ({'; '.join(named)}). The "
            f"pre-specified answer is the {primary.horizon}-{periods.noun(primary.period)} "
            f"estimate of {estimand_name(primary.estimand, primary.period)} above.")


def gap_sentence(result: EquityResult, outcome: str, label: str,
                 horizon: int | None = None, level: float | None = None,
                 improvement: str = "increase", against: str = "the earlier trends",
                 estimand: str = "gap", smallest_effect: float = SMALLEST_EFFECT) -> str:
    """The equity answer in words: did the gap between the most and least deprived quintiles
    (params' ``equity_primary``) narrow or widen?

    Rests on :func:`gap_answer`; says the verdict, the direction in words, the number with its
    CI and the sign convention (most minus least deprived). ``against`` names what the change
    is measured against: the earlier trends, or the comparator units in a controlled design.
    """
    answer = gap_answer(result, outcome, horizon, improvement, level, estimand, smallest_effect)
    if answer is None:
        when = f" at {periods.plural(horizon, period_of(result))}" if horizon else ""
        return (f"The gap in {label} between the most and least deprived fifths could not be "
                f"estimated{when}: the IMD quintile {result.most} or {result.least} series was "
                "too sparse to model.")
    label = _lower_first(label)
    who = (f"between the most deprived (IMD quintile {result.most}) and least deprived "
           f"(quintile {result.least}) fifths of patients")
    when = f"{periods.plural(answer.horizon, answer.period)} after the intervention began"
    measure = ("the gap (most minus least deprived)" if estimand == "gap" else
               "the slope index of inequality (most minus least deprived end of the gradient)")
    change = f"{measure} changed by {answer.numbers()} against {against}"
    if answer.verdict == "too uncertain to tell":
        return (f"Too uncertain to tell whether the gap in {label} {who} changed: {when}, "
                f"{change}, an interval so wide that only a change of about "
                f"{100 * answer.detectable:.1f} percentage points or more would have been "
                f"detected ({POWER:.0%} power), more than the {100 * smallest_effect:g} points "
                "set as the smallest change that matters (too few patients to tell).")
    if answer.verdict == "no clear change":
        return f"No clear change in the gap in {label} {who}: {when}, {change}."
    opened = ("" if answer.clear_gap_before else
              " There was no clear gap before, so this is a gap opening.")
    return (f"The gap in {label} {who} {answer.verdict}, {answer.direction}: {when}, "
            f"{change}.{opened}")


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


def _forest_rows(result: EquityResult, outcome: str, estimand: str, phase: str | None):
    eff = result.stratum_effects
    rows = eff[(eff["outcome"] == outcome) & (eff["source"] == "its")
               & (eff["estimand"] == estimand)]
    if phase is not None:
        rows = rows[rows["phase"] == phase]
    elif len(rows):
        rows = rows[rows["phase"] == rows["phase"].iloc[0]]
    return rows


def forest_figure(result: EquityResult, outcome: str, label: str, estimand: str | None = None,
                  phase: str | None = None):
    """Forest plot of the stratum effects (one panel, strata grouped by dimension).

    ``estimand`` defaults to the level change on the natural scale (odds or rate ratio when
    the model has one). Each row is labelled with its adjusted p-value; the overall estimate
    is the dashed reference line.
    """
    import matplotlib.pyplot as plt

    eff = result.stratum_effects
    mine = eff[(eff["outcome"] == outcome) & (eff["source"] == "its")]
    if estimand is None:
        names = set(mine["estimand"])
        estimand = next((e for e in ("level_change_or", "level_change_rr") if e in names),
                        "level_change")
    rows = _forest_rows(result, outcome, estimand, phase)
    ratio = estimand.endswith(("_or", "_rr"))
    null = 1.0 if ratio else 0.0
    fig_h = 1.2 + 0.34 * max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(8, fig_h))
    if rows.empty:
        ax.text(0.5, 0.5, "No stratum could be modelled", ha="center", transform=ax.transAxes)
        return fig
    y, ticks, labels = 0, [], []
    overall = rows[rows["dimension"] == OVERALL]
    dims = [d for d in rows["dimension"].unique() if d != OVERALL]
    for i, d in enumerate(dims):
        colour = DIMENSION_COLOURS[i % len(DIMENSION_COLOURS)]
        for r in rows[rows["dimension"] == d].itertuples(index=False):
            ax.errorbar(r.estimate, -y, xerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]],
                        fmt="o", color=colour, ms=4, capsize=2, lw=1.2)
            p = r.p_adjusted
            ptxt = "p(adj) n/a" if pd.isna(p) else ("p(adj) < 0.001" if p < 0.001
                                                     else f"p(adj) = {p:.3f}")
            ax.annotate(ptxt, (1.01, -y), xycoords=("axes fraction", "data"),
                        fontsize=LEGEND_POINTS, va="center")
            ticks.append(-y)
            labels.append(f"{DIMENSION_LABELS.get(d, d)}: {r.stratum}")
            y += 1
        y += 0.5
    ax.axvline(null, color="0.4", lw=0.8)
    if len(overall):
        # named in the caption, not in a legend over the rows
        ax.axvline(overall["estimate"].iloc[0], color=OKABE_ITO["black"], ls="--", lw=0.9)
    if ratio:
        ax.set_xscale("log")
    ax.set_yticks(ticks, labels, fontsize=LEGEND_POINTS)
    scale = rows["scale"].iloc[0]
    what = "Immediate (level) change" if estimand.startswith("level") else "Change"
    ax.set_xlabel(f"{what}, {scale} (95% CI; {1 - result.alpha:.0%} level)")
    phase_name = rows["phase"].iloc[0]
    ax.set_title(f"{label}: {what.lower()} at '{phase_name}' by group", fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    return fig


def gap_figure(gap_series: pd.DataFrame, outcome: str, label: str, alpha: float = 0.05,
               phase_starts=(), most: str = "1", least: str = "5",
               start_names: dict | None = None):
    """The gap over time: observed Q1 - Q5, fitted, and the counterfactual gap from the
    stratified ITS with its band; below it the monthly SII (most - least deprived) with its
    interval. Percentage points on the y axes.

    ``gap_series`` is the published ``equity_gap_series`` table (:func:`published_tables`):
    observed points and SII come from published counts and are blank where one is hidden, so
    the picture shows exactly what the table gives.
    """
    import matplotlib.pyplot as plt

    gs = gap_series
    gs = gs[gs["outcome"] == outcome] if not gs.empty else gs
    has_sii = not gs.empty and "sii" in gs.columns and gs["sii"].notna().any()
    fig, axes = plt.subplots(2 if has_sii else 1, 1, figsize=(10, 6 if has_sii else 3.8),
                             sharex=True, squeeze=False)
    ax = axes[0, 0]
    if gs.empty:
        ax.text(0.5, 0.5, "The gap could not be modelled", ha="center", transform=ax.transAxes)
        return fig
    gs = gs.assign(month=pd.to_datetime(gs["month"]))
    pp = 100.0
    ax.scatter(gs["month"], gs["gap_observed"] * pp, s=12, color=OKABE_ITO["blue"], alpha=0.7,
               label=f"observed gap (Q{most} - Q{least})")
    ax.plot(gs["month"], gs["gap_fitted"] * pp, color=OKABE_ITO["blue"], lw=1.8,
            label="fitted gap (stratified ITS)")
    post = ~np.isclose(gs["gap_fitted"].to_numpy(float), gs["gap_counterfactual"].to_numpy(float))
    if post.any():
        first = int(np.argmax(post))
        cf = gs.iloc[max(first - 1, 0):]
        ax.plot(cf["month"], cf["gap_counterfactual"] * pp, color=OKABE_ITO["vermillion"],
                ls="--", lw=1.6, label="counterfactual gap (no intervention)")
        ax.fill_between(cf["month"], cf["gap_cf_low"] * pp, cf["gap_cf_high"] * pp,
                        color=OKABE_ITO["vermillion"], alpha=0.15, lw=0,
                        label=f"counterfactual {1 - alpha:.0%} CI")
    ax.axhline(0, color="0.5", lw=0.7)
    for a in axes[:, 0]:
        mark_starts(a, phase_starts, start_names if a is ax else None)
    ax.set_ylabel(f"Gap, Q{most} - Q{least}\n(percentage points)")
    ax.set_title(f"{label}: gap between most (IMD {most}) and least (IMD {least}) deprived fifths",
                 fontsize=9)
    legend_outside(ax)
    if has_sii:
        bx = axes[1, 0]
        bx.plot(gs["month"], gs["sii"] * pp, color=OKABE_ITO["green"], lw=1.2, marker="o", ms=3,
                label="SII (most - least deprived)")
        bx.fill_between(gs["month"], gs["sii_low"] * pp, gs["sii_high"] * pp,
                        color=OKABE_ITO["green"], alpha=0.15, lw=0, label="95% CI")
        bx.axhline(0, color="0.5", lw=0.7)
        bx.set_ylabel("Slope index of inequality\n(percentage points)")
        legend_outside(bx)
    axes[-1, 0].set_xlabel("Month")
    month_axis(axes[-1, 0])
    fig.tight_layout()
    return fig


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


BEFORE_AFTER_COUNTS = ["numerator_before", "denominator_before", "numerator_after",
                       "denominator_after"]


def protect_crossed(raw: pd.DataFrame, published: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Complementary suppression across the margins of crossed strata (docs/adr/0078).

    A crossed cell ("Asian & Female") is also a part of two one-dimension strata ("Asian",
    "Female"): with one hidden cell among the crossed cells of a margin, the margin's own row
    gives it away by subtraction. :func:`pipeline.disclosure.secondary_mask` is run on each such
    margin (the crossed cells sharing a value, with the one-dimension row as their total), and
    on the usual margins against the ``all`` row again, until nothing changes; the cells hidden
    here are then suppressed and the estimates restated, as :func:`protect_before_after` does.
    """
    from pipeline.config import CROSS_SEP
    from pipeline.disclosure import is_suppressed, secondary_mask
    from pipeline.report.publish import BEFORE_AFTER_COUNTS, restate_from_published

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
    from pipeline.report.publish import protect_before_after

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
