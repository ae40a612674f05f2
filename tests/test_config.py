"""params.yaml is validated in one place, with errors that name the key and the fix."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml

from pipeline import config
from pipeline.config import ConfigError, parse_intervention

from .conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def section(key="thi_month"):
    return copy.deepcopy(PARAMS["interventions"][key])


def test_every_committed_intervention_loads():
    for key in config.intervention_keys(ROOT):
        cfg = config.load_intervention(key, ROOT)
        assert cfg.outcomes and cfg.phases
        assert cfg.extract.is_relative_to(ROOT)


def test_designs_follow_the_params():
    assert config.load_intervention("thi_month", ROOT).design == "single"
    assert config.load_intervention("smoking_advice", ROOT).design == "staggered"
    assert config.load_intervention("pulmonary_rehab", ROOT).design == "controlled"


def test_its_spec_carries_the_design():
    cfg = config.load_intervention("smoking_advice", ROOT)
    spec = cfg.its_spec(cfg.headline)
    assert spec["unit_starts"]["ward_c"] == "2022-07"
    assert spec["phases"] == [{"name": "VBA training", "start": "2022-03"}]
    assert spec["washout_months"] == 1


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.update(colour="blue"), "unknown key(s) ['colour'] in interventions.x"),
        (lambda s: s["its"].update(robust=False), "unknown ITS spec key(s) ['robust']"),
        (lambda s: s["window"].update(start="2019-13"), 'window.start = \'2019-13\' is not a month'),
        (lambda s: s["window"].update(start=pd.Timestamp("2019-01-01").date()), "is not a month"),
        (lambda s: s["phases"][0].update(start="2030-01"), "is outside the window"),
        (lambda s: s["its"].update(errors="robust"), "interventions.x.its (or outcomes.bbv_test.its)"),
        (lambda s: s["its"].update(hac_lags=True), "spec['hac_lags'] = True must be an integer"),
        (lambda s: s["outcomes"]["bbv_test"].update(family="logit"), "outcomes.bbv_test.family"),
        (lambda s: s["outcomes"]["bbv_test"].update(headline="yes"), "should be true or false"),
        (lambda s: s.pop("phases"), "interventions.x.phases is missing"),
        (lambda s: s["phases"].reverse(), "should start in order"),
        # period: tests/test_period_params.py (the intervention's period, docs/adr/0160)
        (lambda s: s["its"].update(period="quarter"),
         "its.period = 'quarter' but the intervention's period is 'month'"),
    ],
)
def test_bad_params_name_the_key(change, message):
    raw = section()
    change(raw)
    with pytest.raises(ConfigError) as err:
        parse_intervention("x", raw, ROOT)
    assert message in str(err.value)


def test_staggered_and_controlled_together_is_refused():
    raw = section("pulmonary_rehab")
    raw["unit_starts"] = {"service_a": "2023-04"}
    with pytest.raises(ConfigError, match="choose a staggered or a controlled design"):
        parse_intervention("x", raw, ROOT)


def test_unknown_intervention_lists_the_known_ones():
    with pytest.raises(ConfigError, match="has no intervention 'nope'; it has"):
        config.load_intervention("nope", ROOT)


def test_root_is_found_from_a_subfolder(monkeypatch):
    monkeypatch.delenv(config.ROOT_ENV, raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    assert config.project_root() == ROOT


def test_files_read_with_the_extract_must_sit_beside_it():
    """dvc.yaml's prepare stage depends on the extract's folder, so staff and population files
    elsewhere would change without rerunning the report (docs/adr/0103)."""
    raw = section()
    raw["staff_extract"] = "data/raw/elsewhere/staff.parquet"
    with pytest.raises(ConfigError) as err:
        parse_intervention("x", raw, ROOT)
    assert ("interventions.x.staff_extract = data/raw/elsewhere/staff.parquet is not in the "
            "folder of the extract (data/synthetic/thi_month)") in str(err.value)
    raw["staff_extract"] = "data/synthetic/thi_month/staff.parquet"
    assert parse_intervention("x", raw, ROOT).staff_extract.name == "staff.parquet"


def test_prepare_depends_on_the_extract_folder_in_dvc_yaml():
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["prepare"]["do"]
    assert "${item.extract}/.." in stage["deps"]
