"""Interrupted time series by segmented regression: public entry point and result object.

``fit_its(series, spec)`` fits the segmented regression of Wagner et al. (2002) and Lopez
Bernal, Cummins & Gasparrini (2017) to a monthly series, for a single series, a staggered
roll-out (units pooled with their own interruption dates) or a controlled design (Linden
2015), and returns an :class:`ITSResult`. The coding, families, errors and estimands are
documented in :mod:`pipeline.stats.its_design`, :mod:`~pipeline.stats.its_fit` and
:mod:`~pipeline.stats.its_estimands`, and in ``docs/statistics.md``.

References
----------
Lopez Bernal J, Cummins S, Gasparrini A. Interrupted time series regression for the
evaluation of public health interventions: a tutorial. Int J Epidemiol 2017;46:348-355
(correction: Int J Epidemiol 2020;49:1414).
Wagner AK, Soumerai SB, Zhang F, Ross-Degnan D. Segmented regression analysis of interrupted
time series studies in medication use research. J Clin Pharm Ther 2002;27:299-309.
Linden A. Conducting interrupted time-series analysis for single- and multiple-group
comparisons. Stata J 2015;15:480-500.
Newey WK, West KD. A simple, positive semi-definite, heteroskedasticity and autocorrelation
consistent covariance matrix. Econometrica 1987;55:703-708.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from pipeline.periods import plural, time_column

from .estimability import failure_text, segment_labels
from .its_design import Design, build_design
from .its_diagnostics import diagnose
from .its_estimands import (EFFECTS_COLUMNS, describe_method, effect_rows, effects_frame,
                            inference_table, series_table)
from .its_fit import Fit, fit_arrays, fit_model
from .its_input import check_series
from .its_spec import ITSSpec, validate_spec



@dataclass
class ITSResult:
    """Result of :func:`fit_its`.

    Attributes
    ----------
    effects : DataFrame
        Tidy estimands: ``estimand, phase, estimate, ci_low, ci_high, p_value, method, n,
        scale`` (see :mod:`pipeline.stats.its_estimands` for the names) and the estimand's
        structured key ``quantity, estimand_scale, horizon``
        (:class:`pipeline.stats.estimand_key.Estimand`: filter on these, never parse the name).
    series : DataFrame
        ``[unit|group,] month, numerator, denominator, observed, fitted, counterfactual,
        cf_low, cf_high, in_fit`` for every month (``in_fit`` is False in washout months);
        the time column is ``week``, ``quarter`` or ``year`` for those periods.
    diagnostics : dict
        See :func:`pipeline.stats.its_diagnostics.diagnose`.
    params, cov : Series, DataFrame
        Coefficients and the covariance used for every interval.
    spec : ITSSpec
        The validated specification.
    method : str
        One-line description of the model.
    model_results : object
        The statsmodels results object of the same model, built on first access (its own
        covariance is model-based, scale 1).
    inference : DataFrame
        ``estimand, phase, se, df`` of every row of ``effects``: the standard error on the
        link scale and the t df of its interval (NaN: normal quantile), per contrast.
    """

    effects: pd.DataFrame
    series: pd.DataFrame
    diagnostics: dict
    params: pd.Series
    cov: pd.DataFrame
    spec: ITSSpec
    method: str
    fit: Fit = field(repr=False)
    inference: pd.DataFrame = field(default=None, repr=False)

    @property
    def model_results(self):
        return self.fit.results

    @property
    def horizon_labels(self) -> dict:
        """Each ``abs_diff_h{h}`` / ``rel_diff_h{h}`` horizon in words, counted in the
        series' period: ``{12: "12 months"}``, ``{4: "4 quarters"}`` (docs/adr/0130)."""
        return {h: plural(h, self.spec.period) for h in self.spec.horizons}

    def summary(self) -> str:
        """Readable plain-text summary: method, effects, diagnostics and warnings (no dates)."""
        table = self.effects[["estimand", "phase", "estimate", "ci_low", "ci_high", "p_value"]]
        d = self.diagnostics
        lines = [
            "Interrupted time series",
            f"Model: {self.method}",
            f"Fitted months: {d['n_obs']}, parameters: {d['n_params']}",
            "",
            table.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
            "",
            f"Durbin-Watson {d['durbin_watson']:.3f}; Ljung-Box p {d['ljung_box_p']:.3g} "
            f"({d['ljung_box_lags']} lags); dispersion {d['dispersion']:.3g}",
        ]
        lines += [d["verdict"]]
        lines += [f"Warning: {w}" for w in d["warnings"]]
        return "\n".join(lines)

    def plot_residuals(self, ax=None):
        """Pearson residuals of the fitted months against time, influential months marked
        (:func:`pipeline.stats.its_plot.plot_residuals`). Returns the Figure."""
        from .its_plot import plot_residuals

        return plot_residuals(self, ax)

    def plot(self, ax=None):
        """Observed points, fitted line, counterfactual with its band and phase starts
        (:func:`pipeline.stats.its_plot.plot`). Returns the Figure."""
        from .its_plot import plot

        return plot(self, ax)


