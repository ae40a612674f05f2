"""Read and validate ``params.yaml`` into typed objects.

This is the one place that reads parameters and derives paths from the project root
(docs/design.md section 3). The evaluation notebook is handed only an intervention's key and calls
:func:`load_intervention`, so papermill never parses a parameter value (docs/design.md section 9:
papermill reads ``false`` as a truthy string and YAML 1.1 dates differently from DVC).
Unknown keys and wrong types are errors that name the key and the fix, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipeline.errors import PipelineError
from pipeline.period_params import (check_end, check_its_period, check_monthly_only,
                                    check_period, check_start, horizon_months, spec_in_periods,
                                    to_periods)

ROOT_ENV = "PIPELINE_ROOT"
EQUITY_DIMENSIONS = ("imd_quintile", "ethnicity", "sex", "age_band")
FAMILIES = ("gaussian", "poisson", "quasipoisson", "binomial", "quasibinomial")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ConfigError(PipelineError, ValueError):
    """A problem in params.yaml; the message names the key and how to fix it."""


def project_root() -> Path:
    """The project root: ``$PIPELINE_ROOT`` if set, else the nearest folder holding dvc.yaml.

    Searching upwards from the working directory (not from this file) lets a copy of the
    project, as the integration tests make, use its own params and data.
    """
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").exists() and (folder / "params.yaml").exists():
            return folder
    raise ConfigError(
        f"No project root found from {here}: no folder above holds dvc.yaml and params.yaml. "
        f"Fix: run from inside the project, or set {ROOT_ENV}."
    )


@dataclass(frozen=True)
class Phase:
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
class Disclosure:
    suppress_at_or_below: int = 7
    round_to: int = 5
    rule_version: str = "sdc-2"


@dataclass(frozen=True)
class Intervention:
    """One intervention's validated section of params.yaml."""

    key: str
    title: str
    question: str
    extract: Path
    unit_label: str
    window: Window
    phases: tuple[Phase, ...]
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

    def phases_of(self, outcome: Outcome) -> tuple[Phase, ...]:
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


# ---------------------------------------------------------------------------------------------
# Parsing helpers: each names the key path in its message.


