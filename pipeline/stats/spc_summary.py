"""The Making Data Count icons and the plain-English sentence of an SPC chart.

Variation icon of the latest point (NHSRplotthedots' ``R/geom_ptd_icon.R``), assurance icon
against a target (``R/ptd_calculate_assurance_type.R``), values formatted for text and the one
sentence a report shows under each chart (:class:`pipeline.stats.spc.SPCResult`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .spc_input import period_words

if TYPE_CHECKING:  # the result type only (spc imports this module)
    from .spc import SPCResult

VARIATION_LABELS = {
    "common_cause": "Common cause variation: no significant change",
    "improvement_high": "Special cause variation – improvement (higher values)",
    "improvement_low": "Special cause variation – improvement (lower values)",
    "concern_high": "Special cause variation – concern (higher values)",
    "concern_low": "Special cause variation – concern (lower values)",
    "neither_high": "Special cause variation – neither improvement nor concern (higher values)",
    "neither_low": "Special cause variation – neither improvement nor concern (lower values)",
}
ASSURANCE_LABELS = {
    "pass_consistently": "The process will consistently pass the target",
    "fail_consistently": "The process will consistently fail the target",
    "hit_and_miss": "The process will hit and miss the target (the target lies within the "
                    "process limits)",
}


def variation_icon(data: pd.DataFrame, improvement: str) -> str:
    """MDC variation icon of the latest point (as NHSRplotthedots' geom_ptd_icon)."""
    last = data.iloc[-1]
    if last["point_type"] == "common_cause":
        return "common_cause"
    kind = {"special_cause_improvement": "improvement", "special_cause_concern": "concern",
            "special_cause_neither": "neither"}[last["point_type"]]
    return f"{kind}_{last['direction']}"


def assurance_icon(data: pd.DataFrame, improvement: str, target: float | None) -> str | None:
    """MDC assurance icon: the target against the latest point's process limits
    (NHSRplotthedots' ptd_calculate_assurance_type); None without target or if neutral."""
    if target is None or improvement == "neutral":
        return None
    last = data.iloc[-1]
    inc = improvement == "increase"
    if target > last["upper"]:
        return "fail_consistently" if inc else "pass_consistently"
    if target < last["lower"]:
        return "pass_consistently" if inc else "fail_consistently"
    return "hit_and_miss"


def format_value(v: float, proportion: bool, per: int | None = None) -> str:
    """3 significant figures; proportions as percentages with one decimal, or as a rate per
    ``per`` when given ("1.52 per 1,000")."""
    if proportion and per:
        return f"{v * per:,.3g} per {per:,}"
    if proportion:
        return f"{v * 100:.1f}%" if abs(v) >= 0.01 or v == 0 else f"{v * 100:.2g}%"
    return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def trailing_run_length(values: np.ndarray) -> int:
    """Length of the run of identical values at the end of ``values``."""
    k = 1
    while k < len(values) and values[-k - 1] == values[-1]:
        k += 1
    return k


def summary_sentence(result: SPCResult) -> str:
    """Plain-English sentence on the latest point, the rule behind it and the assurance."""
    d = result.data.rename(columns={result.time_column: "month"})
    period = result.period
    last = d.iloc[-1]
    phase = d[d["phase"] == last["phase"]]
    when = period_words(last["month"], period)
    prop = result.is_proportion
    rebased = period_words(last["phase_start"], period)
    after = f" after the rebase in {rebased}" if last["phase"] > 0 else ""
    fmt = lambda v: format_value(v, prop, result.settings.get("per"))  # noqa: E731
    if not last["special_cause"]:
        if prop and phase["upper"].nunique() > 1:
            lims = f"limits at that {period} {fmt(last['lower'])} to {fmt(last['upper'])}"
        else:
            lims = f"process limits {fmt(last['lower'])} to {fmt(last['upper'])}"
        since = f" since the rebase in {rebased}" if last["phase"] > 0 else ""
        text = (f"Common cause variation{since}: the latest {period} ({when}, "
                f"{fmt(last['value'])}) is within the process limits and no special-cause rule "
                f"is met (mean {fmt(last['centre'])}, {lims}).")
    else:
        kind = {"special_cause_improvement": "improvement", "special_cause_concern": "concern",
                "special_cause_neither": "neither improvement nor concern"}[last["point_type"]]
        rule = last["rule"]
        if rule == "outside_limits":
            which = "upper" if last["direction"] == "high" else "lower"
            what = (f"the latest {period} ({when}, {fmt(last['value'])}) is "
                    f"{'above' if which == 'upper' else 'below'} the {which} process limit "
                    f"({fmt(last[which])})")
        elif rule == "trend":
            steps = np.sign(np.diff(phase["value"].to_numpy()))
            k = trailing_run_length(steps) + 1
            what = (f"the last {k} {period}s have each been "
                    f"{'higher' if last['direction'] == 'high' else 'lower'} than the {period} "
                    f"before, up to {when}")
        elif rule == "two_in_three":
            which = "upper" if last["direction"] == "high" else "lower"
            what = (f"two of the last three {period}s, up to {when}, are close to the {which} "
                    f"process limit (beyond 2 sigma)")
        else:
            k = trailing_run_length(phase["side"].to_numpy())
            what = (f"the last {k} {period}s, up to {when}, are all "
                    f"{'above' if last['direction'] == 'high' else 'below'} the mean "
                    f"({fmt(last['centre'])})")
        text = f"Special cause variation – {kind}: {what}{after}."
    n_base = result.settings.get("baseline_points")
    if n_base and last["phase"] == 0:
        first, end = (period_words(d["month"].iloc[i], period) for i in (0, n_base - 1))
        text += (f" The mean and limits come from the baseline, {first} to "
                 f"{end} ({n_base} {period}s), and are carried "
                 f"forward: the later {period}s are judged against them.")
    if result.assurance_icon:
        text += " " + {
            "pass_consistently": f"The target ({fmt(result.target)}) lies outside the process "
                                 "limits on the passing side, so the process will consistently "
                                 "pass it if nothing changes.",
            "fail_consistently": f"The target ({fmt(result.target)}) lies outside the process "
                                 "limits on the failing side, so the process will consistently "
                                 "fail it unless the process changes.",
            "hit_and_miss": f"The target ({fmt(result.target)}) lies within the process limits, "
                            "so the process will sometimes hit and sometimes miss it.",
        }[result.assurance_icon]
    return text
