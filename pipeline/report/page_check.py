"""Numbers on a rendered page that a reader should never see (issue 11).

Every number in a report passes through :mod:`pipeline.report.wording`'s formatters; this scan
of the finished page is the check that none escaped them: a count of 10,000 or more without
its thousands separator, scientific notation (2.39e+03) or a negative zero ("-0.0"). Code,
hashes and file names (inside ``<code>``) are not text a reader reads as numbers and are
skipped, as are years and file numbers in paths (docs/adr/0075).
"""

from __future__ import annotations

import html
import re

PATTERNS = {
    "no thousands separator": re.compile(r"(?<![\w,./-])\d{5,}(?![\w,]|\.\d)"),
    "scientific notation": re.compile(r"(?<![\w.])\d+(?:\.\d+)?[eE][+-]?\d+\b"),
    "negative zero": re.compile(r"(?<![\w.])[-\u2212]0(?:\.0+)?(?![\d.]*[1-9])(?![\d])"),
}


def page_text(page: str) -> str:
    """The text a reader sees: no scripts, styles, code, images or tags."""
    page = re.sub(r"<(script|style|code|pre)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def unformatted_numbers(page: str) -> list[tuple[str, str]]:
    """``(problem, the words around it)`` for each badly printed number on ``page``."""
    text = page_text(page)
    return [(name, " ".join(text[max(0, m.start() - 40):m.end() + 10].split()))
            for name, pattern in PATTERNS.items() for m in pattern.finditer(text)]
