"""Direct identifiers in an extract: refused by default, by column name and by content.

Why refuse rather than ignore: an extract for evaluation should be pseudonymised (NHS England's
and the ICO's guidance on anonymisation and pseudonymisation: an evaluation needs counts, not
who). A column of NHS numbers, postcodes or dates of birth in the file means the extract was
pulled with more than the evaluation needs; the pipeline never reads such a column into an
output, but accepting the file silently would let the identifiable copy sit in ``data/raw``
unnoticed. The analyst either removes the column, or names it under ``data: drop_on_read:``,
which records in params that the column is in the file and is never read (docs/adr/0040).

How, fast: names are checked on the header; content on the first :data:`SAMPLE_ROWS` rows only
(one ``LIMIT`` query: milliseconds for 10 million rows, Parquet or CSV). A column is flagged
when at least half its non-blank sampled values are valid NHS numbers (modulus 11), full UK
postcodes, or full dates at least :data:`BIRTH_YEARS` years before the window (event dates are
inside the window; dates of birth are decades before it).
"""
from __future__ import annotations

import re
from datetime import date

from pipeline.errors import excerpt
from pipeline.publication_check import nhs_number_valid  # the one modulus-11 check

from .errors import Problem
from .source import Source, q

SAMPLE_ROWS = 2000
SHARE = 0.5
BIRTH_YEARS = 10

_NAMES = {
    "NHS number": {"nhs_number", "nhs_no", "nhsnumber", "nhsno", "nhs_num", "new_nhs_no",
                   "chi_number"},
    "postcode": {"postcode", "post_code", "patient_postcode", "home_postcode", "pcode"},
    "date of birth": {"dob", "date_of_birth", "birth_date", "birthdate", "dateofbirth", "birth_dt",
                      "date_birth", "d_o_b"},
    "name": {"name", "patient_name", "full_name", "forename", "forenames", "first_name",
             "given_name", "surname", "last_name", "family_name"},
    "address": {"address", "address_line_1", "address1", "home_address", "street"},
    "contact detail": {"email", "email_address", "phone", "telephone", "phone_number", "mobile",
                       "mobile_number"},
}
_PLURAL = {"NHS number": "NHS numbers", "postcode": "postcodes", "date of birth": "dates of birth",
           "name": "names", "address": "addresses", "contact detail": "contact details"}
_NHS = re.compile(r"^(\d{3})[ -]?(\d{3})[ -]?(\d{4})$")
_POSTCODE = re.compile(
    r"^(GIR ?0AA|[A-PR-UWYZ](?:[A-HK-Y]?\d[A-Z\d]?|\d[A-HJKPSTUW]) ?\d[ABD-HJLNP-UW-Z]{2})$",
    re.I)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T].*)?$|^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def _norm(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower())


def _is_nhs_number(text: str) -> bool:
    m = _NHS.match(text)
    return bool(m) and nhs_number_valid("".join(m.groups()))


def _birth_date(text: str, before: date) -> bool:
    m = _DATE.match(text)
    if not m:
        return False
    y, mo, d = (m[1], m[2], m[3]) if m[1] else (m[6], m[5], m[4])
    try:
        value = date(int(y), int(mo), int(d))
    except ValueError:
        return False
    return 1900 <= value.year and value < before


def kind_by_name(name: str) -> str | None:
    key = _norm(name)
    for kind, names in _NAMES.items():
        if key in names:
            return kind
    return None


def kind_by_content(values: list[str], window_start: str) -> str | None:
    """What most of a column's sampled values are, if they are direct identifiers."""
    texts = [v.strip() for v in values if v is not None and v.strip()]
    if not texts:
        return None
    y, m = (int(x) for x in window_start.split("-"))
    before = date(y - BIRTH_YEARS, m, 1)
    for kind, test in (("NHS number", _is_nhs_number), ("postcode", _POSTCODE.match),
                       ("date of birth", lambda t: _birth_date(t, before))):
        if sum(1 for t in texts if test(t)) >= SHARE * len(texts):
            return kind
    return None


def find_identifiers(con, source: Source, *, dropped: tuple[str, ...], window_start: str,
                     mapped: dict[str, str], content: bool = True) -> list[Problem]:
    """Problems for each column of ``source`` that holds direct identifiers (module doc).

    ``dropped`` are the file's columns named under ``data: drop_on_read:`` (never read, never
    checked); ``mapped`` is ours -> the file's name for the columns in use (a column in use is
    named in the message as what it is used for). ``content=False`` checks names only (a
    database table: the sample would bring record-level values out of the engine).
    """
    columns = [c for c in source.columns if c not in set(dropped)]
    if not columns:
        return []
    select = ", ".join(f"CAST({q(c)} AS VARCHAR)" for c in columns)
    rows = (con.execute(f"SELECT {select} FROM {source.relation} LIMIT {SAMPLE_ROWS}").fetchall()
            if content else [])
    used_as = {theirs: ours for ours, theirs in mapped.items()}
    problems = []
    for i, column in enumerate(columns):
        by_name = kind_by_name(column)
        kind = by_name or (kind_by_content([r[i] for r in rows], window_start) if rows else None)
        if kind is None:
            continue
        how = "its name" if by_name else f"its values (e.g. {_shown(rows, i)})"
        role = f" (used as '{used_as[column]}')" if column in used_as and used_as[column] != column else ""
        problems.append(Problem(
            str(source.path), column, (), 0,
            f"holds direct identifiers{role}: {_PLURAL[kind]}, by {how}. An extract for evaluation "
            "should be pseudonymised: the evaluation needs counts, not who",
            f"remove the column from the extract (and any copy of the file), or, if it must "
            f"stay in the file, list it in params.yaml as data: {{drop_on_read: [\"{excerpt(column)}\"]}} "
            "so it is never read"
            + (f"; map another column as '{used_as[column]}'" if column in used_as else "")))
    return problems


def _shown(rows, i: int) -> str:
    """A masked example, so the message itself does not repeat an identifier."""
    value = next((r[i] for r in rows if r[i] is not None and str(r[i]).strip()), "")
    text = excerpt(str(value).strip(), 12)
    keep = max(1, min(3, len(text) // 4))
    return repr(text[:keep] + "*" * max(0, len(text) - keep))
