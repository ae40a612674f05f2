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

import re
from dataclasses import dataclass

from pipeline import periods
from pipeline.stats.its_diagnostics import SHORT_SEGMENT as SHORT_SEGMENT_MONTHS


def fixed(value: float, digits: int = 2, signed: bool = False, grouped: bool = False) -> str:
    """``value`` to ``digits`` decimals, never "-0.0": a value that rounds to zero prints
    without a sign (-0.00004 -> "0.0"), so a bound just below zero does not read as a
    negative number. ``signed`` puts "+" before positive values; ``grouped`` separates
    thousands (12,345.6)."""
    text = f"{value:{',' if grouped else ''}.{digits}f}"
    if text.lstrip("-").strip("0.,") == "":
        return text.lstrip("-")
    return f"+{text}" if signed and value > 0 else text


def fmt(value: float, digits: int = 2) -> str:
    return fixed(value, digits)


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
    return f"{fixed(value * 100, digits)}%"


def points(value: float, digits: int = 1, signed: bool = True) -> str:
    """A difference of proportions in percentage points: 0.081 -> "+8.1 points"."""
    return f"{fixed(value * 100, digits, signed)} percentage points"


def before_after_sentence(what: str, before: float, after: float, months_before: int,
                          months_after: int) -> str:
    """The plain before and after percentages (published counts), the scale people use."""
    return (f"The percentage for {what} was {percent(before)} in the {months_before} months "
            f"before the start and {percent(after)} in the {months_after} months after it.")


def difference_sentence(what: str, estimate: float, low: float, high: float, horizon: int,
                        improvement: str = "increase", compared: str = TREND,
                        period: str = "month") -> str:
    """Observed minus counterfactual ``horizon`` periods after the start, in percentage points.

    ``compared`` is what the counterfactual comes from (:func:`reference`).
    """
    numbers = f"{points(estimate)}, {interval(low * 100, high * 100, 1)}"
    change = direction(low, high, 0.0)
    when = f"{periods.plural(horizon, period)} after the start"
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


def short_phase_warning(phase: str, months: int, period: str = "month") -> str | None:
    """A warning when the headline's immediate change rests on a phase under 8 periods."""
    if months >= SHORT_SEGMENT_MONTHS:
        return None
    return (f"The immediate change rests on the first phase, “{phase}”, which lasted only "
            f"{periods.plural(months, period)} before the next began (under {SHORT_SEGMENT_MONTHS}): read it "
            "as unstable, and the longer-term difference above as the more robust figure.")


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
               placebo_significant: bool | None = None, period: str = "month") -> Confidence:
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
        reasons.append(f"a segment has only {periods.plural(min_points_per_segment, period)}")
    if autocorrelated:
        reasons.append(f"the {periods.adjective(period)} residuals are autocorrelated")
    if sensitivity_agrees is False:
        reasons.append("the robustness checks do not all agree")
    if placebo_significant:
        reasons.append("a placebo start date in the pre-period also shows a change")
    level = ("high", "moderate")[min(len(reasons), 1)] if len(reasons) < 2 else "low"
    if not ci_excludes_null and level == "high":
        level = "moderate"
    return Confidence(level, tuple(reasons))


SIMULATED_BANNER = ("> **Simulated data.** This report was made from simulated data (params "
                    "`simulation.interventions`): its numbers show how the methods work and "
                    "describe no real patients or services.")

#: Column labels for the page. Count labels stay names the publication scan reads as counts
#: ("Events", "Total", with "before"/"after"/"Q1" suffixes: pipeline.publication_check), so
#: the page's counts are still checked against the disclosure rule (docs/adr/0050).
COLUMN_LABELS = {
    "outcome": "Outcome", "dimension": "Group", "stratum": "Stratum", "unit": "Unit",
    "numerator": "Events", "denominator": "Total",
    "numerator_before": "Events before", "denominator_before": "Total before",
    "numerator_after": "Events after", "denominator_after": "Total after",
    "numerator_q1": "Events Q1", "denominator_q1": "Total Q1", "numerator_q5": "Events Q5",
    "denominator_q5": "Total Q5",
    "before": "Before (%)", "before_low": "Before, CI low (%)", "before_high":
    "Before, CI high (%)", "after": "After (%)", "after_low": "After, CI low (%)",
    "after_high": "After, CI high (%)", "difference": "Difference (points)",
    "difference_low": "Difference, CI low", "difference_high": "Difference, CI high",
    "before_per_1000": "Before (per 1,000)", "after_per_1000": "After (per 1,000)",
    "difference_per_1000": "Difference (per 1,000)",
    "difference_low_per_1000": "Difference per 1,000, CI low",
    "difference_high_per_1000": "Difference per 1,000, CI high",
    "risk_ratio": "Risk ratio", "risk_ratio_low": "Risk ratio, CI low",
    "risk_ratio_high": "Risk ratio, CI high", "odds_ratio": "Odds ratio",
    "odds_ratio_low": "Odds ratio, CI low", "odds_ratio_high": "Odds ratio, CI high",
    "p_value": "p-value", "p_adjusted": "p-value (adjusted)", "test": "Test",
    "estimand": "Estimate of", "phase": "Phase", "estimate": "Estimate", "ci_low": "CI low",
    "ci_high": "CI high", "scale": "Scale", "variant": "Variant", "description": "Description",
    "note": "Note", "period": "Period", "measure": "Measure", "statistic": "Statistic",
    "df": "df", "i_squared": "I² (%)", "n_strata": "Strata", "source": "Source",
    "method": "Method", "version": "Version", "what changed": "What changed",
}
PERCENT_COLUMNS = {"i_squared", "before", "before_low", "before_high", "after", "after_low",
                   "after_high",
                   "difference", "difference_low", "difference_high"}