def fit_its(series: pd.DataFrame, spec: dict) -> ITSResult:
    """Fit an interrupted time series by segmented regression.

    Parameters
    ----------
    series : DataFrame
        Monthly series with columns ``month`` (date, Period or "YYYY-MM"), ``unit``,
        ``numerator`` and ``denominator`` (several units allowed; extra columns such as
        ``outcome`` or ``stratum`` must hold one value only). With ``spec["period"]`` week,
        quarter or year the time column is named ``week``, ``quarter`` or ``year`` and holds
        the first day of each period (a Monday for ISO weeks; integer years allowed), and
        every count in the spec (horizons, washout, ramp, excluded ranges) is in those periods
        (``docs/adr/0130-its-period.md``).
    spec : dict
        ITS specification (``docs/architecture.md``), checked by
        :func:`pipeline.stats.its_spec.validate_spec`.

    Returns
    -------
    ITSResult

    Raises
    ------
    ValueError
        Bad spec, bad input data, interruption outside the data, or fewer than 3 months in a
        segment; each message names the key, column, rows or phase concerned.

    Examples
    --------
    >>> from pipeline.stats.simulation import simulate_series
    >>> data = simulate_series(n_months=48, start="2019-01", phases=[("2021-01", 0.4, 0.0)],
    ...                        baseline=0.3, denominator=500, seed=1)
    >>> res = fit_its(data, {"family": "binomial", "phases": [{"name": "launch", "start": "2021-01"}],
    ...                      "horizons": [6]})
    >>> res.effects.set_index("estimand").loc["level_change_or", "estimate"].round(2)
    np.float64(1.42)
    """
    checked = spec if isinstance(spec, ITSSpec) else validate_spec(spec)
    design: Design = build_design(series, checked)
    fit = fit_model(design, checked)
    method = describe_method(checked, fit, design)
    rows, notes = effect_rows(design, fit, checked, method)
    diagnostics = diagnose(design, fit, checked)
    diagnostics["warnings"] += notes
    params = pd.Series(fit.params, index=design.names, name="coef")
    cov = pd.DataFrame(fit.cov, index=design.names, columns=design.names)
    return ITSResult(effects=effects_frame(rows),
                     series=_named_time(series_table(design, fit, checked), series, checked),
                     diagnostics=diagnostics,
                     params=params, cov=cov, spec=checked, method=method, fit=fit,
                     inference=inference_table(rows))


@dataclass
class ITSBatch:
    """Result of :func:`fit_its_many`: one model per stratum.

    Attributes
    ----------
    effects : DataFrame
        The ``by`` column(s) followed by the columns of :attr:`ITSResult.effects`, strata in
        input order.
    diagnostics : dict
        Stratum key -> the diagnostics dict of that stratum's fit.
    errors : dict
        Stratum key -> error message, for strata that could not be fitted (``on_error="record"``).
    n_fast, n_fallback : int
        Strata fitted on the shared design, and strata fitted one by one by :func:`fit_its`
        (a different month/unit layout, zero denominators, or covariates).
    fits : dict
        Stratum key -> :class:`StratumFit` (coefficients, covariance, per-estimand SE and df):
        what a contrast between strata needs, without refitting.
    """

    effects: pd.DataFrame
    diagnostics: dict
    errors: dict
    spec: ITSSpec
    by: tuple
    n_fast: int
    n_fallback: int
    frames: dict = field(repr=False, default_factory=dict)
    fits: dict = field(repr=False, default_factory=dict)

    def result(self, key) -> ITSResult:
        """The full :class:`ITSResult` of one stratum (refitted on demand by :func:`fit_its`)."""
        return fit_its(self.frames[key], self.spec)


