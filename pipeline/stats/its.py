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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .its_design import Design, build_design
from .its_diagnostics import diagnose
from .its_estimands import describe_method, effects_table, series_table
from .its_fit import fit_model
from .its_spec import ITSSpec, validate_spec

# Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


@dataclass
class ITSResult:
    """Result of :func:`fit_its`.

    Attributes
    ----------
    effects : DataFrame
        Tidy estimands: ``estimand, phase, estimate, ci_low, ci_high, p_value, method, n,
        scale`` (see :mod:`pipeline.stats.its_estimands` for the names).
    series : DataFrame
        ``[unit|group,] month, numerator, denominator, observed, fitted, counterfactual,
        cf_low, cf_high, in_fit`` for every month (``in_fit`` is False in washout months).
    diagnostics : dict
        See :func:`pipeline.stats.its_diagnostics.diagnose`.
    params, cov : Series, DataFrame
        Coefficients and the covariance used for every interval.
    spec : ITSSpec
        The validated specification.
    method : str
        One-line description of the model.
    model_results : object
        The statsmodels results object (its own covariance is model-based, scale 1).
    """

    effects: pd.DataFrame
    series: pd.DataFrame
    diagnostics: dict
    params: pd.Series
    cov: pd.DataFrame
    spec: ITSSpec
    method: str
    model_results: object = field(repr=False)

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
        lines += [f"Warning: {w}" for w in d["warnings"]]
        return "\n".join(lines)

    def plot(self, ax=None):
        """Observed points, fitted line, counterfactual with its band and phase starts.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure is made when None.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 4.5))
        else:
            fig = ax.figure
        s = self.series
        key = next((c for c in ("unit", "group") if c in s.columns), None)
        groups = s.groupby(key, sort=True) if key else [(None, s)]
        for i, (name, g) in enumerate(groups):
            colour = PALETTE[i % len(PALETTE)]
            label = f" ({name})" if name is not None else ""
            ax.scatter(g["month"], g["observed"], s=14, color=colour, alpha=0.7,
                       label=f"observed{label}")
            ax.plot(g["month"], g["fitted"], color=colour, lw=1.8, label=f"fitted{label}")
            post = g["counterfactual"].to_numpy() != g["fitted"].to_numpy()
            if post.any():
                first = np.argmax(post)
                cf = g.iloc[max(first - 1, 0):]
                ax.plot(cf["month"], cf["counterfactual"], color=colour, lw=1.5, ls="--",
                        label=f"counterfactual{label}")
                ax.fill_between(cf["month"], cf["cf_low"], cf["cf_high"], color=colour,
                                alpha=0.15, lw=0)
        for j, start in enumerate(self._starts()):
            ax.axvline(start, color="0.35", ls=":", lw=1, label="intervention start" if j == 0 else None)
        ax.set_xlabel("Month")
        ax.set_ylabel("Rate per unit of denominator" if self.spec.base_family == "poisson"
                      else "Proportion")
        ax.legend(fontsize=7, frameon=False, ncol=2)
        fig.tight_layout()
        return fig

    def _starts(self) -> list:
        months = (self.spec.unit_starts or {}).values() if self.spec.design == "staggered" \
            else [p.start for p in self.spec.phases]
        return sorted({m.to_timestamp() for m in months})


def fit_its(series: pd.DataFrame, spec: dict) -> ITSResult:
    """Fit an interrupted time series by segmented regression.

    Parameters
    ----------
    series : DataFrame
        Monthly series with columns ``month`` (date, Period or "YYYY-MM"), ``unit``,
        ``numerator`` and ``denominator`` (several units allowed; extra columns such as
        ``outcome`` or ``stratum`` must hold one value only).
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
    >>> from pipeline.stats.simulate_series import simulate_series
    >>> data = simulate_series(n_months=48, start="2019-01", phases=[("2021-01", 0.4, 0.0)],
    ...                        baseline=0.3, denominator=500, seed=1)
    >>> res = fit_its(data, {"family": "binomial", "phases": [{"name": "launch", "start": "2021-01"}],
    ...                      "horizons": [6]})
    >>> res.effects.set_index("estimand").loc["level_change_or", "estimate"].round(2)
    np.float64(1.42)
    """
    checked = validate_spec(spec)
    design: Design = build_design(series, checked)
    fit = fit_model(design, checked)
    method = describe_method(checked, fit, design)
    effects, notes = effects_table(design, fit, checked, method)
    diagnostics = diagnose(design, fit, checked)
    diagnostics["warnings"] += notes
    params = pd.Series(fit.params, index=design.names, name="coef")
    cov = pd.DataFrame(fit.cov, index=design.names, columns=design.names)
    return ITSResult(effects, series_table(design, fit, checked), diagnostics, params, cov,
                     checked, method, fit.results)


__all__ = ["ITSResult", "fit_its"]
