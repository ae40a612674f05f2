"""An intervention's validated section of params.yaml, as typed objects.

Why apart from the parsing (:mod:`pipeline.intervention_params`): the evaluation, the report
and the data preparation read these objects, and none of them needs to know how params.yaml
spells them. :mod:`pipeline.config` loads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.period_params import horizon_months, spec_in_periods, to_periods

EQUITY_DIMENSIONS = ("imd_quintile", "ethnicity", "sex", "age_band")
FAMILIES = ("gaussian", "poisson", "quasipoisson", "binomial", "quasibinomial")


@dataclass(frozen=True)
class InterventionPhase:
    """A phase of the intervention as params give it: its name and first month.

    Not the model's phase (:class:`pipeline.its_spec_phases.ITSPhase`, with its change and
    ramp): :meth:`Intervention.its_spec` turns these into that spec (docs/adr/0155).
    """

    name: str
    start: pd.Timestamp


@dataclass(frozen=True)
class Outcome:
    key: str
    label: str
    numerator: str
    denominator: str | None
    family: str
    headline: bool = False
    improvement: str = "increase"  # which direction is better: increase | decrease | neutral
    events: str = "events"  # what the numerator counts, in the plural ("BBV tests")
    its: dict = field(default_factory=dict)  # per-outcome overrides of the intervention's `its`
    # A measure first collected part-way through (docs/adr/0075): its series starts here and
    # only the phases starting after it are evaluated, against the months from here on.
    measured_from: pd.Timestamp | None = None
    # Whose outcome it is: `patients` (broken down by equity strata) or `staff` (read from the
    # intervention's `staff_extract`, no patient equity breakdown; docs/adr/0076).
    population: str = "patients"
    # Outcomes sharing a `group` are reported together in one compact table (docs/adr/0077).
    group: str | None = None
    # A count against a registered population (docs/adr/0079): the denominator comes from this
    # table (month x unit x stratum), modelled as a rate with a log(population) offset.
    population_table: Path | None = None
    # A target for the SPC view's assurance icon (a proportion, 0.45 for 45%); None: no
    # assurance can be given (NHS Making Data Count; docs/adr/0101).
    target: float | None = None


POPULATIONS = ("patients", "staff")
CROSS_SEP = " & "   # dimension "ethnicity & sex", stratum "Asian & Female" (docs/adr/0078)


def crossed_name(pair) -> str:
    return CROSS_SEP.join(pair)


@dataclass(frozen=True)
class EquityPrimary:
    """The equity comparison the summary answers, fixed in params before the data are seen.

    ``most`` and ``least`` are the IMD quintiles compared (the gap is ``most`` minus
    ``least``); ``estimand`` is ``gap`` (the stratified ITS change in that gap, observed minus
    counterfactual) or ``sii`` (the same change in an ITS of the monthly slope index of
    inequality); ``horizon`` is the months after the start at which it is read. Every other
    equity estimate is secondary and named in the summary when it disagrees (issue 11).
    """

    most: str = "1"
    least: str = "5"
    estimand: str = "gap"
    horizon: int = 12
    # The smallest change in the gap that matters (a proportion; params give percentage
    # points): an interval including 0 whose minimum detectable effect exceeds it is "too
    # uncertain to tell" (docs/adr/0121).
    smallest_effect: float = 0.10

    @property
    def source(self) -> str:
        """The ``source`` of the gap-change rows this estimand is read from."""
        return EQUITY_ESTIMANDS[self.estimand]


EQUITY_ESTIMANDS = {"gap": "stratified_its", "sii": "sii_its"}
IMD_QUINTILES = ("1", "2", "3", "4", "5")


@dataclass(frozen=True)
class Window:
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass(frozen=True)
class BeforeAfter:
    before_months: int
    after_months: int
    washout_months: int




@dataclass(frozen=True)
class Intervention:
    """One intervention's validated section of params.yaml."""

    key: str
    title: str
    question: str
    extract: Path
    unit_label: str
    window: Window
    phases: tuple[InterventionPhase, ...]
    outcomes: tuple[Outcome, ...]
    equity: tuple[str, ...]
    before_after: BeforeAfter
    its: dict  # the intervention's `its` options: keys of the ITS spec (pipeline.stats)
    unit_starts: dict[str, pd.Timestamp] | None = None
    comparator_units: tuple[str, ...] | None = None
    plus_groups: tuple[str, ...] = ()
    multiplicity: str = "holm"
    staff_extract: Path | None = None  # monthly counts of staff outcomes (docs/adr/0076)
    # Process measures in the staff file, described by phase and never modelled (docs/adr/0120):
    # outcome key in the staff file -> label, e.g. champions_in_post -> "THI champions in post".
    staff_process: dict[str, str] = field(default_factory=dict)
    # Who the intervention is for (docs/adr/0078): {column: value}, one dimension, a PLUS flag
    # or two dimensions crossed; and pairs of dimensions to cross in the equity breakdown.
    target_group: dict[str, str] | None = None
    intersections: tuple[tuple[str, str], ...] = ()
    # The pre-specified primary equity comparison, estimand and horizon (params'
    # `equity_primary`, the intervention's keys over the global default).
    equity_primary: EquityPrimary = field(default_factory=EquityPrimary)
    # Options handed unparsed to the part that owns them, which validates them itself:
    sensitivity: dict = field(default_factory=dict)  # pipeline.stats (robustness checks)
    staggered: dict = field(default_factory=dict)  # pipeline.stats.staggered ({weights: ...})
    # A table in a database instead of a file (docs/databases.md): {table, url_env | url_file};
    # `extract` then names the fingerprint file the `fingerprint` stage writes.
    source: dict | None = None
    data: dict = field(default_factory=dict)  # pipeline.data (column names, sheet, quirks)
    # Other models beside the segmented regression (docs/adr/0115, 0117): the structural
    # time-series counterfactual and its options; a synthetic control of comparator designs.
    model: str = "segmented"
    structural: dict = field(default_factory=dict)  # pipeline.stats.structural options
    synthetic_control: bool = False
    # What prepare aggregates the records to and the models count (docs/adr/0160): month,
    # quarter or year; params stay in months and are converted to periods for the models.
    period: str = "month"
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def design(self) -> str:
        """``staggered``, ``controlled`` or ``single``: which ITS design the data call for."""
        from pipeline.its_spec import design_of

        return design_of(self.unit_starts, self.comparator_units)

    @property
    def headline(self) -> Outcome:
        marked = [o for o in self.outcomes if o.headline]
        return marked[0] if marked else self.outcomes[0]

    def phases_of(self, outcome: Outcome) -> tuple[InterventionPhase, ...]:
        """The phases evaluated for ``outcome``: those starting after its ``measured_from``.

        A phase at or before the month collection began has no "before" in the data, so it is
        dropped from that outcome's model (the report says so; docs/adr/0075).
        """
        if outcome.measured_from is None:
            return self.phases
        return tuple(p for p in self.phases if p.start > outcome.measured_from)

    @property
    def crossed(self) -> tuple[tuple[str, str], ...]:
        """Pairs of dimensions whose crossed strata prepare writes: params' ``intersections``
        and a two-dimension target group."""
        pairs = list(self.intersections)
        if self.target_group and len(self.target_group) == 2:
            pair = tuple(self.target_group)
            if pair not in pairs and pair[::-1] not in pairs:
                pairs.append(pair)
        return tuple(pairs)

    @property
    def target_stratum(self) -> tuple[str, str] | None:
        """The target group as a (dimension, stratum) of the series (docs/adr/0078)."""
        if not self.target_group:
            return None
        if len(self.target_group) == 1:
            (dim, value), = self.target_group.items()
            return dim, str(value)
        pair = next(p for p in self.crossed if set(p) == set(self.target_group))
        return crossed_name(pair), CROSS_SEP.join(str(self.target_group[d]) for d in pair)

    def outcomes_of(self, population: str) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.population == population)

    def its_spec(self, outcome: Outcome) -> dict:
        """The ITS specification dict of docs/architecture.md for one outcome.

        Built from the intervention's design (phases, unit starts, comparators, washout), its
        `its` options and the outcome's own `family` and `its` overrides, in that order.
        """
        return spec_in_periods({
            **self.its,
            **outcome.its,
            "family": outcome.family,
            "phases": [{"name": p.name, "start": p.start.strftime("%Y-%m")}
                       for p in self.phases_of(outcome)],
            "unit_starts": (
                {u: s.strftime("%Y-%m") for u, s in self.unit_starts.items()}
                if self.unit_starts
                else None
            ),
            "comparator_units": list(self.comparator_units) if self.comparator_units else None,
            "washout_months": self.before_after.washout_months,
        }, self.period)

    @property
    def alpha(self) -> float:
        return float(self.its.get("alpha", 0.05))

    @property
    def horizons(self) -> tuple[int, ...]:
        """The ITS horizons in periods (params give them in months; docs/adr/0160)."""
        return tuple(to_periods(h, self.period, "its.horizons")
                     for h in horizon_months(self.its, self.period))

    def outcome_columns(self, population: str = "patients") -> dict[str, tuple[str, str | None]]:
        """Numerator and denominator columns of the outcomes read from one population's file
        (``patients``: the extract; ``staff``: the staff extract)."""
        return {o.key: (o.numerator, o.denominator) for o in self.outcomes_of(population)}
