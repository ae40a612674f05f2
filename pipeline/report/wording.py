"""Sentences written from numbers, with the wording rules evaluators expect.

Rules (tested in tests/test_wording.py):

- state a direction only when the confidence interval excludes "no change"; otherwise say
  there is *no evidence of a change* (never "no effect": absence of evidence is not evidence
  of absence, Altman & Bland 1995);
- say "was followed by" or "was associated with", never "caused" or "led to": an interrupted
  time series is observational (Lopez Bernal et al. 2017);
- say whether a change is in the wanted direction, from the outcome's ``improvement`` param;
- always give the estimate with its interval;
- say when the model's checks weaken the finding (autocorrelation, short segments).
"""

from __future__ import annotations

from dataclasses import dataclass


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def interval(low: float, high: float, digits: int = 2, level: float = 0.95) -> str:
    return f"{level:.0%} CI {fmt(low, digits)} to {fmt(high, digits)}"


def direction(low: float, high: float, null: float) -> str:
    """``increase``, ``decrease`` or ``none`` from where the interval lies against the null."""
    if low > null:
        return "increase"
    if high < null:
        return "decrease"
    return "none"


def _judgement(change: str, improvement: str) -> str:
    if improvement == "neutral":
        return ""
    return (", a change in the wanted direction" if change == improvement
            else ", a change in the unwanted direction")


def noun(label: str) -> str:
    """A label as it reads inside a sentence: 'Smokers referred' -> 'smokers referred'.

    Acronyms keep their case ('BBV test uptake' stays as it is).
    """
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def ratio_sentence(what: str, estimate: float, low: float, high: float, ratio_name: str,
                   when: str, improvement: str = "increase") -> str:
    """The immediate (level) change at ``when``, on a ratio scale (odds or rate ratio)."""
    numbers = f"{ratio_name} {fmt(estimate)}, {interval(low, high)}"
    change = direction(low, high, 1.0)
    if change == "none":
        return f"There is no evidence of an immediate change in {what} at {when} ({numbers})."
    return (f"{_capital(when).rstrip(',')} was associated with an immediate {change} in {what} "
            f"({numbers}){_judgement(change, improvement)}.")


def difference_sentence(what: str, estimate: float, low: float, high: float, horizon: int,
                        improvement: str = "increase") -> str:
    """Observed minus counterfactual ``horizon`` months after the start, in percentage points."""
    numbers = f"{fmt(estimate * 100, 1)} percentage points, {interval(low * 100, high * 100, 1)}"
    change = direction(low, high, 0.0)
    when = f"{horizon} months after the start"
    if change == "none":
        return (f"{_capital(when)}, the percentage for {what} was not clearly different from "
                f"what the earlier trend predicts ({numbers}).")
    word = "higher" if change == "increase" else "lower"
    return (f"{_capital(when)}, the percentage for {what} was {word} than the earlier trend "
            f"predicts ({numbers}){_judgement(change, improvement)}.")


def cumulative_sentence(estimate: float, low: float, high: float, what: str) -> str:
    change = direction(low, high, 0.0)
    numbers = f"{estimate:,.0f}, 95% CI {low:,.0f} to {high:,.0f}"
    if change == "none":
        return f"Over the whole period after the start, there is no clear excess or shortfall in {what} ({numbers})."
    word = "more" if change == "increase" else "fewer"
    return f"Over the whole period after the start, about {abs(estimate):,.0f} {word} {what} than the earlier trend predicts ({numbers})."


def autocorrelation_sentence(ljung_box_p: float, errors: str) -> str | None:
    """A warning when the residuals are autocorrelated, naming what the model did about it."""
    if ljung_box_p >= 0.05:
        return None
    remedy = {"hac": "Newey-West standard errors allow for it",
              "ar": "even after allowing for AR(1) errors, so the intervals may still be "
                    "too narrow"}.get(errors, "the intervals assume independent months and "
                                              "may be too narrow")
    return (f"The monthly residuals are autocorrelated (Ljung-Box p = {ljung_box_p:.3f}); "
            f"{remedy}.")


@dataclass(frozen=True)
class Confidence:
    level: str  # high | moderate | low
    reasons: tuple[str, ...]

    def sentence(self) -> str:
        why = "; ".join(self.reasons) if self.reasons else "no concern found in the checks"
        return f"Confidence in this finding: {self.level} ({why})."


def confidence(ci_excludes_null: bool, min_points_per_segment: int, autocorrelated: bool,
               sensitivity_agrees: bool | None = None,
               placebo_significant: bool | None = None) -> Confidence:
    """A plain rating of how far the headline finding can be relied on, with its reasons.

    One point is lost for each concern: the interval includes no change; a segment shorter
    than 8 months; autocorrelated residuals; robustness variants that disagree in direction
    or significance; a placebo interruption in the pre-period that is itself significant.
    High with no concern, moderate with one, low with two or more, and never above moderate
    when the interval includes no change.
    """
    reasons = []
    if not ci_excludes_null:
        reasons.append("the interval includes no change")
    if min_points_per_segment < 8:
        reasons.append(f"a segment has only {min_points_per_segment} months")
    if autocorrelated:
        reasons.append("the monthly residuals are autocorrelated")
    if sensitivity_agrees is False:
        reasons.append("the robustness checks do not all agree")
    if placebo_significant:
        reasons.append("a placebo start date in the pre-period also shows a change")
    level = ("high", "moderate")[min(len(reasons), 1)] if len(reasons) < 2 else "low"
    if not ci_excludes_null and level == "high":
        level = "moderate"
    return Confidence(level, tuple(reasons))