@dataclass(frozen=True)
class StratumFit:
    """One stratum's fit as :func:`fit_its_many` keeps it: the effects table (as
    :attr:`ITSResult.effects`, built from ``rows`` on first use: most strata's tables are never
    read, and a DataFrame per stratum was a good part of the batch's time), the coefficients
    and their covariance, and the SE and df of every estimand (:attr:`ITSResult.inference`)."""

    rows: list = field(repr=False)
    params: pd.Series
    cov: pd.DataFrame
    inference: pd.DataFrame
    spec: ITSSpec

    @cached_property
    def effects(self) -> pd.DataFrame:
        return effects_frame(self.rows)


class _LazyFrames(dict):
    """Stratum key -> sub-frame, cut from the long frame only when asked for."""

    def __init__(self, frame, groups, drop):
        super().__init__()
        self._frame, self._groups, self._drop = frame, groups, drop

    def __missing__(self, key):
        sub = self._frame.iloc[self._groups[key]]
        return sub.drop(columns=self._drop) if self._drop else sub


def _as_frame(series_by_stratum, by):
    if isinstance(series_by_stratum, pd.DataFrame):
        if by is None:
            raise ValueError("fit_its_many needs `by` (the stratum column(s)) for a DataFrame")
        by = (by,) if isinstance(by, str) else tuple(by)
        missing = [c for c in by if c not in series_by_stratum.columns]
        if missing:
            raise ValueError(f"fit_its_many: by column(s) {missing} are not in the series")
        return series_by_stratum, by
    if not isinstance(series_by_stratum, Mapping) or not series_by_stratum:
        raise ValueError("fit_its_many needs a non-empty dict of stratum -> DataFrame, or a "
                         "DataFrame and `by`")
    keys = list(series_by_stratum)
    frame = pd.concat([f.assign(_stratum=i) for i, f in enumerate(series_by_stratum.values())],
                      ignore_index=True)
    frame["_stratum"] = pd.Categorical.from_codes(frame["_stratum"].to_numpy(),
                                                  categories=pd.Index(keys, dtype=object))
    return frame, ("_stratum",)



def _named_time(table: pd.DataFrame, series: pd.DataFrame, spec: ITSSpec) -> pd.DataFrame:
    """The series table with the input's time column name: the period's (``quarter``) or
    ``month``, which the pipeline's series keep at every period (docs/adr/0160)."""
    name = time_column(series.columns, spec.period)
    return table if name == spec.period else table.rename(columns={spec.period: name})

