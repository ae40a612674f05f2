"""Synthetic extracts: deterministic, well-formed, windows long enough, truths consistent,
and the simulated data carry the documented effects (the full ITS recovery test is in stats)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.data import simulate, validate_extract
from pipeline.data.scenarios import AGE_BANDS, ETHNICITY, SCENARIOS, SEX
from pipeline.data.simulation_design import check_window, month_index

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
KEYS = list(PARAMS["interventions"])


def run(key: str, out: Path, seed: int | None = None) -> Path:
    p = PARAMS["interventions"][key]
    simulate(key, out, seed=PARAMS["simulation"]["seed"] if seed is None else seed,
             window=(p["window"]["start"], p["window"]["end"]), phases=p["phases"],
             unit_starts=p.get("unit_starts"), comparator_units=p.get("comparator_units"),
             outcomes={k: (o["numerator"], o["denominator"]) for k, o in p["outcomes"].items()})
    return out


@pytest.fixture(scope="module")
def sims(prepared_project) -> dict[str, Path]:
    """The session's simulated extracts (``pipeline simulate`` in :func:`prepared_project`,
    which calls :func:`simulate` with these params; the slow
    ``test_same_seed_gives_identical_bytes`` checks that ``run`` here gives the same bytes).
    Read only."""
    from pipeline import config

    return {k: config.paths(prepared_project).synthetic(k) for k in KEYS}


def load(sims, key):
    return (pd.read_parquet(sims[key] / "extract.parquet"),
            json.loads((sims[key] / "truth.json").read_text()))


def test_every_params_intervention_has_a_scenario():
    assert set(KEYS) <= set(SCENARIOS)


@pytest.mark.parametrize("key", KEYS)
def test_same_seed_gives_identical_bytes(sims, tmp_path, key):
    again = run(key, tmp_path / "again")
    for name in ("extract.parquet", "truth.json"):
        assert (again / name).read_bytes() == (sims[key] / name).read_bytes(), name
    other = run(key, tmp_path / "other", seed=PARAMS["simulation"]["seed"] + 1)
    assert (other / "extract.parquet").read_bytes() != (sims[key] / "extract.parquet").read_bytes()
    assert not list(again.glob("*.tmp")), "temporary files left behind"


@pytest.mark.parametrize("key", KEYS)
def test_rows_have_required_columns_and_allowed_codes(sims, key):
    df, _ = load(sims, key)
    p = PARAMS["interventions"][key]
    patients = {k: o for k, o in p["outcomes"].items() if o.get("population") != "staff"}
    flags = {c for o in patients.values() for c in (o["numerator"], o["denominator"]) if c}
    required = {"month", "unit", "patient_id", "imd_quintile", "ethnicity", "sex", "age_band"} | flags
    assert required <= set(df.columns)
    assert set(df["imd_quintile"].unique()) <= {1, 2, 3, 4, 5}
    assert set(df["ethnicity"].unique()) <= set(ETHNICITY)
    assert set(df["sex"].unique()) <= set(SEX)
    assert set(df["age_band"].unique()) <= set(AGE_BANDS)
    months = pd.to_datetime(df["month"])
    assert (months.dt.day == 1).all()
    for c in flags:
        assert set(df[c].unique()) <= {0, 1}, c
    assert df.notna().all().all()
    # The project's own validator accepts what the simulator writes.
    validate_extract(sims[key] / "extract.parquet",
                     outcomes={k: (o["numerator"], o["denominator"]) for k, o in patients.items()},
                     dimensions=p["equity"], window=(p["window"]["start"], p["window"]["end"]))


def test_thi_staff_counts_and_unmet_need_from_stage_2(sims):
    """Staff counts (monthly layout) for every service, month and training outcome, trained
    never above in post; unmet need is 0 before stage 2, when collection began, and
    `unmet_need_any` is 1 exactly when an area is (docs/adr/0075, 0076)."""
    staff = pd.read_parquet(sims["thi_month"] / "staff.parquet")
    assert set(staff["outcome"]) == {"mecc_trained", "advocacy_trained", "rsph_l2_trained",
                                     "champions_in_post"}   # champions: docs/adr/0120
    assert len(staff) == 4 * 48 * 4 and (staff["numerator"] <= staff["denominator"]).all()
    df, _ = load(sims, "thi_month")
    areas = [c for c in df.columns if c.startswith("unmet_") and c != "unmet_need_any"]
    assert len(areas) == 7
    before = pd.to_datetime(df["month"]) < pd.Timestamp("2022-01-01")
    assert df.loc[before, areas + ["unmet_need_any"]].sum().sum() == 0
    assert df.loc[~before, areas].sum().min() > 0
    assert (df["unmet_need_any"] == df[areas].max(axis=1)).all()


def test_sizes_are_modest(sims):
    sizes = {k: len(load(sims, k)[0]) for k in KEYS}
    assert 20_000 < sizes["thi_month"] < 100_000
    assert 5_000 < sizes["smoking_advice"] < 50_000
    assert 5_000 < sizes["pulmonary_rehab"] < 50_000


def test_nested_flags_only_among_their_parent(sims):
    thi, _ = load(sims, "thi_month")
    assert (thi["hcv_positive"] <= thi["bbv_tested"]).all()
    assert (thi["hcv_referred"] <= thi["hcv_positive"]).all()
    assert "homeless" in thi and 0.05 < thi["homeless"].mean() < 0.25
    pr, _ = load(sims, "pulmonary_rehab")
    assert (pr["completed"] <= pr["started"]).all()
    sa, _ = load(sims, "smoking_advice")
    # Referral mostly follows advice, but the denominator stays every smoker admission.
    assert sa.loc[sa.referred == 1, "vba_given"].mean() > 0.8
    assert (sa.referred == 1).any() and (sa.vba_given == 0).any()


def test_caseload_patients_persist_across_months(sims):
    thi, _ = load(sims, "thi_month")
    months_per_patient = thi.groupby("patient_id")["month"].nunique()
    assert months_per_patient.median() >= 6
    assert not thi.duplicated(["month", "patient_id"]).any()


@pytest.mark.parametrize("key", KEYS)
def test_window_covers_24_before_and_18_after(sims, key):
    df, truth = load(sims, key)
    p = PARAMS["interventions"][key]
    months = sorted(pd.to_datetime(df["month"]).dt.strftime("%Y-%m").unique())
    assert months[0] == p["window"]["start"] and months[-1] == p["window"]["end"]
    for unit, info in truth["units"].items():
        if info["role"] != "intervention":
            continue
        start = month_index(info["phase_starts"][0])
        assert start - month_index(months[0]) >= 24, unit
        assert month_index(months[-1]) - start + 1 >= 18, unit


def test_short_window_is_refused(tmp_path):
    with pytest.raises(ValueError, match="widen the window"):
        simulate("pulmonary_rehab", tmp_path, seed=1, window=("2022-06", "2024-09"),
                 phases=[{"name": "x", "start": "2023-04"}])
    with pytest.raises(ValueError):
        check_window(("2021-04", "2023-06"), ["2023-04"])
    assert not list(tmp_path.iterdir())


def test_unknown_key_is_a_clear_error(tmp_path):
    with pytest.raises(KeyError, match="known: msk_groups, pulmonary_rehab, smoking_advice, "
                                       "thi_month"):
        simulate("weight_management", tmp_path, seed=1, window=("2020-01", "2023-01"),
                 phases=[{"name": "x", "start": "2022-01"}])


def test_truths_are_consistent_with_params(sims):
    for key in KEYS:
        _, truth = load(sims, key)
        p = PARAMS["interventions"][key]
        assert set(truth["outcomes"]) == set(p["outcomes"])
        for name, out in truth["outcomes"].items():
            # Truths exist for the phases params evaluate: after the outcome's measured_from.
            first = p["outcomes"][name].get("measured_from", "0000-00")
            assert [m["phase"] for m in out["marginal_by_phase"]] == [
                ph["name"] for ph in p["phases"] if ph["start"] > first]
    # staggered: each ward's effect starts at its own date
    _, sa = load(sims, "smoking_advice")
    starts = {u: v["phase_starts"][0] for u, v in sa["units"].items()}
    assert starts == PARAMS["interventions"]["smoking_advice"]["unit_starts"]
    assert set(sa["outcomes"]["vba_given"]["marginal_by_phase"][0]["per_unit"]) == set(starts)


def test_comparators_have_zero_effect(sims):
    _, truth = load(sims, "pulmonary_rehab")
    comps = PARAMS["interventions"]["pulmonary_rehab"]["comparator_units"]
    for c in comps:
        assert truth["units"][c]["role"] == "comparator" and truth["units"][c]["phase_starts"] == []
    for out in truth["outcomes"].values():
        for phase in out["marginal_by_phase"]:
            assert phase["comparator_units"]["level_change_logit"] == 0.0
            assert phase["intervention_units"]["all"]["level_change_logit"] > 0.2


def test_quintile_1_effect_larger_for_thi_bbv(sims):
    _, truth = load(sims, "thi_month")
    first = truth["outcomes"]["bbv_test"]["marginal_by_phase"][0]["intervention_units"]
    assert first["imd_quintile_1"]["level_change_logit"] > first["imd_quintile_5"]["level_change_logit"] + 0.2
    cond = truth["flags"]["bbv_tested"]["phases"][0]
    assert cond["imd_quintile_1_extra_level_logit"] > 0
    # The marginal change is the conditional one attenuated/mixed, so the same order of size.
    assert 0.5 * cond["level_change_logit"] < first["all"]["level_change_logit"] < 2 * cond["level_change_logit"] + 0.4
    # The marginal truth agrees with the proportions it was computed from.
    a = first["all"]
    logit = lambda x: np.log(x / (1 - x))  # noqa: E731
    assert a["level_change_logit"] == pytest.approx(
        logit(a["proportion_with"]) - logit(a["proportion_without"]), abs=1e-5)


def _change(df, flag, start, before=12, after=12):
    """Observed proportion in the `after` months from `start` minus the `before` months before."""
    m = pd.to_datetime(df["month"]).dt.to_period("M")
    s = pd.Period(start, "M")
    post = df.loc[(m >= s) & (m < s + after), flag].mean()
    pre = df.loc[(m < s) & (m >= s - before), flag].mean()
    return post - pre


def test_thi_data_carry_the_narrowing_gap(sims):
    thi, _ = load(sims, "thi_month")
    q1 = _change(thi[thi.imd_quintile == 1], "bbv_tested", "2021-09")
    q5 = _change(thi[thi.imd_quintile == 5], "bbv_tested", "2021-09")
    assert q1 > 0.02 and q1 > q5


def test_pulmonary_effect_only_in_intervention_services(sims):
    pr, _ = load(sims, "pulmonary_rehab")
    comps = PARAMS["interventions"]["pulmonary_rehab"]["comparator_units"]
    is_comp = pr["unit"].isin(comps)
    treated = _change(pr[~is_comp], "completed", "2023-04")
    control = _change(pr[is_comp], "completed", "2023-04")
    assert treated > 0.08 and abs(control) < 0.05


def test_smoking_effect_starts_at_each_wards_own_date(sims):
    sa, _ = load(sims, "smoking_advice")
    starts = PARAMS["interventions"]["smoking_advice"]["unit_starts"]
    for ward, start in starts.items():
        w = sa[sa.unit == ward]
        assert _change(w, "vba_given", start, before=6, after=6) > 0.1, ward
    # The last ward has not started at the first ward's date: its jump comes at its own date.
    first, last = min(starts.values()), max(starts, key=starts.get)
    w = sa[sa.unit == last]
    assert (_change(w, "vba_given", starts[last], before=6, after=6)
            > _change(w, "vba_given", first, before=6, after=6) + 0.1)
