"""The report's tables as HTML: estimates on the reader's scale, counts as published.

Each function takes a :class:`~pipeline.report.story.Story` (or a table) and returns HTML; none
displays, fits or reads a data file (docs/adr/0140).
"""

from __future__ import annotations

import re

import pandas as pd

from pipeline import disclosure
from pipeline.evaluation.judgements import RATE_PER
from pipeline.report import figures, history, wording
from pipeline.stats.estimand_key import KEY_COLUMNS, RATIO_SCALES

SHOWN_QUANTITIES = ("level_change", "slope_change", "difference", "cumulative_excess")
RATE_SCALE = "difference in rate per unit of denominator"
RATE_COLUMNS = ("before", "after", "difference", "difference_low", "difference_high")
PROPORTION_SCALES = {"difference in proportion": "percentage points",
                     "mean difference in proportion over the post period": "percentage points",
                     "absolute difference in proportion": "percentage points",
                     "absolute difference in proportion per month": "percentage points per month",
                     "change in SII (proportion)": "change in SII (percentage points)",
                     "change in SII (proportion) per month":
                         "change in SII (percentage points per month)"}


def html_table(table: pd.DataFrame, csv: str | None = None, period: str = "month") -> str:
    """A table as HTML for people: column names in words, proportions as percentages, p-values
    and other numbers in fixed notation (never 2.39e+03), in a box that scrolls sideways rather
    than overflowing the page. The CSV files under ``tables/`` keep the variable names; ``csv``
    names the one that holds this table's numbers, linked beside it. The estimand key columns
    (:data:`~pipeline.stats.estimand_key.KEY_COLUMNS`) are for programs reading the CSV; the
    estimand's name in words already says them, so they are not shown."""
    shown = wording.readable_table(table.drop(columns=KEY_COLUMNS, errors="ignore"), period)
    body = shown.to_html(index=False, border=0, na_rep="")
    link = f"<p>{figures.download_link(csv)}</p>" if csv else ""
    return f'<div class="table-wrap">{body}</div>{link}'


def percent_scale(scale) -> str | None:
    """The percentage-point name of a proportion scale (None when it is not one); the gap's
    "difference (Q1 - Q5) in difference in proportion" keeps its quintiles."""
    if not isinstance(scale, str):
        return None
    if scale in PROPORTION_SCALES:
        return PROPORTION_SCALES[scale]
    other = re.fullmatch(r"(.+ per )(week|quarter|year)", scale)   # docs/adr/0160
    if other and other.group(1) + "month" in PROPORTION_SCALES:
        return PROPORTION_SCALES[other.group(1) + "month"].replace("month", other.group(2))
    gap = re.fullmatch(r"(difference \(Q\d - Q\d\)) in difference in proportion", scale)
    return f"{gap.group(1)} in percentage points" if gap else None


def on_percent_scale(effects: pd.DataFrame) -> pd.DataFrame:
    """Effects whose scale is a difference in proportions, restated in percentage points."""
    out = effects.copy()
    scales = out["scale"].map(percent_scale)
    rows = scales.notna()
    for column in ("estimate", "ci_low", "ci_high"):
        out[column] = out[column].astype(float)
        out.loc[rows, column] = out.loc[rows, column] * 100
    out.loc[rows, "scale"] = scales[rows]
    return out


def on_rate_scale(effects: pd.DataFrame, per: int) -> pd.DataFrame:
    """Differences in a rate (Poisson families) restated per ``per`` of the denominator (per
    1,000 population for a count against a registered population)."""
    out = effects.copy()
    rows = out["scale"] == RATE_SCALE
    for column in ("estimate", "ci_low", "ci_high"):
        out[column] = out[column].astype(float)
        out.loc[rows, column] = out.loc[rows, column] * per
    out.loc[rows, "scale"] = f"difference in rate per {per:,}"
    return out


