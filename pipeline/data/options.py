"""The intervention's ``data:`` section of params.yaml: how to read its extract, and NHS quirks.

``pipeline.config`` hands ``data:`` over unparsed (``Intervention.data``); this module is the one
place that knows its keys, so a new input option lands here with its test, not in config.
Unknown keys and wrong types are errors naming the key path and the fix, like config's own.

Every key is optional; the defaults describe the synthetic extracts::

    data:
      format: records            # records (one row per event) | monthly (pre-aggregated counts)
      columns: {}                # our name -> the file's name, e.g. {month: "Activity Month"}
      sheet: null                # Excel: sheet name or 0-based index (default: the first sheet)
      encoding: utf-8            # CSV: utf-8 (a BOM is fine) | latin-1 | utf-16
      delimiter: null            # CSV: null = detect; or ",", ";", "\\t", "|"
      date_format: null          # null = YYYY-MM, YYYY-MM-DD or YYYYMM; else strptime, e.g. "%d/%m/%Y"
      values: {}                 # recode file values, e.g. {sex: {F: Female, M: Male},
                                 #   ethnicity: nhs_ethnic_category}
      age_bands: [0-17, 18-34, 35-49, 50-64, 65+]   # allowed age-band labels
      drop_on_read: []           # the file's columns never read (direct identifiers kept in
                                 #   the file: NHS number, postcode, date of birth)
      quirks:
        reporting_lag_months: 0  # the last N months of the extract are incomplete: dropped
        disruption: null         # {start: "2020-03", end: "2021-03", handling: exclude|model}
        coding_change: null      # "YYYY-MM": a 0/1 step covariate from that month
        missing_months: error    # error | list: a unit-month with no records
        small_units: {min_records: 0, label: other units}   # merge units with fewer records
        duplicate_rows: error    # error | drop: rows identical in every column read
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.config import ConfigError

from .codes import AGE_BANDS, BUILTIN_RECODES

FORMATS = ("records", "monthly")
ENCODINGS = ("utf-8", "latin-1", "utf-16")
DELIMITERS = (",", ";", "\t", "|")
HANDLINGS = ("exclude", "model")
MISSING = ("error", "list")
DUPLICATES = ("error", "drop")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

#: Canonical column names of a monthly (pre-aggregated, long) file.
MONTHLY_COLUMNS = ("month", "unit", "dimension", "stratum", "outcome", "numerator", "denominator")


class OptionsError(ConfigError):
    """A problem in an intervention's ``data:`` section of params.yaml."""


@dataclass(frozen=True)
class Disruption:
    start: str            # "YYYY-MM"
    end: str              # "YYYY-MM", inclusive
    handling: str         # exclude | model
    label: str = "disruption"


@dataclass(frozen=True)
class SmallUnits:
    min_records: int = 0
    label: str = "other units"


@dataclass(frozen=True)
class Quirks:
    reporting_lag_months: int = 0
    disruption: Disruption | None = None
    coding_change: str | None = None
    missing_months: str = "error"
    small_units: SmallUnits = field(default_factory=SmallUnits)
    duplicate_rows: str = "error"


@dataclass(frozen=True)
class DataOptions:
    format: str = "records"
    columns: dict[str, str] = field(default_factory=dict)   # canonical -> the file's name
    sheet: str | int | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    date_format: str | None = None
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {file: ours}
    age_bands: tuple[str, ...] = AGE_BANDS
    drop_on_read: tuple[str, ...] = ()
    quirks: Quirks = field(default_factory=Quirks)

    def file_column(self, name: str) -> str:
        """The file's name for our column ``name``."""
        return self.columns.get(name, name)


_KEYS = {"format", "columns", "sheet", "encoding", "delimiter", "date_format", "values",
         "age_bands", "drop_on_read", "quirks"}
_QUIRK_KEYS = {"reporting_lag_months", "disruption", "coding_change", "missing_months",
               "small_units", "duplicate_rows"}


def _fail(where: str, text: str) -> OptionsError:
    return OptionsError(f"params.yaml: {where}{text}")


