"""``python -m pipeline new <key>``: start a new evaluation with one command.

Appends a commented ``interventions.<key>`` entry to params.yaml (every key an analyst must
fill in, with what it means and an example) and writes an empty data dictionary
``docs/data-dictionary/<key>.md`` to describe the extract. Nothing is overwritten: an existing
key or page is refused. The entry is appended as text, not re-dumped, so the comments of
params.yaml survive; the result is parsed again before it is written, and refused if it would
not parse (params.yaml whose last top-level key is not ``interventions``).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline.config import ConfigError, load_params, project_root

KEY = re.compile(r"^[a-z][a-z0-9_]{1,40}$")

ENTRY = '''
  {key}:
    # Written by `python -m pipeline new {key}`: fill in every value, then run
    # `python -m pipeline validate {key}` (README: a new evaluation from nothing to a report).
    title: "TODO: what was done, where (one line)"
    question: >-
      TODO: the question the report answers, e.g. "Was opening self-referral to people with a
      learning disability followed by more referrals from them, and did their gap with
      everyone else narrow?"
    extract: data/raw/{key}/extract.csv    # record-level (one row per event or patient-month)
    unit_label: service                   # what a unit is: service, ward, practice
    window: {{start: "2021-01", end: "2024-06"}}   # months analysed, "YYYY-MM", inclusive
    phases:                               # each change in order; 24+ months before the first
      - {{name: "TODO: what started", start: "2023-01"}}
    before_after: {{before_months: 12, after_months: 12, washout_months: 0}}
    outcomes:
      outcome_1:                          # a short key, used in tables and file names
        label: "TODO: Share of referrals that ..."   # as it reads in the report
        numerator: outcome_1_flag         # 0/1 column of the extract
        denominator: null                 # null: every row; or a 0/1 column (a subset)
        family: quasibinomial             # proportions; quasipoisson for counts
        headline: true
        events: "TODO: what the numerator counts, plural"
        # measured_from: "2023-01"        # if first collected part-way through (docs/adr/0075)
        # population_table: data/raw/{key}/population.csv   # counts against a register (0079)
    equity: [imd_quintile, ethnicity, sex, age_band]
    # plus_groups: [homeless]             # 0/1 PLUS-group columns
    # target_group: {{ethnicity: Asian, sex: Female}}   # who it is for (docs/adr/0078)
    # unit_starts: {{unit_a: "2023-01"}}   # a staggered roll-out: each unit's own start
    # comparator_units: [unit_x]          # a controlled design: units without the change
    its: {{errors: auto, hac_lags: 3, seasonality: none, harmonics: 2, horizons: [3, 6, 12], alpha: 0.05}}
'''

DICTIONARY = '''# {key}

TODO: one sentence on what one row of the extract is (one referral, one patient-month).
Shared rules, formats and `data:` options: [README](README.md).

| column | type | meaning |
|---|---|---|
| `month` | month | TODO: the month the row counts in |
| `unit` | text | TODO: the service, ward or practice |
| `imd_quintile`, `ethnicity`, `sex`, `age_band` | codes | equity dimensions ([README](README.md)) |
| `outcome_1_flag` | 0/1 | TODO |

Outcomes (params): `outcome_1` = TODO / every row.
'''


def new(key: str, root: Path | None = None) -> tuple[Path, Path]:
    """Append the params entry and write the data dictionary; return both paths."""
    root = root or project_root()
    if not KEY.match(key):
        raise ConfigError(f"new: {key!r} is not a usable key. Fix: lower-case letters, digits "
                          "and underscores, starting with a letter (e.g. msk_self_referral).")
    params = load_params(root)
    if key in params["interventions"]:
        raise ConfigError(f"new: params.yaml already has interventions.{key}. Fix: choose "
                          "another key, or edit the existing entry.")
    page = root / "docs" / "data-dictionary" / f"{key}.md"
    if page.exists():
        raise ConfigError(f"new: {page} exists already. Fix: choose another key.")
    path = root / "params.yaml"
    text = path.read_text(encoding="utf-8")
    updated = text.rstrip("\n") + "\n" + ENTRY.format(key=key)
    parsed = yaml.safe_load(updated)
    if not isinstance(parsed.get("interventions"), dict) or key not in parsed["interventions"]:
        raise ConfigError("new: params.yaml does not end with the interventions section, so the "
                          "entry cannot be appended. Fix: move `interventions:` to the end.")
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(DICTIONARY.format(key=key), encoding="utf-8")
    path.write_text(updated, encoding="utf-8")
    return path, page
