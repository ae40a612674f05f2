"""Statistical disclosure control of everything published under ``reports/``.

The rule (DESIGN.md section 5, following OpenSAFELY's output checking and NHS Digital's
small-number practice): counts from 1 to ``suppress_at_or_below`` (7) are suppressed, other
counts are rounded to the nearest ``round_to`` (5), and a proportion or rate whose numerator or
denominator was suppressed is suppressed too. Zero is published as zero: it is not a small
number of people. Suppressed cells carry the GSS symbol ``[c]`` (confidential).

Models are fitted on unrounded aggregate data; only what is published passes through here.
Proportions, confidence intervals and model estimates are published as estimated from the
unrounded counts unless a count they rest on was suppressed (docs/adr/0004).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from pipeline.config import Disclosure

SUPPRESSED = "[c]"


def publish_count(value, rule: Disclosure) -> int | str:
    """A count as it may be published: ``[c]`` if 1..7, else rounded to the nearest 5."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return SUPPRESSED
    count = int(value)
    if count < 0:
        raise ValueError(f"A count cannot be negative ({count}); it cannot be published.")
    if 0 < count <= rule.suppress_at_or_below:
        return SUPPRESSED
    # Round half up (not Python's banker's rounding) so 12.5-style ties behave as people expect.
    return int(math.floor(count / rule.round_to + 0.5) * rule.round_to)


def is_suppressed(value) -> bool:
    return isinstance(value, str) and value == SUPPRESSED


def publish_table(
    table: pd.DataFrame,
    rule: Disclosure,
    counts: Iterable[str],
    derived: Mapping[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Apply the rule to a table on its way out.

    Parameters
    ----------
    counts
        Columns holding counts of people or events: suppressed or rounded.
    derived
        ``{column: [count columns it rests on]}``: proportions, rates, intervals and effects
        that are suppressed in any row where one of those counts was suppressed.
    """
    out = table.copy()
    counts = list(counts)
    for column in counts:
        published = out[column].map(lambda v: publish_count(v, rule))
        hidden_here = published.map(is_suppressed)
        out[column] = published.astype(object)
        derived_from_this = [c for c, deps in (derived or {}).items() if column in deps]
        for target in derived_from_this:
            out[target] = out[target].astype(object).where(~hidden_here, SUPPRESSED)
    return out


def stamp(rule: Disclosure) -> str:
    """One sentence stating the rule and its version, printed on every report."""
    return (
        f"Disclosure control {rule.rule_version}: counts from 1 to {rule.suppress_at_or_below} are "
        f"shown as {SUPPRESSED}, other counts are rounded to the nearest {rule.round_to}, and "
        f"any percentage resting on a suppressed count is suppressed. Estimates are computed "
        f"from unrounded aggregate counts."
    )