def _check_keys(raw: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(where, f": unknown key(s) {unknown}. Fix: remove or rename them; allowed "
                           f"keys are {sorted(allowed)}.")


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(where, f" = {value!r} should be a mapping of settings.")
    return value


def _month(value, where: str) -> str:
    if not isinstance(value, str) or not _MONTH.match(value):
        raise _fail(where, f' = {value!r} is not a month. Fix: write it as a quoted "YYYY-MM".')
    return value


def _whole(value, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(where, f" = {value!r} should be a whole number >= {minimum}.")
    return value


def _choice(value, allowed: tuple, where: str):
    if value not in allowed:
        raise _fail(where, f" = {value!r}; allowed values are {list(allowed)}.")
    return value


def allowed_columns(fmt: str, outcomes: dict, dimensions, plus_groups=()) -> set[str]:
    """Our column names that ``columns:`` may map, for this intervention and format."""
    if fmt == "monthly":
        return set(MONTHLY_COLUMNS)
    flags = {c for pair in outcomes.values() for c in pair if c}
    return {"month", "unit", *dimensions, *plus_groups, *flags}


def parse_options(raw, *, outcomes: dict[str, tuple[str, str | None]] | None = None,
                  dimensions=(), plus_groups=(), where: str = "data") -> DataOptions:
    """Validate an intervention's ``data:`` mapping into :class:`DataOptions`.

    ``outcomes`` and ``dimensions`` let ``columns:`` and ``values:`` be checked against the
    columns the intervention actually uses; ``where`` is the key path shown in messages
    (``interventions.<key>.data``).
    """
    raw = _mapping(raw, where)
    _check_keys(raw, _KEYS, where)
    outcomes = outcomes or {}
    fmt = _choice(raw.get("format", "records"), FORMATS, f"{where}.format")

    columns = _mapping(raw.get("columns"), f"{where}.columns")
    ours = allowed_columns(fmt, outcomes, dimensions, plus_groups)
    for k, v in columns.items():
        if not isinstance(v, str) or not v.strip():
            raise _fail(f"{where}.columns.{k}", f" = {v!r} should be the file's column name.")
        if k == "patient_id":
            raise _fail(f"{where}.columns", ": patient_id is never read (rows are counted, not "
                        "people), so it needs no mapping. Fix: remove it from columns:; a column "
                        "of direct identifiers (NHS numbers) goes under drop_on_read: instead.")
        if k not in ours:
            raise _fail(f"{where}.columns", f": {k!r} is not a column this {fmt} extract uses. "
                        f"Fix: map one of {sorted(ours)} (our name: the file's name).")
    clash = sorted({v for v in columns.values() if list(columns.values()).count(v) > 1})
    if clash:
        raise _fail(f"{where}.columns", f": the file column(s) {clash} are mapped twice. "
                                        f"Fix: map each file column to one of our names.")

    sheet = raw.get("sheet")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, (str, int))):
        raise _fail(f"{where}.sheet", f" = {sheet!r} should be a sheet name or a 0-based index.")
    encoding = str(raw.get("encoding", "utf-8")).lower().replace("_", "-")
    encoding = {"utf8": "utf-8", "utf-8-sig": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1",
                "cp1252": "latin-1", "windows-1252": "latin-1", "utf16": "utf-16"}.get(encoding, encoding)
    _choice(encoding, ENCODINGS, f"{where}.encoding")
    delimiter = raw.get("delimiter")
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        _choice(delimiter, DELIMITERS, f"{where}.delimiter")
    date_format = raw.get("date_format")
    if date_format is not None and (not isinstance(date_format, str) or "%" not in date_format):
        raise _fail(f"{where}.date_format", f" = {date_format!r} should be a strptime format "
                                            'such as "%d/%m/%Y" or "%b-%y", or null.')

    values = {}
    for col, mapping in _mapping(raw.get("values"), f"{where}.values").items():
        if fmt == "records" and col not in ours or fmt == "monthly" and col not in (
                "unit", "dimension", "stratum", "outcome", *dimensions):
            raise _fail(f"{where}.values", f": {col!r} is not a coded column of this extract.")
        if isinstance(mapping, str):
            if mapping not in BUILTIN_RECODES:
                raise _fail(f"{where}.values.{col}", f" = {mapping!r}; built-in recodings are "
                                                     f"{sorted(BUILTIN_RECODES)}.")
            mapping = BUILTIN_RECODES[mapping]
        elif isinstance(mapping, dict):
            mapping = {str(k): str(v) for k, v in mapping.items()}
        else:
            raise _fail(f"{where}.values.{col}", " should map the file's values to ours, e.g. "
                                                 "{F: Female, M: Male}.")
        values[col] = mapping

    bands = raw.get("age_bands", list(AGE_BANDS))
    if not isinstance(bands, list) or not bands or any(not isinstance(b, str) for b in bands):
        raise _fail(f"{where}.age_bands", " should be a list of age-band labels, e.g. "
                                          '["18-34", "35-49", "50-64", "65+"].')

    drop = raw.get("drop_on_read", [])
    if not isinstance(drop, list) or any(not isinstance(c, str) or not c.strip() for c in drop):
        raise _fail(f"{where}.drop_on_read", f" = {drop!r} should be a list of the file's column "
                                             'names, e.g. ["NHS Number", "Postcode"].')
    clash = sorted(set(drop) & set(columns.values()) | set(drop) & ours)
    if clash:
        raise _fail(f"{where}.drop_on_read", f": {clash} are also read as columns the evaluation "
                                             "uses. Fix: drop only columns the evaluation does "
                                             "not use, and map another column under columns:.")

    return DataOptions(format=fmt, columns=dict(columns), sheet=sheet, encoding=encoding,
                       delimiter=delimiter, date_format=date_format, values=values,
                       age_bands=tuple(bands), drop_on_read=tuple(drop),
                       quirks=_parse_quirks(raw.get("quirks"), f"{where}.quirks"))


