"""Allowed codes and the reading of one value: months, IMD quintiles, ethnic groups, sex, flags.

Why per value and not per row: an extract of 10 million rows holds a few hundred distinct
values per column, so DuckDB groups the rows by their raw values in one scan and each
*distinct* value is classified here, once (docs/adr/0020). The rules are plain Python, easy to
read and test, and the same whichever engine did the scan.

Each classifier returns ``(value, None)`` for a good value or ``(None, Reason)``; a reason holds
the message (with ``{values}`` standing for the offending values) and the fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pipeline.errors import excerpt

ETHNICITY = ("White", "Mixed", "Asian", "Black", "Other", "Not stated")
SEX = ("Female", "Male", "Not known")
AGE_BANDS = ("0-17", "18-34", "35-49", "50-64", "65+")
IMD = ("1", "2", "3", "4", "5")

#: NHS Data Dictionary "Ethnic Category" (2001 census classification) -> its top-level group.
#: Codes, the long group names and 99 ("not known", counted with "Not stated").
NHS_ETHNIC_CATEGORY = {
    **{c: "White" for c in "ABC"}, **{c: "Mixed" for c in "DEFG"},
    **{c: "Asian" for c in "HJKL"}, **{c: "Black" for c in "MNP"},
    **{c: "Other" for c in "RS"}, "Z": "Not stated", "99": "Not stated",
    "Asian or Asian British": "Asian", "Black or Black British": "Black",
    "Other Ethnic Groups": "Other", "Other ethnic group": "Other", "Not known": "Not stated",
    **{g: g for g in ETHNICITY},
}
#: NHS Data Dictionary "Person Stated Gender Code": 1 male, 2 female, 9 indeterminate, X not known.
NHS_SEX_CODE = {"1": "Male", "2": "Female", "9": "Not known", "X": "Not known", "0": "Not known",
                "M": "Male", "F": "Female", "U": "Not known", **{s: s for s in SEX}}
#: IMD decile (1 = most deprived 10%) -> quintile ceil(d / 2), for a decile column read as the quintile.
IMD_DECILE = {str(d): str((d + 1) // 2) for d in range(1, 11)}
BUILTIN_RECODES = {"nhs_ethnic_category": NHS_ETHNIC_CATEGORY, "nhs_sex_code": NHS_SEX_CODE,
                   "imd_decile": IMD_DECILE}


@dataclass(frozen=True)
class Reason:
    """Why a value was refused: ``message`` may hold ``{values}``; ``fix`` says what to do."""

    key: str
    message: str
    fix: str


BLANK = "blank"
_ISO = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2})(?:[ T].*)?)?$")
_YYYYMM = re.compile(r"^(\d{4})(\d{2})(?:\.0+)?$")
_SERIAL = re.compile(r"^(\d{5})(?:\.\d+)?$")
_SLASHED = re.compile(r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}( .*)?$")
_EXCEL_EPOCH = date(1899, 12, 30)


def is_blank(text: str | None) -> bool:
    return text is None or not text.strip()


def blank_reason(what: str) -> Reason:
    return Reason(BLANK, "value is blank", f"fill in {what}, or remove the row")


def parse_month(text: str | None, date_format: str | None = None):
    """First day of the month of ``text`` (a ``date``), or ``(None, Reason)``.

    Accepted without a format: ``YYYY-MM``, ISO dates and timestamps (any day: normalised to
    the 1st; Parquet and Excel dates arrive this way) and ``YYYYMM`` (as many NHS returns
    write it). With ``date_format`` (e.g. ``%d/%m/%Y``) that format is tried first.
    """
    if is_blank(text):
        return None, blank_reason("the month (YYYY-MM)")
    s = text.strip()
    if date_format:
        try:
            d = datetime.strptime(s, date_format)
            return date(d.year, d.month, 1), None
        except ValueError:
            pass
    m = _ISO.match(s)
    if m:
        year, month, day = int(m[1]), int(m[2]), int(m[3] or 1)
        try:
            date(year, month, day)
            return date(year, month, 1), None
        except ValueError:
            pass
    m = _YYYYMM.match(s)
    if m and 1 <= int(m[2]) <= 12 and 1900 <= int(m[1]) <= 2100:
        return date(int(m[1]), int(m[2]), 1), None
    m = _SERIAL.match(s)
    if m and 20000 <= int(m[1]) <= 80000:
        shown = _EXCEL_EPOCH + timedelta(days=int(m[1]))
        return None, Reason(
            "excel_serial", "{values} an Excel date serial number, not a month",
            f"format the column as a date (or as text YYYY-MM) before exporting: e.g. {m[1]} "
            f"is {shown:%Y-%m-%d}")
    if _SLASHED.match(s) and not date_format:
        return None, Reason(
            "needs_format", "{values} not a month in YYYY-MM or ISO form",
            'set the file\'s date format in params.yaml, e.g. data: {date_format: "%d/%m/%Y"} '
            "for UK dates, or write months as YYYY-MM")
    fmt = f" or in the date_format {date_format!r}" if date_format else ""
    return None, Reason("not_month", "{values} not a month",
                        f"write months as YYYY-MM (e.g. 2021-09) or as an ISO date "
                        f"YYYY-MM-DD{fmt}")


def month_parser(date_format: str | None, latest: date | None = None):
    """:func:`parse_month` that also refuses months after ``latest`` (default: this month).

    Why the clock here, and only here: a month in the future is a typo or a test record, and
    left in it would become the extract's "latest month" that the reporting-lag rule counts
    back from, dropping a complete month and keeping an incomplete one (docs/adr/0041). The
    clock decides only whether a run is refused, never what a report says.
    """
    today = date.today()
    latest = latest or date(today.year, today.month, 1)

    def parse(text: str | None):
        value, reason = parse_month(text, date_format)
        if reason is None and value > latest:
            return None, Reason("future", "{values} in the future (after " + f"{latest:%Y-%m})",
                                "correct the month (a typo, or a test record?), or remove the "
                                "row; events cannot be dated after the extract was made")
        return value, reason
    return parse


def _number(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def parse_imd(text: str | None):
    if is_blank(text):
        return None, blank_reason("the IMD quintile from the patient's LSOA of residence")
    v = _number(text.strip())
    if v is not None and v in (1, 2, 3, 4, 5):
        return str(int(v)), None
    if v is not None and v in (6, 7, 8, 9, 10):
        return None, Reason("decile", "{values} not an IMD quintile (1-5): deciles?",
                            "recode to 1 (most deprived) .. 5 (least deprived); deciles d map to "
                            "quintile ceil(d / 2), which data: {values: {imd_quintile: "
                            "imd_decile}} in params.yaml does on read")
    return None, Reason("imd", "{values} not an IMD quintile (1-5)",
                        "recode to 1 (most deprived) .. 5 (least deprived); deciles d map to "
                        "quintile ceil(d / 2)")


def parse_ethnicity(text: str | None):
    if is_blank(text):
        return None, blank_reason("the ethnic group (use 'Not stated' when unknown)")
    s = text.strip()
    if s in ETHNICITY:
        return s, None
    hint = ""
    if s in NHS_ETHNIC_CATEGORY or s.upper() in NHS_ETHNIC_CATEGORY:
        hint = ("; NHS ethnic category codes (A-Z) are read with data: {values: {ethnicity: "
                "nhs_ethnic_category}} in params.yaml")
    return None, Reason("ethnicity", "{values} not an NHS ethnic group",
                        "recode to the top-level groups " + ", ".join(ETHNICITY) + hint)


def parse_sex(text: str | None):
    if is_blank(text):
        return None, blank_reason("sex (Female, Male or Not known)")
    s = text.strip()
    if s in SEX:
        return s, None
    hint = ""
    if s in NHS_SEX_CODE:
        hint = ("; NHS codes (1 male, 2 female, 9, X) and M/F are read with data: {values: "
                "{sex: nhs_sex_code}} in params.yaml")
    return None, Reason("sex", "{values} not a sex code",
                        "recode to " + ", ".join(SEX) + hint)


def age_parser(bands: tuple[str, ...]):
    def parse_age(text: str | None):
        if is_blank(text):
            return None, blank_reason("the age band")
        s = text.strip()
        if s in bands:
            return s, None
        return None, Reason("age", "{values} not an allowed age band",
                            "recode to one of " + ", ".join(bands) + ", or list the file's "
                            "bands in params.yaml as data: {age_bands: [...]}")
    return parse_age


def text_parser(what: str):
    def parse_text(text: str | None):
        if is_blank(text):
            return None, blank_reason(what)
        return text.strip(), None
    return parse_text


def parse_flag(text: str | None):
    if is_blank(text):
        return None, Reason(BLANK, "value is blank", "write 0 (no) or 1 (yes)")
    s = text.strip().lower()
    if s in ("1", "1.0", "true"):
        return 1, None
    if s in ("0", "0.0", "false"):
        return 0, None
    v = _number(s)
    if v is not None and v < 0:
        return None, Reason("negative", "{values} negative",
                            "flags count one row each: write 0 (no) or 1 (yes)")
    return None, Reason("flag", "{values} not a 0/1 flag", "write 0 (no) or 1 (yes)")


def parse_count(text: str | None):
    """A non-negative whole count (numerator / denominator of a monthly file)."""
    if is_blank(text):
        return None, Reason(BLANK, "value is blank",
                            "write the count (0 when nothing happened), or remove the row")
    s = text.strip().replace(",", "")
    v = _number(s)
    if v is None:
        if s.startswith("<") or s in ("*", "~", "c", "x", "..", "-", "[c]", "[x]"):
            return None, Reason("suppressed", "{values} a suppressed count",
                                "ask for the unsuppressed extract: small-number suppression "
                                "is applied to the published report, not to the data")
        return None, Reason("count", "{values} not a number", "write a whole number >= 0")
    if v < 0:
        return None, Reason("negative", "{values} negative", "counts are whole numbers >= 0")
    if v != int(v):
        return None, Reason("fraction", "{values} not a whole number",
                            "write counts, not rates or percentages")
    return int(v), None


def values_text(values: list) -> str:
    """'value 6 is' / "values 'M', 'F' are": numbers bare, text quoted, as the user typed them."""
    def show(v) -> str:
        if v is None:
            return "(blank)"
        text = excerpt(v)
        return text if _number(str(v)) is not None else repr(text)
    shown = [show(v) for v in values]
    return f"value {shown[0]} is" if len(shown) == 1 else "values " + ", ".join(shown) + " are"
