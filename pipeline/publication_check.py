"""Scan everything under a reports folder for disclosure violations (docs/design.md section 5).

``scan(reports_dir) -> list[Violation]``; ``python -m pipeline.publication_check [DIR]`` exits
1 and lists the violations when there are any (``main``).

What is checked, file by file (``.csv``, ``.json``, ``.html``/``.htm``, ``.ipynb``; other files,
e.g. images, are listed as skipped only if their type could hold text: ``.txt``/``.md`` are
scanned as prose):

1. **Counts.** A *count column* is one whose name, lower-cased with spaces and hyphens as
   underscores, is in :data:`COUNT_NAMES` (``numerator``, ``denominator``, ``n``, ``count``,
   ``events``, ``cases``, ``population``, ...) or is such a name with a ``_before``,
   ``_after``, ``_q<k>`` or ``_total`` suffix or an ``n_`` prefix naming people (``n_before``,
   ``n_after``, ``n_patients``); names in :data:`NOT_COUNTS` (``n_months``, ``n_strata``,
   ``n_tests``, ``df``...) are never counts. In a count column every cell must be empty,
   ``[c]``, ``0``, or a whole number above the threshold that is a multiple of the rounding
   base (thousands separators allowed). A value from 1 to 7 is a ``small_count``; any other
   value is an ``unrounded_count``.
   - CSV: the header row names the columns.
   - JSON: any object key that names a count column, at any depth, whose value is a number or
     numeric string; and pandas ``split`` tables (``{"columns": [...], "data": [[...]]}``).
   - HTML: every ``<table>``; the header cells (``<th>`` in the first row, or the first row)
     name the columns; cells are read as text.
   - ipynb: markdown cells and ``text/html`` / ``text/markdown`` / ``text/plain`` outputs are
     treated as HTML and prose; images are skipped.
2. **Identifiers anywhere in the text** (after removing base64 data URIs):
   - ``nhs_number``: 10 digits (optionally 3-3-4 spaced or hyphenated), not part of a longer
     number, word or hash, nor of a decimal, that pass the NHS modulus 11 check digit;
   - ``postcode``: a full UK postcode (outward and inward code, e.g. ``LS1 4AP``, upper case);
3. **Record-level columns**: a column/key/table header named like a date of birth (``dob``,
   ``date_of_birth``, ``birth_date``...), a patient identifier (``patient_id``, ``nhs_number``,
   ``person_id``, ``pseudo_id``...) or free text (``free_text``, ``notes``, ``comment``).
4. **Back-calculation** (every table of every format): the attacks of
   :mod:`pipeline.back_calculation` try to recover an exact count from the proportions and
   comparisons printed beside the counts, and from a total minus its published parts; a
   success is a ``recovered_count``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from pipeline.back_calculation import SIGNIFICANT, attack_margins, attack_row
from pipeline.config import Disclosure
from pipeline.disclosure import SUPPRESSED

COUNT_NAMES = {"numerator", "denominator", "n", "count", "counts", "events", "cases",
               "population", "patients", "people", "admissions", "referrals", "total",
               "n_events", "n_patients", "n_people", "n_records", "n_cases", "n_pairs",
               "n_before", "n_after", "discordant", "events_before", "events_after"}
COUNT_SUFFIXES = ("_before", "_after", "_total", "_q1", "_q2", "_q3", "_q4", "_q5")
NOT_COUNTS = {"n_months", "n_strata", "n_tests", "n_params", "n_obs", "df", "months",
              "n_units", "n_phases", "n_series"}
DOB_NAMES = {"dob", "date_of_birth", "birth_date", "birthdate", "dateofbirth", "birth_dt",
             "date_birth", "year_of_birth", "yob"}
ID_NAMES = {"patient_id", "nhs_number", "nhs_no", "nhsnumber", "person_id", "pseudo_id",
            "patientid", "chi_number", "mrn", "hospital_number", "local_patient_id"}
FREE_TEXT_NAMES = {"free_text", "freetext", "notes", "comment", "comments", "narrative"}
TEXT_SUFFIXES = {".csv", ".json", ".html", ".htm", ".ipynb", ".txt", ".md"}

# Not inside a longer word either: a run of digits within a hex digest (the manifest's sha256
# hashes) or an identifier is not an NHS number written for a reader.
_NHS = re.compile(r"(?<![\w.])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\w|\.\d)")
_POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|[A-PR-UWYZ](?:[A-HK-Y]?\d[A-Z\d]?|\d[A-HJKPSTUW]) ?\d[ABD-HJLNP-UW-Z]{2})\b")
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$|^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Violation:
    """One problem in one published file."""

    path: str
    location: str
    kind: str  # small_count | unrounded_count | nhs_number | postcode | record_level_column
    value: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.location}: {self.kind} {self.value!r} ({self.detail})"


def normalise(name) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def is_count_column(name) -> bool:
    """Whether a column / key / header names a count of people or events (module docstring)."""
    key = normalise(name)
    if key in NOT_COUNTS:
        return False
    if key in COUNT_NAMES:
        return True
    for suffix in COUNT_SUFFIXES:
        if key.endswith(suffix) and key[: -len(suffix)] in COUNT_NAMES:
            return True
    return False


def record_level_kind(name) -> str | None:
    key = normalise(name)
    if key in DOB_NAMES:
        return "date of birth"
    if key in ID_NAMES:
        return "patient identifier"
    if key in FREE_TEXT_NAMES:
        return "free text"
    return None


def nhs_number_valid(digits: str) -> bool:
    """NHS number modulus 11 check (NHS Data Dictionary): weights 10..2 on the first 9 digits."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def check_count(value, rule: Disclosure) -> str | None:
    """``None`` if a published count cell is allowed, else the violation kind."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if text in ("", SUPPRESSED, "nan", "NaN", "None", "null", "-", "—"):
        return None
    if not _NUMBER.match(text):
        return None  # not a number (e.g. a label); other checks look at text
    number = float(text.replace(",", ""))
    if number == 0:
        return None
    if number != int(number):
        return "unrounded_count"
    if 0 < abs(number) <= rule.suppress_at_or_below:
        return "small_count"
    if number < 0 or number % rule.round_to:
        return "unrounded_count"
    return None


class _Scanner:
    def __init__(self, root: Path, rule: Disclosure):
        self.root, self.rule = root, rule
        self.found: list[Violation] = []

    def add(self, path: Path, location: str, kind: str, value, detail: str) -> None:
        rel = str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
        self.found.append(Violation(rel, location, kind, str(value), detail))

    # -- shared checks ------------------------------------------------------------------------
    def text(self, path: Path, where: str, text: str) -> None:
        text = _DATA_URI.sub(" ", text)
        for m in _NHS.finditer(text):
            digits = "".join(m.groups())
            if nhs_number_valid(digits):
                self.add(path, where, "nhs_number", m.group(0), "10 digits passing the modulus 11 check")
        for m in _POSTCODE.finditer(text):
            self.add(path, where, "postcode", m.group(0), "looks like a full UK postcode")

    def columns(self, path: Path, where: str, names) -> None:
        for name in names:
            kind = record_level_kind(name)
            if kind:
                self.add(path, where, "record_level_column", name, f"a {kind} column must not be published")

    def rows(self, path: Path, where: str, header: list, rows: list,
             significant: int | None = SIGNIFICANT) -> None:
        """A table: header names and rows of cells (strings or numbers).

        ``significant``: digits the writer promises (CSV and JSON: six, see
        :mod:`pipeline.back_calculation`); None for HTML, read as printed.
        """
        self.columns(path, where, header)
        counted = [(i, h) for i, h in enumerate(header) if is_count_column(h)]
        for r, row in enumerate(rows, start=1):
            for i, name in counted:
                if i < len(row):
                    kind = check_count(row[i], self.rule)
                    if kind:
                        self.add(path, f"{where} row {r} column {name!r}", kind, row[i],
                                 f"count columns must be {SUPPRESSED}, 0 or a multiple of "
                                 f"{self.rule.round_to} above {self.rule.suppress_at_or_below}")
        self.back_calculation(path, where, header, rows, significant)

    def back_calculation(self, path: Path, where: str, header: list, rows: list,
                         significant: int | None) -> None:
        """Attack the table: counts recovered from printed figures or totals are violations."""
        for r, row in enumerate(rows, start=1):
            for found in attack_row(dict(zip(header, row)), self.rule, significant):
                self._recovered(path, f"{where} row {r} column {found.column!r}", found)
        for r, found in attack_margins(header, rows, self.rule):
            self._recovered(path, f"{where} row {r} column {found.column!r}", found)

    def _recovered(self, path: Path, location: str, found) -> None:
        self.add(path, location, "recovered_count", found.published,
                 f"{found.source} gives back the exact count {found.value}; derive published "
                 "figures from the published (rounded) counts (docs/adr/0022)")

    # -- formats ------------------------------------------------------------------------------
    def csv(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8", errors="replace")
        self.text(path, "text", text)
        reader = list(csv.reader(io.StringIO(text)))
        if reader:
            self.rows(path, "table", reader[0], reader[1:])

    def json_value(self, path: Path, where: str, value) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("columns"), list) and isinstance(value.get("data"), list):
                self.rows(path, f"{where}", [str(c) for c in value["columns"]],
                          [r for r in value["data"] if isinstance(r, list)])
            self.columns(path, where, value.keys())
            for key, item in value.items():
                if is_count_column(key) and not isinstance(item, (dict, list)):
                    kind = check_count(item, self.rule)
                    if kind:
                        self.add(path, f"{where}.{key}", kind, item, "count key")
                self.json_value(path, f"{where}.{key}", item)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.json_value(path, f"{where}[{i}]", item)
        elif isinstance(value, str):
            self.text(path, where, value)

    def load_json(self, path: Path):
        """The file's JSON, or None (recorded as a violation) when it is not valid JSON."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            self.add(path, "file", "unreadable", path.name, f"not valid JSON: {exc}")
            return None

    def json(self, path: Path) -> None:
        data = self.load_json(path)
        if data is not None:
            self.json_value(path, "$", data)

    def html(self, path: Path, where: str, text: str) -> None:
        parser = _Tables()
        parser.feed(_DATA_URI.sub(" ", text))
        parser.close()
        for t, table in enumerate(parser.tables, start=1):
            if not table:
                continue
            header_row = next((r for r, cells in enumerate(table) if any(th for th, _ in cells)), 0)
            header = [c for _, c in table[header_row]]
            body = [[c for _, c in row] for row in table[header_row + 1:]]
            self.rows(path, f"{where} table {t}", header, body, significant=None)
        self.text(path, where, " ".join(parser.text))

    def ipynb(self, path: Path) -> None:
        nb = self.load_json(path) or {}
        for c, cell in enumerate(nb.get("cells", []), start=1):
            source = "".join(cell.get("source", []))
            if cell.get("cell_type") == "markdown":
                self.html(path, f"cell {c}", source)
            for o, output in enumerate(cell.get("outputs", []), start=1):
                where = f"cell {c} output {o}"
                data = output.get("data", {})
                for mime in ("text/html", "text/markdown"):
                    if mime in data:
                        self.html(path, where, "".join(data[mime]))
                if "text/plain" in data and "text/html" not in data:
                    self.text(path, where, "".join(data["text/plain"]))
                if "text" in output:  # stream output
                    self.text(path, where, "".join(output["text"]))

    def file(self, path: Path) -> None:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            self.csv(path)
        elif suffix == ".json":
            self.json(path)
        elif suffix in (".html", ".htm"):
            self.html(path, "html", path.read_text(encoding="utf-8", errors="replace"))
        elif suffix == ".ipynb":
            self.ipynb(path)
        elif suffix in (".txt", ".md"):
            self.html(path, "text", path.read_text(encoding="utf-8", errors="replace"))


