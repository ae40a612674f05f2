"""`python -m pipeline new <key>` (issue 13): a commented params entry that parses and, once
its placeholders are filled in, validates; an empty data dictionary; nothing overwritten."""

from __future__ import annotations

import sys

import yaml

from pipeline import config

from .conftest import ROOT, run


def project(tmp_path):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    return tmp_path


def test_new_appends_a_commented_entry_and_a_data_dictionary(tmp_path):
    root = project(tmp_path)
    before = (root / "params.yaml").read_text()
    out = run([sys.executable, "-m", "pipeline", "new", "msk_self_referral"], cwd=root)
    assert "validate msk_self_referral" in out.stdout
    text = (root / "params.yaml").read_text()
    assert text.startswith(before.rstrip("\n")) and "# Written by `python -m pipeline new" in text
    raw = yaml.safe_load(text)["interventions"]["msk_self_referral"]
    cfg = config.parse_intervention("msk_self_referral", raw, root)   # parses as it stands
    assert cfg.outcomes[0].key == "outcome_1" and cfg.extract.name == "extract.csv"
    page = (root / "docs" / "data-dictionary" / "msk_self_referral.md").read_text()
    assert page.startswith("# msk_self_referral") and "| `outcome_1_flag` | 0/1 |" in page


def test_new_refuses_an_existing_key_and_a_bad_key_without_writing(tmp_path):
    root = project(tmp_path)
    before = (root / "params.yaml").read_text()
    for key, words in (("thi_month", "already has interventions.thi_month"),
                       ("Bad Key", "is not a usable key")):
        out = run([sys.executable, "-m", "pipeline", "new", key], cwd=root, check=False)
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr
    assert (root / "params.yaml").read_text() == before
    assert not (root / "docs").exists()
