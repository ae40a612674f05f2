"""The ITS specification, re-exported from :mod:`pipeline.its_spec`.

The spec's validator lives outside :mod:`pipeline.stats` so that :mod:`pipeline.config` can
check params without loading the statistics (scipy, statsmodels; docs/adr/0107). The
statistics modules import it from here, as before.
"""

from pipeline.its_spec import (  # noqa: F401
    AR_METHODS,
    AR_SMALL_SAMPLE,
    CHANGES,
    CI_QUANTILES,
    COMPARATORS,
    DEFAULTS,
    ERRORS,
    ERROR_CHOICES,
    ESTIMATED_DISPERSION,
    FAMILIES,
    HAC_KERNELS,
    ITSSpec,
    NEGBIN_SCALES,
    PHASE_KEYS,
    Phase,
    RESERVED_COLUMNS,
    SEASONALITY,
    SLOPE_CODINGS,
    default_ar_small_sample,
    default_ci_quantile,
    default_hac_small_sample,
    design_of,
    resolve_auto_errors,
    to_month,
    validate_spec,
)

__all__ = ["AR_METHODS", "AR_SMALL_SAMPLE", "CHANGES", "CI_QUANTILES", "COMPARATORS", "DEFAULTS", "ERRORS", "ERROR_CHOICES", "ESTIMATED_DISPERSION", "FAMILIES", "HAC_KERNELS", "ITSSpec", "NEGBIN_SCALES", "PHASE_KEYS", "Phase", "RESERVED_COLUMNS", "SEASONALITY", "SLOPE_CODINGS", "default_ar_small_sample", "default_ci_quantile", "default_hac_small_sample", "design_of", "resolve_auto_errors", "to_month", "validate_spec"]
