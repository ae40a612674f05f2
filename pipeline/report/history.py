"""A report's version history, kept without a clock or git so reruns stay byte-identical.

``reports/<key>/history.json`` is a persisted DVC output (``persist: true``): each run reads
it and appends an entry only when the report's version (manifest hash) differs from the last
one. An entry records what changed against the version before it: params (key by key), input
hashes, the code hash, and the headline metrics. A forced rerun with nothing changed leaves the
file as it was.

The next version's history is written into the staged report folder, built from the previous
one read here; the folder is then swapped in whole (pipeline.atomic), so a kill at any point
leaves either the old history or the old one plus the new entry. ``load`` first recovers the
report folder from an interrupted swap, and refuses to start the numbering again
when a published report has lost its history.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline import atomic
from pipeline.errors import PipelineError


class HistoryLost(PipelineError):
    """A published report has no history.json: numbering again from 1 would erase the record."""


def _flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def diff_dicts(old: dict, new: dict) -> list[dict]:
    """Changed, added and removed leaves of two nested dicts, as ``{key, old, new}`` rows."""
    a, b = _flatten(old), _flatten(new)
    return [{"key": k, "old": a.get(k), "new": b.get(k)}
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def entry(manifest: dict, headline: dict) -> dict:
    return {
        "version": manifest["version"],
        "code": manifest["code"]["sha256"],
        "params": manifest["params"]["values"],
        "inputs": manifest["inputs"],
        "packages": manifest["packages"],
        "headline": headline,
    }


def changes(previous: dict, current: dict) -> dict:
    """What differs between two history entries, grouped as a reader would ask."""
    return {
        "params": diff_dicts(previous["params"], current["params"]),
        "inputs": diff_dicts(previous["inputs"], current["inputs"]),
        "code_changed": previous["code"] != current["code"],
        "packages": diff_dicts(previous["packages"], current["packages"]),
        "headline": diff_dicts(previous["headline"], current["headline"]),
    }


def load(path: Path) -> list[dict]:
    """The history of the published report that holds ``path`` (after recovering the folder).

    An empty list only for a report never published; a report folder with a manifest but no
    history means the record was lost (by a copy, or a publish from before docs/adr/0035), and
    starting again at number 1 would hide that.
    """
    atomic.recover_folder(path.parent)
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    if (path.parent / "manifest.json").exists():
        raise HistoryLost(
            f"{path}: missing, but {path.parent} holds a published report (manifest.json), so "
            "its version history would restart at 1. Fix: restore it with `git checkout -- "
            f"{path.as_posix()}` (or delete the whole folder {path.parent} to start a new "
            "history on purpose), then rerun."
        )
    return []


def updated(history: list[dict], manifest: dict, headline: dict) -> list[dict]:
    """The history with this run's entry appended, or unchanged if the version is the same."""
    current = entry(manifest, headline)
    if history and history[-1]["version"] == current["version"]:
        return history
    record = {**current, "number": len(history) + 1,
              "changes": changes(history[-1], current) if history else None}
    return [*history, record]


def describe(record: dict) -> str:
    """One line on what a version changed, for the report's history table."""
    change = record.get("changes")
    if change is None:
        return "First version."
    parts = []
    if change["params"]:
        parts.append("params: " + ", ".join(
            f"{d['key']} {d['old']!r} → {d['new']!r}" for d in change["params"][:6]))
    if change["inputs"]:
        parts.append("inputs: " + ", ".join(d["key"] for d in change["inputs"]))
    if change["code_changed"]:
        parts.append("code changed")
    if change["packages"]:
        parts.append("packages: " + ", ".join(f"{d['key']} {d['old']} → {d['new']}"
                                              for d in change["packages"]))
    if change["headline"]:
        parts.append("headline: " + ", ".join(
            f"{d['key']} {_num(d['old'])} → {_num(d['new'])}" for d in change["headline"]))
    return "; ".join(parts) or "No recorded difference."


def _num(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def dumps(history: list[dict]) -> str:
    return json.dumps(history, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
