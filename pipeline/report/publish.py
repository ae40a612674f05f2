"""Write a report's machine-readable outputs: tables, DVC metrics and plot data.

Every table passes through :mod:`pipeline.disclosure` on its way out; this module is the one
boundary where counts leave the pipeline (docs/design.md section 5). Files are written with fixed
float formatting and sorted keys so that reruns are byte-identical.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from pipeline.config import Disclosure
from pipeline.disclosure import SUPPRESSED, protect_table, published_counts
from pipeline.evaluation import Evaluation, treated_monthly
from pipeline.stats.before_after import compare_proportions

DIGITS = 6  # significant digits of published estimates: far beyond their precision, stable
P_DIGITS = 3  # significant digits of p-values (docs/adr/0030)
P_COLUMNS = ("p_value", "p_adjusted")
INTERVAL = ("estimate", "ci_low", "ci_high")

BEFORE_AFTER_COUNTS = ["numerator_before", "denominator_before", "numerator_after",
                       "denominator_after"]


def _round(value, digits: int = DIGITS):
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return float(f"{value:.{digits}g}")
    return value


def _round_to_scale(value, scale: float):
    """``value`` to ``DIGITS`` significant digits of ``scale`` (the largest of its interval):
    a confidence limit near zero is not printed to digits that are only rounding noise."""
    if not isinstance(value, float) or math.isnan(value) or not scale or not math.isfinite(scale):
        return _round(value)
    decimals = DIGITS - 1 - math.floor(math.log10(scale))
    return _round(round(value, decimals))


def _clean(value, key: str | None = None):
    """Round floats recursively (and turn numpy scalars into plain Python) for stable JSON;
    p-values to ``P_DIGITS`` significant digits."""
    if isinstance(value, dict):
        return {str(k): _clean(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    return _round(value, P_DIGITS if key in P_COLUMNS else DIGITS)


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """Write a published table with fixed precision, so reruns on any CPU give the same bytes.

    Floats get ``DIGITS`` significant digits; p-values ``P_DIGITS`` (a deep-tail p-value moves
    in its 8th digit between OpenBLAS kernels); an ``estimate, ci_low, ci_high`` row is rounded
    to the digits of its largest member, so a limit near zero does not print noise
    (docs/adr/0030).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    out = table.astype(object).copy()
    for column in table.columns:
        if column in P_COLUMNS:
            out[column] = table[column].map(lambda v: _round(v, P_DIGITS))
        elif column not in INTERVAL or not set(INTERVAL) <= set(table.columns):
            out[column] = table[column].map(_round)
    if set(INTERVAL) <= set(table.columns):
        numeric = table[list(INTERVAL)].apply(pd.to_numeric, errors="coerce")
        scale = numeric.abs().max(axis=1)
        for column in INTERVAL:
            out[column] = [_round_to_scale(v, s) for v, s in zip(table[column], scale)]
    out.to_csv(path, index=False, lineterminator="\n")


def write_json(value, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(value), indent=2, sort_keys=True, default=str) + "\n",
                    encoding="utf-8")


