"""An intervention's ``period:`` in params.yaml (docs/adr/0160-period-in-params.md): params stay
in months, must sit on period boundaries, and reach the models as periods; the prepared
monthly grid is summed to whole periods."""

from __future__ import annotations

import copy
from datetime import datetime

import pyarrow as pa
import pytest
import yaml

from pipeline.config import ConfigError, parse_intervention
from pipeline.data.period_series import to_period

from .conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def section(key="pulmonary_rehab", **changes):
    raw = copy.deepcopy(PARAMS["interventions"][key])
    if key == "pulmonary_rehab":   # monthly-only models off (tested below)
        for k in ("model", "structural", "synthetic_control"):
            raw.pop(k, None)
    raw.update(changes)
    return raw


def test_quarterly_params_reach_the_spec_in_quarters():
    cfg = parse_intervention("x", section(period="quarter"), ROOT, PARAMS)
    assert cfg.period == "quarter"
    spec = cfg.its_spec(cfg.headline)
    assert spec["period"] == "quarter"
    assert spec["phases"] == [{"name": "Drop-in sessions and video", "start": "2023-04"}]
    assert spec["horizons"] == [1, 2, 4]          # its.horizons [3, 6, 12] months
    assert cfg.horizons == (1, 2, 4)
    assert cfg.equity_primary.horizon == 4         # equity_primary.horizon 12 months
    assert cfg.before_after.before_months == 12    # before/after windows stay in months


def test_yearly_params_default_to_yearly_horizons():
    raw = section(period="year", window={"start": "2016-01", "end": "2024-12"},
                  phases=[{"name": "Drop-in sessions and video", "start": "2021-01"}])
    raw["its"] = {k: v for k, v in raw["its"].items() if k != "horizons"}
    raw["equity_primary"] = {"horizon": 24}
    cfg = parse_intervention("x", raw, ROOT, PARAMS)
    assert cfg.horizons == (1, 2, 3) and cfg.equity_primary.horizon == 2
    assert cfg.its_spec(cfg.headline)["horizons"] == [1, 2, 3]


def test_a_monthly_spec_is_unchanged():
    """No key is added to a monthly spec, so monthly reports are unchanged byte for byte."""
    cfg = parse_intervention("x", section(), ROOT, PARAMS)
    assert cfg.period == "month" and "period" not in cfg.its_spec(cfg.headline)
    assert cfg.horizons == (3, 6, 12)


@pytest.mark.parametrize("changes, message", [
    (dict(period="week"), "period = 'week': weekly series need the day of each event"),
    (dict(period="fortnight"), "period = 'fortnight'; allowed values are ['month', 'quarter', 'year']"),
    (dict(period="quarter", window={"start": "2021-05", "end": "2024-09"}),
     "window.start = 2021-05 starts part-way through 2021 Q2, which would mix months before "
     "and after it (period: quarter). Fix: start it at the first month of a quarter (January, "
     "April, July, October): 2021-04 or 2021-07"),
    (dict(period="quarter", window={"start": "2021-04", "end": "2024-08"}),
     "window.end = 2024-08 ends part-way through 2024 Q3"),
    (dict(period="quarter", phases=[{"name": "p", "start": "2023-05"}]),
     "interventions.x.phases[0].start = 2023-05 starts part-way through 2023 Q2"),
    (dict(period="quarter", before_after={"before_months": 12, "after_months": 12,
                                          "washout_months": 1}),
     "before_after.washout_months = 1 months is not a whole number of quarters"),
    (dict(period="year", window={"start": "2016-01", "end": "2024-12"},
          phases=[{"name": "p", "start": "2021-01"}]),
     "horizons (or outcomes.started.its.horizons) = 3 months is not a whole number of years "
     "(period: year: 12 months each). Fix: use 12 months"),
    (dict(period="quarter", model="structural"),
     "interventions.x: model: structural count months, but period is 'quarter'"),
])
def test_bad_period_params_name_the_key_and_the_fix(changes, message):
    with pytest.raises(ConfigError) as err:
        parse_intervention("x", section(**changes), ROOT, PARAMS)
    assert message in str(err.value)


def test_the_its_options_cannot_set_another_period():
    raw = section(period="quarter")
    raw["its"] = {**raw["its"], "period": "month"}
    with pytest.raises(ConfigError, match=r"its.period = 'month' but the intervention's period "
                                          r"is 'quarter'. Fix: set period once"):
        parse_intervention("x", raw, ROOT, PARAMS)


def test_a_monthly_phase_start_in_thi_month_is_refused_at_quarters():
    """THI month starts in September: at quarters that would mix July-August (before) with
    September (after) in 2021 Q3."""
    raw = copy.deepcopy(PARAMS["interventions"]["thi_month"])
    raw.update(period="quarter", window={"start": "2019-10", "end": "2023-09"})
    with pytest.raises(ConfigError, match=r"phases\[0\].start = 2021-09 starts part-way through "
                                          r"2021 Q3.*2021-07 or 2021-10"):
        parse_intervention("x", raw, ROOT, PARAMS)


# -- summing the monthly grid ------------------------------------------------------------

SCHEMA = pa.schema([("month", pa.timestamp("us")), ("unit", pa.string()),
                    ("dimension", pa.string()), ("stratum", pa.string()),
                    ("outcome", pa.string()), ("numerator", pa.int64()),
                    ("denominator", pa.int64()), ("covariate_disruption", pa.int64())])


def _monthly(months, numerators, denominators, disruption):
    n = len(months)
    return pa.table({"month": [datetime(int(m[:4]), int(m[5:]), 1) for m in months],
                     "unit": ["a"] * n, "dimension": ["all"] * n, "stratum": ["all"] * n,
                     "outcome": ["o"] * n, "numerator": numerators, "denominator": denominators,
                     "covariate_disruption": disruption}, schema=SCHEMA)


def test_months_sum_to_whole_quarters_and_a_part_quarter_is_dropped():
    months = ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06", "2020-07"]
    table = _monthly(months, [1, 2, 3, 4, 5, 6, 7], [10, 20, 30, 40, 50, 60, 70],
                     [0, 0, 0, 0, 1, 0, 0])
    out, quality = to_period(table, {"excluded_months": ["2020-05"]}, "quarter")
    assert out.schema == table.schema
    assert [m.strftime("%Y-%m-%d") for m in out["month"].to_pylist()] == ["2020-01-01",
                                                                          "2020-04-01"]
    assert out["numerator"].to_pylist() == [6, 15]
    assert out["denominator"].to_pylist() == [60, 150]
    assert out["covariate_disruption"].to_pylist() == [0, 1]   # any disrupted month
    assert quality["part_periods_dropped"] == ["2020 Q3"]      # July alone
    assert quality["excluded_periods"] == ["2020-04"]
    assert quality["series_periods"] == {"start": "2020-01", "end": "2020-04", "periods": 2}


def test_a_monthly_series_is_returned_as_it_is():
    table = _monthly(["2020-01"], [1], [2], [0])
    out, quality = to_period(table, {"a": 1}, "month")
    assert out is table and quality == {"a": 1}


def test_months_sum_to_years():
    months = [f"2020-{m:02d}" for m in range(1, 13)] + ["2021-01"]
    table = _monthly(months, [1] * 13, [2] * 13, [0] * 13)
    out, quality = to_period(table, {}, "year")
    assert out["numerator"].to_pylist() == [12] and quality["part_periods_dropped"] == ["2021"]
