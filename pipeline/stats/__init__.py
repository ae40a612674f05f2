"""Statistics: pure functions and result objects on DataFrames (no files, no params).

Public API
----------
compare_proportions, before_after_table
    Before/after comparison of proportions (:mod:`pipeline.stats.before_after`).
fit_its, ITSResult
    Interrupted time series by segmented regression (:mod:`pipeline.stats.its`).
validate_spec
    Check an ITS spec dict (:mod:`pipeline.stats.its_spec`).
simulate_series, simulate_panel
    Simulated series with known effects (:mod:`pipeline.stats.simulate_series`).
"""

from .before_after import before_after_table, compare_proportions
from .its import ITSResult, fit_its
from .its_spec import validate_spec
from .simulate_series import simulate_panel, simulate_series

__all__ = [
    "ITSResult",
    "before_after_table",
    "compare_proportions",
    "fit_its",
    "simulate_panel",
    "simulate_series",
    "validate_spec",
]
