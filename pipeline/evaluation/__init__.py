"""One intervention's evaluation, built once from params and data (docs/adr/0140).

:func:`load_inputs` reads params, the prepared series and its quality record; :func:`run`
fits every model and records every decision into one typed
:class:`~pipeline.evaluation.result.Evaluation`: the segmented regression of each outcome,
equity, robustness, power, staggered and other models, SPC charts, group tables with adjusted
p-values, and the choices made for params with their reasons. The report
(:mod:`pipeline.report`) only renders it.

Modules: :mod:`~pipeline.evaluation.series` (which rows and windows),
:mod:`~pipeline.evaluation.models` (the fits), :mod:`~pipeline.evaluation.judgements`
(SPC, group tables, robustness, confidence evidence, decisions),
:mod:`~pipeline.evaluation.result` (the dataclasses), :mod:`~pipeline.evaluation.build`.
"""

from pipeline.evaluation.build import Inputs, equity_analysis, evaluate, load_inputs, run
from pipeline.evaluation.judgements import control_chart, group_table, rate_per
from pipeline.evaluation.models import (design_power, fit_ols_newey_west, fit_outcome,
                                        other_models, spec_of, staggered_effects)
from pipeline.evaluation.result import (OVERALL, ConfidenceEvidence, ControlChart,
                                        Decision, Evaluation, Robustness)
from pipeline.evaluation.series import (COVARIATE_PREFIX, before_after_table, covariates,
                                        data_spec, equity_outcomes, load_series, measured,
                                        select, treated_monthly, treated_units, window_masks)

__all__ = ["COVARIATE_PREFIX", "OVERALL", "ConfidenceEvidence", "ControlChart",
           "Decision", "Evaluation", "Inputs", "Robustness", "before_after_table",
           "control_chart", "covariates", "data_spec", "design_power", "equity_analysis",
           "equity_outcomes", "evaluate", "fit_ols_newey_west", "fit_outcome", "group_table",
           "load_inputs", "load_series", "measured", "other_models", "rate_per", "run",
           "select", "spec_of", "staggered_effects", "treated_monthly", "treated_units",
           "window_masks"]
