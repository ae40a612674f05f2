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

# Re-exports are resolved on first use, so that importing one small module of this package
# (pipeline.config imports its_spec to validate params) does not load scipy and statsmodels.
_EXPORTS = {
    "before_after_table": ".before_after",
    "compare_proportions": ".before_after",
    "ITSResult": ".its",
    "fit_its": ".its",
    "fit_its_many": ".its",
    "minimum_detectable_effect": ".power",
    "run_sensitivity": ".sensitivity",
    "validate_spec": ".its_spec",
    "simulate_panel": ".simulate_series",
    "simulate_series": ".simulate_series",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
