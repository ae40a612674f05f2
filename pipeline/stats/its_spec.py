"""The ITS specification, re-exported from :mod:`pipeline.its_spec`.

The spec's validator lives outside :mod:`pipeline.stats` so that :mod:`pipeline.config` can
check params without loading the statistics (scipy, statsmodels; docs/adr/0107), in
:mod:`pipeline.its_spec` with its phases (:mod:`pipeline.its_spec_phases`) and error
defaults (:mod:`pipeline.its_error_defaults`). The statistics modules import it from here,
as before.
"""

from pipeline.its_error_defaults import (  # noqa: F401
    ESTIMATED_DISPERSION,
    default_ar_small_sample,
    default_ci_quantile,
    default_hac_small_sample,
    resolve_auto_errors,
)
from pipeline.its_spec import (  # noqa: F401
    AR_METHODS,
    AR_SMALL_SAMPLE,
    CI_QUANTILES,
    COMPARATORS,
    DEFAULTS,
    ERRORS,
    ERROR_CHOICES,
    FAMILIES,
    HAC_KERNELS,
    ITSSpec,
    NEGBIN_SCALES,
    RESERVED_COLUMNS,
    SEASONALITY,
    SLOPE_CODINGS,
    design_of,
    validate_spec,
)
from pipeline.its_spec_phases import CHANGES, PHASE_KEYS, ITSPhase, to_month  # noqa: F401

__all__ = ["AR_METHODS", "AR_SMALL_SAMPLE", "CHANGES", "CI_QUANTILES", "COMPARATORS", "DEFAULTS", "ERRORS", "ERROR_CHOICES", "ESTIMATED_DISPERSION", "FAMILIES", "HAC_KERNELS", "ITSSpec", "NEGBIN_SCALES", "PHASE_KEYS", "ITSPhase", "RESERVED_COLUMNS", "SEASONALITY", "SLOPE_CODINGS", "default_ar_small_sample", "default_ci_quantile", "default_hac_small_sample", "design_of", "resolve_auto_errors", "to_month", "validate_spec"]