def restate_from_published(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Recompute every before/after statistic from the table's published counts.

    ``table`` has passed :func:`~pipeline.disclosure.protect_table`: its counts are rounded or
    ``[c]``. Rows with a hidden count keep ``[c]`` in every estimate; the others get the Wilson
    proportions, Newcombe difference, ratios and test of the published counts, so nothing
    printed gives back an unrounded count (docs/adr/0022).
    """
    out = table.copy()
    for i, row in table.iterrows():
        counts = [row[c] for c in BEFORE_AFTER_COUNTS]
        if any(isinstance(c, str) for c in counts):
            continue
        x0, n0, x1, n1 = (int(c) for c in counts)
        if n0 <= 0 or n1 <= 0:
            continue
        for column, value in compare_proportions(x1, n1, x0, n0, alpha=alpha).items():
            if column in out.columns:
                out.at[i, column] = value
    return out


def protect_before_after(table: pd.DataFrame, rule: Disclosure, alpha: float,
                         total: str = "all") -> pd.DataFrame:
    """A before/after table as published: suppression, rounding, estimates restated.

    ``n_before``/``n_after`` repeat the denominators, so they are dropped; a numerator whose
    complement (denominator minus numerator) is small is hidden too; within each outcome a
    hidden stratum forces a second hidden cell so it cannot be recovered from the total row;
    the estimates are then computed from the published counts.
    """
    table = table.drop(columns=["n_before", "n_after"], errors="ignore")
    estimates = [c for c in table.columns
                 if c not in BEFORE_AFTER_COUNTS + ["outcome", "dimension", "stratum", "test"]]
    protected = protect_table(
        table, rule, counts=BEFORE_AFTER_COUNTS,
        derived={c: BEFORE_AFTER_COUNTS for c in estimates + ["test"]},
        complements={"numerator_before": "denominator_before",
                     "numerator_after": "denominator_after"},
        margins={"by": ["outcome"], "dimension": "dimension", "total": total})
    return restate_from_published(protected, alpha)


def published_before_after(ev: Evaluation, rule: Disclosure) -> pd.DataFrame:
    """The overall before/after table as published (:func:`protect_before_after`)."""
    return protect_before_after(ev.before_after, rule, ev.cfg.alpha)


def with_published_observed(frame: pd.DataFrame, rule: Disclosure) -> pd.DataFrame:
    """``frame`` with its counts as published and ``observed`` recomputed from them.

    Counts become floats (NaN where hidden), so an observed point resting on a hidden count is
    NaN: not drawn, not written. Fitted and counterfactual columns are left as they are.
    """
    out = frame.copy()
    out["numerator"], out["denominator"] = published_counts(out["numerator"],
                                                            out["denominator"], rule)
    out["observed"] = out["numerator"] / out["denominator"].where(out["denominator"] > 0)
    return out


def published_monthly(ev: Evaluation, rule: Disclosure) -> pd.DataFrame:
    """Monthly totals of the treated units for every outcome, as published."""
    frames = []
    for outcome in ev.cfg.outcomes:
        monthly = treated_monthly(ev.cfg, ev.series, outcome.key)
        frames.append(monthly.assign(outcome=outcome.key))
    table = pd.concat(frames, ignore_index=True)
    table["month"] = table["month"].dt.strftime("%Y-%m")
    table = with_published_observed(table, rule).rename(columns={"observed": "proportion"})
    return _counts_as_text(table[["outcome", "month", "numerator", "denominator", "proportion"]])


def _counts_as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Published counts as whole numbers, ``[c]`` where hidden (floats would print 85.0)."""
    out = table.copy()
    for column in ("numerator", "denominator"):
        if column in out.columns:
            out[column] = out[column].map(lambda v: SUPPRESSED if pd.isna(v) else int(v))
    return out


def plot_data(ev: Evaluation, outcome: str, rule: Disclosure) -> pd.DataFrame:
    """The data behind the outcome's figures, for dvc plots and for readers who recompute.

    Per month (and unit or group where the design has several series): the published counts,
    the observed proportion computed from them, the model's fitted and counterfactual values
    with the counterfactual's band, and the pointwise effect (observed minus counterfactual),
    blank wherever a count is hidden.
    """
    series = with_published_observed(ev.its[outcome].series, rule)
    series["month"] = pd.to_datetime(series["month"]).dt.strftime("%Y-%m")
    series["pointwise"] = series["observed"] - series["counterfactual"]
    keep = [c for c in ("month", "group", "unit", "numerator", "denominator", "observed",
                        "fitted", "counterfactual", "cf_low", "cf_high", "pointwise")
            if c in series.columns]
    return _counts_as_text(series[keep])


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


def write_all(ev: Evaluation, rule: Disclosure, manifest: dict, out_dir: Path,
              equity_tables: dict | None = None) -> None:
    """Write tables/, plots/, metrics.json and manifest.json into ``out_dir``.

    ``equity_tables`` are the published equity tables when the caller already built them.
    """
    from pipeline.report.equity_tables import published_tables
    from pipeline.report.manifest import dumps

    write_csv(published_before_after(ev, rule), out_dir / "tables" / "before_after.csv")
    write_csv(ev.effects.rename(columns={"n": "n_months"}), out_dir / "tables" / "its_effects.csv")
    if ev.sensitivity is not None:
        write_csv(ev.sensitivity, out_dir / "tables" / "robustness.csv")
    if ev.staggered is not None:  # model estimates only, no counts (docs/adr/0060)
        write_csv(ev.staggered.table(), out_dir / "tables" / "staggered_effects.csv")
    from pipeline.report.other_models_section import write_tables  # docs/adr/0115, 0117

    write_tables(ev, rule, out_dir)
    if ev.equity is not None:
        if equity_tables is None:
            equity_tables = published_tables(ev.equity, rule, ev.series)
        for name, table in equity_tables.items():
            write_csv(table, out_dir / "tables" / f"{name}.csv")
    write_csv(published_monthly(ev, rule), out_dir / "tables" / "monthly_series.csv")
    for outcome in ev.its:
        write_csv(plot_data(ev, outcome, rule), out_dir / "plots" / f"{outcome}.csv")
    write_json(metrics(ev), out_dir / "metrics.json")
    (out_dir / "manifest.json").write_text(dumps(manifest), encoding="utf-8")
