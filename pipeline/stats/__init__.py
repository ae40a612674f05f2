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
    Simulated series with known effects (:mod:`pipeline.stats.simulation`).
phe_rate, phe_proportion, calculate_dsr, byars_interval
    UKHSA / PHEindicatormethods rates (Byar's, exact below 10), proportions with a multiplier
    (Wilson) and directly standardised rates (Dobson) (:mod:`pipeline.stats.phe`).
phe_sii
    SII and RII as PHEindicatormethods, optionally log/logit-transformed
    (:mod:`pipeline.stats.inequality`).
"""

import sys as _sys

from . import simulation as _simulation

# Re-exports are resolved on first use, so that importing one small module of this package
# (pipeline.config imports its_spec to validate params) does not load scipy and statsmodels.
# No exported name may equal a submodule's name: importing a submodule binds it as an
# attribute of the package, which then shadows the lazy export (``simulate_series`` used to
# be both, so ``from pipeline.stats import simulate_series`` gave the module once
# ``pipeline.stats.simulate_series`` had been imported; the module is now ``simulation``).
# tests/test_its_simulation.py checks every export after importing every submodule.
_EXPORTS = {
    "before_after_table": ".before_after",
    "byars_interval": ".phe",
    "calculate_dsr": ".phe",
    "phe_proportion": ".phe",
    "phe_rate": ".phe",
    "phe_sii": ".inequality",
    "compare_proportions": ".before_after",
    "ITSResult": ".its",
    "fit_its": ".its",
    "fit_its_many": ".its",
    "minimum_detectable_effect": ".power",
    "run_sensitivity": ".sensitivity",
    "validate_spec": ".its_spec",
    "simulate_panel": ".simulation",
    "simulate_series": ".simulation",
}


# The module's old path stays importable for code written before the rename. Registered in
# sys.modules only (no file), so the import system never binds it on the package.
_sys.modules[f"{__name__}.simulate_series"] = _simulation


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ITSResult",
    "before_after_table",
    "byars_interval",
    "calculate_dsr",
    "compare_proportions",
    "fit_its",
    "fit_its_many",
    "minimum_detectable_effect",
    "phe_proportion",
    "phe_rate",
    "phe_sii",
    "run_sensitivity",
    "simulate_panel",
    "simulate_series",
    "validate_spec",
]
