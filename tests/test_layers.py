"""The layering rule as a test: every module of ``mapper/`` imports only its own layer or
lower, and no modules import each other in a cycle.

Layers, low to high (README, "Architecture"):

    0 core       errors, config, geo, postcodes, areas ... (shared helpers, no domain flow)
    1 sources    mapper.sources.*, demo, duplicates, saved_mappings
    2 store      store (the GeoPackage), appdb (the app database), users
    3 overlay    editing, overlay (the edits laid over the stored registers)
    4 analysis   mapper.analysis.*, analysis_run
    5 jobs       pipeline, uploads, exports, admin
    6 maps       mapper.maps.*
    7 interface  mapper.web.*, cli, cli_common, cli_admin, __main__

Imports are found with :mod:`ast` anywhere in a file, inside functions too (a deferred
import is still a dependency). ``from package import name`` depends on the submodule
``package.name`` when there is one, else on the package itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mapper"

LAYER_NAMES = ["core", "sources", "store", "overlay", "analysis", "jobs", "maps", "interface"]

#: module (or package, for all its modules) -> layer; the longest matching name wins
LAYERS: dict[str, int] = {
    # 0 core
    "mapper": 0,
    "mapper.errors": 0,
    "mapper.config": 0,
    "mapper.geo": 0,
    "mapper.areas": 0,
    "mapper.compact": 0,
    "mapper.postcodes": 0,
    "mapper.can_history": 0,
    "mapper.missing": 0,
    "mapper.personal_text": 0,
    "mapper.private_files": 0,
    "mapper.registers": 0,
    "mapper.incident_types": 0,
    "mapper.serving": 0,
    "mapper.tilearchive": 0,
    "mapper.vcard": 0,
    "mapper.resources": 0,
    "mapper.database": 0,
    "mapper.geojson": 0,
    "mapper.context_kinds": 0,
    "mapper.openreferral_format": 0,
    # 1 sources
    "mapper.sources": 1,
    "mapper.demo": 1,
    "mapper.duplicates": 1,
    "mapper.saved_mappings": 1,
    # 2 store
    "mapper.store": 2,
    "mapper.pgstore": 2,
    "mapper.context_store": 2,
    "mapper.appdb": 2,
    "mapper.users": 2,
    # 3 overlay
    "mapper.editing": 3,
    "mapper.overlay": 3,
    # 4 analysis
    "mapper.analysis": 4,
    "mapper.analysis_run": 4,
    # 5 jobs
    "mapper.pipeline": 5,
    "mapper.uploads": 5,
    "mapper.exports": 5,
    "mapper.admin": 5,
    # 6 maps
    "mapper.maps": 6,
    # 7 interface
    "mapper.web": 7,
    "mapper.cli": 7,
    "mapper.cli_common": 7,
    "mapper.cli_admin": 7,
    "mapper.__main__": 7,
}

#: known violations still to fix, each of which must still occur (the test fails when
#: one is gone: strike it off). Empty: the rule holds for the whole package
PENDING: set[str] = set()


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module under `root`."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that module `name` (at `path`) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(_known_prefix(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in known else _known_prefix(source, known))
    found.discard(None)  # type: ignore[arg-type]
    found.discard(name)
    return found


def _known_prefix(dotted: str, known: set[str]) -> str | None:
    """`dotted` or the longest package of it that is a known module (None: not ours)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    found = modules(root)
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def layer_of(name: str, table: dict[str, int] = LAYERS) -> int | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in table and (end == len(parts) or prefix != "mapper"):
            return table[prefix]
    return None


def upward_imports(graph: dict[str, set[str]], table: dict[str, int] = LAYERS) -> list[str]:
    """'a -> b (store imports overlay)' for each import of a higher layer."""
    out = []
    for name in sorted(graph):
        for target in sorted(graph[name]):
            low, high = layer_of(name, table), layer_of(target, table)
            if low is not None and high is not None and high > low:
                out.append(f"{name} -> {target} ({LAYER_NAMES[low]} imports "
                           f"{LAYER_NAMES[high]})")
    return out


def cycles(graph: dict[str, set[str]]) -> list[str]:
    """One cycle per group of modules that import each other, 'a -> b -> a', starting
    at the group's first module by name (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth: the package has < 200 modules
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_one_cycle(graph, group) for group in groups)


def _one_cycle(graph: dict[str, set[str]], group: list[str]) -> str:
    """The shortest path from the group's first module back to itself, within the group."""
    start, members = group[0], set(group)
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, ()) & members):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return " -> ".join([*reversed(path), start])
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def violations(graph: dict[str, set[str]], table: dict[str, int] = LAYERS) -> set[str]:
    return set(upward_imports(graph, table)) | {f"cycle: {c}" for c in cycles(graph)}


# -- the package ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_module_has_a_layer(graph):
    unknown = sorted(name for name in graph if layer_of(name) is None)
    assert not unknown, (f"modules with no layer: {', '.join(unknown)}; add it to the layer "
                         "table (LAYERS in tests/test_layers.py, and README's architecture)")


def test_no_layer_imports_a_higher_one_and_no_cycles(graph):
    found = violations(graph)
    new = sorted(found - PENDING)
    assert not new, "imports against the layers (README, Architecture):\n" + "\n".join(new)


def test_pending_violations_still_occur(graph):
    """PENDING only shrinks: an entry that no longer occurs must be struck off."""
    gone = sorted(PENDING - violations(graph))
    assert not gone, ("fixed, so strike these off PENDING in tests/test_layers.py:\n"
                      + "\n".join(gone))


def test_the_graph_sees_deferred_and_relative_imports(tmp_path):
    root = tmp_path / "mapper"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "low.py").write_text("")
    (root / "sub" / "__init__.py").write_text("X = 1\n")
    (root / "sub" / "leaf.py").write_text(
        "def f():\n    from . import X\n    from ..low import y\n")
    (root / "top.py").write_text("import os\nfrom mapper.sub import leaf\nimport mapper.low\n")
    found = import_graph(root)
    assert found["mapper.sub.leaf"] == {"mapper.sub", "mapper.low"}
    assert found["mapper.top"] == {"mapper.sub.leaf", "mapper.low"}


# -- the checker catches what it should ----------------------------------------------------


def test_checker_catches_an_upward_import():
    table = {"mapper.store": 2, "mapper.editing": 3, "mapper.errors": 0}
    graph = {"mapper.store": {"mapper.editing", "mapper.errors"},
             "mapper.editing": {"mapper.store"}, "mapper.errors": set()}
    assert upward_imports(graph, table) == [
        "mapper.store -> mapper.editing (store imports overlay)"]


def test_checker_catches_a_cycle_and_names_it():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == ["a -> b -> c -> a"]
    assert cycles({"x": {"y"}, "y": {"x"}, "p": {"q"}, "q": {"p"}}) == [
        "p -> q -> p", "x -> y -> x"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_checker_knows_the_layer_of_nested_modules():
    assert layer_of("mapper.analysis.nearest") == 4
    assert layer_of("mapper.web.api") == 7
    assert layer_of("mapper.sources.postcodes") == 1
    assert layer_of("mapper.newthing") is None
