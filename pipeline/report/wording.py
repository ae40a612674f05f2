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

from pipeline.stats.its_diagnostics import SHORT_SEGMENT as SHORT_SEGMENT_MONTHS


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


TREND = "the earlier trend predicts"


def reference(design: str, unit_label: str = "unit") -> str:
    """What the observed series is compared with, as it reads after "higher than ...".

    A single or staggered series is compared with its own earlier trend; a controlled design
    with the comparator units over the same months.
    """
    if design == "controlled":
        return f"the comparator {unit_label}s"
    return TREND


def about(value: float) -> str:
    """A count as people say it: three significant figures, thousands separated.

    2,387 -> "2,390"; 143 -> "143"; 12,345 -> "12,300". The exact figure is in the tables.
    """
    value = float(value)
    if abs(value) < 1000:
        return f"{value:,.0f}"
    digits = len(str(int(abs(value)))) - 3
    return f"{round(value, -digits):,.0f}"


def percent(value: float, digits: int = 1) -> str:
    """A proportion as a percentage: 0.0807 -> "8.1%"."""
    return f"{value * 100:.{digits}f}%"


def points(value: float, digits: int = 1, signed: bool = True) -> str:
    """A difference of proportions in percentage points: 0.081 -> "+8.1 points"."""
    sign = "+" if signed and value > 0 else ""
    return f"{sign}{value * 100:.{digits}f} percentage points"


def before_after_sentence(what: str, before: float, after: float, months_before: int,
                          months_after: int) -> str:
    """The plain before and after percentages (published counts), the scale people use."""
    return (f"{_capital(what)} was {percent(before)} in the {months_before} months before the "
            f"start and {percent(after)} in the {months_after} months after it.")


def difference_sentence(what: str, estimate: float, low: float, high: float, horizon: int,
                        improvement: str = "increase", compared: str = TREND) -> str:
    """Observed minus counterfactual ``horizon`` months after the start, in percentage points.

    ``compared`` is what the counterfactual comes from (:func:`reference`).
    """
    numbers = f"{points(estimate)}, {interval(low * 100, high * 100, 1)}"
    change = direction(low, high, 0.0)
    when = f"{horizon} months after the start"
    verb = "predicts" if compared.endswith("predicts") else ""
    than = compared if verb else f"in {compared}"
    if change == "none":
        return (f"{_capital(when)}, the percentage for {what} was not clearly different from "
                f"{'what ' + compared if verb else compared} ({numbers}).")
    word = "higher" if change == "increase" else "lower"
    return (f"{_capital(when)}, the percentage for {what} was {word} than {than} "
            f"({numbers}){_judgement(change, improvement)}.")


def cumulative_sentence(estimate: float, low: float, high: float, what: str,
                        compared: str = TREND) -> str:
    """The extra (or missing) events over the whole post-period, rounded as people say them."""
    change = direction(low, high, 0.0)
    numbers = f"95% CI {about(low)} to {about(high)}"
    if change == "none":
        return (f"Over the whole period after the start, there is no clear excess or shortfall "
                f"in {what} against {compared.removesuffix(' predicts')} "
                f"(estimate {about(estimate)}, {numbers}).")
    word = "more" if change == "increase" else "fewer"
    verb = "predicts" if compared.endswith("predicts") else ""
    than = compared if verb else f"in {compared}"
    return (f"Over the whole period after the start, there were about {about(abs(estimate))} "
            f"{word} {what} than {than} ({numbers}).")


def short_phase_warning(phase: str, months: int) -> str | None:
    """A warning when the headline's immediate change rests on a phase under 8 months."""
    if months >= SHORT_SEGMENT_MONTHS:
        return None
    return (f"The immediate change rests on the first phase, “{phase}”, which lasted only "
            f"{months} months before the next began (under {SHORT_SEGMENT_MONTHS}): read it "
            "as unstable, and the longer-term difference above as the more robust figure.")


def autocorrelation_sentence(ljung_box_p: float, errors: str) -> str | None:
    """A warning when the residuals are autocorrelated, naming what the model did about it."""
    if ljung_box_p >= 0.05:
        return None
    remedy = ("Newey-West standard errors allow for it" if errors == "hac"
              else "the intervals assume independent months and may be too narrow")
    return (f"The monthly residuals are autocorrelated (Ljung-Box p = {ljung_box_p:.3f}); "
            f"{remedy}.")


def errors_sentence(family: str, errors: str, hac_lags: int | None = None, ar_order: int = 1,
                    df: float | None = None) -> str:
    """How the standard errors were made, from the fitted model's own specification.

    ``family``, ``errors``, ``hac_lags`` and ``ar_order`` are the ITS spec's; ``df`` is the fit's
    t degrees of freedom (None: normal quantiles). Never claims a correction that was not made.
    """
    parts = []
    if family.startswith("quasi"):
        parts.append("the variance is scaled by the Pearson dispersion (quasi-likelihood)")
    if errors == "hac":
        lags = f" with {hac_lags} lags" if hac_lags else ""
        parts.append(f"Newey-West standard errors{lags} allow for autocorrelation")
    elif errors == "ar":
        parts.append(f"AR({ar_order}) errors fitted by generalised least squares allow for "
                     "autocorrelation")
    else:
        parts.append("the standard errors treat months as independent (no allowance for "
                     "autocorrelation; the Ljung-Box check below tests that assumption)")
    parts.append(f"intervals use the t distribution on {df:.0f} degrees of freedom"
                 if df is not None else "intervals use the normal distribution")
    return _capital("; ".join(parts)) + "."


def multiplicity_sentence(level: float, adjustment_note: str | None) -> str:
    """The confidence level and what was, and was not, adjusted for multiple comparisons.

    ``adjustment_note`` is the equity result's own description of the adjustment it applied
    (:func:`pipeline.stats.multiplicity.describe`); None when no equity analysis ran.
    """
    text = (f"Confidence level {level:.0%}. The headline outcome's estimates are the "
            "pre-specified primary comparison and are not adjusted for multiple comparisons.")
    if adjustment_note:
        text += f" Equity (stratum) p-values: {adjustment_note}"
    return text


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
    if min_points_per_segment < SHORT_SEGMENT_MONTHS:
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