def _parse_quirks(raw, where: str) -> Quirks:
    raw = _mapping(raw, where)
    _check_keys(raw, _QUIRK_KEYS, where)
    disruption = raw.get("disruption")
    if disruption is not None:
        dwhere = f"{where}.disruption"
        disruption = _mapping(disruption, dwhere)
        _check_keys(disruption, {"start", "end", "handling", "label"}, dwhere)
        start = _month(disruption.get("start"), f"{dwhere}.start")
        end = _month(disruption.get("end"), f"{dwhere}.end")
        if end < start:
            raise _fail(dwhere, f": end {end} is before start {start}.")
        disruption = Disruption(start, end,
                                _choice(disruption.get("handling", "exclude"), HANDLINGS,
                                        f"{dwhere}.handling"),
                                str(disruption.get("label", "disruption")))
    coding = raw.get("coding_change")
    if coding is not None:
        coding = _month(coding, f"{where}.coding_change")
    small = raw.get("small_units", {})
    if isinstance(small, int) and not isinstance(small, bool):
        small = {"min_records": small}
    small = _mapping(small, f"{where}.small_units")
    _check_keys(small, {"min_records", "label"}, f"{where}.small_units")
    label = small.get("label", "other units")
    if not isinstance(label, str) or not label.strip():
        raise _fail(f"{where}.small_units.label", f" = {label!r} should be a unit name.")
    return Quirks(
        reporting_lag_months=_whole(raw.get("reporting_lag_months", 0),
                                    f"{where}.reporting_lag_months"),
        disruption=disruption,
        coding_change=coding,
        missing_months=_choice(raw.get("missing_months", "error"), MISSING,
                               f"{where}.missing_months"),
        small_units=SmallUnits(_whole(small.get("min_records", 0),
                                      f"{where}.small_units.min_records"), label),
        duplicate_rows=_choice(raw.get("duplicate_rows", "error"), DUPLICATES,
                               f"{where}.duplicate_rows"),
    )


def options_for(cfg) -> DataOptions:
    """Parse ``cfg.data`` of a :class:`pipeline.config.Intervention`."""
    return parse_options(cfg.data, outcomes=cfg.outcome_columns(), dimensions=cfg.equity,
                         plus_groups=cfg.plus_groups, where=f"interventions.{cfg.key}.data")
