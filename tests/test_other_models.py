"""Params switch the structural model and the synthetic control on (docs/adr/0115, 0117); bad
settings name the key and the fix; published one-month rows come from published counts."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from pipeline import config
from pipeline.report.other_models_section import published_structural_effects
from pipeline.stats.structural import fit_structural

ROOT = config.project_root()


def _parse(key, **changes):
    raw = copy.deepcopy(config.load_params(ROOT)["interventions"][key])
    for k, v in changes.items():
        if v is None:
            raw.pop(k, None)
        else:
            raw[k] = v
    return config.parse_intervention(key, raw, ROOT)


def test_pulmonary_rehab_switches_both_on_and_thi_stays_segmented():
    rehab = _parse("pulmonary_rehab")
    assert rehab.model == "structural" and rehab.synthetic_control
    thi = config.load_intervention("thi_month", ROOT)
    assert thi.model == "segmented" and not thi.synthetic_control
    assert _parse("thi_month", model="structural").model == "structural"


@pytest.mark.parametrize("key, changes, words", [
    ("thi_month", {"model": "bayesian"}, "interventions.thi_month.model"),
    ("thi_month", {"synthetic_control": True}, "synthetic_control needs comparator_units"),
    ("pulmonary_rehab", {"synthetic_control": "yes"}, "should be true or false"),
    ("pulmonary_rehab", {"structural": {"trend": "quadratic"}}, "structural trend"),
    ("thi_month", {"structural": {"trend": "local_level"}}, "add model: structural"),
    ("smoking_advice", {"model": "structural"}, "staggered roll-out"),
])
def test_bad_settings_name_the_key_and_the_fix(key, changes, words):
    with pytest.raises(config.ConfigError, match=words):
        _parse(key, **changes)


def test_one_month_rows_are_restated_from_published_counts():
    rng = np.random.default_rng(8)
    n, den = 40, np.where(np.arange(40) == 32, 6, 61)  # month 7 after the start: tiny
    p = 0.3 + np.cumsum(rng.normal(0, 0.003, n))
    months = pd.period_range("2021-01", periods=n, freq="M").to_timestamp()
    series = pd.DataFrame({"month": months, "numerator": rng.binomial(den, p),
                           "denominator": den})
    spec = {"family": "gaussian", "phases": [{"name": "x", "start": "2023-03"}],
            "horizons": [3, 7]}
    result = fit_structural(series, spec)
    rule = config.Disclosure()
    table = published_structural_effects(result, rule).set_index("estimand")
    post = result.series[~result.series["in_fit"]].reset_index(drop=True)
    m3 = post.iloc[2]
    num, dnm = m3["numerator"], m3["denominator"]
    shown = (5 * round(num / 5) if num > 7 else np.nan) / (5 * round(dnm / 5))
    assert table.loc["abs_diff_h3", "estimate"] == pytest.approx(shown - m3["counterfactual"])
    assert table.loc["abs_diff_h3", "estimate"] != pytest.approx(
        result.effects.set_index("estimand").loc["abs_diff_h3", "estimate"])
    # month 7 rests on a hidden denominator (6 people): blank, not the exact value
    assert np.isnan(table.loc["abs_diff_h7", "estimate"])
    # pooled rows stay on the exact counts
    assert table.loc["average_effect", "estimate"] == \
        result.effects.set_index("estimand").loc["average_effect", "estimate"]


def test_an_outcome_too_short_for_the_model_is_skipped_with_its_reason():
    from types import SimpleNamespace

    from pipeline.evaluation import select
    from pipeline.other_models import ModelError, fit_other_models

    rng = np.random.default_rng(4)
    months = pd.period_range("2021-01", periods=36, freq="M").to_timestamp()
    rows = []
    for key, first in (("long", 0), ("short", 16)):  # "short" measured from month 17
        for i, m in enumerate(months[first:]):
            rows.append({"month": m, "unit": "all", "outcome": key, "dimension": "all",
                         "stratum": "all", "numerator": int(rng.binomial(100, 0.4)),
                         "denominator": 100})
    series = pd.DataFrame(rows)
    outcomes = [SimpleNamespace(key="long"), SimpleNamespace(key="short")]
    spec = {"family": "gaussian", "phases": [{"name": "x", "start": "2022-11"}]}
    cfg = SimpleNamespace(key="demo", model="structural", structural={}, outcomes=outcomes,
                          synthetic_control=False)
    out = fit_other_models(cfg, series, {"long": spec, "short": spec}, select)
    assert not isinstance(out["structural"]["long"], str)
    assert out["structural"]["short"].startswith("not fitted:") and \
        "6 months before" in out["structural"]["short"]
    cfg.outcomes = outcomes[1:]
    with pytest.raises(ModelError, match="interventions.demo.model: structural: no outcome"):
        fit_other_models(cfg, series, {"short": spec}, select)
