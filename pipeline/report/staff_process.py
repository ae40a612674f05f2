"""Process measures in the staff file (e.g. THI champions in post) described by phase.

Stage 1 of THI appointed champions in each service: a process measure, whether the stage was
delivered, not an outcome with a counterfactual. So it is a plain table, never a model: the
count in post in each unit in the last month before the first phase and in the last month of
each phase (docs/adr/0120).
"""

from __future__ import annotations

import pandas as pd


def periods(phases, first_month: pd.Timestamp) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    """``(label, first month, next period's first month)``: before the first phase, then each
    phase up to the next one's start (the last one open-ended)."""
    starts = [p.start for p in phases]
    bounds = [first_month, *starts, pd.Timestamp.max]
    labels = [f"Before {phases[0].name}", *(p.name for p in phases)]
    return [(label, bounds[i], bounds[i + 1]) for i, label in enumerate(labels)]


def process_table(series: pd.DataFrame, key: str, phases, unit_label: str) -> pd.DataFrame:
    """One row per unit (and a total): the count of ``key`` in the last month of each period.

    The last month rather than a mean: "in post" is a state at a date, as a service would
    report it, and a mean of 0 and 2 champions (1) is a number of champions nobody had.
    """
    rows = series[(series["outcome"] == key) & (series["dimension"] == "all")]
    if rows.empty:
        return pd.DataFrame()
    counts = rows.pivot_table(index="month", columns="unit", values="numerator", aggfunc="sum")
    table = {}
    for label, start, stop in periods(phases, counts.index.min()):
        months = counts.index[(counts.index >= start) & (counts.index < stop)]
        if len(months):
            table[f"{label} (in post {months.max():%b %Y})"] = counts.loc[months.max()]
    out = pd.DataFrame(table).rename_axis(unit_label.capitalize()).reset_index()
    total = {out.columns[0]: "All", **{c: out[c].sum() for c in out.columns[1:]}}
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    return out.astype({c: "int64" for c in out.columns[1:]})
