"""Parse one ``interventions.<key>`` section of params.yaml into an :class:`Intervention`.

Unknown keys and wrong types are errors that name the key and the fix, never silently
ignored; the checks that need the whole intervention are in
:mod:`pipeline.intervention_checks`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pipeline.intervention import (
    EQUITY_DIMENSIONS,
    EQUITY_ESTIMANDS,
    FAMILIES,
    IMD_QUINTILES,
    POPULATIONS,
    BeforeAfter,
    EquityPrimary,
    Intervention,
    InterventionPhase,
    Outcome,
    Window,
)
from pipeline.intervention_checks import check_beside_extract as _check_beside_extract
from pipeline.intervention_checks import check_its_specs as _check_its_specs
from pipeline.intervention_checks import check_measured_from as _check_measured_from
from pipeline.intervention_checks import check_other_models as _check_other_models
from pipeline.intervention_checks import check_period_boundaries, in_periods, parse_period
from pipeline.params_fields import ConfigError
from pipeline.params_fields import check_keys as _check_keys
from pipeline.params_fields import choice as _choice
from pipeline.params_fields import mapping as _mapping
from pipeline.params_fields import month as _month
from pipeline.params_fields import require as _require
from pipeline.params_fields import whole_number as _int
from pipeline.period_params import horizon_months


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
        phase = InterventionPhase(_require(p, "name", pwhere, str),
                                  _month(p.get("start"), f"{pwhere}.start"))
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
        period=parse_period(raw.get("period", "month"), where),
        raw=raw,
    )
    check_period_boundaries(cfg, where)
    primary = _equity_primary((defaults or {}).get("equity_primary"), raw.get("equity_primary"),
                              where, horizon_months(cfg.its, cfg.period))
    if cfg.period != "month":
        primary = dataclasses.replace(primary, horizon=in_periods(
            primary.horizon, cfg.period, f"{where}.equity_primary.horizon"))
    cfg = dataclasses.replace(cfg, equity_primary=primary)
    _check_other_models(cfg, where)
    _check_measured_from(cfg, where)
    _check_beside_extract(cfg, where, root)
    _check_its_specs(cfg, where)
    return cfg
