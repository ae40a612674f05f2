"""Validation of the interrupted-time-series specification dict.

Outside :mod:`pipeline.stats` on purpose: :mod:`pipeline.config` validates params with it and
must not load scipy or statsmodels (docs/adr/0107); ``pipeline.stats.its_spec`` re-exports it.

The spec is the contract of ``docs/architecture.md``: one dict holding an outcome's model
choices plus the intervention's design. :func:`validate_spec` turns it into a frozen
:class:`ITSSpec`, filling defaults and refusing unknown keys or values with a message that
names the key and the allowed values.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import pandas as pd

from pipeline import periods as _periods
from pipeline.its_error_defaults import (
    default_ar_small_sample,
    default_ci_quantile,
    default_hac_small_sample,
    resolve_auto_errors,
)
from pipeline.its_spec_phases import ITSPhase, to_start
from pipeline.its_spec_phases import parse_excluded as _exclude
from pipeline.its_spec_phases import parse_phases as _phases

FAMILIES = ("gaussian", "poisson", "quasipoisson", "negbin", "binomial", "quasibinomial")
ERRORS = ("independent", "hac", "ar")  # the error structures a fit can use
# what ``errors`` may say: one of ERRORS, or "auto" (the recommended robust errors,
# resolved by validate_spec; see AUTO_ERRORS)
ERROR_CHOICES = (*ERRORS, "auto")
AR_SMALL_SAMPLE = ("kr", "none")
HAC_KERNELS = ("bartlett", "ewc")
CI_QUANTILES = ("t", "normal")
NEGBIN_SCALES = ("pearson", "none")
AR_METHODS = ("reml", "ml")
SEASONALITY = ("none", "fourier", "month")
# controlled ITS: comparator units summed into one series, or kept apart (Stata itsa)
COMPARATORS = ("pooled", "stacked")
# the post-period slope counter: 1 in the start month (Lopez Bernal et al. 2017) or 0 (itsa)
SLOPE_CODINGS = ("lopez_bernal", "itsa")
RESERVED_COLUMNS = ("month", "unit", "numerator", "denominator", "dimension", "stratum", "outcome")

DEFAULTS = {
    "family": "quasibinomial",
    "errors": "independent",
    "hac_lags": None,
    "hac_small_sample": None,
    "hac_kernel": "bartlett",
    "ci_quantile": None,
    "negbin_scale": "pearson",
    "ar_order": 1,
    "ar_method": "reml",
    "ar_small_sample": None,
    "seasonality": "none",
    "harmonics": 2,
    "phases": None,
    "unit_starts": None,
    "comparator_units": None,
    "comparators": "pooled",
    "slope_coding": "lopez_bernal",
    "washout_months": 0,
    "ramp_months": 0,
    "exclude_months": None,
    "covariates": None,
    "horizons": (3, 6, 12),
    "alpha": 0.05,
    "period": "month",
}


def base_family(family: str) -> str:
    """Mean model without the ``quasi`` prefix: ``gaussian``, ``poisson`` (log link with
    offset, also for ``negbin``) or ``binomial``."""
    return "poisson" if family == "negbin" else family.removeprefix("quasi")

@dataclass(frozen=True)
class ITSSpec:
    """Validated ITS specification (see ``docs/architecture.md``)."""

    family: str
    errors: str
    hac_lags: int | None
    hac_small_sample: bool | str
    ar_order: int
    ar_method: str
    seasonality: str
    harmonics: int
    phases: tuple[ITSPhase, ...]
    unit_starts: dict | None
    comparator_units: tuple[str, ...] | None
    washout_months: int
    exclude_months: tuple[tuple[pd.Period, pd.Period], ...]
    covariates: tuple[str, ...]
    horizons: tuple[int, ...]
    alpha: float
    hac_kernel: str = "bartlett"
    ci_quantile: str = "normal"
    negbin_scale: str = "pearson"
    ar_small_sample: str = "none"
    errors_requested: str | None = None
    comparators: str = "pooled"
    slope_coding: str = "lopez_bernal"
    period: str = "month"

    @property
    def errors_auto(self) -> bool:
        """True when ``errors: auto`` chose the errors (reports say so)."""
        return self.errors_requested == "auto"

    @property
    def design(self) -> str:
        """``"single"``, ``"staggered"`` or ``"controlled"``."""
        return design_of(self.unit_starts, self.comparator_units)

    @property
    def stacked(self) -> bool:
        """True for a controlled ITS with every unit its own series (``comparators:
        stacked``, Stata ``itsa``'s multiple-group model)."""
        return self.design == "controlled" and self.comparators == "stacked"

    @property
    def base_family(self) -> str:
        """Mean model without the ``quasi`` prefix (:func:`base_family`)."""
        return base_family(self.family)

    @property
    def quasi(self) -> bool:
        return self.family.startswith("quasi")


def design_of(unit_starts, comparator_units) -> str:
    """Which ITS design a specification describes: units with their own start dates are a
    staggered roll-out, comparator units a controlled ITS, otherwise a single series."""
    if unit_starts:
        return "staggered"
    if comparator_units:
        return "controlled"
    return "single"


def _choice(spec: dict, key: str, allowed: tuple[str, ...]) -> str:
    value = spec[key]
    if value not in allowed:
        raise ValueError(
            f"spec[{key!r}] = {value!r} is not allowed; choose one of: {', '.join(allowed)}"
        )
    return value


def _int(spec: dict, key: str, minimum: int, allow_none: bool = False) -> int | None:
    value = spec[key]
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        extra = " or None" if allow_none else ""
        raise ValueError(f"spec[{key!r}] = {value!r} must be an integer >= {minimum}{extra}")
    return int(value)


def _covariates(raw) -> tuple:
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, (list, tuple)) or not all(
            isinstance(c, str) and c for c in raw):
        raise ValueError(
            f"spec['covariates'] = {raw!r} must be a list of column names of the series, e.g. "
            "['covid_disruption']"
        )
    reserved = sorted(set(raw) & set(RESERVED_COLUMNS))
    if reserved:
        raise ValueError(
            f"spec['covariates'] cannot name the series' own column(s) {reserved}"
        )
    if len(set(raw)) != len(raw):
        raise ValueError(f"spec['covariates'] = {list(raw)!r} names a column twice")
    return tuple(raw)


