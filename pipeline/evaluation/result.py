"""The typed result of one evaluation: every number the report shows, and the decisions behind it.

Built once by :func:`pipeline.evaluation.build.run`; tables, figures, Markdown and the methods
text in :mod:`pipeline.report` are views of it and neither fit a model nor read a data file
(docs/adr/0140).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pipeline.config import Disclosure, Intervention
from pipeline.its_spec import base_family
from pipeline.stats.equity import EquityResult
from pipeline.stats.estimand_key import RATIO_SCALES, Estimand
from pipeline.stats.its import ITSResult
from pipeline.stats.its_estimands import SCALES
from pipeline.stats.spc import SPCResult
from pipeline.stats.staggered import StaggeredResult

OVERALL = ("all", "all")



def natural_scale(family: str) -> tuple[str, str]:
    """The estimand-key scale of a family's natural-scale level change and its name:
    ``("odds_ratio", "odds ratio")`` for binomial-type families, ``("rate_ratio", "rate
    ratio")`` for Poisson-type ones, ``("link", "difference")`` for gaussian (read from
    :data:`pipeline.stats.its_estimands.SCALES`, the one family-to-scale map)."""
    _, ratio, name = SCALES[base_family(family)]
    return (ratio, name) if ratio else ("link", "difference")


def level_change_name(family: str) -> str:
    """The published name of the level change on the family's natural scale: an odds ratio
    for binomial-type families (``level_change_or``), a rate ratio for Poisson-type ones
    (``level_change_rr``), the difference itself for gaussian (``level_change``)."""
    return Estimand("level_change", natural_scale(family)[0]).name


def null_value(family: str) -> float:
    """No change on the family's natural scale: a ratio of 1, or a difference of 0."""
    return 1.0 if natural_scale(family)[0] in RATIO_SCALES else 0.0


@dataclass(frozen=True)
class Decision:
    """A choice the evaluation made: what params asked for, what was used, and why.

    The methods text prints each one (e.g. ``errors: auto`` resolved to an AR(1) working
    correlation, chosen by simulation rather than by a pre-test on the residuals)."""

    topic: str  # what was decided, e.g. "error structure"
    asked: str  # what params asked for, e.g. "auto"
    chosen: str  # what the models used, in words
    reason: str  # why, with the decision record that says so


@dataclass(frozen=True)
class Robustness:
    """What the robustness variants of the headline outcome say about its immediate change.

    ``agrees``: every fitted non-placebo variant has the primary estimate's sign and the same
    verdict on whether its interval excludes zero (None when no variant was fitted);
    ``placebo_significant``: a placebo start in the pre-period shows a change (None: no placebo).
    """

    agrees: bool | None
    placebo_significant: bool | None
    fitted: int
    unfitted: tuple[str, ...]


@dataclass(frozen=True)
class ConfidenceEvidence:
    """The checks the confidence rating rests on (the rating itself is worded by
    :func:`pipeline.report.wording.confidence`)."""

    ci_excludes_null: bool
    min_points_per_segment: int
    autocorrelated: bool
    sensitivity_agrees: bool | None
    placebo_significant: bool | None


@dataclass(frozen=True)
class ControlChart:
    """One outcome's SPC chart, drawn from the published (rounded) monthly counts.

    ``result`` is None when a month's published count is hidden (a control chart needs every
    month); ``hidden`` then holds (hidden months, months). ``rebased``: limits recalculated at
    each start rather than carried forward from the baseline before ``limits_from``."""

    outcome: str
    result: SPCResult | None
    limits_from: pd.Timestamp
    rebased: bool = False
    hidden: tuple[int, int] | None = None


@dataclass
class Evaluation:
    """Everything one intervention's report shows, computed once."""

    cfg: Intervention
    series: pd.DataFrame
    before_after: pd.DataFrame
    its: dict[str, ITSResult]
    equity: EquityResult | None = None
    ols: dict[str, ITSResult] = field(default_factory=dict)
    sensitivity: pd.DataFrame | None = None  # robustness table of the headline outcome
    power: dict | None = None  # minimum detectable level change of the headline design
    target_gap: pd.DataFrame | None = None  # target group minus everyone else (docs/adr/0078)
    staggered: StaggeredResult | None = None  # per-unit effects of the headline (staggered only)
    # model: structural (docs/adr/0115): each outcome's structural counterfactual
    structural: dict = field(default_factory=dict)
    synthetic_control: object | None = None  # headline's synthetic control (docs/adr/0117)
    spc: dict[str, ControlChart] = field(default_factory=dict)  # per reported outcome
    groups: dict[str, pd.DataFrame] = field(default_factory=dict)  # p adjusted in each group
    robustness: Robustness | None = None
    confidence: ConfidenceEvidence | None = None
    decisions: list[Decision] = field(default_factory=list)
    quality: dict = field(default_factory=dict)  # the prepare step's quality.json
    rule: Disclosure = field(default_factory=Disclosure)  # the rule the SPC counts are under
    simulated: bool = False  # the extract is simulated (params ``simulation.interventions``)

    @property
    def effects(self) -> pd.DataFrame:
        """Every ITS estimate: one row per outcome x stratum x estimand (docs/design.md section 4)."""
        frames = [r.effects.assign(model="primary", outcome=k, dimension="all", stratum="all")
                  for k, r in self.its.items()]
        frames += [r.effects.assign(model="ols_newey_west", outcome=k, dimension="all",
                                    stratum="all") for k, r in self.ols.items()]
        table = pd.concat(frames, ignore_index=True)
        first = ["model", "outcome", "dimension", "stratum"]
        return table[first + [c for c in table.columns if c not in first]]

    def effect(self, outcome: str, estimand: str, phase: str | None = None,
               results: dict | None = None) -> pd.Series:
        """One row of an outcome's effects table (the first match; ``phase`` narrows it)."""
        effects = (results or self.its)[outcome].effects
        rows = effects[effects["estimand"] == estimand]
        if phase is not None:
            rows = rows[rows["phase"] == phase]
        return rows.iloc[0]

    def decision(self, topic: str) -> Decision | None:
        """The decision on ``topic`` (None when none was recorded)."""
        return next((d for d in self.decisions if d.topic == topic), None)
