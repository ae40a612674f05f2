"""Options of the analyses params.yaml configures (sensitivity, staggered roll-out, structural model), checked
without loading the statistics: :mod:`pipeline.config` validates params with these and the
ITS spec validator (:mod:`pipeline.its_spec`) only, so loading params never imports scipy or
statsmodels (docs/adr/0107). The statistics modules use the same checks.
"""

from __future__ import annotations

from numbers import Integral

from pipeline.its_spec import ERRORS, FAMILIES, SEASONALITY

STAGGERED_WEIGHTS = ("equal", "exposure")
STAGGERED_TRENDS = ("unit", "common")
STRUCTURAL_TRENDS = ("local_level", "local_linear_trend")
STRUCTURAL_DEFAULTS = {"trend": "local_level", "seasonal": None, "harmonics": None}
OPTION_DEFAULTS = {
    "enabled": True,
    "placebo_months": (6, 12),
    "washout_months": (0, 1, 2),
    "seasonality": SEASONALITY,
    "families": None,
    "errors": None,
}


def _int_list(options, key, minimum):
    value = options[key]
    if value is None:
        return ()
    if isinstance(value, (str, bool)) or not isinstance(value, (list, tuple)) or any(
            isinstance(v, bool) or not isinstance(v, Integral) or v < minimum for v in value):
        raise ValueError(
            f"sensitivity option {key!r} = {value!r} must be a list of integers >= {minimum}")
    return tuple(int(v) for v in value)


def _str_list(options, key, allowed):
    value = options[key]
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or any(
            v not in allowed for v in value):
        raise ValueError(
            f"sensitivity option {key!r} = {value!r} must be a list drawn from: "
            f"{', '.join(allowed)}")
    return tuple(value)


def validate_options(options) -> dict:
    """Check the sensitivity options and fill defaults.

    Raises
    ------
    ValueError
        Unknown key or bad value; the message names the option and the allowed values.
    """
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ValueError(f"sensitivity options must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(OPTION_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown sensitivity option(s) {unknown}; allowed: "
                         f"{', '.join(OPTION_DEFAULTS)}")
    full = {**OPTION_DEFAULTS, **options}
    if not isinstance(full["enabled"], bool):
        raise ValueError(f"sensitivity option 'enabled' = {full['enabled']!r} must be true or false")
    return {
        "enabled": full["enabled"],
        "placebo_months": _int_list(full, "placebo_months", 1),
        "washout_months": _int_list(full, "washout_months", 0),
        "seasonality": _str_list(full, "seasonality", SEASONALITY) or (),
        "families": _str_list(full, "families", FAMILIES),
        "errors": _str_list(full, "errors", ERRORS),
    }


def check_staggered_options(options: dict | None) -> dict:
    """Validate the ``staggered`` options of params (``weights``, ``trends``); return them
    with defaults (``weights: equal``, ``trends: unit``; docs/adr/0095)."""
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise ValueError(f"staggered options must be a mapping such as {{weights: equal}}, got {options!r}")
    unknown = sorted(set(options) - {"weights", "trends"})
    if unknown:
        raise ValueError(f"unknown staggered option(s) {unknown}; the options are 'weights' "
                         "and 'trends'")
    weights = options.get("weights", "equal")
    if weights not in STAGGERED_WEIGHTS:
        raise ValueError(f"staggered weights = {weights!r}; choose one of: {', '.join(STAGGERED_WEIGHTS)}")
    trends = options.get("trends", "unit")
    if trends not in STAGGERED_TRENDS:
        raise ValueError(f"staggered trends = {trends!r}; choose one of: {', '.join(STAGGERED_TRENDS)}")
    return {"weights": weights, "trends": trends}


def check_structural_options(options: dict | None) -> dict:
    """Validate the ``structural`` options: ``trend`` (``local_level`` or
    ``local_linear_trend``), ``seasonal`` (None or a period in months, e.g. 12) and
    ``harmonics`` (trigonometric pairs, default all: period // 2)."""
    options = dict(options or {})
    unknown = set(options) - set(STRUCTURAL_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown structural option(s) {sorted(unknown)}; allowed: "
                         f"{sorted(STRUCTURAL_DEFAULTS)}")
    out = {**STRUCTURAL_DEFAULTS, **options}
    if out["trend"] not in STRUCTURAL_TRENDS:
        raise ValueError(f"structural trend {out['trend']!r} is not one of {list(STRUCTURAL_TRENDS)}")
    if out["seasonal"] is not None:
        if not isinstance(out["seasonal"], int) or isinstance(out["seasonal"], bool) \
                or out["seasonal"] < 2:
            raise ValueError("structural seasonal should be a period in months (e.g. 12) or "
                             f"null, not {out['seasonal']!r}")
        h = out["harmonics"] if out["harmonics"] is not None else out["seasonal"] // 2
        if not isinstance(h, int) or not 1 <= h <= out["seasonal"] // 2:
            raise ValueError(f"structural harmonics should be 1..{out['seasonal'] // 2}")
        out["harmonics"] = h
    elif out["harmonics"] is not None:
        raise ValueError("structural harmonics given without a seasonal period")
    return out
