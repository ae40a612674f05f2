"""Write a report's machine-readable outputs: tables, DVC metrics and plot data.

Every table passes through :mod:`pipeline.disclosure` on its way out; this module is the one
boundary where counts leave the pipeline (DESIGN.md section 5). Files are written with fixed
float formatting and sorted keys so that reruns are byte-identical.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from pipeline.config import Disclosure
from pipeline.disclosure import SUPPRESSED, protect_table, publish_count, publish_table
from pipeline.evaluation import Evaluation, select, treated_units
from pipeline.report.equity_section import published_tables

DIGITS = 6  # significant digits of published estimates: far beyond their precision, stable

BEFORE_AFTER_COUNTS = ["numerator_before", "denominator_before", "numerator_after",
                       "denominator_after"]


def _round(value):
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return float(f"{value:.{DIGITS}g}")
    return value


def _clean(value):
    """Round floats recursively (and turn numpy scalars into plain Python) for stable JSON."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    return _round(value)


def write_csv(table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table.map(_round).to_csv(path, index=False, lineterminator="\n")


def write_json(value, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(value), indent=2, sort_keys=True, default=str) + "\n",
                    encoding="utf-8")


def published_before_after(ev: Evaluation, rule: Disclosure) -> pd.DataFrame:
    """Before/after table with primary and secondary suppression and rounding.

    ``n_before``/``n_after`` repeat the denominators, so they are dropped; a numerator whose
    complement (denominator minus numerator) is small is hidden too; within each outcome a
    hidden stratum forces a second hidden cell so it cannot be recovered from the total row.
    """
    table = ev.before_after.drop(columns=["n_before", "n_after"], errors="ignore")
    estimates = [c for c in table.columns
                 if c not in BEFORE_AFTER_COUNTS + ["outcome", "dimension", "stratum", "test"]]
    return protect_table(
        table, rule, counts=BEFORE_AFTER_COUNTS,
        derived={c: BEFORE_AFTER_COUNTS for c in estimates},
        complements={"numerator_before": "denominator_before",
                     "numerator_after": "denominator_after"},
        margins={"by": ["outcome"], "dimension": "dimension", "total": "all"})


def published_monthly(ev: Evaluation, rule: Disclosure) -> pd.DataFrame:
    """Monthly totals of the treated units for every outcome, as published."""
    frames = []
    for outcome in ev.cfg.outcomes:
        rows = select(ev.series, outcome.key)
        rows = rows[rows["unit"].isin(treated_units(ev.cfg, rows["unit"].unique()))]
        monthly = rows.groupby("month", as_index=False)[["numerator", "denominator"]].sum()
        monthly["proportion"] = monthly["numerator"] / monthly["denominator"]
        frames.append(monthly.assign(outcome=outcome.key))
    table = pd.concat(frames, ignore_index=True)
    table["month"] = table["month"].dt.strftime("%Y-%m")
    table = table[["outcome", "month", "numerator", "denominator", "proportion"]]
    return publish_table(table, rule, counts=["numerator", "denominator"],
                         derived={"proportion": ["numerator", "denominator"]})


def plot_data(ev: Evaluation, outcome: str, rule: Disclosure) -> pd.DataFrame:
    """Observed (as published), fitted and counterfactual series of one outcome for dvc plots."""
    series = ev.its[outcome].series.copy()
    series["month"] = pd.to_datetime(series["month"]).dt.strftime("%Y-%m")
    if "numerator" in series.columns:
        hidden = series["numerator"].map(lambda v: publish_count(v, rule) == SUPPRESSED)
        series["observed"] = series["observed"].where(~hidden)
    keep = [c for c in ("month", "group", "unit", "observed", "fitted", "counterfactual",
                        "cf_low", "cf_high") if c in series.columns]
    return series[keep]


def metrics(ev: Evaluation) -> dict:
    """DVC metrics: each outcome's headline ITS estimates with their CIs."""
    out = {}
    for key, result in ev.its.items():
        effects = result.effects
        entry = {}
        for _, row in effects.iterrows():
            name = row["estimand"] if not row.get("phase") else f"{row['estimand']}@{row['phase']}"
            entry[str(name)] = {k: row[k] for k in ("estimate", "ci_low", "ci_high", "p_value")
                                if k in row and row[k] is not None}
        out[key] = entry
    return {"headline_outcome": ev.cfg.headline.key, "outcomes": out}


def write_all(ev: Evaluation, rule: Disclosure, manifest: dict, out_dir: Path) -> None:
    """Write tables/, plots/, metrics.json and manifest.json into ``out_dir``."""
    from pipeline.report.manifest import dumps

    write_csv(published_before_after(ev, rule), out_dir / "tables" / "before_after.csv")
    write_csv(ev.effects.rename(columns={"n": "n_months"}), out_dir / "tables" / "its_effects.csv")
    if ev.sensitivity is not None:
        write_csv(ev.sensitivity, out_dir / "tables" / "robustness.csv")
    if ev.equity is not None:
        for name, table in published_tables(ev.equity, rule).items():
            write_csv(table, out_dir / "tables" / f"{name}.csv")
    write_csv(published_monthly(ev, rule), out_dir / "tables" / "monthly_series.csv")
    for outcome in ev.its:
        write_csv(plot_data(ev, outcome, rule), out_dir / "plots" / f"{outcome}.csv")
    write_json(metrics(ev), out_dir / "metrics.json")
    (out_dir / "manifest.json").write_text(dumps(manifest), encoding="utf-8")