def validate_spec(spec: dict) -> ITSSpec:
    """Check an ITS spec dict and return it as an :class:`ITSSpec` with defaults filled.

    Parameters
    ----------
    spec : dict
        Keys (all optional except ``phases``): ``family`` (gaussian | poisson | quasipoisson |
        negbin | binomial | quasibinomial), ``errors`` (independent | hac | ar | auto: the
        recommended robust errors, at present AR(1) with ``ar_small_sample: "kr"``, see
        :func:`resolve_auto_errors`), ``hac_lags``
        (int >= 0 or None for the Newey-West (1994) rule), ``hac_small_sample`` (true: n/(n-p)
        scaling and t quantiles on n-p df | false | "bm": Bell-McCaffrey-type bias-reduced
        Newey-West variance and Satterthwaite t df per contrast, gaussian + Bartlett only |
        None, the default: "bm" for gaussian with the Bartlett kernel, else true; with "bm"
        ``hac_lags: None`` means round(1.3 sqrt(T))), ``hac_kernel`` (bartlett: Newey-West | ewc:
        equal-weighted cosine of Lazarus, Lewis, Stock & Watson 2018, t on nu df),
        ``ci_quantile`` (t | normal | None: by family and errors, see
        :func:`default_ci_quantile`), ``negbin_scale`` (pearson: the NB covariance times the
        Pearson X2/(n-p), as R's ``summary.glm`` on a ``negative.binomial(theta)`` glm | none:
        the ML covariance, as ``MASS::glm.nb`` and statsmodels), ``ar_order`` (int 1..6, for ``errors: ar``),
        ``ar_method`` (reml | ml), ``ar_small_sample`` (kr: Kenward-Roger covariance and
        Satterthwaite df per contrast, AR(1) by REML only, any family | none: plug-in GLS
        covariance and t on n-p-ar_order, gaussian only | None: kr for AR(1) by REML, else
        none), ``seasonality`` (none | fourier | month), ``harmonics``
        (int >= 1), ``phases`` (list of ``{"name", "start", "change", "ramp_months"}``, where
        the optional ``change`` is level+slope | level | slope), ``unit_starts`` (dict unit ->
        month, staggered roll-out), ``comparator_units`` (list of units, controlled ITS),
        ``washout_months`` (int >= 0), ``ramp_months`` (int >= 0, default for every phase
        with a level change), ``exclude_months`` (list of [first, last] months left
        out of the fit), ``covariates`` (list of series columns), ``horizons`` (list of
        int >= 1), ``alpha`` (0 < alpha < 1), ``period`` (month | week | quarter | year: the
        series' period; every date in the spec is then the first day of a period and every
        count, horizons included, is in periods; docs/adr/0130).

    Raises
    ------
    ValueError
        On an unknown key or a bad value; the message names the key and the allowed values.
    """
    if not isinstance(spec, dict):
        raise ValueError(f"the ITS spec must be a dict, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown ITS spec key(s) {unknown}; allowed keys: {', '.join(DEFAULTS)}"
        )
    full = {**DEFAULTS, **spec}
    if full["phases"] is None:
        raise ValueError("spec['phases'] is required: a list of {'name': ..., 'start': 'YYYY-MM'}")
    period = _choice(full, "period", _periods.PERIODS)
    default_ramp = _int(full, "ramp_months", 0)
    phases = _phases(full["phases"], default_ramp, period)

    alpha = full["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < alpha < 1:
        raise ValueError(f"spec['alpha'] = {alpha!r} must be a number strictly between 0 and 1")

    horizons = full["horizons"] if full["horizons"] is not None else ()
    if not isinstance(horizons, (list, tuple)) or any(
        isinstance(h, bool) or not isinstance(h, Integral) or h < 1 for h in horizons
    ):
        raise ValueError(f"spec['horizons'] = {horizons!r} must be a list of integers >= 1")

    unit_starts = full["unit_starts"]
    if unit_starts is not None:
        if not isinstance(unit_starts, dict) or not unit_starts:
            raise ValueError("spec['unit_starts'] must be a non-empty dict of unit -> 'YYYY-MM' or None")
        unit_starts = {str(u): to_start(m, f"unit_starts[{u!r}]", period)
                       for u, m in unit_starts.items()}
        if len(phases) != 1:
            raise ValueError(
                "spec['unit_starts'] (staggered roll-out) needs exactly one phase in spec['phases'];"
                f" got {len(phases)}"
            )
    comparators = full["comparator_units"]
    if comparators is not None:
        if isinstance(comparators, str) or not isinstance(comparators, (list, tuple)) or not comparators:
            raise ValueError("spec['comparator_units'] must be a non-empty list of unit names or None")
        comparators = tuple(str(u) for u in comparators)
    comparators_mode = _choice(full, "comparators", COMPARATORS)
    if comparators_mode == "stacked" and comparators is None:
        raise ValueError(
            "spec['comparators'] = 'stacked' is for a controlled ITS: name the comparator units "
            "in spec['comparator_units']"
        )
    if unit_starts and comparators:
        raise ValueError(
            "spec['unit_starts'] and spec['comparator_units'] cannot both be set: choose a "
            "staggered or a controlled design"
        )

    harmonics = _int(full, "harmonics", 1)
    seasonality = _choice(full, "seasonality", SEASONALITY)
    _check_seasons(seasonality, harmonics, period)

    family = _choice(full, "family", FAMILIES)
    requested = _choice(full, "errors", ERROR_CHOICES)
    if requested == "auto":
        full = {**full, **resolve_auto_errors(family)}
    errors = full["errors"]
    ar_order = _int(full, "ar_order", 1)
    if ar_order > 6:
        raise ValueError(f"spec['ar_order'] = {ar_order} must be at most 6")
    ar_method = _choice(full, "ar_method", AR_METHODS)
    ar_small = full["ar_small_sample"]
    if ar_small is None:
        ar_small = default_ar_small_sample(ar_order, ar_method)
    ar_small = _choice({"ar_small_sample": ar_small}, "ar_small_sample", AR_SMALL_SAMPLE)
    if errors == "ar" and ar_small == "kr" and (ar_order != 1 or ar_method != "reml"):
        raise ValueError(
            f"spec['ar_small_sample'] = 'kr' (Kenward-Roger) needs ar_order 1 and ar_method "
            f"'reml', got {ar_order} and {ar_method!r}; use ar_small_sample 'none'"
        )
    if errors == "ar" and family != "gaussian" and ar_small != "kr":
        raise ValueError(
            f"spec['errors'] = 'ar' for family {family!r} is the AR(1) working correlation by "
            "REML with the Kenward-Roger covariance (ar_order 1, ar_method 'reml', "
            f"ar_small_sample 'kr'); got ar_order {ar_order}, ar_method {ar_method!r}, "
            f"ar_small_sample {ar_small!r}. Higher orders and ML need family 'gaussian'"
        )
    hac_kernel = _choice(full, "hac_kernel", HAC_KERNELS)
    small = full["hac_small_sample"]
    if small is None:
        small = default_hac_small_sample(family, hac_kernel)
    if not (isinstance(small, bool) or small == "bm"):
        raise ValueError(f"spec['hac_small_sample'] = {small!r} must be true, false or 'bm'")
    if small == "bm" and errors == "hac" and (family != "gaussian" or hac_kernel != "bartlett"):
        raise ValueError(
            f"spec['hac_small_sample'] = 'bm' (bias-reduced Newey-West with Satterthwaite df) "
            f"needs family 'gaussian' and hac_kernel 'bartlett', got {family!r} and "
            f"{hac_kernel!r}; use true or false"
        )
    if full["ci_quantile"] is None:
        ci_quantile = default_ci_quantile(family, errors, small, hac_kernel, ar_method)
    else:
        ci_quantile = _choice(full, "ci_quantile", CI_QUANTILES)

    return ITSSpec(
        family=family,
        errors=errors,
        hac_lags=_int(full, "hac_lags", 0, allow_none=True),
        hac_small_sample=small,
        ar_order=ar_order,
        ar_method=ar_method,
        seasonality=seasonality,
        harmonics=harmonics,
        phases=phases,
        unit_starts=unit_starts,
        comparator_units=comparators,
        washout_months=_int(full, "washout_months", 0),
        exclude_months=_exclude(full["exclude_months"], period),
        covariates=_covariates(full["covariates"]),
        horizons=tuple(int(h) for h in horizons),
        alpha=float(alpha),
        hac_kernel=hac_kernel,
        ci_quantile=ci_quantile,
        negbin_scale=_choice(full, "negbin_scale", NEGBIN_SCALES),
        ar_small_sample=ar_small if errors == "ar" else "none",
        errors_requested=requested,
        comparators=comparators_mode,
        slope_coding=_choice(full, "slope_coding", SLOPE_CODINGS),
        period=period,
    )


def _check_seasons(seasonality: str, harmonics: int, period: str) -> None:
    """Seasonality the period supports: Fourier terms up to half the seasons per year, month
    indicators only for monthly series, none for a yearly one."""
    if period == "year" and seasonality != "none":
        raise ValueError(
            f"spec['seasonality'] = {seasonality!r} needs seasons within a year, but "
            "spec['period'] is 'year'; use seasonality 'none'")
    if seasonality == "month" and period != "month":
        raise ValueError(
            f"spec['seasonality'] = 'month' (month indicators) needs period 'month', got "
            f"{period!r}; use seasonality 'fourier' (with period 'quarter' and 2 harmonics it "
            "equals quarter indicators)")
    most = _periods.MAX_HARMONICS[period]
    if seasonality == "fourier" and harmonics > most or period == "month" and harmonics > most:
        raise ValueError(
            f"spec['harmonics'] = {harmonics} must be at most {most} "
            f"({_periods.plural(round(_periods.PER_YEAR[period]), period)} a year)")
