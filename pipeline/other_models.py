"""The models params add beside the segmented regression, fitted for one intervention.

``model: structural`` fits :func:`pipeline.stats.structural.fit_structural` to every outcome's
overall series (its options from the ``structural`` key; docs/adr/0115) and
``synthetic_control: true`` fits :func:`pipeline.stats.synthetic_control.fit_synthetic_control`
to the headline outcome's monthly proportions, the treated services summed into one unit and
the comparator services as donors (docs/adr/0117). A model that cannot be fitted to these data
stops with a message naming the params key and the fix (no traceback reaches an analyst).
"""

from __future__ import annotations

import pandas as pd

from pipeline.errors import PipelineError


class ModelError(PipelineError, ValueError):
    """A model params asked for cannot be fitted to this intervention's data."""


def fit_other_models(cfg, series: pd.DataFrame, specs: dict, select) -> dict:
    """``{"structural": {outcome: StructuralResult or the reason it was not fitted},
    "synthetic_control": result | None}``.

    An outcome whose own series cannot carry the structural model (fewer than 12 months before
    its first evaluated start, e.g. a measure collected from part-way through) is skipped with
    its reason, which the report prints; if no outcome can be fitted, that is an error.
    """
    out: dict = {"structural": {}, "synthetic_control": None}
    where = f"params.yaml: interventions.{cfg.key}"
    if cfg.model == "structural":
        from pipeline.stats.structural import fit_structural

        for o in cfg.outcomes:
            rows = select(series, o.key)
            try:
                out["structural"][o.key] = fit_structural(rows, specs[o.key], cfg.structural)
            except ValueError as exc:
                out["structural"][o.key] = f"not fitted: {exc}"
        reasons = [r for r in out["structural"].values() if isinstance(r, str)]
        if len(reasons) == len(cfg.outcomes):
            raise ModelError(f"{where}.model: structural: no outcome could be fitted ("
                             f"{reasons[0]}). Fix: model: segmented, or more months before "
                             "the start.")
    if cfg.synthetic_control:
        from pipeline.stats.synthetic_control import fit_synthetic_control, monthly_panel

        panel, treated = monthly_panel(select(series, cfg.headline.key), cfg.comparator_units)
        start = pd.Timestamp(cfg.phases[0].start)
        try:
            out["synthetic_control"] = fit_synthetic_control(panel, treated, start)
        except ValueError as exc:
            raise ModelError(f"{where}.synthetic_control, outcome {cfg.headline.key}: {exc}. "
                             "Fix: synthetic_control: false.") from None
    return out
