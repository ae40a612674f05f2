"""pipeline.atomic, the project's one atomic writer (docs/adr/0035, 0145): a writer that fails
changes nothing already written and leaves no temporary file; a leftover from a killed write
is removed by the next one. The kill-at-every-step checks of the folder swap are in
tests/test_publish_atomic.py; the data stages' in tests/test_data_safety.py."""
from __future__ import annotations

import pytest

from pipeline import atomic


class Refused(Exception):
    pass


def refuse_half_way(path):
    path.write_text("half a fi", encoding="utf-8")
    raise Refused


def test_a_failing_writer_leaves_the_file_as_it_was(tmp_path):
    target = tmp_path / "out" / "table.csv"
    atomic.write_text(target, "old\n")
    with pytest.raises(Refused):
        atomic.write_file(target, refuse_half_way)
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.csv"]


def test_a_killed_writes_leftover_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "index.html"
    atomic.temporary_path(target).write_text("left by a kill", encoding="utf-8")
    atomic.write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


def test_replace_files_renames_nothing_unless_every_writer_succeeds(tmp_path):
    out = tmp_path / "processed" / "key"
    atomic.replace_files(out, {"series.parquet": lambda p: p.write_bytes(b"v1"),
                               "quality.json": lambda p: p.write_text("{}", encoding="utf-8")})
    with pytest.raises(Refused):
        atomic.replace_files(out, {"series.parquet": lambda p: p.write_bytes(b"v2"),
                                   "quality.json": refuse_half_way})
    assert (out / "series.parquet").read_bytes() == b"v1"
    assert (out / "quality.json").read_text(encoding="utf-8") == "{}"
    assert [p.name for p in out.parent.iterdir()] == ["key"]   # no temporary folder left
    atomic.replace_files(out, {"series.parquet": lambda p: p.write_bytes(b"v2")})
    assert (out / "series.parquet").read_bytes() == b"v2"