class _Tables(HTMLParser):
    """Collect ``<table>`` cells as ``(is_header, text)`` and the visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list = []
        self.text: list = []
        self._stack: list = []  # open tables (nested tables allowed)
        self._cell: list | None = None
        self._is_th = False
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "table":
            self._stack.append([])
        elif tag == "tr" and self._stack:
            self._stack[-1].append([])
        elif tag in ("td", "th") and self._stack:
            if not self._stack[-1]:
                self._stack[-1].append([])
            self._cell, self._is_th = [], tag == "th"

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1][-1].append((self._is_th, " ".join("".join(self._cell).split())))
            self._cell = None
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)  # script text too: embedded data must not leak identifiers


def scan(reports_dir, rule: Disclosure | None = None) -> list[Violation]:
    """Every violation in every published file under ``reports_dir`` (sorted by path)."""
    root = Path(reports_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    scanner = _Scanner(root, rule or Disclosure())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() in TEXT_SUFFIXES:
            scanner.file(path)
    return scanner.found


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.publication_check [reports_dir]``: 0 if clean, 1 with a list."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else Path("reports")
    try:
        from pipeline.config import load_disclosure, project_root
        rule = load_disclosure(project_root())
    except Exception:  # noqa: BLE001 - a scan must run without a project (e.g. on a copy)
        rule = Disclosure()
    found = scan(folder, rule)
    for v in found:
        print(v)
    print(f"{len(found)} violation(s) in {folder}" if found else f"{folder}: no violations")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