def per_population(table: pd.DataFrame, per: int) -> pd.DataFrame:
    """Before/after rows of counts against a population, rates restated per ``per`` (1,000)
    under columns that say so (``before_per_1000``), so the page never shows a rate per person
    as a percentage. Hidden (non-numeric) cells are kept as they are."""
    out = table.copy()
    for column in RATE_COLUMNS:
        if column in out.columns:
            out[column] = [v * per if isinstance(v, (int, float)) and v == v else v
                           for v in out[column]]
    return out.rename(columns={c: f"{c}_per_{per}" for c in RATE_COLUMNS})


def without_link_twins(effects: pd.DataFrame) -> pd.DataFrame:
    """Each estimate once: a ratio row (odds or rate ratio) replaces its log-scale twin, read
    from the estimand key (docs/adr/0150), not from the name."""
    ratio = effects["estimand_scale"].isin(RATIO_SCALES)
    twins = set(effects.loc[ratio, "quantity"])
    return effects[~((effects["estimand_scale"] == "link") & effects["quantity"].isin(twins))]


def effects_table(story, outcome_key: str, results: dict | None = None, per: int = 100) -> str:
    """The model's estimates, each once: ratio rows replace their log-scale twins;
    differences in proportions in percentage points, differences in a rate per ``per``."""
    effects = (results or story.ev.its)[outcome_key].effects
    shown = effects[effects["quantity"].isin(SHOWN_QUANTITIES)]
    shown = on_rate_scale(on_percent_scale(without_link_twins(shown)), per)
    return html_table(shown[["estimand", "phase", "estimate", "ci_low", "ci_high",
                              "p_value", "scale"]], "tables/its_effects.csv",
                      story.cfg.period)


def before_after_table(story) -> str:
    """The published before/after table: proportions in per cent; a count against a
    registered population in a second table, per 1,000 population (docs/adr/0079)."""
    table = story.published_before_after
    overall = table[table["dimension"].isin(["all", "imd_quintile"])]
    keep = ["outcome", "dimension", "stratum", "numerator_before", "denominator_before",
            "before", "numerator_after", "denominator_after", "after", "difference",
            "difference_low", "difference_high", "p_value", "test"]
    overall = overall[[c for c in keep if c in overall.columns]]
    rates = [o.key for o in story.cfg.outcomes if story.per(o) != 100]
    rate = overall["outcome"].isin(rates)
    html = html_table(overall[~rate]) if (~rate).any() else ""
    if rate.any():
        html += html_table(per_population(overall[rate], RATE_PER))
    html += f"<p>{figures.download_link('tables/before_after.csv')}</p>"
    return html


def units_table(story) -> str:
    """Totals per unit and outcome, disclosure-controlled."""
    rows = story.ev.series[story.ev.series["dimension"] == "all"]
    table = rows.groupby(["unit", "outcome"], as_index=False)[["numerator", "denominator"]].sum()
    published = disclosure.publish_table(table, story.rule, ["numerator", "denominator"])
    return html_table(published, "tables/monthly_series.csv")


def group_table(story, group: str) -> pd.DataFrame:
    """One row per outcome of ``group``: before and after percentages (published), the
    immediate change at its first evaluated phase (95% CI), its p-value and the p-value
    adjusted across the group, as the evaluation made them (:attr:`Evaluation.groups`)."""
    ba = story.published_before_after

    def cell(key: str, when: str):
        mine = ba[(ba["outcome"] == key) & (ba["dimension"] == "all")]
        return mine[when].iloc[0] if len(mine) else None

    table = story.ev.groups[group].copy()
    at = table.columns.get_loc("phase") + 1
    table.insert(at, "before", [cell(k, "before") for k in table["key"]])
    table.insert(at + 1, "after", [cell(k, "after") for k in table["key"]])
    return table.drop(columns=["key"])


def history_table(story) -> str:
    """Every version of this report, newest first, with what each changed."""
    rows = [{"#": r["number"], "version": r["version"], "what changed": history.describe(r)}
            for r in reversed(story.history)]
    return html_table(pd.DataFrame(rows), "history.json")
