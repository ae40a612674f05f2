"""Sentences written from numbers, with the wording rules evaluators expect.

Rules: state the direction only when the confidence interval excludes "no change"; otherwise
say there is no evidence of a change (never "no effect"); say "was followed by" or "was
associated with", never "caused"; always give the estimate with its interval.
"""

from __future__ import annotations


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


def ratio_sentence(what: str, estimate: float, low: float, high: float, ratio_name: str,
                   when: str) -> str:
    """E.g. 'The start of X was associated with an increase in the odds of Y (odds ratio ...)'."""
    numbers = f"{ratio_name} {fmt(estimate)}, {interval(low, high)}"
    change = direction(low, high, 1.0)
    if change == "none":
        return f"There is no evidence of a change in {what} at {when} ({numbers})."
    return f"{when[0].upper()}{when[1:]} was associated with an immediate {change} in {what} ({numbers})."


def difference_sentence(what: str, estimate: float, low: float, high: float, horizon: int) -> str:
    """A difference in percentage points between observed and counterfactual after ``horizon``."""
    pp = estimate * 100
    numbers = f"{fmt(pp, 1)} percentage points, {interval(low * 100, high * 100, 1)}"
    change = direction(low, high, 0.0)
    when = f"{horizon} months after the start"
    if change == "none":
        return (f"{when[0].upper()}{when[1:]}, {what} was not clearly different from what the "
                f"earlier trend predicts ({numbers}).")
    word = "higher" if change == "increase" else "lower"
    return f"{when[0].upper()}{when[1:]}, {what} was {word} than the earlier trend predicts ({numbers})."


def gap_sentence(most: tuple[float, float, float], least: tuple[float, float, float],
                 ratio_name: str) -> str:
    """Compare the immediate change in the most and least deprived quintiles."""
    (m, ml, mh), (l, ll, lh) = most, least
    return (
        f"In the most deprived fifth (IMD quintile 1) the {ratio_name} for the immediate change "
        f"was {fmt(m)} ({interval(ml, mh)}), against {fmt(l)} ({interval(ll, lh)}) in the least "
        f"deprived fifth (quintile 5)."
    )
