"""The structured estimand key (docs/adr/0150): names, validation, and the key columns of every
effects table checked against expectations written out by hand here, not derived from the code.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.stats.equity import gap_change_between
from pipeline.stats.estimand_key import Estimand, row_key
from pipeline.stats.its import fit_its, fit_its_many
from pipeline.stats.simulation import simulate_series

PHASES = [{"name": "launch", "start": "2021-01"}]

# (quantity, scale, horizon) -> the published name, written out by hand
NAMES = [
    (("pre_trend", "link", None), "pre_trend"),
    (("pre_trend", "odds_ratio", None), "pre_trend_or"),
    (("level_change", "link", None), "level_change"),
    (("level_change", "odds_ratio", None), "level_change_or"),
    (("level_change", "rate_ratio", None), "level_change_rr"),
    (("slope_change", "rate_ratio", None), "slope_change_rr"),
    (("post_trend", "odds_ratio", None), "post_trend_or"),
    (("difference", "absolute", 12), "abs_diff_h12"),
    (("difference", "relative", 3), "rel_diff_h3"),
    (("average_effect", "absolute", None), "average_effect"),
    (("average_effect", "relative", None), "average_rel_effect"),
    (("cumulative_excess", "events", None), "cumulative_excess"),
]

# Every estimand of a one-phase fit with horizons 3 and 12, by name: (quantity, scale, horizon)
LINK_ROWS = {
    "pre_trend": ("pre_trend", "link", None),
    "level_change": ("level_change", "link", None),
    "slope_change": ("slope_change", "link", None),
    "post_trend": ("post_trend", "link", None),
    "abs_diff_h3": ("difference", "absolute", 3),
    "rel_diff_h3": ("difference", "relative", 3),
    "abs_diff_h12": ("difference", "absolute", 12),
    "rel_diff_h12": ("difference", "relative", 12),
    "cumulative_excess": ("cumulative_excess", "events", None),
    "average_effect": ("average_effect", "absolute", None),
    "average_rel_effect": ("average_effect", "relative", None),
}
ODDS_RATIO_TWINS = {
    "pre_trend_or": ("pre_trend", "odds_ratio", None),
    "level_change_or": ("level_change", "odds_ratio", None),
    "slope_change_or": ("slope_change", "odds_ratio", None),
    "post_trend_or": ("post_trend", "odds_ratio", None),
}
RATE_RATIO_TWINS = {
    "pre_trend_rr": ("pre_trend", "rate_ratio", None),
    "level_change_rr": ("level_change", "rate_ratio", None),
    "slope_change_rr": ("slope_change", "rate_ratio", None),
    "post_trend_rr": ("post_trend", "rate_ratio", None),
}
EXPECTED = {
    "quasibinomial": {**LINK_ROWS, **ODDS_RATIO_TWINS},
    "binomial": {**LINK_ROWS, **ODDS_RATIO_TWINS},
    "quasipoisson": {**LINK_ROWS, **RATE_RATIO_TWINS},
    "negbin": {**LINK_ROWS, **RATE_RATIO_TWINS},
    "gaussian": LINK_ROWS,
}
SIMULATED = {"quasibinomial": "binomial", "binomial": "binomial", "quasipoisson": "poisson",
             "negbin": "poisson", "gaussian": "gaussian"}


def series(family: str, seed: int = 3, unit: str = "unit_1") -> pd.DataFrame:
    return simulate_series(n_months=48, start="2019-01", phases=[("2021-01", 0.3, 0.01)],
                           baseline=0.3 if family != "poisson" else 0.02, family=family,
                           denominator=1000, sd=0.01 if family == "gaussian" else 0.0,
                           unit=unit, seed=seed)


def keys_of(table: pd.DataFrame) -> dict:
    return {r["estimand"]: (r["quantity"], r["estimand_scale"],
                            None if pd.isna(r["horizon"]) else int(r["horizon"]))
            for r in table.to_dict("records")}


@pytest.mark.parametrize("key, name", NAMES)
def test_names(key, name):
    assert Estimand(*key).name == name


@pytest.mark.parametrize("key", [
    ("difference", "absolute", None),    # a horizon is needed
    ("difference", "absolute", 0),
    ("difference", "absolute", True),
    ("level_change", "absolute", None),  # a coefficient is on the link or a ratio scale
    ("level_change", "link", 12),        # only differences have a horizon
    ("cumulative_excess", "link", None),
    ("gap", "link", None),
])
def test_keys_that_name_no_estimand_are_refused(key):
    with pytest.raises(ValueError):
        Estimand(*key)


def test_ratio_twin_keeps_quantity_and_horizon():
    key = Estimand("level_change")
    assert key.on("rate_ratio") == Estimand("level_change", "rate_ratio")
    assert key.on("rate_ratio").is_ratio and not key.is_ratio
    with pytest.raises(Exception):  # frozen: a key is a value
        key.scale = "odds_ratio"


@pytest.mark.parametrize("family", list(EXPECTED))
def test_every_effects_row_has_the_key_its_name_says(family):
    res = fit_its(series(SIMULATED[family]), {"family": family, "phases": PHASES,
                                               "horizons": [3, 12]})
    assert keys_of(res.effects) == EXPECTED[family]
    for r in res.effects.to_dict("records"):  # the key's name is the published string
        assert row_key(r).name == r["estimand"]


def test_fit_its_many_and_its_strata_carry_the_same_keys():
    batch = fit_its_many({"a": series("binomial", 4), "b": series("binomial", 5)},
                         {"family": "quasibinomial", "phases": PHASES, "horizons": [3, 12]})
    for stratum in ("a", "b"):
        assert keys_of(batch.effects[batch.effects["stratum"] == stratum]) \
            == EXPECTED["quasibinomial"]
        assert keys_of(batch.fits[stratum].effects) == EXPECTED["quasibinomial"]


def test_gap_change_rows_carry_the_key():
    rows = gap_change_between(series("binomial", 6), series("binomial", 7),
                              {"family": "quasibinomial", "phases": PHASES, "horizons": [3, 12]})
    assert keys_of(rows) == {
        "level_change": ("level_change", "link", None),
        "level_change_or": ("level_change", "odds_ratio", None),
        "slope_change": ("slope_change", "link", None),
        "slope_change_or": ("slope_change", "odds_ratio", None),
        "abs_diff_h3": ("difference", "absolute", 3),
        "abs_diff_h12": ("difference", "absolute", 12),
    }


def test_horizon_is_a_number_only_for_differences():
    res = fit_its(series("binomial"), {"family": "binomial", "phases": PHASES,
                                      "horizons": [12]})
    horizon = dict(zip(res.effects["estimand"], res.effects["horizon"]))
    assert horizon["abs_diff_h12"] == 12 and horizon["rel_diff_h12"] == 12
    assert pd.isna(horizon["level_change"]) and pd.isna(horizon["average_effect"])
    none = fit_its(series("binomial"), {"family": "binomial", "phases": PHASES, "horizons": []})
    assert none.effects["horizon"].dtype == float and none.effects["horizon"].isna().all()
