"""The package's layers, read from the source (no imports, no subprocess).

* No import cycle between modules of ``pipeline/`` (module-level imports, the ones that run
  when a module is loaded; imports inside functions are deferred on purpose and left out).
* Loading params does not load the statistics: everything :mod:`pipeline.config` can import,
  function-level imports included, stays outside ``pipeline.stats`` and never reaches scipy or
  statsmodels (docs/adr/0107).
* No private helper (``_name``) is imported from another module.

The graph is built from the AST of every ``pipeline/**/*.py``, so these tests see exactly
what the code says, whatever has already been imported in this process.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipeline"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@lru_cache(maxsize=None)
def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def imports(name: str, deferred: bool) -> tuple:
    """``(target module, imported names, line)`` of each import in module ``name``;
    ``deferred`` includes imports inside functions (and ``TYPE_CHECKING`` blocks are skipped)."""
    path = MODULES[name]
    tree = _tree(name)
    is_package = path.name == "__init__.py"
    out = []

    def visit(node, top: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.Lambda))
            if isinstance(child, ast.Import) and (top or deferred):
                out.extend((a.name, [], child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and (top or deferred):
                target = _resolve(name, is_package, child)
                names = [a.name for a in child.names]
                # "from pkg import mod" imports the submodule pkg.mod; "from pkg import name"
                # reads pkg's __init__ (an edge to pkg only when a name is not a submodule)
                subs = [n for n in names if f"{target}.{n}" in MODULES]
                if len(subs) < len(names):
                    out.append((target, [n for n in names if n not in subs], child.lineno))
                out.extend((f"{target}.{n}", [], child.lineno) for n in subs)
            visit(child, inner)

    visit(tree, True)
    return tuple(out)


def graph(deferred: bool) -> dict[str, set[str]]:
    """Module -> pipeline modules it imports. A parent package is loaded before its
    submodules whatever they import, so only the named module is an edge (a package's
    ``__init__`` re-exporting its submodules is an edge from the package to them)."""
    return {name: {t for t, _, _ in imports(name, deferred) if t in MODULES and t != name}
            for name in MODULES}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, or None (iterative depth-first search)."""
    state = {}
    for start in sorted(edges):
        if start in state:
            continue
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        state[start] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(sorted(edges.get(child, ())))))
                path.append(child)
    return None


def test_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_in_pipeline():
    cycle = find_cycle(graph(deferred=False))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _closure(start: str, edges) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(edges.get(node, ()))
    return seen


def test_config_does_not_reach_the_statistics():
    edges = graph(deferred=True)
    reach = _closure("pipeline.config", edges)
    stats = sorted(m for m in reach if m == "pipeline.stats" or m.startswith("pipeline.stats."))
    assert not stats, f"pipeline.config can import {stats}"
    heavy = sorted({t.split(".")[0] for m in reach for t, _, _ in imports(m, deferred=True)
                    if t.split(".")[0] in ("scipy", "statsmodels", "matplotlib")})
    assert not heavy, f"loading params can import {heavy}"


# Private names allowed across modules (none): a helper shared by modules is public.
KNOWN_PRIVATE: set[tuple[str, str, str]] = set()


def private_imports() -> list[tuple[str, str, str]]:
    """``(importing module, source module, name)`` of every ``_name`` imported from another
    pipeline module (dunder names excepted)."""
    found = []
    for name in MODULES:
        for target, names, _ in imports(name, deferred=True):
            if not target.startswith("pipeline"):
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    found.append((name, target, n))
    return sorted(found)


def test_no_private_helper_imported_across_modules():
    new = [f for f in private_imports() if f not in KNOWN_PRIVATE]
    assert not new, f"private helpers imported from another module: {new}"


@pytest.mark.parametrize("module", ["pipeline.config", "pipeline.its_spec",
                                    "pipeline.analysis_options"])
def test_graph_sees_the_config_modules(module):
    """The checks above read real files (a renamed module would make them vacuous)."""
    assert module in MODULES and imports(module, deferred=True)
