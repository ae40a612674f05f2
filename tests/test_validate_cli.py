"""Issue 10: `validate` is the last word. Each kind of broken extract or params, run through the
real commands (`validate`, `prepare`, and `evaluate` where it reaches it) in a small project:
the exit code, a message naming the column, rows or key and the fix, no traceback, and nothing
under data/processed, data/interim or reports/ changed. What `validate` passes, `prepare` and
`evaluate`'s own check pass too (the last tests)."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import sys
from pathlib import Path

import openpyxl
import pytest
import yaml

from pipeline import cli

from .conftest import ROOT, run

EXAMPLES = ROOT / "data" / "examples"
OUTPUT_FOLDERS = ("data/processed", "data/interim", "reports")


# --------------------------------------------------------------------------- a small project
def read_rows(key: str) -> tuple[list[str], list[list[str]]]:
    with open(EXAMPLES / f"{key}.csv", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def csv_bytes(header, rows, sep=",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode()


def make_project(tmp_path: Path, key: str, content: bytes | None = None, name="extract.csv",
                 params=None, data=None) -> Path:
    """params.yaml with one intervention reading data/raw/<key>/<name>; previous outputs in
    data/processed, data/interim and reports, so a test sees whether a command touched them."""
    project = tmp_path / "project"
    raw = project / "data" / "raw" / key
    raw.mkdir(parents=True)
    full = yaml.safe_load((ROOT / "params.yaml").read_text())
    section = full["interventions"][key]
    section["extract"] = f"data/raw/{key}/{name}"
    if section.get("staff_extract"):     # the staff counts example (docs/data-dictionary)
        section["staff_extract"] = f"data/raw/{key}/staff.csv"
        (raw / "staff.csv").write_bytes((ROOT / "data" / "examples" /
                                         f"{key}_staff.csv").read_bytes())
    section.update(params or {})
    if data is not None:
        section["data"] = data
    (project / "params.yaml").write_text(yaml.safe_dump(
        {"disclosure": full["disclosure"], "simulation": {"seed": 1, "interventions": []},
         "interventions": {key: section}}, sort_keys=False))
    (project / "dvc.yaml").write_text("stages: {}\n")
    if content is None:
        content = csv_bytes(*read_rows(key))
    (raw / name).write_bytes(content)
    for folder in OUTPUT_FOLDERS:
        (project / folder / key).mkdir(parents=True)
        (project / folder / key / "previous.txt").write_text("an earlier run's output\n")
    return project


def snapshot(project: Path) -> dict[str, str]:
    files = {}
    for folder in OUTPUT_FOLDERS:
        for p in sorted((project / folder).rglob("*")):
            files[str(p.relative_to(project))] = (
                hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
    return files


def command(project: Path, capsys, monkeypatch, *argv) -> tuple[int, str]:
    """Run ``python -m pipeline <argv>`` in this process (real code, real files)."""
    monkeypatch.setenv("PIPELINE_ROOT", str(project))
    monkeypatch.chdir(project)
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def assert_refused(project, capsys, monkeypatch, key, words, commands=("validate", "prepare"),
                   code=2):
    before = snapshot(project)
    texts = []
    for c in commands:
        exit_code, text = command(project, capsys, monkeypatch, c, key)
        assert exit_code == code, text
        assert "Traceback" not in text and 'File "' not in text, text
        for w in words:
            assert w in text, f"{w!r} not in:\n{text}"
        assert "Fix:" in text or "fix" in text.lower(), text
        assert len(text) < 6000, f"message of {len(text)} characters"
        texts.append(text)
    assert snapshot(project) == before, "a refused command changed an output folder"
    return texts


def with_column(key, name, values) -> bytes:
    header, rows = read_rows(key)
    return csv_bytes(header + [name], [r + [values(i)] for i, r in enumerate(rows)])


def nhs_number(i: int) -> str:
    """A valid NHS number (modulus 11) made from i."""
    while True:
        digits = f"{400000000 + 7919 * i:09d}"
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1)))
        check = (11 - total % 11) % 11
        if check != 10:
            return digits + str(check)
        i += 100003


# --------------------------------------------------------------------------- the catalogue
KEY = "smoking_advice"


def case_nhs_number_column():
    return dict(content=with_column(KEY, "NHS Number", nhs_number)), \
        ["column 'NHS Number'", "NHS numbers", "pseudonymised", "drop_on_read"]


def case_nhs_numbers_as_patient_id():
    header, rows = read_rows(KEY)
    i = header.index("patient_id")
    for n, r in enumerate(rows):
        r[i] = nhs_number(n)
    return dict(content=csv_bytes(header, rows)), \
        ["column 'patient_id'", "NHS numbers, by its values", "drop_on_read"]


def case_postcode_by_content():
    codes = ["LS1 4AP", "M1 1AE", "B33 8TH", "SW1A 1AA", "CR2 6XH"]
    return dict(content=with_column(KEY, "Home", lambda i: codes[i % 5])), \
        ["column 'Home'", "postcodes, by its values", "drop_on_read"]


def case_date_of_birth_by_content():
    return dict(content=with_column(KEY, "Born", lambda i: f"19{40 + i % 50}-0{1 + i % 9}-1{i % 9}")), \
        ["column 'Born'", "dates of birth", "drop_on_read"]


def case_date_of_birth_by_name():
    return dict(content=with_column(KEY, "DOB", lambda i: "")), \
        ["column 'DOB'", "dates of birth, by its name"]


def case_exact_duplicate_rows():
    header, rows = read_rows(KEY)
    return dict(content=csv_bytes(header, rows[:10] + [rows[3]] + rows[10:] + [rows[7]])), \
        ["rows 11, 782 (2 rows)", "11 repeats 4", "duplicate_rows: drop"]


def case_every_row_twice_without_an_id():
    header, rows = read_rows(KEY)
    i = header.index("patient_id")
    header = header[:i] + header[i + 1:]
    rows = [r[:i] + r[i + 1:] for r in rows]
    return dict(content=csv_bytes(header, rows + rows)), \
        ["every distinct row appears an even number of times", "(780 rows)",
         "duplicate_rows: drop"]


def case_future_month():
    header, rows = read_rows(KEY)
    rows[5][0] = "2099-03"
    return dict(content=csv_bytes(header, rows)), \
        ["column 'month', row 6 (1 row)", "value '2099-03' is in the future", "correct the month"]


def case_unit_spelt_otherwise_in_the_data():
    header, rows = read_rows(KEY)
    for r in rows:
        r[1] = {"ward_d": "WARD_D", "ward_e": "Ward E"}.get(r[1], r[1])
    return dict(content=csv_bytes(header, rows)), \
        ["unit_starts names unit 'ward_d'", "did you mean 'WARD_D'?", "did you mean 'Ward E'?",
         "values: {unit: {\"WARD_D\": ward_d}}"]


def case_unit_not_in_the_data():
    return dict(params={"unit_starts": {"ward_a": "2022-03", "ward_f": "2022-05"}}), \
        ["unit_starts names unit 'ward_f', which is not in the data", "ward_a, ward_b"]


def case_unit_start_outside_the_data():
    starts = {"ward_a": "2022-03", "ward_b": "2022-05", "ward_c": "2022-07", "ward_d": "2022-08",
              "ward_e": "2025-01"}
    return dict(params={"unit_starts": starts}), \
        ["unit_starts.ward_e = 2025-01 is outside the months of the data (2020-01 to 2024-04",
         "correct the date"]


def case_treated_unit_without_pre_period():
    header, rows = read_rows(KEY)
    rows = [r for r in rows if not (r[1] == "ward_a" and r[0] < "2022-03")]
    return dict(content=csv_bytes(header, rows), data={"quirks": {"missing_months": "list"}}), \
        ["ward with the intervention 'ward_a' has 0 month(s) with records before its start 2022-03",
         "unit_starts.ward_a", "at least 3"]


def case_decile_mapped_as_quintile():
    header, rows = read_rows(KEY)
    header[header.index("imd_quintile")] = "imd_decile"
    return dict(content=csv_bytes(header, rows), data={"columns": {"imd_quintile": "imd_decile"}}), \
        ["column 'imd_decile'", "its name says decile", "imd_quintile: imd_decile"]


def case_long_line():
    header, rows = read_rows(KEY)
    rows[6][1] = "x" * 5_000_000
    return dict(content=csv_bytes(header, rows)), \
        ["line 8 of the file (data row 7) is 5,000,0", "at most 2,000,000", "free-text"]


def case_huge_cell():
    header, rows = read_rows(KEY)
    rows[2][0] = "y" * 1_500_000
    return dict(content=csv_bytes(header, rows)), \
        ["column 'month', row 3 (1 row)", "(1,500,000 characters)", "is not a month"]


def case_identifier_as_unit():
    return dict(data={"columns": {"unit": "patient_id"}}), \
        ["column 'patient_id'", "780 distinct units", "is the unit column an identifier?"]


def case_latin1():
    header, rows = read_rows(KEY)
    rows[0][1] = "St Mary\xe9s"
    return dict(content=csv_bytes(header, rows).decode().encode("latin-1")), \
        ["is not UTF-8 text", "encoding: latin-1"]


def case_compressed():
    return dict(content=b"\x1f\x8b\x08\x00" + b"\x00" * 40, name="extract.csv.gz"), \
        ["is a compressed file ('.gz')", "decompress it"]


def case_gzip_named_csv():
    return dict(content=b"\x1f\x8b\x08\x00" + b"\x00" * 40), \
        ["it is a gzip-compressed file", "extension"]


def case_xlsx_named_csv():
    return dict(content=b"PK\x03\x04" + b"\x00" * 64), ["it is a zip file", "extension"]


def case_totals_row():
    header, rows = read_rows(KEY)
    total = ["Total", "", "", "", "", "", "", "312", "101"]
    return dict(content=csv_bytes(header, rows + [total])), \
        ["column 'month', row 781 (1 row)", "'Total' is not a month"]


def case_codes_outside_the_dictionary():
    header, rows = read_rows(KEY)
    rows[1][header.index("sex")] = "F"
    rows[2][header.index("ethnicity")] = "White British"
    return dict(content=csv_bytes(header, rows)), \
        ["column 'sex', row 2 (1 row)", "nhs_sex_code", "column 'ethnicity', row 3 (1 row)",
         "'White British' is not an NHS ethnic group"]


def case_empty_file():
    return dict(content=b""), ["file is empty", "export the extract again"]


def case_header_only():
    header, _ = read_rows(KEY)
    return dict(content=csv_bytes(header, [])), ["the file has a header but no data rows"]


def case_patient_id_mapping():
    return dict(data={"columns": {"patient_id": "patient_id"}}), \
        ["data.columns: patient_id is never read", "remove it from columns:"]


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_refused_with_a_clear_message_and_nothing_changed(tmp_path, capsys, monkeypatch, kind):
    setup, words = CASES[kind]()
    project = make_project(tmp_path, KEY, **setup)
    assert_refused(project, capsys, monkeypatch, KEY, words)


def test_symlink_loop(tmp_path, capsys, monkeypatch):
    project = make_project(tmp_path, KEY)
    loop = project / "data" / "raw" / KEY / "loop.csv"
    os.symlink(loop.name, loop)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["interventions"][KEY]["extract"] = f"data/raw/{KEY}/loop.csv"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert_refused(project, capsys, monkeypatch, KEY, ["loop.csv", "symbolic link that loops"])


def test_extract_inside_the_output_folder(tmp_path, capsys, monkeypatch):
    project = make_project(tmp_path, KEY)
    inside = project / "data" / "processed" / KEY / "extract.csv"
    shutil.copy(project / "data" / "raw" / KEY / "extract.csv", inside)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["interventions"][KEY]["extract"] = f"data/processed/{KEY}/extract.csv"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert_refused(project, capsys, monkeypatch, KEY,
                   [f"the extract is inside {project}/data/processed/{KEY}",
                    f"move it to data/raw/{KEY}/"])


def test_comparator_unit_with_no_rows(tmp_path, capsys, monkeypatch):
    project = make_project(tmp_path, "pulmonary_rehab", params={
        "comparator_units": ["comparator_1", "comparator_2", "comparator_4"]})
    assert_refused(project, capsys, monkeypatch, "pulmonary_rehab",
                   ["comparator_units names unit 'comparator_4', which is not in the data"])


def test_reporting_lag_with_a_future_month_is_refused_not_counted_back_from(tmp_path, capsys,
                                                                              monkeypatch):
    header, rows = read_rows(KEY)
    rows.append(["2099-01", *rows[0][1:2], "EXAMPLE-99999", *rows[0][3:]])
    project = make_project(tmp_path, KEY, content=csv_bytes(header, rows),
                           data={"quirks": {"reporting_lag_months": 1}})
    assert_refused(project, capsys, monkeypatch, KEY, ["row 781 (1 row)", "in the future"])


# --------------------------------------------------------------------------- what passes runs
def test_reporting_lag_drops_the_extracts_last_month(tmp_path, capsys, monkeypatch):
    project = make_project(tmp_path, KEY, params={"window": {"start": "2020-01", "end": "2024-12"}},
                           data={"quirks": {"reporting_lag_months": 1}})
    code, text = command(project, capsys, monkeypatch, "prepare", KEY)
    assert code == 0, text
    quality = yaml.safe_load((project / "data" / "processed" / KEY / "quality.json").read_text())
    assert quality["reporting_lag"]["dropped_months"] == ["2024-04"]
    assert quality["series_window"]["end"] == "2024-03"


def test_drop_on_read_and_duplicate_rows_drop_run_through(tmp_path, capsys, monkeypatch):
    header, rows = read_rows(KEY)
    rows = [r + [nhs_number(i)] for i, r in enumerate(rows)]
    rows.append(list(rows[3]))
    project = make_project(tmp_path, KEY, content=csv_bytes(header + ["NHS Number"], rows),
                           data={"drop_on_read": ["NHS Number"],
                                 "quirks": {"duplicate_rows": "drop"}})
    code, text = command(project, capsys, monkeypatch, "validate", KEY)
    assert code == 0 and "design in params.yaml fits the data" in text, text
    code, text = command(project, capsys, monkeypatch, "prepare", KEY)
    assert code == 0, text
    out = project / "data" / "processed" / KEY
    quality = yaml.safe_load((out / "quality.json").read_text())
    assert quality["duplicate_rows_dropped"] == 1 and quality["dropped_on_read"] == ["NHS Number"]
    assert quality["rows_read"] == 780 and "NHS Number" not in quality["ignored_columns"]
    assert nhs_number(5) not in (out / "quality.json").read_text()


def test_evaluate_refuses_with_the_words_validate_uses(tmp_path, capsys, monkeypatch):
    project = make_project(tmp_path, KEY)
    code, text = command(project, capsys, monkeypatch, "prepare", KEY)
    assert code == 0, text
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["interventions"][KEY]["unit_starts"]["Ward_A "] = params["interventions"][KEY][
        "unit_starts"].pop("ward_a")
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    validate_text, evaluate_text = assert_refused(
        project, capsys, monkeypatch, KEY, ["did you mean 'ward_a'?"], ("validate", "evaluate"))
    message = evaluate_text.removeprefix("error: ").strip()
    assert message in validate_text


def test_evaluate_before_prepare_says_what_to_run(tmp_path, capsys, monkeypatch):
    project = make_project(tmp_path, KEY)
    assert_refused(project, capsys, monkeypatch, KEY,
                   ["no prepared series", f"python -m pipeline prepare {KEY}"], ("evaluate",))


def test_an_unexpected_error_says_where_to_look(tmp_path, capsys, monkeypatch):
    project = make_project(tmp_path, KEY)
    assert command(project, capsys, monkeypatch, "prepare", KEY)[0] == 0
    (project / "data" / "processed" / KEY / "quality.json").write_text("{not json")
    code, text = command(project, capsys, monkeypatch, "evaluate", KEY)
    assert code == 3 and "Traceback" not in text and "JSONDecodeError" in text, text
    saved = Path(text.split("saved in ")[1].split(";")[0])
    assert "Traceback" in saved.read_text()
    saved.unlink()


@pytest.mark.parametrize("key", ["smoking_advice", "pulmonary_rehab"])
def test_examples_pass_validate_and_the_design_check(tmp_path, capsys, monkeypatch, key):
    project = make_project(tmp_path, key)
    code, text = command(project, capsys, monkeypatch, "validate", key)
    assert code == 0 and "fits the data" in text, text


def test_thi_month_example_is_too_small_for_one_model_and_validate_says_so(tmp_path, capsys,
                                                                           monkeypatch):
    """The 576-row sample has hepatitis C positives in only 1 month of the first phase: the
    referral model cannot be fitted, and validate (not the notebook) says so."""
    project = make_project(tmp_path, "thi_month")
    assert_refused(project, capsys, monkeypatch, "thi_month",
                   ["outcome 'hcv_referral': the model cannot be fitted", "segment 'Champions appointed'", "has 1 fitted month(s)",
                    "at least 3 per segment"])


def test_a_pipeline_error_inside_the_notebook_is_one_paragraph(tmp_path):
    """Real papermill run: the notebook fails on a bad disclosure section (read only there);
    the CLI prints the pipeline's message, no traceback, and publishes nothing."""
    project = make_project(tmp_path, KEY)
    (project / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "evaluate.ipynb", project / "notebooks" / "evaluate.ipynb")
    run([sys.executable, "-m", "pipeline", "prepare", KEY], cwd=project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["disclosure"]["round_to"] = 0
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    before = snapshot(project)
    result = run([sys.executable, "-m", "pipeline", "evaluate", KEY], cwd=project, check=False)
    text = result.stdout + result.stderr
    assert result.returncode == 2, text
    assert "disclosure.round_to = 0 should be a whole number >= 1" in text, text
    assert "Traceback" not in text and "-----" not in text and len(text) < 1000, text
    after = snapshot(project)
    assert {k: v for k, v in after.items() if "staging" not in k} == before


def test_notebook_shows_a_pipeline_error_without_a_traceback():
    from pipeline.config import ConfigError
    from pipeline.errors import message_from_notebook_error

    lines = ConfigError("params.yaml: x = 1 is wrong. Fix: y.")._render_traceback_()
    assert lines == ["error: params.yaml: x = 1 is wrong. Fix: y."]
    assert message_from_notebook_error("ConfigError", lines) == "params.yaml: x = 1 is wrong. Fix: y."
    assert message_from_notebook_error("KeyError", ["Traceback ...", "KeyError: 'x'"]) is None


def test_excel_decile_column_recoded_on_read(tmp_path, capsys, monkeypatch):
    header, rows = read_rows(KEY)
    book = openpyxl.Workbook()
    sheet = book.active
    header[header.index("imd_quintile")] = "IMD Decile"
    sheet.append(header)
    for r in rows:
        r[3] = str(int(r[3]) * 2)       # quintile q -> decile 2q (recoded back to q)
        sheet.append(r)
    buffer = io.BytesIO()
    book.save(buffer)
    project = make_project(tmp_path, KEY, content=buffer.getvalue(), name="extract.xlsx",
                           data={"columns": {"imd_quintile": "IMD Decile"},
                                 "values": {"imd_quintile": "imd_decile"}})
    code, text = command(project, capsys, monkeypatch, "prepare", KEY)
    assert code == 0, text
    quality = yaml.safe_load((project / "data" / "processed" / KEY / "quality.json").read_text())
    assert quality["strata"]["imd_quintile"] == ["1", "2", "3", "4", "5"]


def test_the_readme_data_mapping_reads_a_real_extract(tmp_path, capsys, monkeypatch):
    """The README's bring-your-own-extract `data:` section, applied to the pulmonary_rehab
    example written the way the README describes the service's workbook."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Pointing an intervention at your own extract"):]
    block = section[section.index("```yaml") + 7: section.index("```", section.index("```yaml") + 7)]
    data = yaml.safe_load(block)["pulmonary_rehab"]["data"]
    header, rows = read_rows("pulmonary_rehab")
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    sheet = book.create_sheet("Referrals")
    sheet.append(["Referral Month", "Service", "NHS Number", "IMD Decile", "Ethnic Category",
                  "Gender", "Age Group", "Started PR", "Completed PR"])
    for i, r in enumerate(rows):
        month, unit, _, imd, ethnicity, sex, age, started, completed = r
        sheet.append([f"0{1 + i % 9}/{month[5:]}/{month[:4]}", "PR North" if unit == "service_a" else unit,
                      nhs_number(i), str(int(imd) * 2 - i % 2), ethnicity,
                      {"Female": "2", "Male": "1"}.get(sex, "9"), age, started, completed])
    buffer = io.BytesIO()
    book.save(buffer)
    project = make_project(tmp_path, "pulmonary_rehab", content=buffer.getvalue(),
                           name="referrals.xlsx", data=data)
    code, text = command(project, capsys, monkeypatch, "validate", "pulmonary_rehab")
    assert code == 0 and "fits the data" in text, text
    code, text = command(project, capsys, monkeypatch, "prepare", "pulmonary_rehab")
    assert code == 0, text
    quality = yaml.safe_load((project / "data/processed/pulmonary_rehab/quality.json").read_text())
    assert quality["rows_used"] == 630 and "service_a" in quality["units"]
