"""Reproducible evaluation of NHS interventions that aim to reduce health inequalities.

Parts (docs/design.md section 3): :mod:`pipeline.config` reads params, :mod:`pipeline.data`
simulates, validates and aggregates extracts, :mod:`pipeline.stats` holds the statistics,
:mod:`pipeline.disclosure` the publication rule, :mod:`pipeline.report` figures, wording and
rendering, and :mod:`pipeline.cli` the commands the DVC stages call.
"""

__version__ = "0.1.0"
