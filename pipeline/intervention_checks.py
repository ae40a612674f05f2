"""Checks across the fields of a parsed intervention (after each field is valid on its own).

Why apart from the field parsing: these need the whole :class:`~pipeline.intervention.
Intervention` (its phases, outcomes, design and files), and two of them hand options to the
validators of the parts that own them (:mod:`pipeline.its_spec`,
:mod:`pipeline.analysis_options`).
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.intervention import Intervention
from pipeline.params_fields import ConfigError
from pipeline.period_params import (check_end, check_its_period, check_monthly_only,
                                    check_period, check_start, horizon_months, to_periods)


def check_measured_from(cfg: "Intervention", where: str) -> None:
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


def check_beside_extract(cfg: "Intervention", where: str, root: Path) -> None:
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


def check_its_specs(cfg: "Intervention", where: str) -> None:
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


def parse_period(value, where: str) -> str:
    try:
        return check_period(value)
    except ValueError as exc:
        raise ConfigError(f"params.yaml: {where}.{exc}") from None


def in_periods(months: int, period: str, where: str) -> int:
    try:
        return to_periods(months, period, where)
    except ValueError as exc:
        raise ConfigError(f"params.yaml: {exc}") from None


def check_period_boundaries(cfg: "Intervention", where: str) -> None:
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


def check_other_models(cfg: "Intervention", where: str) -> None:
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
