"""The equity answer: did the gap between the most and least deprived narrow or widen?

Read from an :class:`~pipeline.stats.equity.EquityResult` (nothing is fitted here):

* :func:`gap_answer` -- the pre-specified change in the gap (params' ``equity_primary``) as data
  (:class:`GapAnswer`: verdict, direction, number, interval), for the summary, the index and
  the harm warning; :func:`secondary_answers` the other horizons and estimands, and
  :func:`disagreement_sentence` names those that disagree;
* :func:`gap_sentence` -- the same answer in words (narrowed, widened, no clear change, too
  uncertain to tell), with the direction, the number and its uncertainty.

Wording follows :mod:`pipeline.report.wording`: a direction only when the interval excludes
no change, "no evidence of a change" otherwise, "associated with", never "caused".
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from scipy.stats import norm

from pipeline import periods
from pipeline.intervention import EQUITY_ESTIMANDS, EquityPrimary
from pipeline.report.wording import fixed
from pipeline.stats.equity import EquityResult

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


def absolute_differences(change: pd.DataFrame) -> pd.Series:
    """Rows of a gap-change table that are the difference in the gap at a horizon, on the
    absolute scale (the estimand key, docs/adr/0150)."""
    return (change["quantity"] == "difference") & (change["estimand_scale"] == "absolute")


def gap_change_row(result: EquityResult, outcome: str, horizon: int | None = None,
                   estimand: str = "gap") -> pd.Series | None:
    """The change in the gap (``estimand`` gap: stratified ITS; sii: ITS of the monthly SII)
    at ``horizon`` months (the largest estimated when None); None when it was not estimated."""
    change = result.gap_change
    if change.empty:
        return None
    rows = change[(change["outcome"] == outcome) & (change["source"] == EQUITY_ESTIMANDS[estimand])
                  & absolute_differences(change)]
    if rows.empty:
        return None
    hs = rows["horizon"].astype(int)
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
                       int(row["horizon"]), improvement,
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
                      & absolute_differences(change)] if len(change) else change
        for name, h in zip(rows["estimand"], rows["horizon"].astype(int)):
            if first is not None and (source, name) == (first["source"], first["estimand"]):
                continue
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
