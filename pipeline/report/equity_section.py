"""The report's equity section, written from an :class:`~pipeline.stats.equity.EquityResult`.

One module per job (nothing here is implemented twice):

* :mod:`pipeline.report.equity_answer` -- the answer to "did this intervention narrow the gap
  between our most and least deprived patients?" as data (:func:`gap_answer`) and in words
  (:func:`gap_sentence`), with the secondary estimates and whether they disagree;
* :mod:`pipeline.report.equity_figures` -- the forest plot of stratum effects and the gap over
  time;
* :mod:`pipeline.report.equity_tables` -- the equity tables as they may be published
  (disclosure rule, secondary suppression, crossed strata) and the heterogeneity view.

This module gathers their public names under the one name the report (``story.py``, the
notebook) has always imported; new code may import from the three modules directly.
"""

from __future__ import annotations

from pipeline.report.equity_answer import (BASELINE_MEASURE, ESTIMAND_NAMES, POWER,
                                           SMALLEST_EFFECT, VERDICTS, GapAnswer, answer_from,
                                           disagreement_sentence, favours, gap_answer,
                                           gap_change_row, gap_sentence, gap_verdict,
                                           minimum_detectable, secondary_answers)
from pipeline.report.equity_figures import DIMENSION_COLOURS, forest_figure, gap_figure
from pipeline.report.equity_tables import (DIMENSION_LABELS, GAP_COUNTS, HETEROGENEITY_COLUMNS,
                                           HETEROGENEITY_CSV, SII_COLUMNS, heterogeneity_view,
                                           protect_crossed, published_tables)

__all__ = ["BASELINE_MEASURE", "DIMENSION_COLOURS", "DIMENSION_LABELS", "ESTIMAND_NAMES",
           "GAP_COUNTS", "HETEROGENEITY_COLUMNS", "HETEROGENEITY_CSV", "POWER", "SII_COLUMNS",
           "SMALLEST_EFFECT", "VERDICTS", "GapAnswer", "answer_from", "disagreement_sentence",
           "favours", "forest_figure", "gap_answer", "gap_change_row", "gap_figure",
           "gap_sentence", "gap_verdict", "heterogeneity_view", "minimum_detectable",
           "protect_crossed", "published_tables", "secondary_answers"]
