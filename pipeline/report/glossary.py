"""The report's glossary: each technical term defined once, and its first use linked to it.

Written for a commissioner or public-health reader, not a statistician (issue 11). The terms
are those the reports use; :func:`link_first_uses` turns the first mention of each in the
running text of a rendered page into a link to its definition, leaving headings, links, code,
tables' headers, figures' alt text and the glossary itself alone.
"""

from __future__ import annotations

import html
import re

#: term -> (other spellings found in the text, definition)
TERMS: dict[str, tuple[tuple[str, ...], str]] = {
    "Confidence interval (CI)": (
        ("confidence interval", "95% CI"),
        "The range of values compatible with the data under the model. A 95% interval is made "
        "by a method that includes the true value in 95% of repeated studies; an interval that "
        "includes no change (0 points, or a ratio of 1) means the data cannot rule out no "
        "change."),
    "Counterfactual": (
        ("counterfactual",),
        "What the model predicts would have happened without the intervention: the trend "
        "before the start carried on (or, in a controlled design, the comparator services' "
        "change). The effect is the observed value minus the counterfactual."),
    "Interrupted time series (ITS)": (
        ("interrupted time series",),
        "A design that fits the monthly trend before a start date and asks whether the level "
        "or the trend changed at the start. It is observational: anything else that changed "
        "at the same time would be counted as an effect too."),
    "Odds ratio": (
        ("odds ratio",),
        "The odds of an event (events divided by non-events) after a change divided by the "
        "odds before. 1 means no change; above 1 more events. For common events it is further "
        "from 1 than the ratio of the percentages, which is why the report leads with "
        "percentages and points."),
    "Percentage points": (
        ("percentage points",),
        "The plain difference between two percentages: from 8% to 17% is +9 percentage points "
        "(but a relative rise of 113%)."),
    "Rate ratio": (
        ("rate ratio",),
        "A rate (events per person or per month) after a change divided by the rate before; 1 "
        "means no change."),
    "Relative index of inequality (RII)": (
        ("relative index of inequality", "RII"),
        "The ratio of the value at the most deprived end of the deprivation scale to the value "
        "at the least deprived end, from a line fitted across all five fifths (the relative "
        "counterpart of the SII)."),
    "Slope index of inequality (SII)": (
        ("slope index of inequality", "SII"),
        "The difference between the most and least deprived ends of the deprivation scale, "
        "from a line fitted across all five fifths weighted by their size (PHE method). Unlike "
        "the gap between two fifths it uses everyone."),
    "Special cause variation": (
        ("special cause",),
        "In an SPC chart, a point or pattern unlikely to arise by chance from a stable process "
        "(a point outside the limits, a run of points on one side of the mean, a trend): a "
        "signal that something changed. Common cause variation is the usual month-to-month "
        "noise."),
    "Statistical process control (SPC)": (
        ("statistical process control", "SPC"),
        "The NHS \u201cMaking Data Count\u201d charts: the monthly values with a mean and "
        "process limits from a baseline period, and rules that flag special cause variation. "
        "The assurance icon says whether a target will be met if nothing changes."),
}


def anchor(term: str) -> str:
    return "gloss-" + re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


def glossary_html() -> str:
    """The glossary as a definition list, each term with the anchor its first use links to."""
    items = "".join(f'<dt id="{anchor(term)}">{html.escape(term)}</dt>'
                    f"<dd>{html.escape(text)}</dd>" for term, (_, text) in TERMS.items())
    return f'<dl class="glossary">{items}</dl>'


_SKIP = {"a", "code", "pre", "script", "style", "h1", "h2", "h3", "h4", "th", "dt", "dd",
         "nav", "title", "head", "figcaption"}
_TAG = re.compile(r"(<[^>]+>)")


def link_first_uses(page: str) -> str:
    """Link the first use of each glossary term in the running text of ``page`` to its entry.

    Only text outside the skipped elements (links, code, headings, table headers, captions,
    the glossary) is touched; spellings are matched as whole words, the acronyms (SII, RII,
    SPC) in capitals only and the words in any case.
    """
    patterns = []
    for term, (spellings, _) in TERMS.items():
        words = [s for s in spellings if not s.isupper()]
        acronyms = [s for s in spellings if s.isupper()]
        parts = ([rf"(?i:{'|'.join(re.escape(w) for w in words)})"] if words else []) + \
            [re.escape(a) for a in acronyms]
        patterns.append((term, re.compile(rf"(?<![\w-])(?:{'|'.join(parts)})(?![\w-])")))
    pending = dict(patterns)
    depth: dict[str, int] = {}
    out = []
    body = False
    for piece in _TAG.split(page):
        if piece.startswith("<"):
            m = re.match(r"<(/?)([a-zA-Z0-9]+)", piece)
            if m:
                name = m.group(2).lower()
                if name == "main" and not m.group(1):
                    body = True
                if name in _SKIP and not piece.endswith("/>"):
                    depth[name] = depth.get(name, 0) + (-1 if m.group(1) else 1)
            out.append(piece)
            continue
        if body and pending and not any(v > 0 for v in depth.values()):
            piece = _link_in_text(piece, pending)
        out.append(piece)
    return "".join(out)


def _link_in_text(text: str, pending: dict) -> str:
    """Link, in one text node, the earliest match of each pending term (removing it)."""
    while pending:
        hits = [(m.start(), m.end(), term) for term, rx in pending.items()
                if (m := rx.search(text))]
        if not hits:
            return text
        start, end, term = min(hits)
        del pending[term]
        link = (f'<a class="gloss" href="#{anchor(term)}" title="Glossary: '
                f'{html.escape(term)}">{text[start:end]}</a>')
        return text[:start] + link + _link_in_text(text[end:], pending)
    return text
