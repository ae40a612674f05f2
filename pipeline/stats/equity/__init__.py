"""Equity analysis: did the intervention narrow the gap between the most and least deprived?

A package with one module per question (docs/adr/0105):

:mod:`.analysis`
    :func:`evaluate_equity`, the entry point, and its :class:`EquityResult`.
:mod:`.strata`
    The ITS fit and the before/after comparison of every stratum.
:mod:`.heterogeneity`
    Does the effect differ across the strata of a dimension (Cochran's Q)?
:mod:`.gaps`
    The gaps, SII and RII before and after, and their change; the monthly SII and its ITS.
:mod:`.gap_change`
    The change in the most-minus-least gap from the stratified ITS, and the gap series.

The names below are the package's public API (the report layer imports them from here).
"""

from .analysis import DIMENSIONS, EFFECT_COLUMNS, EquityResult, evaluate_equity
from .gap_change import gap_change_between, gap_change_stratified
from .gaps import SII_ORIENTATION, gap_rows, monthly_sii, sii_its
from .heterogeneity import cochran_q
from .strata import OVERALL

__all__ = ["DIMENSIONS", "EFFECT_COLUMNS", "OVERALL", "SII_ORIENTATION", "EquityResult",
           "cochran_q", "evaluate_equity", "gap_change_between", "gap_change_stratified",
           "gap_rows", "monthly_sii", "sii_its"]
