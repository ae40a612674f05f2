"""Version history grows only when the version changes (pipeline/report/history.py)."""

from __future__ import annotations

import json

from pipeline.report import history


def manifest(version, seasonality="none", code="c1", data="d1"):
    return {"version": version, "code": {"sha256": code},
            "params": {"values": {"its": {"seasonality": seasonality}}},
            "inputs": {"data/processed/x/series.parquet": data},
            "packages": {"statsmodels": "0.15.0"}}


def test_same_version_leaves_history_unchanged():
    first = history.updated([], manifest("v1"), {"or": 1.3})
    assert history.updated(first, manifest("v1"), {"or": 1.3}) is first
    assert history.describe(first[0]) == "First version."


def test_new_version_records_what_changed():
    h = history.updated([], manifest("v1"), {"or": {"estimate": 1.3}})
    h = history.updated(h, manifest("v2", seasonality="fourier", data="d2"),
                        {"or": {"estimate": 1.25}})
    assert [r["number"] for r in h] == [1, 2]
    change = h[1]["changes"]
    assert change["params"] == [{"key": "its.seasonality", "old": "none", "new": "fourier"}]
    assert change["inputs"][0]["key"] == "data/processed/x/series.parquet"
    assert not change["code_changed"]
    text = history.describe(h[1])
    assert "its.seasonality 'none' → 'fourier'" in text
    assert "headline: or.estimate 1.3 → 1.25" in text


def test_dumps_does_not_depend_on_key_order():
    """The same history built from dicts in another key order is written to the same text,
    keys sorted, indented, UTF-8 kept as characters and a final newline."""
    a = history.dumps(history.updated([], manifest("v1"), {"b": 1, "a": "→"}))
    b = history.dumps(history.updated([], manifest("v1"), {"a": "→", "b": 1}))
    assert a == b and a.endswith("}\n]\n") and "→" in a
    keys = [k for k in json.loads(a, object_pairs_hook=lambda pairs: [p[0] for p in pairs])[0]]
    assert keys == sorted(keys)