def fit_its_many(series_by_stratum, spec: dict, by=None, on_error: str = "raise") -> ITSBatch:
    """Fit the same ITS model to many strata at once (fast path for equity breakdowns).

    The design matrices, masks, segment checks and warnings are built once and reused for
    every stratum with the same month x unit layout; each stratum then costs one numpy fit,
    its estimands and diagnostics, with no pandas in the loop. Results equal :func:`fit_its`
    stratum by stratum (a test checks to 1e-9). Strata with another layout or zero-denominator
    months, and specs with covariates, are fitted one by one by :func:`fit_its`.

    Parameters
    ----------
    series_by_stratum : dict of key -> DataFrame, or DataFrame
        Monthly series per stratum (as for :func:`fit_its`), or one long DataFrame with the
        ``by`` column(s).
    spec : dict
        ITS specification, as for :func:`fit_its`.
    by : str or list of str, optional
        Stratum column(s) of a long DataFrame (e.g. ``["dimension", "stratum"]``).
    on_error : {"raise", "record"}
        Raise the first stratum's ``ValueError``, or record it in ``errors`` and go on.

    Returns
    -------
    ITSBatch
    """
    if on_error not in ("raise", "record"):
        raise ValueError(f"on_error = {on_error!r} must be 'raise' or 'record'")
    checked = spec if isinstance(spec, ITSSpec) else validate_spec(spec)
    frame, by = _as_frame(series_by_stratum, by)
    groups = frame.groupby(list(by), sort=False, observed=True).indices
    keys = list(groups)
    frames = _LazyFrames(frame, groups, [c for c in by if c == "_stratum"])
    label = [c for c in by if c != "_stratum"] or ["stratum"]
    rows, diagnostics, errors = [], {}, {}
    n_fast = n_fallback = 0

    fits: dict = {}

    def add(key, effect_rows_, diag, params, cov, inference):
        parts = key if isinstance(key, tuple) else (key,)
        for r in effect_rows_:
            rows.append((*parts, *(r[c] for c in EFFECTS_COLUMNS)))
        diagnostics[key] = diag
        fits[key] = StratumFit(effect_rows_, params, cov,
                               inference, checked)

    def record(key, design, fit) -> None:
        """Estimands and diagnostics of one fitted stratum, as fit_its would give them."""
        method = describe_method(checked, fit, design)
        eff, notes = effect_rows(design, fit, checked, method)
        diag = diagnose(design, fit, checked)
        diag["warnings"] += notes
        add(key, eff, diag, pd.Series(fit.params, index=design.names, name="coef"),
            pd.DataFrame(fit.cov, index=design.names, columns=design.names),
            inference_table(eff))

    fast_ok = not checked.covariates
    ref = None
    if fast_ok:
        code = np.empty(len(frame), dtype=np.int64)
        for g, idx in enumerate(groups.values()):
            code[idx] = g
        try:
            data = check_series(frame, checked, by=by, group=code)
        except ValueError:
            fast_ok = False  # let each stratum report its own error below
    if fast_ok:
        units = data["unit"].to_numpy()
        if checked.design == "single":
            key_str = np.full(len(units), "all")
        elif checked.design == "controlled" and not checked.stacked:
            key_str = np.where(np.isin(units, checked.comparator_units), "comparator", "treated")
        else:
            key_str = units
        key_names, key_code = np.unique(key_str.astype(str), return_inverse=True)
        m = data["m"].to_numpy()
        m0, span = int(m.min()), int(m.max() - m.min() + 1)
        cell = key_code.astype(np.int64) * span + (m - m0)
        n_cells = len(key_names) * span
        combined = code * n_cells + cell
        uniq, inv = np.unique(combined, return_inverse=True)
        num_sum = np.bincount(inv, data["numerator"].to_numpy(), len(uniq))
        den_sum = np.bincount(inv, data["denominator"].to_numpy(), len(uniq))
        owner = uniq // n_cells
        cuts = np.searchsorted(owner, np.arange(len(keys) + 1))
    for g, key in enumerate(keys):
        try:
            done = False
            if fast_ok:
                a, b = cuts[g], cuts[g + 1]
                cells, den_g = uniq[a:b] - g * n_cells, den_sum[a:b]
                if ref is None and (den_g > 0).all():
                    design = build_design(frames[key], checked)
                    ref = (cells, design, design.fit_rows, design.X[design.fit_rows],
                           design.keys[design.fit_rows], design.m[design.fit_rows],
                           segment_labels(design, checked))
                    record(key, design, fit_model(design, checked))
                    n_fast += 1
                    done = True
                elif ref is not None and len(cells) == len(ref[0]) and (cells == ref[0]).all() \
                        and (den_g > 0).all():
                    _, rdesign, rows_fit, X_fit, k_fit, m_fit, seg_fit = ref
                    num_g = num_sum[a:b]
                    d = rdesign.with_counts(num_g, den_g)
                    record(key, d, fit_arrays(X_fit, num_g[rows_fit], den_g[rows_fit], k_fit,
                                              m_fit, checked, make_results=False,
                                              segments=seg_fit))
                    n_fast += 1
                    done = True
            if not done:
                res = fit_its(frames[key], checked)
                add(key, res.effects.to_dict("records"), res.diagnostics, res.params, res.cov,
                    res.inference)
                n_fallback += 1
        except ValueError as exc:  # NotEstimable and numpy's LinAlgError are ValueErrors
            if on_error == "raise":
                raise ValueError(f"stratum {key!r}: {failure_text(exc)}") from exc
            errors[key] = failure_text(exc)  # fixed wording, never a BLAS error's text
    effects = effects_frame(rows, label)
    return ITSBatch(effects=effects, diagnostics=diagnostics, errors=errors, spec=checked,
                    by=tuple(label), n_fast=n_fast, n_fallback=n_fallback, frames=frames,
                    fits=fits)


__all__ = ["ITSBatch", "ITSResult", "StratumFit", "fit_its", "fit_its_many"]
