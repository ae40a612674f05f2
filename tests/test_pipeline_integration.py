"""The real pipeline, end to end, on a copy of the repository (issue 2's "done when").

Runs `dvc repro` with real DVC, papermill, kernels and nbconvert, then checks reruns,
byte-for-byte reproducibility of the committed reports, a fourth intervention added by params
alone, and the notebook under nbval.
"""

from __future__ import annotations

import hashlib
import json
import sys

import pandas as pd
import pytest
import yaml

from .conftest import ROOT, copy_project, run

pytestmark = pytest.mark.integration
KEYS = ("thi_month", "smoking_advice", "pulmonary_rehab")


def digest_tree(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def repro(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("repro") / "project")
    # Remove every published file but the version histories, which a fresh clone carries
    # and each run extends (pipeline/report/history.py): the repro must write the rest anew.
    for path in sorted((project / "reports").rglob("*"), reverse=True):
        if path.is_file() and path.name != "history.json":
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    run(["dvc", "repro"], cwd=project)
    return project


def test_repro_writes_three_reports_and_the_index(repro):
    for key in KEYS:
        folder = repro / "reports" / key
        for name in ("report.html", "report.ipynb", "metrics.json", "manifest.json"):
            assert (folder / name).is_file(), folder / name
        assert list((folder / "tables").glob("*.csv")) and list((folder / "plots").glob("*.csv"))
    index = (repro / "reports" / "index.html").read_text()
    for key in KEYS:
        assert f'href="{key}/report.html"' in index


def test_committed_reports_are_reproduced_byte_for_byte(repro):
    """A fresh clone's `dvc repro` gives exactly the committed reports (docs/design.md section 6)."""
    assert digest_tree(repro / "reports") == digest_tree(ROOT / "reports")


def test_second_repro_does_nothing(repro):
    out = run(["dvc", "repro"], cwd=repro).stdout
    assert "Running stage" not in out
    assert run(["dvc", "status"], cwd=repro).stdout.strip() in (
        "Data and pipelines are up to date.", "")


def test_forced_repro_is_byte_identical(repro):
    before = digest_tree(repro / "reports")
    run(["dvc", "repro", "--force"], cwd=repro)
    assert digest_tree(repro / "reports") == before


def test_metrics_are_dvc_metrics_with_intervals(repro):
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], cwd=repro).stdout)
    text = json.dumps(shown)
    for key in KEYS:
        assert f"reports/{key}/metrics.json" in text
    metrics = json.loads((repro / "reports" / "thi_month" / "metrics.json").read_text())
    level = metrics["outcomes"]["bbv_test"]["level_change_or@Champions appointed"]
    assert level["ci_low"] < level["estimate"] < level["ci_high"]


def test_nbval_executes_the_evaluation_notebook(repro):
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                  "notebooks/evaluate.ipynb"], cwd=repro, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "passed" in result.stdout and "failed" not in result.stdout


def test_a_fourth_intervention_needs_only_params_and_a_data_file(repro):
    """Add a women-only MSK exercise group evaluation: a params entry and a CSV, no code."""
    source = pd.read_parquet(repro / "data" / "synthetic" / "pulmonary_rehab" / "extract.parquet")
    extract = source[source["unit"].isin(["service_a", "service_b"])].rename(
        columns={"started": "attended", "completed": "finished"})
    extract["month"] = pd.to_datetime(extract["month"]).dt.strftime("%Y-%m")
    raw = repro / "data" / "raw" / "msk_groups"
    raw.mkdir(parents=True)
    extract.to_csv(raw / "extract.csv", index=False)

    params = yaml.safe_load((repro / "params.yaml").read_text())
    params["interventions"]["msk_groups"] = {
        "title": "Women-only MSK exercise groups",
        "question": "Did more referred women attend and finish the programme?",
        "extract": "data/raw/msk_groups/extract.csv",
        "unit_label": "service",
        "window": {"start": "2021-04", "end": "2024-09"},
        "phases": [{"name": "Women-only groups", "start": "2023-04"}],
        "outcomes": {
            "attended": {"label": "Referred women who attended", "numerator": "attended",
                         "denominator": None, "family": "quasibinomial"},
            "finished": {"label": "Referred women who finished", "numerator": "finished",
                         "denominator": None, "family": "quasibinomial", "headline": True},
        },
        "equity": ["imd_quintile", "ethnicity", "age_band"],
    }
    (repro / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = digest_tree(repro / "data" / "raw")

    out = run(["dvc", "repro"], cwd=repro).stdout
    assert "Running stage 'evaluate@msk_groups'" in out
    assert "Running stage 'evaluate@thi_month'" not in out, "other interventions must not rerun"
    assert (repro / "reports" / "msk_groups" / "report.html").is_file()
    assert 'href="msk_groups/report.html"' in (repro / "reports" / "index.html").read_text()
    assert digest_tree(repro / "data" / "raw") == before, "data/raw must never be written"


def test_an_experiment_reruns_one_intervention_and_records_its_history(repro):
    """`dvc exp run -S` on one intervention: only its stages rerun, metrics and history follow."""
    run(["git", "add", "-A"], cwd=repro)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"],
        cwd=repro)
    history_path = repro / "reports" / "pulmonary_rehab" / "history.json"
    versions_before = len(json.loads(history_path.read_text()))
    out = run(["dvc", "exp", "run", "-S",
               "interventions.pulmonary_rehab.its.seasonality=fourier"], cwd=repro).stdout
    assert "Running stage 'evaluate@pulmonary_rehab'" in out
    for other in ("thi_month", "smoking_advice"):
        assert f"Running stage 'evaluate@{other}'" not in out
    shown = run(["dvc", "exp", "show", "--json"], cwd=repro).stdout
    assert "level_change_or@Drop-in sessions and video" in shown
    diff = run(["dvc", "params", "diff", "--json"], cwd=repro).stdout
    assert "interventions.pulmonary_rehab.its.seasonality" in diff
    history = json.loads(history_path.read_text())
    assert len(history) == versions_before + 1
    assert {"key": "its.seasonality", "old": "none", "new": "fourier"} in \
        history[-1]["changes"]["params"]


def test_rendered_reports_print_every_number_for_people(repro):
    """No count without its thousands separator, no scientific notation and no "-0.0" on any
    rebuilt page (issue 11; pipeline/report/page_check.py)."""
    from pipeline.report.page_check import unformatted_numbers

    for key in KEYS:
        page = (repro / "reports" / key / "report.html").read_text(encoding="utf-8")
        assert unformatted_numbers(page) == [], key
