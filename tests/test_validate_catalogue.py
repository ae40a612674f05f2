"""Issue 6: a catalogue of bad inputs, each with the message a person gets (file, column, rows,
fix), all problems at once, nothing written; and the good-but-awkward inputs NHS extracts come
in (BOM, Latin-1, Excel dates and sheets, blank rows, a service's own column names)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.data import ExtractError, check_extract, prepare, validate_extract
from pipeline.data.options import OptionsError, parse_options

OUTCOMES = {"started": ("started", None), "completed": ("completed", "started")}
DIMS = ["imd_quintile", "ethnicity", "sex", "age_band"]
WINDOW = ("2023-01", "2023-03")
HEADER = ["month", "unit", "patient_id", "imd_quintile", "ethnicity", "sex", "age_band",
          "started", "completed"]
GOOD = ["2023-01", "s1", "p1", "1", "White", "Female", "65+", "1", "0"]


def good_rows(n: int = 6) -> list[list[str]]:
    """n rows covering every month of WINDOW for unit s1."""
    months = ["2023-01", "2023-02", "2023-03"]
    return [[months[i % 3], GOOD[1], f"p{i + 1}", *GOOD[3:]] for i in range(n)]


def csv_text(rows, header=HEADER, sep=",") -> str:
    return "\n".join(sep.join(r) for r in [header, *rows]) + "\n"


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / "raw" / name
    path.parent.mkdir(exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def check(path, **kw):
    args = dict(outcomes=OUTCOMES, dimensions=DIMS, window=WINDOW)
    args.update(kw)
    return check_extract(path, **args)


def problems_of(path, **kw) -> ExtractError:
    with pytest.raises(ExtractError) as info:
        check(path, **kw)
    return info.value


def with_row(i: int, **values) -> list[list[str]]:
    rows = good_rows()
    for k, v in values.items():
        rows[i - 1][HEADER.index(k)] = v
    return rows


# id, file name, content, column (None: file-level), row text, message words, fix words
CATALOGUE = [
    ("bom_and_imd_7", "bom.csv", "\ufeff" + csv_text(with_row(2, imd_quintile="7")),
     "imd_quintile", "row 2 (1 row)", "value 7 is not an IMD quintile (1-5): deciles?",
     "ceil(d / 2)"),
    ("latin1_without_option", "latin1.csv",
     csv_text([[*r[:1], "St Mary\xe9s", *r[2:]] for r in good_rows()]).encode("latin-1"),
     None, "", "is not UTF-8 text", "encoding: latin-1"),
    ("utf16_without_option", "utf16.csv", csv_text(good_rows()).encode("utf-16"), None, "",
     "is not a text (CSV) file", "CSV UTF-8"),
    ("excel_serial_month", "serial.csv", csv_text(with_row(4, month="44927")), "month",
     "row 4 (1 row)", "value 44927 is an Excel date serial number",
     "44927 is 2023-01-01"),
    ("uk_dates", "uk.csv", csv_text(with_row(1, month="01/02/2023")), "month", "row 1 (1 row)",
     "'01/02/2023' is not a month in YYYY-MM or ISO form", 'date_format: "%d/%m/%Y"'),
    ("mixed_types_in_flag", "mixed.csv", csv_text(with_row(3, started="yes")), "started",
     "row 3 (1 row)", "'yes' is not a 0/1 flag", "write 0 (no) or 1 (yes)"),
    ("text_in_imd", "mixedimd.csv", csv_text(with_row(5, imd_quintile="Q1")), "imd_quintile",
     "row 5 (1 row)", "'Q1' is not an IMD quintile", "recode to 1"),
    ("nhs_ethnic_code", "eth.csv", csv_text(with_row(2, ethnicity="A")), "ethnicity",
     "row 2 (1 row)", "'A' is not an NHS ethnic group", "nhs_ethnic_category"),
    ("age_band_unknown", "age.csv", csv_text(with_row(6, age_band="70-79")), "age_band",
     "row 6 (1 row)", "'70-79' is not an allowed age band", "age_bands"),
    ("blank_unit", "unit.csv", csv_text(with_row(2, unit="  ")), "unit", "row 2 (1 row)",
     "value is blank", "fill in the unit"),
    ("duplicated_header_row", "twice.csv", csv_text(good_rows()[:3] + [HEADER] + good_rows()[:3]),
     None, "row 4 (1 row)", "the header row is repeated inside the file", "delete the repeated"),
    ("duplicated_column", "dupcol.csv", csv_text(good_rows(), HEADER[:-1] + ["started"]),
     "started", "", "the column name appears more than once", "rename or remove"),
    ("not_a_table", "notes.csv", "Notes about the extract\nIt was pulled on Monday\n", None, "",
     "does not look like a table: one column only", "header row"),
    ("html_saved_as_csv", "page.csv", "<html><body><p>Session expired</p></body></html>\n",
     None, "", "does not look like a table", "header row"),
    ("xlsx_named_csv", "book.csv", b"PK\x03\x04" + b"\x00" * 64, None, "",
     "is not a text (CSV) file: it is a zip file (an Excel .xlsx workbook?)", "extension"),
    ("parquet_named_csv", "pq.csv", b"PAR1" + b"\x00" * 64, None, "", "it is a Parquet file",
     "extension"),
    ("pdf_named_xlsx", "report.xlsx", b"%PDF-1.4 ...", None, "",
     "could not be read as an Excel workbook", "save it as .xlsx"),
    ("old_xls", "old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 64, None, "",
     "old-style Excel .xls", "save it as .xlsx"),
    ("month_outside_data", "gap.csv", csv_text([r for r in good_rows() if r[0] != "2023-02"]),
     "month", "", "unit 's1' has no records in 1 month of the window (2023-02)",
     "missing_months: list"),
    ("num_over_den", "nd.csv", csv_text(with_row(1, started="0", completed="1")), "completed",
     "row 1 (1 row)", "numerator is 1 where the denominator 'started' is 0", "set 'started' to 1"),
]


@pytest.mark.parametrize("case", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_catalogue(tmp_path, case):
    _, name, content, column, where, message, fix = case
    path = write(tmp_path, name, content)
    error = problems_of(path)
    text = str(error)
    lines = [ln for ln in text.splitlines()[1:] if message in ln]
    assert lines, text
    line = lines[0]
    assert str(path) in line and "Fix:" in line and fix in line, text
    if column:
        assert f"column '{column}'" in line, text
    assert where in line, text
    # nothing written anywhere near the input; the input itself unchanged
    assert sorted(p.name for p in path.parent.iterdir()) == [name]


def test_every_problem_of_a_file_at_once(tmp_path):
    rows = good_rows(9)
    rows[0][HEADER.index("imd_quintile")] = "0"
    rows[1][HEADER.index("month")] = "Sept 2023"
    rows[2][HEADER.index("sex")] = "F"
    rows[3][HEADER.index("started")] = "-1"
    rows[4][HEADER.index("ethnicity")] = ""
    path = write(tmp_path, "many.csv", csv_text(rows))
    error = problems_of(path)
    found = {(p.column, p.rows) for p in error.problems}
    assert {("imd_quintile", (1,)), ("month", (2,)), ("sex", (3,)), ("started", (4,)),
            ("ethnicity", (5,))} <= found, str(error)


def test_row_numbers_are_right_far_into_a_big_csv(tmp_path):
    rows = good_rows(60_000)
    rows[54_321][HEADER.index("imd_quintile")] = "9"
    path = write(tmp_path, "big.csv", csv_text(rows))
    error = problems_of(path)
    assert error.problems[0].rows == (54_322,), str(error)


# --------------------------------------------------------------------------- awkward but good
def test_bom_blank_lines_and_blank_rows_are_fine(tmp_path):
    rows = good_rows()
    text = "\ufeff" + csv_text(rows[:3]) + "\n\n" + "\n".join(",".join(r) for r in rows[3:])
    text += "\n" + ",,,,,,,," + "\n" + ",,,,,,,," + "\n"
    path = write(tmp_path, "ok.csv", text)
    table, quality = check(path)
    assert quality["rows_read"] == 8 and quality["blank_rows_skipped"] == 2
    assert quality["rows_used"] == 6
    plain = write(tmp_path, "plain.csv", csv_text(rows))
    assert check(plain)[0].equals(table)


def test_semicolons_and_tabs_are_detected(tmp_path):
    plain = check(write(tmp_path, "plain.csv", csv_text(good_rows())))[0]
    assert check(write(tmp_path, "semi.csv", csv_text(good_rows(), sep=";")))[0].equals(plain)
    assert check(write(tmp_path, "tab.csv", csv_text(good_rows(), sep="\t")))[0].equals(plain)


def test_latin1_with_the_encoding_option(tmp_path):
    rows = [[r[0], "St Mary\xe9s", *r[2:]] for r in good_rows()]
    path = write(tmp_path, "latin1.csv", csv_text(rows).encode("latin-1"))
    table, quality = check(path, options={"encoding": "latin-1"})
    assert set(table["unit"].to_pylist()) == {"St Mary\xe9s"}


def test_a_services_own_names_codes_and_dates(tmp_path):
    header = ["Activity Month", "Service", "NHS Number", "IMD Quintile", "Ethnic Category",
              "Gender", "Age Group", "Started PR", "Completed PR"]
    rows = [[m, "North", "943 476 5919", "1", "A", "2", "65+", "1", "1"]
            for m in ("01/01/2023", "15/02/2023", "31/03/2023")]
    path = write(tmp_path, "service.csv", csv_text(rows, header))
    options = {"columns": {"month": "Activity Month", "unit": "Service",
                           "imd_quintile": "IMD Quintile", "ethnicity": "Ethnic Category",
                           "sex": "Gender", "age_band": "Age Group", "started": "Started PR",
                           "completed": "Completed PR"},
               "date_format": "%d/%m/%Y",
               "values": {"ethnicity": "nhs_ethnic_category", "sex": "nhs_sex_code"}}
    error = problems_of(path, options=options)          # NHS numbers: refused by default
    assert "column 'NHS Number'" in str(error) and "drop_on_read" in str(error)
    assert "943 476 5919" not in str(error)
    options["drop_on_read"] = ["NHS Number"]             # ... or named, and never read
    table, quality = check(path, options=options)
    assert quality["dropped_on_read"] == ["NHS Number"] and "NHS Number" not in quality["ignored_columns"]
    s = table.to_pandas()
    assert set(s.loc[s.dimension == "ethnicity", "stratum"]) == {"White"}
    assert set(s.loc[s.dimension == "sex", "stratum"]) == {"Female"}
    assert s.loc[(s.dimension == "all") & (s.outcome == "completed"), "numerator"].tolist() == [1, 1, 1]
    assert quality["columns"]["month"] == "Activity Month"
    assert "943 476 5919" not in str(quality) and "943 476 5919" not in str(s.values)


def test_missing_mapped_column_names_the_mapping(tmp_path):
    path = write(tmp_path, "x.csv", csv_text(good_rows()))
    error = problems_of(path, options={"columns": {"unit": "Service"}})
    assert "column 'Service'" in str(error) and "mapped from 'unit'" in str(error)


def test_case_mismatch_suggests_the_rename(tmp_path):
    header = [h.upper() if h == "sex" else h for h in HEADER]
    path = write(tmp_path, "x.csv", csv_text(good_rows(), header))
    error = problems_of(path)
    assert "rename 'SEX' to 'sex'" in str(error)


def excel(tmp_path: Path, name="x.xlsx", sheets=None, dates=True) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in (sheets or {"Sheet1": None}).items():
        ws = book.create_sheet(title)
        ws.append(HEADER)
        for r in rows if rows is not None else good_rows():
            month = dt.datetime.strptime(r[0], "%Y-%m") if dates else r[0]
            ws.append([month, r[1], r[2], int(r[3]), *r[4:7], int(r[7]), int(r[8])])
    path = tmp_path / "raw" / name
    path.parent.mkdir(exist_ok=True)
    book.save(path)
    return path


def test_excel_with_real_dates_and_numbers(tmp_path):
    csv_path = write(tmp_path, "same.csv", csv_text(good_rows()))
    assert check(excel(tmp_path))[0].equals(check(csv_path)[0])


def test_excel_named_sheet_and_missing_sheet(tmp_path):
    bad = good_rows()
    bad[2][HEADER.index("imd_quintile")] = "8"
    path = excel(tmp_path, sheets={"Notes": [], "Extract": bad})
    error = problems_of(path, options={"sheet": "Extract"})
    assert "row 3 (1 row)" in str(error) and "imd_quintile" in str(error)
    error = problems_of(path, options={"sheet": "Data"})
    assert "has no sheet named 'Data' (it has ['Notes', 'Extract'])" in str(error)
    assert check(excel(tmp_path, "y.xlsx", {"A": None, "B": None}), options={"sheet": 1})


def test_parquet_typed_columns(tmp_path):
    df = pd.DataFrame(good_rows(), columns=HEADER)
    df["month"] = pd.to_datetime(df["month"])
    for c in ("imd_quintile", "started", "completed"):
        df[c] = df[c].astype("int8")
    df.loc[4, "completed"] = 3
    path = tmp_path / "x.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    error = problems_of(path)
    assert "column 'completed', row 5 (1 row): value 3 is not a 0/1 flag" in str(error)


def test_validate_writes_nothing_and_returns_quality(tmp_path):
    path = write(tmp_path, "ok.csv", csv_text(good_rows()))
    quality = validate_extract(path, outcomes=OUTCOMES, dimensions=DIMS, window=WINDOW)
    assert quality["rows_used"] == 6
    assert sorted(p.name for p in path.parent.iterdir()) == ["ok.csv"]


def test_prepare_refuses_to_write_into_the_inputs_folder(tmp_path):
    path = write(tmp_path, "ok.csv", csv_text(good_rows()))
    with pytest.raises(ExtractError, match="inside .* the folder prepare writes its outputs into"):
        prepare(path, path.parent, outcomes=OUTCOMES, dimensions=DIMS, window=WINDOW)


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize("raw, words", [
    ({"format": "wide"}, "data.format = 'wide'; allowed values are ['records', 'monthly']"),
    ({"colums": {}}, "unknown key(s) ['colums']"),
    ({"columns": {"month": 3}}, "data.columns.month = 3 should be the file's column name"),
    ({"columns": {"nhs_number": "NHS"}}, "'nhs_number' is not a column this records extract uses"),
    ({"columns": {"month": "M", "unit": "M"}}, "mapped twice"),
    ({"encoding": "ebcdic"}, "data.encoding = 'ebcdic'"),
    ({"date_format": "dd/mm/yyyy"}, "should be a strptime format"),
    ({"values": {"sex": "nhs_gender"}}, "built-in recodings are"),
    ({"quirks": {"reporting_lag_months": -1}}, "reporting_lag_months = -1 should be a whole number"),
    ({"quirks": {"disruption": {"start": "2020-03", "end": "2020-01"}}}, "is before start"),
    ({"quirks": {"disruption": {"start": "2020-03", "end": "2021-03", "handling": "drop"}}},
     "handling = 'drop'; allowed values are ['exclude', 'model']"),
    ({"quirks": {"coding_change": "April 2022"}}, "coding_change = 'April 2022' is not a month"),
    ({"quirks": {"missing_months": "fill"}}, "missing_months = 'fill'"),
    ({"quirks": {"small_units": {"min_records": "ten"}}}, "min_records = 'ten'"),
])
def test_bad_options_name_the_key(raw, words):
    with pytest.raises(OptionsError) as info:
        parse_options(raw, outcomes=OUTCOMES, dimensions=DIMS)
    assert words in str(info.value)
    assert str(info.value).startswith("params.yaml: data")


def test_defaults():
    options = parse_options({}, outcomes=OUTCOMES, dimensions=DIMS)
    assert options.format == "records" and options.quirks.missing_months == "error"
    assert options.quirks.reporting_lag_months == 0 and options.quirks.small_units.min_records == 0