P_COLUMNS = {"p_value", "p_adjusted"}
IDENTIFIER_COLUMNS = {"version"}  # hashes: shown as written, even when every digit is 0-9
ESTIMAND_PATTERNS = (
    (r"^level_change_(or|rr)$", "Immediate change"),
    (r"^level_change$", "Immediate change"),
    (r"^slope_change_(or|rr)$", "Change in trend, per month"),
    (r"^slope_change$", "Change in trend, per month"),
    (r"^pre_trend(_or|_rr)?$", "Trend before, per month"),
    (r"^post_trend(_or|_rr)?$", "Trend after, per month"),
    (r"^abs_diff_h(\d+)$", r"Difference at \1 months"),
    (r"^rel_diff_h(\d+)$", r"Relative difference at \1 months"),
    (r"^level_and_slope_change$", "Immediate change and change in trend"),
    (r"^cumulative_excess$", "Extra events, whole period after the start"),
    (r"^average_effect$", "Average difference after the start"),
    (r"^average_rel_effect$", "Average relative difference after the start"),
)


_BARE_COUNT = re.compile(r"(?<![\w/.,-])\d{5,}(?![\w.,])")


def in_text(value: str) -> str:
    """Numbers written inside text (a method's "20000 draws") with thousands separated; years,
    file names (docs/adr/0075) and decimals are left alone."""
    return _BARE_COUNT.sub(lambda m: f"{int(m.group()):,}", value)


def number(value) -> str:
    """A number in fixed notation with sensible digits: 2387.25 -> "2,387"; 1.0047 -> "1.00";
    0.996 -> "1.00"; 0.0123 -> "0.012"; 0 -> "0"; text (such as the suppression mark) is left
    as it is."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return "" if value is None or value != value else in_text(str(value))
    if value == 0:
        return "0"   # not "0.000": a count of none (e.g. champions before stage 1)
    if (isinstance(value, int) or float(value).is_integer()) and abs(value) >= 1:
        return fixed(value, 0, grouped=True)
    if abs(value) >= 100:
        return fixed(value, 0, grouped=True)
    if abs(value) >= 0.1:
        return fixed(value, 2)
    return fixed(value, 3)


def p_value(value) -> str:
    """A p-value as evaluators print it: "< 0.001" below a thousandth, else three decimals."""
    if not isinstance(value, (int, float)) or value != value:
        return "" if value is None or value != value else str(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def estimand_label(name, period: str = "month") -> str:
    """An estimand's name in words ("abs_diff_h12" -> "Difference at 12 months"; at another
    period, "Difference at 4 quarters", "Change in trend, per quarter")."""
    for pattern, label in ESTIMAND_PATTERNS:
        if isinstance(name, str) and re.match(pattern, name):
            words = re.sub(pattern, label, name)
            if period == "month":
                return words
            return re.sub(r"\bat 1 (\w+)s\b", r"at 1 \1",
                          words.replace("month", periods.noun(period)))
    return name


def readable_table(table, period: str = "month"):
    """A copy of ``table`` for the page: human column labels, proportions as percentages (one
    decimal), p-values as "< 0.001" or three decimals, other numbers in fixed notation."""
    out = table.copy()
    for column in out.columns:
        values = out[column]
        if column in PERCENT_COLUMNS:
            out[column] = values.map(lambda v: fixed(v * 100, 1) if isinstance(v, (int, float))
                                     and v == v else ("" if v != v else str(v)))
        elif column in P_COLUMNS:
            out[column] = values.map(p_value)
        elif column in IDENTIFIER_COLUMNS:
            out[column] = values.astype(str)
        elif column == "estimand":
            out[column] = values.map(lambda name: estimand_label(name, period))
        else:
            out[column] = values.map(number)
    return out.rename(columns=lambda c: COLUMN_LABELS.get(c, c))
