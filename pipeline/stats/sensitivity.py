"""Sensitivity analyses of an ITS model: one switch, one robustness table.

``run_sensitivity(series, spec, options)`` refits the primary model (``spec``) under
alternative choices and returns the first phase's level change from every variant:

* ``placebo``: a fake interruption ``k`` months before the first start, fitted on the
  pre-period only (months before the first start; in a staggered roll-out, each unit's months
  before its own start, with every unit start moved ``k`` months earlier). A real effect
  should not show there (Lopez Bernal, Cummins & Gasparrini 2017; Linden 2015).
* ``washout``: alternative washout lengths.
* ``seasonality``: none, Fourier terms, calendar-month indicators.
* ``family``: alternative families (e.g. quasi-binomial -> binomial and Gaussian OLS with
  Newey-West errors; Poisson -> negative binomial).
* ``errors``: alternative error structures (independent, Newey-West, AR for Gaussian).

A variant that cannot be fitted (too few points, rank-deficient design, ...) becomes a row
with ``note`` holding the reason, not an error.

Options (all optional; ``{}`` or ``{"enabled": true}`` give the defaults)::

    enabled: true
    placebo_months: [6, 12]
    washout_months: [0, 1, 2]
    seasonality: [none, fourier, month]
    families: null        # null = defaults by primary family (DEFAULT_FAMILIES)
    errors: null          # null = defaults by primary family and errors
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd

from .estimability import failure_text
from .its import fit_its
from ..analysis_options import OPTION_DEFAULTS, validate_options  # noqa: F401 (re-export)
from .its_spec import validate_spec

# alternative families: (family, errors override or None)
DEFAULT_FAMILIES = {
    "quasibinomial": [("binomial", None), ("gaussian", "hac")],
    "binomial": [("quasibinomial", None), ("gaussian", "hac")],
    "quasipoisson": [("poisson", None), ("negbin", "independent")],
    "poisson": [("quasipoisson", None), ("negbin", "independent")],
    "negbin": [("quasipoisson", None), ("poisson", None)],
    "gaussian": [],
}
COLUMNS = ["variant", "description", "estimand", "estimate", "ci_low", "ci_high", "p_value",
           "method", "note"]


def _level_rows(variant, description, spec_dict, series):
    """Rows of the first phase's level change (link and natural scale) for one variant."""
    try:
        res = fit_its(series, spec_dict)
    except ValueError as exc:  # NotEstimable, LinAlgError or an input check
        return [{"variant": variant, "description": description, "estimand": "level_change",
                 "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
                 "method": "", "note": f"not fitted: {failure_text(exc)}"}]
    eff = res.effects
    first = res.spec.phases[0].name
    rows = eff[(eff["phase"] == first) & (eff["quantity"] == "level_change")]
    note = "; ".join(res.diagnostics["warnings"][:2])
    return [{"variant": variant, "description": description, "estimand": r["estimand"],
             "estimate": r["estimate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
             "p_value": r["p_value"], "method": r["method"], "note": note}
            for r in rows.to_dict("records")]


def _placebo(series, spec, checked, k):
    """Spec and pre-period data for a placebo interruption ``k`` months before the start."""
    months = pd.to_datetime(series["month"].astype(str) if isinstance(
        series["month"].dtype, pd.PeriodDtype) else series["month"]).dt.to_period("M")
    first = checked.phases[0]
    placebo_phase = {"name": f"placebo -{k} months", "start": str(first.start - k),
                     "change": first.change}
    new = {**spec, "phases": [placebo_phase], "washout_months": 0, "horizons": []}
    if checked.design == "staggered":
        starts = {u: s for u, s in checked.unit_starts.items()}
        own = series["unit"].astype(str).map(lambda u: starts.get(u))
        keep = own.isna().to_numpy() | np.array(
            [m < s if s is not None else True for m, s in zip(months, own)])
        new["unit_starts"] = {u: str(s - k) for u, s in starts.items()}
        new["phases"] = [{**placebo_phase, "start": str(min(starts.values()) - k)}]
    else:
        keep = (months < first.start).to_numpy()
    return new, series[keep]


def run_sensitivity(series: pd.DataFrame, spec: dict, options: dict | None = None) -> pd.DataFrame:
    """Robustness table of the first phase's level change across model variants.

    Parameters
    ----------
    series : DataFrame
        Monthly series, as for :func:`pipeline.stats.its.fit_its`.
    spec : dict
        The primary ITS specification.
    options : dict, optional
        See the module notes; ``{}`` gives the defaults.

    Returns
    -------
    DataFrame
        Columns ``variant, description, estimand, estimate, ci_low, ci_high, p_value, method,
        note``; ``estimand`` is ``level_change`` (link scale) and its natural-scale twin
        (``level_change_or`` / ``level_change_rr``) where the family has one. The first
        variant is ``primary``. Empty when ``enabled`` is false.

    Examples
    --------
    >>> from pipeline.stats.simulation import simulate_series
    >>> data = simulate_series(n_months=48, start="2019-01", phases=[("2021-01", 0.4, 0.0)],
    ...                        denominator=500, seed=1)
    >>> table = run_sensitivity(data, {"family": "quasibinomial",
    ...                                "phases": [{"name": "launch", "start": "2021-01"}]}, {})
    >>> table["variant"].iloc[0]
    'primary'
    """
    opts = validate_options(options)
    if not opts["enabled"]:
        return pd.DataFrame(columns=COLUMNS)
    spec = dict(spec)
    checked = validate_spec(spec)
    rows = _level_rows("primary", "primary model", spec, series)

    for k in opts["placebo_months"]:
        try:
            new, pre = _placebo(series, spec, checked, k)
        except (ValueError, TypeError) as exc:
            rows.append({"variant": f"placebo_{k}", "description": "", "estimand": "level_change",
                         "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "p_value": np.nan, "method": "", "note": f"not fitted: {failure_text(exc)}"})
            continue
        rows += _level_rows(f"placebo_{k}",
                            f"placebo interruption {k} {checked.period}s before the first start, "
                            "pre-period data only (expect no effect)", new, pre)

    for w in opts["washout_months"]:
        if w == checked.washout_months:
            continue
        rows += _level_rows(f"washout_{w}", f"washout of {w} {checked.period}(s) from each phase "
                            "start",
                            {**spec, "washout_months": w}, series)

    for s in opts["seasonality"]:
        if s == checked.seasonality:
            continue
        label = {"none": "no seasonality", "fourier": f"Fourier seasonality "
                 f"({checked.harmonics} harmonics)", "month": "calendar-month indicators"}[s]
        rows += _level_rows(f"seasonality_{s}", label, {**spec, "seasonality": s}, series)

    if opts["families"] is None:
        families = DEFAULT_FAMILIES[checked.family]
    else:
        families = [(f, None) for f in opts["families"] if f != checked.family]
    for fam, err in families:
        err = err or (checked.errors if not (checked.errors == "ar" and fam != "gaussian")
                      else "independent")
        new = {**spec, "family": fam, "errors": err}
        desc = f"family {fam}" + (f" with {err} errors" if err != checked.errors else "")
        rows += _level_rows(f"family_{fam}", desc, new, series)

    if opts["errors"] is None:
        if checked.family == "gaussian":
            errors = [e for e in ERRORS if e != checked.errors]
        else:
            errors = ["hac"] if checked.errors != "hac" else ["independent"]
    else:
        errors = [e for e in opts["errors"] if e != checked.errors]
    labels = {"independent": "independent errors (model-based SE)",
              "hac": "Newey-West (HAC) errors", "ar": "AR(1) errors by GLS (REML)"}
    for e in errors:
        if e == "ar" and checked.family != "gaussian":
            rows.append({"variant": "errors_ar", "description": labels[e],
                         "estimand": "level_change", "estimate": np.nan, "ci_low": np.nan,
                         "ci_high": np.nan, "p_value": np.nan, "method": "",
                         "note": "not fitted: AR errors need the gaussian family"})
            continue
        rows += _level_rows(f"errors_{e}", labels[e], {**spec, "errors": e}, series)
    return pd.DataFrame(rows, columns=COLUMNS)


__all__ = ["run_sensitivity", "validate_options"]
