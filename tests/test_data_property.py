"""Issue 6, property: random corruption of a good extract never crashes with a traceback (only
ExtractError, each problem with a fix) and never writes an output unless the file is still valid."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.data import ExtractError, prepare

OUTCOMES = {"started": ("started", None), "completed": ("completed", "started")}
DIMS = ["imd_quintile", "ethnicity", "sex", "age_band"]
WINDOW = ("2023-01", "2023-03")
HEADER = ["month", "unit", "patient_id", "imd_quintile", "ethnicity", "sex", "age_band",
          "started", "completed"]
ROWS = [[f"2023-0{1 + i % 3}", f"s{i % 2}", f"p{i}", str(1 + i % 5),
         ["White", "Asian", "Black"][i % 3], ["Female", "Male"][i % 2],
         ["18-34", "65+"][i % 2], str(i % 2), "0"] for i in range(12)]

cell_text = st.one_of(st.text(max_size=12), st.sampled_from(
    ["", " ", "NULL", "-1", "2", "1.5", "6", "2023-13", "44927", "01/02/2023", "Sept 2023", '"',
     ",", "\n", "\ufeff", "month", "é", "\x00", "1e9", "nan"]))


@st.composite
def corruptions(draw):
    rows = [list(r) for r in ROWS]
    header = list(HEADER)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cell", "cell", "cell", "drop_row", "dup_row", "header",
                                     "drop_column", "blank_row"]))
        if kind == "cell" and rows:
            rows[draw(st.integers(0, len(rows) - 1))][draw(st.integers(0, len(header) - 1))] = \
                draw(cell_text)
        elif kind == "drop_row" and rows:
            rows.pop(draw(st.integers(0, len(rows) - 1)))
        elif kind == "dup_row" and rows:
            rows.append(list(rows[draw(st.integers(0, len(rows) - 1))]))
        elif kind == "header":
            header[draw(st.integers(0, len(header) - 1))] = draw(cell_text)
        elif kind == "drop_column" and len(header) > 1:
            j = draw(st.integers(0, len(header) - 1))
            header.pop(j)
            rows = [r[:j] + r[j + 1:] for r in rows]
        elif kind == "blank_row":
            rows.insert(draw(st.integers(0, len(rows))), [""] * len(header))
    data = ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode("utf-8", "surrogatepass")
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    noise = draw(st.one_of(st.none(), st.binary(min_size=1, max_size=8)))
    if noise:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + noise + data[at:]
    suffix = draw(st.sampled_from([".csv", ".csv", ".csv", ".parquet", ".xlsx"]))
    return data, suffix


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corruptions(), st.sampled_from([{}, {"quirks": {"missing_months": "list"}},
                                       {"quirks": {"reporting_lag_months": 1}}]))
def test_random_corruption_never_crashes_and_never_writes(case, options):
    data, suffix = case
    tmp = Path(tempfile.mkdtemp())
    try:
        src = tmp / "raw" / f"extract{suffix}"
        src.parent.mkdir()
        src.write_bytes(data)
        out = tmp / "out"
        try:
            quality = prepare(src, out, outcomes=OUTCOMES, dimensions=DIMS, window=WINDOW,
                              options=options)
        except ExtractError as exc:
            assert exc.problems and all(p.fix for p in exc.problems)
            assert "Fix:" in str(exc)
            assert not out.exists()
        else:
            assert sorted(p.name for p in out.iterdir()) == ["quality.json", "series.parquet"]
            assert quality["rows_used"] > 0
        assert src.read_bytes() == data
        assert sorted(p.name for p in src.parent.iterdir()) == [src.name]
    finally:
        shutil.rmtree(tmp)