def _require(section: dict, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in section:
        raise ConfigError(f"params.yaml: {where}.{key} is missing. Fix: add it (see README).")
    value = section[key]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
        raise ConfigError(
            f"params.yaml: {where}.{key} = {value!r} should be {_kind_name(kind)}."
        )
    return value


def _as_tuple(kind) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def _check_keys(section: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(
            f"params.yaml: unknown key(s) {unknown} in {where}. "
            f"Fix: remove or rename them; allowed keys are {sorted(allowed)}."
        )


def _month(value: Any, where: str) -> pd.Timestamp:
    if not isinstance(value, str) or not _MONTH.match(value):
        raise ConfigError(
            f'params.yaml: {where} = {value!r} is not a month. Fix: write it as a quoted "YYYY-MM".'
        )
    return pd.Timestamp(value + "-01")


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"params.yaml: {where} = {value!r}; allowed values are {list(allowed)}.")
    return value


def _int(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"params.yaml: {where} = {value!r} should be a whole number >= {minimum}.")
    return value


def _parse_outcome(key: str, raw: dict, where: str, root: Path) -> Outcome:
    _check_keys(raw, {"label", "numerator", "denominator", "family", "headline", "improvement",
                      "events", "its", "measured_from", "population", "group",
                      "population_table", "target"}, where)
    denominator = raw.get("denominator")
    if denominator is not None and not isinstance(denominator, str):
        raise ConfigError(f"params.yaml: {where}.denominator should be a column name or null.")
    headline = raw.get("headline", False)
    if not isinstance(headline, bool):
        raise ConfigError(f"params.yaml: {where}.headline = {headline!r} should be true or false.")
    return Outcome(
        key=key,
        label=_require(raw, "label", where, str),
        numerator=_require(raw, "numerator", where, str),
        denominator=denominator,
        family=_choice(raw.get("family", "quasibinomial"), FAMILIES, f"{where}.family"),
        headline=headline,
        improvement=_choice(raw.get("improvement", "increase"),
                            ("increase", "decrease", "neutral"), f"{where}.improvement"),
        events=str(raw.get("events", "events")),
        its=_mapping(raw.get("its", {}), f"{where}.its"),
        measured_from=(None if raw.get("measured_from") is None
                       else _month(raw["measured_from"], f"{where}.measured_from")),
        population=_choice(raw.get("population", "patients"), POPULATIONS,
                           f"{where}.population"),
        group=None if raw.get("group") is None else str(raw["group"]),
        population_table=_population_table(raw, where, root),
        target=_target(raw.get("target"), f"{where}.target"),
    )


def _target(value: Any, where: str) -> float | None:
    """An outcome's SPC target: a proportion between 0 and 1 (the charts are of proportions)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        hint = (f" ({value}% is {value / 100:g})" if isinstance(value, (int, float))
                and not isinstance(value, bool) and 1 < value <= 100 else "")
        raise ConfigError(f"params.yaml: {where} = {value!r} should be a proportion between 0 "
                          f"and 1{hint}. Fix: write the target as a proportion, or remove it.")
    return float(value)


def _population_table(raw: dict, where: str, root: Path) -> Path | None:
    """A rate outcome's population table: a count (denominator null) with a log-link family."""
    path = raw.get("population_table")
    if path is None:
        return None
    if not isinstance(path, str):
        raise ConfigError(f"params.yaml: {where}.population_table should be a file path.")
    if raw.get("denominator") is not None or raw.get("family") not in ("poisson", "quasipoisson"):
        raise ConfigError(
            f"params.yaml: {where} has a population_table, so it is a count against a "
            "population: set denominator: null and family: quasipoisson (or poisson).")
    return root / path


def _target_group(raw: Any, dimensions: list[str], where: str) -> dict[str, str] | None:
    """``target_group: {ethnicity: Asian, sex: Female}`` (one or two equity dimensions or PLUS
    flags, each with one value; a flag's value is 1)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not 1 <= len(raw) <= 2:
        raise ConfigError(f"params.yaml: {where}.target_group = {raw!r} should map one or two "
                          "equity dimensions (or PLUS flags) to a value, e.g. "
                          "{ethnicity: Asian, sex: Female} or {homeless: 1}.")
    unknown = [d for d in raw if d not in dimensions]
    if unknown:
        raise ConfigError(f"params.yaml: {where}.target_group names {unknown}, which are not in "
                          f"equity or plus_groups ({dimensions}). Fix: add them there, or "
                          "correct the name.")
    return {str(d): str(v) for d, v in raw.items()}


def _intersections(raw: Any, dimensions: list[str], where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    ok = isinstance(raw, list) and all(isinstance(p, list) and len(p) == 2 and p[0] != p[1]
                                       and all(d in dimensions for d in p) for p in raw)
    if not ok:
        raise ConfigError(f"params.yaml: {where}.intersections = {raw!r} should be a list of "
                          f"pairs of equity dimensions or PLUS flags ({dimensions}), e.g. "
                          "[[ethnicity, sex]].")
    return tuple((str(a), str(b)) for a, b in raw)


def _equity_primary(defaults: Any, own: Any, where: str,
                    horizons: tuple[int, ...]) -> EquityPrimary:
    """``equity_primary`` (global default, then the intervention's own keys over it)::

        equity_primary:
          comparison: {dimension: imd_quintile, most: "1", least: "5"}
          estimand: gap        # gap | sii
          horizon: 12          # one of its.horizons
          smallest_effect: 10  # percentage points: the smallest change in the gap that matters
    """
    merged: dict = {}
    for name, part in (("equity_primary", defaults), (f"{where}.equity_primary", own)):
        if part is None:
            continue
        if not isinstance(part, dict):
            raise ConfigError(f"params.yaml: {name} should be a mapping with comparison, "
                              "estimand and horizon.")
        _check_keys(part, {"comparison", "estimand", "horizon", "smallest_effect"}, name)
        merged.update(part)
    comparison = merged.get("comparison", {})
    if not isinstance(comparison, dict):
        raise ConfigError(f"params.yaml: {where}.equity_primary.comparison should be "
                          '{dimension: imd_quintile, most: "1", least: "5"}.')
    _check_keys(comparison, {"dimension", "most", "least"}, f"{where}.equity_primary.comparison")
    if comparison.get("dimension", "imd_quintile") != "imd_quintile":
        raise ConfigError(
            f"params.yaml: {where}.equity_primary.comparison.dimension = "
            f"{comparison['dimension']!r}: the primary equity comparison is between two IMD "
            "quintiles. Fix: use dimension: imd_quintile; to ask about another group, name it "
            "in target_group.")
    most, least = (str(comparison.get(k, d)) for k, d in (("most", "1"), ("least", "5")))
    if most not in IMD_QUINTILES or least not in IMD_QUINTILES or most == least:
        raise ConfigError(
            f"params.yaml: {where}.equity_primary.comparison most = {most!r}, least = "
            f"{least!r}: both should be IMD quintiles {list(IMD_QUINTILES)} and differ. Fix: "
            'e.g. most: "1", least: "5".')
    estimand = _choice(merged.get("estimand", "gap"), tuple(EQUITY_ESTIMANDS),
                       f"{where}.equity_primary.estimand")
    horizon = _int(merged.get("horizon", 12), f"{where}.equity_primary.horizon", 1)
    if horizon not in horizons:
        raise ConfigError(
            f"params.yaml: {where}.equity_primary.horizon = {horizon} is not one of the "
            f"horizons the models estimate ({where}.its.horizons = {list(horizons)}). Fix: "
            "choose one of them, or add it to its.horizons.")
    smallest = merged.get("smallest_effect", 10)
    if isinstance(smallest, bool) or not isinstance(smallest, (int, float)) or not (
            0 < smallest <= 100):
        raise ConfigError(
            f"params.yaml: {where}.equity_primary.smallest_effect = {smallest!r}: it should be "
            "the smallest change in the gap that matters, in percentage points, above 0 and at "
            "most 100. Fix: e.g. smallest_effect: 10.")
    return EquityPrimary(most, least, estimand, horizon, smallest / 100)


def _check_measured_from(cfg: "Intervention", where: str) -> None:
    """``measured_from`` inside the window, with at least one phase starting after it."""
    for o in cfg.outcomes:
        if o.measured_from is None:
            continue
        owhere = f"{where}.outcomes.{o.key}.measured_from"
        if not cfg.window.start <= o.measured_from <= cfg.window.end:
            raise ConfigError(
                f"params.yaml: {owhere} = {o.measured_from:%Y-%m} is outside the window "
                f"{cfg.window.start:%Y-%m}..{cfg.window.end:%Y-%m}. Fix: give the month "
                "collection of this measure began, inside the window.")
        if not cfg.phases_of(o):
            raise ConfigError(
                f"params.yaml: {owhere} = {o.measured_from:%Y-%m} is on or after the start of "
                f"every phase (last: {cfg.phases[-1].start:%Y-%m}), so no phase can be compared "
                "with a baseline. Fix: correct the month, or remove the outcome.")
    staff = [o.key for o in cfg.outcomes if o.population == "staff"]
    if staff and cfg.staff_extract is None:
        raise ConfigError(
            f"params.yaml: {where}.outcomes {staff} have population: staff but {where} has no "
            "staff_extract. Fix: add staff_extract: <path to the monthly staff counts>.")
    if cfg.headline.population == "staff":
        raise ConfigError(f"params.yaml: {where}.outcomes.{cfg.headline.key}: a staff outcome "
                          "cannot be the headline (the summary's equity answer is about "
                          "patients). Fix: mark a patient outcome headline: true.")


def _check_beside_extract(cfg: "Intervention", where: str, root: Path) -> None:
    """The staff extract and population tables sit in the extract's folder (or below it).

    dvc.yaml's prepare stage depends on that folder, so a change to any file prepare reads
    reruns it; a file elsewhere would change without DVC noticing (docs/adr/0103).
    """
    folder = Path(os.path.normpath(cfg.extract.parent))
    files = [("staff_extract", cfg.staff_extract)] + [
        (f"outcomes.{o.key}.population_table", o.population_table) for o in cfg.outcomes]
    for name, path in files:
        if path is not None and not Path(os.path.normpath(path)).is_relative_to(folder):
            shown = lambda p: p.relative_to(root) if p.is_relative_to(root) else p  # noqa: E731
            raise ConfigError(
                f"params.yaml: {where}.{name} = {shown(path)} is not in the folder of the "
                f"extract ({shown(folder)}), which is what DVC watches for the prepare stage, "
                "so a change to it would not rerun the report. Fix: move the file beside the "
                "extract and give its new path.")


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"params.yaml: {where} should be a mapping of settings.")
    return dict(value)


def _check_its_specs(cfg: "Intervention", where: str) -> None:
    """Validate each outcome's assembled ITS spec with the statistics' own validator.

    The ITS options are the engine's spec keys (pipeline.its_spec), so the engine's validator
    is the one place that knows them; here its message gets the params.yaml path in front.
    Neither it nor :mod:`pipeline.analysis_options` imports the statistics (docs/adr/0107).
    """
    from pipeline.analysis_options import check_staggered_options as check_options
    from pipeline.analysis_options import validate_options
    from pipeline.its_spec import validate_spec

    try:
        validate_options(cfg.sensitivity)
    except ValueError as exc:
        raise ConfigError(f"params.yaml: {where}.sensitivity: {exc}") from None
    try:
        check_options(cfg.staggered)
    except ValueError as exc:
        raise ConfigError(f"params.yaml: {where}.staggered: {exc}") from None
    if cfg.staggered and cfg.design != "staggered":
        raise ConfigError(
            f"params.yaml: {where}.staggered is set but the design is {cfg.design} "
            "(no unit_starts). Fix: remove the staggered key or give unit_starts."
        )
    for outcome in cfg.outcomes:
        try:
            validate_spec(cfg.its_spec(outcome))
        except ValueError as exc:
            raise ConfigError(
                f"params.yaml: {where}.its (or outcomes.{outcome.key}.its): {exc}"
            ) from None


def _period(value: Any, where: str) -> str:
    try:
        return check_period(value)
    except ValueError as exc:
        raise ConfigError(f"params.yaml: {where}.{exc}") from None


def _in_periods(months: int, period: str, where: str) -> int:
    try:
        return to_periods(months, period, where)
    except ValueError as exc:
        raise ConfigError(f"params.yaml: {exc}") from None


def _check_period(cfg: "Intervention", where: str) -> None:
    """At a quarter or a year, every date of params sits on a period boundary and every count
    is a whole number of periods (:mod:`pipeline.period_params`, docs/adr/0160)."""
    p = cfg.period
    checks = [(check_start, cfg.window.start, f"{where}.window.start"),
              (check_end, cfg.window.end, f"{where}.window.end")]
    checks += [(check_start, ph.start, f"{where}.phases[{i}].start")
               for i, ph in enumerate(cfg.phases)]
    checks += [(check_start, s, f"{where}.unit_starts.{u}")
               for u, s in (cfg.unit_starts or {}).items()]
    checks += [(check_start, o.measured_from, f"{where}.outcomes.{o.key}.measured_from")
               for o in cfg.outcomes if o.measured_from is not None]
    try:
        for check, month, key in checks:
            check(month, p, key)
        for name in ("before_months", "after_months", "washout_months"):
            to_periods(getattr(cfg.before_after, name), p, f"{where}.before_after.{name}")
        check_monthly_only(cfg.model, cfg.synthetic_control, p, where)
        check_its_period(cfg.its, p, f"{where}.its")
        for o in cfg.outcomes:
            check_its_period(o.its, p, f"{where}.outcomes.{o.key}.its")
            for h in horizon_months({**cfg.its, **o.its}, p):
                to_periods(h, p, f"{where}.its.horizons (or outcomes.{o.key}.its.horizons)")
    except ValueError as exc:
        raise ConfigError(f"params.yaml: {exc}") from None


def _check_other_models(cfg: "Intervention", where: str) -> None:
    """``model: structural`` needs one start (not a staggered roll-out) and valid
    ``structural`` options; ``synthetic_control: true`` needs comparator units."""
    from pipeline.analysis_options import check_structural_options as check_options

    try:
        check_options(cfg.structural)
    except ValueError as exc:
        raise ConfigError(f"params.yaml: {where}.structural: {exc}") from None
    if cfg.structural and cfg.model != "structural":
        raise ConfigError(f"params.yaml: {where}.structural is set but model is {cfg.model}. "
                          "Fix: add model: structural or remove the structural key.")
    if cfg.model == "structural" and cfg.design == "staggered":
        raise ConfigError(f"params.yaml: {where}.model: structural needs one start month; "
                          "this is a staggered roll-out (unit_starts). Fix: model: segmented.")
    if not isinstance(cfg.synthetic_control, bool):
        raise ConfigError(f"params.yaml: {where}.synthetic_control should be true or false.")
    if cfg.synthetic_control and cfg.design != "controlled":
        raise ConfigError(f"params.yaml: {where}.synthetic_control needs comparator_units "
                          f"(the design is {cfg.design}). Fix: list the comparator units or "
                          "remove synthetic_control.")


_INTERVENTION_KEYS = {
    "title", "question", "extract", "unit_label", "window", "phases", "unit_starts",
    "comparator_units", "before_after", "outcomes", "equity", "its", "plus_groups",
    "multiplicity", "sensitivity", "data", "staff_extract", "staff_process", "target_group",
    "intersections",
    "staggered", "equity_primary", "source", "model", "structural", "synthetic_control",
    "period",
}
MULTIPLICITY = ("holm", "fdr_bh", "none")
MODELS = ("segmented", "structural")


def _staff_process(raw: dict, where: str) -> dict[str, str]:
    """``staff_process: {champions_in_post: THI champions in post}``: counts in the staff file
    reported as a descriptive table by phase (docs/adr/0120); they need a ``staff_extract``."""
    process = _mapping(raw.get("staff_process", {}), f"{where}.staff_process")
    if process and raw.get("staff_extract") is None:
        raise ConfigError(f"params.yaml: {where}.staff_process {sorted(process)} is read from "
                          f"the staff file but {where} has no staff_extract. Fix: add "
                          "staff_extract: <path to the monthly staff counts>.")
    for key, label in process.items():
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"params.yaml: {where}.staff_process.{key} should be a label "
                              f"(text), not {label!r}.")
    return {str(k): v for k, v in process.items()}


def _source(raw, where: str) -> dict | None:
    """``source:``: a table or view and where its URL is kept; the URL holds a password, so it
    is never in params.yaml (an environment variable or a git-ignored file; docs/databases.md)."""
    if raw is None:
        return None
    raw = _mapping(raw, where)
    if "url" in raw:
        raise ConfigError(f"params.yaml: {where}.url: a database URL carries its password and "
                          "params.yaml is committed. Fix: put the URL in an environment "
                          "variable and name it with url_env: (or in a git-ignored file named "
                          "with url_file:).")
    unknown = sorted(set(raw) - {"table", "url_env", "url_file"})
    if unknown or not isinstance(raw.get("table"), str) or \
            len([k for k in ("url_env", "url_file") if isinstance(raw.get(k), str)]) != 1:
        raise ConfigError(f"params.yaml: {where} should be {{table: schema.table, url_env: "
                          f"VARIABLE}} or {{table: ..., url_file: path}}"
                          + (f" (unknown keys: {unknown})" if unknown else "") + ".")
    return dict(raw)


def parse_intervention(key: str, raw: dict, root: Path,
                       defaults: dict | None = None) -> Intervention:
    """Validate one ``interventions.<key>`` section into an :class:`Intervention`.

    ``defaults`` holds params' top-level settings an intervention inherits
    (``equity_primary``)."""
    where = f"interventions.{key}"
    if not isinstance(raw, dict):
        raise ConfigError(f"params.yaml: {where} should be a mapping of settings.")
    _check_keys(raw, _INTERVENTION_KEYS, where)

    window_raw = _require(raw, "window", where, dict)
    _check_keys(window_raw, {"start", "end"}, f"{where}.window")
    window = Window(
        _month(window_raw.get("start"), f"{where}.window.start"),
        _month(window_raw.get("end"), f"{where}.window.end"),
    )
    if window.end <= window.start:
        raise ConfigError(f"params.yaml: {where}.window ends before it starts.")

    phases = []
    for i, p in enumerate(_require(raw, "phases", where, list)):
        pwhere = f"{where}.phases[{i}]"
        if not isinstance(p, dict):
            raise ConfigError(f"params.yaml: {pwhere} should be {{name: ..., start: \"YYYY-MM\"}}.")
        _check_keys(p, {"name", "start"}, pwhere)
        phase = Phase(_require(p, "name", pwhere, str), _month(p.get("start"), f"{pwhere}.start"))
        if not window.start < phase.start <= window.end:
            raise ConfigError(
                f"params.yaml: {pwhere}.start {phase.start:%Y-%m} is outside the window "
                f"{window.start:%Y-%m}..{window.end:%Y-%m}. Fix: move the phase or widen the window."
            )
        phases.append(phase)
    if not phases:
        raise ConfigError(f"params.yaml: {where}.phases is empty. Fix: give at least one phase.")
    if [p.start for p in phases] != sorted({p.start for p in phases}):
        raise ConfigError(f"params.yaml: {where}.phases should start in order, one month each.")

    unit_starts = raw.get("unit_starts")
    if unit_starts is not None:
        if not isinstance(unit_starts, dict) or not unit_starts:
            raise ConfigError(f"params.yaml: {where}.unit_starts should map unit to \"YYYY-MM\".")
        unit_starts = {
            str(u): _month(s, f"{where}.unit_starts.{u}") for u, s in unit_starts.items()
        }
    comparators = raw.get("comparator_units")
    if comparators is not None:
        if not isinstance(comparators, list) or not comparators:
            raise ConfigError(f"params.yaml: {where}.comparator_units should be a list of units.")
        comparators = tuple(str(u) for u in comparators)
    if unit_starts and comparators:
        raise ConfigError(
            f"params.yaml: {where} has both unit_starts and comparator_units. "
            "Fix: choose a staggered or a controlled design."
        )

    ba_raw = raw.get("before_after", {})
    _check_keys(ba_raw, {"before_months", "after_months", "washout_months"}, f"{where}.before_after")
    before_after = BeforeAfter(
        _int(ba_raw.get("before_months", 12), f"{where}.before_after.before_months", 1),
        _int(ba_raw.get("after_months", 12), f"{where}.before_after.after_months", 1),
        _int(ba_raw.get("washout_months", 0), f"{where}.before_after.washout_months"),
    )

    outcomes_raw = _require(raw, "outcomes", where, dict)
    if not outcomes_raw:
        raise ConfigError(f"params.yaml: {where}.outcomes is empty.")
    outcomes = tuple(
        _parse_outcome(k, v if isinstance(v, dict) else {}, f"{where}.outcomes.{k}", root)
        for k, v in outcomes_raw.items()
    )
    if sum(o.headline for o in outcomes) > 1:
        raise ConfigError(f"params.yaml: {where}: mark at most one outcome as headline: true.")

    equity = raw.get("equity", list(EQUITY_DIMENSIONS))
    if not isinstance(equity, list) or any(not isinstance(d, str) for d in equity):
        raise ConfigError(f"params.yaml: {where}.equity should be a list of column names.")
    plus_groups = raw.get("plus_groups", [])
    if not isinstance(plus_groups, list) or any(not isinstance(d, str) for d in plus_groups):
        raise ConfigError(
            f"params.yaml: {where}.plus_groups should be a list of 0/1 flag columns, "
            "e.g. [homeless]."
        )

    cfg = Intervention(
        key=key,
        title=_require(raw, "title", where, str),
        question=str(raw.get("question", "")).strip(),
        extract=root / _require(raw, "extract", where, str),
        unit_label=str(raw.get("unit_label", "unit")),
        window=window,
        phases=tuple(phases),
        outcomes=outcomes,
        equity=tuple(equity),
        before_after=before_after,
        its=_mapping(raw.get("its", {}), f"{where}.its"),
        unit_starts=unit_starts,
        comparator_units=comparators,
        plus_groups=tuple(plus_groups),
        multiplicity=_choice(raw.get("multiplicity", "holm"), MULTIPLICITY,
                             f"{where}.multiplicity"),
        sensitivity=_mapping(raw.get("sensitivity", {}), f"{where}.sensitivity"),
        data=_mapping(raw.get("data", {}), f"{where}.data"),
        staff_extract=(root / _require(raw, "staff_extract", where, str)
                       if raw.get("staff_extract") is not None else None),
        staff_process=_staff_process(raw, where),
        target_group=_target_group(raw.get("target_group"), [*equity, *plus_groups], where),
        intersections=_intersections(raw.get("intersections"), [*equity, *plus_groups], where),
        staggered=_mapping(raw.get("staggered", {}), f"{where}.staggered"),
        source=_source(raw.get("source"), f"{where}.source"),
        model=_choice(raw.get("model", "segmented"), MODELS, f"{where}.model"),
        structural=_mapping(raw.get("structural", {}), f"{where}.structural"),
        synthetic_control=raw.get("synthetic_control", False),
        period=_period(raw.get("period", "month"), where),
        raw=raw,
    )
    _check_period(cfg, where)
    primary = _equity_primary((defaults or {}).get("equity_primary"), raw.get("equity_primary"),
                              where, horizon_months(cfg.its, cfg.period))
    if cfg.period != "month":
        primary = dataclasses.replace(primary, horizon=_in_periods(
            primary.horizon, cfg.period, f"{where}.equity_primary.horizon"))
    cfg = dataclasses.replace(cfg, equity_primary=primary)
    _check_other_models(cfg, where)
    _check_measured_from(cfg, where)
    _check_beside_extract(cfg, where, root)
    _check_its_specs(cfg, where)
    return cfg


def load_params(root: Path | None = None) -> dict:
    root = root or project_root()
    path = root / "params.yaml"
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist. Fix: run from the project root.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(params, dict) or not isinstance(params.get("interventions"), dict):
        raise ConfigError(f"{path}: an 'interventions' mapping is required.")
    return params


def intervention_keys(root: Path | None = None) -> list[str]:
    return list(load_params(root)["interventions"])


def load_intervention(key: str, root: Path | None = None) -> Intervention:
    """Load and validate ``interventions.<key>`` from the project's params.yaml."""
    root = root or project_root()
    params = load_params(root)
    interventions = params["interventions"]
    if key not in interventions:
        raise ConfigError(
            f"params.yaml has no intervention {key!r}; it has {sorted(interventions)}."
        )
    return parse_intervention(key, interventions[key], root, params)


def load_disclosure(root: Path | None = None) -> Disclosure:
    raw = load_params(root).get("disclosure", {})
    _check_keys(raw, {"suppress_at_or_below", "round_to", "rule_version"}, "disclosure")
    return Disclosure(
        suppress_at_or_below=_int(raw.get("suppress_at_or_below", 7), "disclosure.suppress_at_or_below"),
        round_to=_int(raw.get("round_to", 5), "disclosure.round_to", 1),
        rule_version=str(raw.get("rule_version", "sdc-2")),
    )


def load_seed(root: Path | None = None) -> int:
    raw = load_params(root).get("simulation", {})
    return _int(raw.get("seed", 0), "simulation.seed")


def simulated_keys(root: Path | None = None) -> list[str]:
    """Interventions whose default extract the ``simulate`` stage writes."""
    params = load_params(root)
    keys = params.get("simulation", {}).get("interventions", [])
    unknown = sorted(set(keys) - set(params["interventions"]))
    if unknown:
        raise ConfigError(
            f"params.yaml: simulation.interventions lists {unknown}, which are not under "
            "interventions. Fix: remove them or add their sections."
        )
    return list(keys)


@dataclass(frozen=True)
class Paths:
    """Every path the pipeline writes, derived from the project root (docs/design.md section 3)."""

    root: Path

    def synthetic(self, key: str) -> Path:
        return self.root / "data" / "synthetic" / key

    def processed(self, key: str) -> Path:
        return self.root / "data" / "processed" / key

    def series(self, key: str) -> Path:
        return self.processed(key) / "series.parquet"

    def report(self, key: str) -> Path:
        return self.root / "reports" / key

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def notebook(self) -> Path:
        return self.root / "notebooks" / "evaluate.ipynb"

    def staging(self, key: str) -> Path:
        """Where a report is written before it is moved into ``reports/<key>``."""
        return self.root / "data" / "interim" / "staging" / key

    def index_entry(self, key: str) -> Path:
        """The entry of one report that the ``index`` stage reads (docs/adr/0005)."""
        return self.root / "data" / "interim" / "index" / f"{key}.json"


def paths(root: Path | None = None) -> Paths:
    return Paths(root or project_root())
