"""Making Data Count special-cause rules on the points of one SPC phase.

Split from :mod:`pipeline.stats.spc` (the charts) so the rules can be read and tested on their
own; the rule definitions and their order are documented there (``RULES``, NHSRplotthedots'
``R/ptd_calculate_point_type.R``).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

#: The rules, in NHSRplotthedots' order of precedence (the first that flags a point is reported).
RULES = ("outside_limits", "trend", "two_in_three", "shift")

# --------------------------------------------------------------------------------------------
# Rules (vectors of one phase). Names and behaviour mirror NHSRplotthedots'
# ptd_seven_point_one_side_mean, ptd_seven_point_trend, ptd_part_of_seven_trend and
# ptd_two_in_three / ptd_part_of_two_in_three, with the run length as a parameter.
# --------------------------------------------------------------------------------------------

def run_ends_one_side(side: Iterable[float], run: int = 7) -> np.ndarray:
    """1 where point i closes a run of ``run`` points with the same non-zero side (else 0)."""
    s = np.sign(np.asarray(side, dtype=float))
    out = np.zeros(len(s))
    for i in range(run - 1, len(s)):
        w = s[i - run + 1:i + 1]
        if s[i] != 0 and np.all(w == s[i]):
            out[i] = 1
    return out


def trend_ends(y: Iterable[float], run: int = 7) -> np.ndarray:
    """+1 / -1 where point i closes ``run`` strictly increasing / decreasing points, else 0."""
    y = np.asarray(y, dtype=float)
    out = np.zeros(len(y))
    for i in range(run - 1, len(y)):
        d = np.sign(np.diff(y[i - run + 1:i + 1]))
        if np.all(d == 1):
            out[i] = 1
        elif np.all(d == -1):
            out[i] = -1
    return out


def part_of_run(ends: Iterable[float], run: int = 7) -> np.ndarray:
    """True for every point of a run: point i or one of the next ``run - 1`` points ends one."""
    e = np.abs(np.asarray(ends, dtype=float)) == 1
    out = np.zeros(len(e), dtype=bool)
    for j in np.flatnonzero(e):
        out[max(j - run + 1, 0):j + 1] = True
    return out


def two_in_three(close: Iterable[bool], side: Iterable[float]) -> np.ndarray:
    """1 where point i is in a window of 3 consecutive points with >= 2 close to a limit and
    all 3 on the same side of the centre line (NHSRplotthedots' ``ptd_two_in_three``)."""
    v = np.asarray(close, dtype=float)
    s = np.sign(np.asarray(side, dtype=float))
    n = len(v)
    out = np.zeros(n)
    for start in range(0, n - 2):
        if v[start:start + 3].sum() >= 2 and abs(s[start:start + 3].sum()) == 3:
            out[start:start + 3] = 1
    return out


def special_cause_rules(y, side, close, outside, shift_run: int = 7,
                        trend_run: int = 7) -> pd.DataFrame:
    """Evaluate every rule on one phase; returns flags, reported rule and direction."""
    y = np.asarray(y, dtype=float)
    side = np.sign(np.asarray(side, dtype=float))
    close = np.asarray(close, dtype=bool)
    outside = np.asarray(outside, dtype=bool)
    shift = part_of_run(run_ends_one_side(side, shift_run), shift_run)
    trend = part_of_run(trend_ends(y, trend_run), trend_run)
    tit = (two_in_three(close, side) == 1) & close
    # trend direction as NHSRplotthedots: the step to the next point when that point is also
    # part of a trend, else the step from the previous point
    n = len(y)
    step = np.sign(np.diff(y))
    nxt = np.append(step, step[-1] if n > 1 else 0.0)
    prv = np.insert(step, 0, 0.0)
    both = trend & np.append(trend[1:], False)
    trend_dir = np.where(both, nxt, prv)
    rule = np.select([outside, trend, tit, shift], list(RULES), default="")
    sign = np.select([outside, trend, tit, shift], [side, trend_dir, side, side], default=0.0)
    direction = np.select([sign > 0, sign < 0], ["high", "low"], default="")
    return pd.DataFrame({"outside_limits": outside, "trend": trend, "two_in_three": tit,
                         "shift": shift, "special_cause": rule != "", "rule": rule,
                         "direction": direction})


def point_types(direction: pd.Series, improvement: str) -> pd.Series:
    """Point type from the direction of a special cause and the improvement direction."""
    good = {"increase": "high", "decrease": "low"}.get(improvement)
    out = pd.Series("common_cause", index=direction.index, dtype=object)
    flagged = direction != ""
    if good is None:
        out[flagged] = "special_cause_neither"
    else:
        out[flagged & (direction == good)] = "special_cause_improvement"
        out[flagged & (direction != good)] = "special_cause_concern"
    return out
