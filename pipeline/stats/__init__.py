"""Statistics: pure functions and result objects on DataFrames (no files, no params).

Public API
----------
compare_proportions, before_after_table
    Before/after comparison of proportions (:mod:`pipeline.stats.before_after`).
fit_its, ITSResult, fit_its_many
    Interrupted time series by segmented regression (:mod:`pipeline.stats.its`).
run_sensitivity
    Robustness table: placebo starts, washouts, seasonality, family, errors.
minimum_detectable_effect
    Simulation-based power: the smallest level change a design can detect.
validate_spec
    Check an ITS spec dict (:mod:`pipeline.stats.its_spec`).
simulate_series, simulate_panel
    Simulated series with known effects (:mod:`pipeline.stats.simulate_series`).
"""

from .before_after import before_after_table, compare_proportions
from .its import ITSResult, fit_its, fit_its_many
from .power import minimum_detectable_effect
from .sensitivity import run_sensitivity
from .its_spec import validate_spec
from .simulate_series import simulate_panel, simulate_series

__all__ = [
    "ITSResult",
    "before_after_table",
    "compare_proportions",
    "fit_its",
    "fit_its_many",
    "minimum_detectable_effect",
    "run_sensitivity",
    "simulate_panel",
    "simulate_series",
    "validate_spec",
]
