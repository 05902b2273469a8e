"""The package's import graph: no cycle inside ``satwatch/``, and the library never imports Prefect.

A hand-written walk over the source (``ast``): module-level imports (those that run on import, outside
``if TYPE_CHECKING``) must form no cycle anywhere, and neither may they together with the imports inside functions
(lazy, to keep ``--help`` and light modules light).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "satwatch"
MODULES = {".".join(("satwatch", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__"): p
           for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The module of ``satwatch`` that ``name`` (a module or a name inside one) refers to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(tree: ast.AST, lazy: bool, top: bool = True) -> Iterator[tuple[str, bool]]:
    """``(imported name, at module level)`` for every import under ``tree`` (TYPE_CHECKING blocks left out)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        here = top and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        if isinstance(node, ast.Import):
            yield from ((a.name, here) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, here
            yield from ((f"{node.module}.{a.name}", here) for a in node.names)
        yield from _imports(node, lazy, here)


def _graph(lazy: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        found = {_resolve(m) for m, top in _imports(ast.parse(path.read_text()), lazy) if top or lazy}
        graph[name] = {m for m in found if m and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_at_module_level() -> None:
    assert "satwatch.pipeline.scene" in MODULES and "satwatch.cli" in MODULES
    assert _cycles(_graph(lazy=False)) == []


def test_no_import_cycle_even_through_lazy_imports() -> None:
    assert _cycles(_graph(lazy=True)) == []


def test_the_library_never_imports_prefect() -> None:
    """Only ``flows/`` imports Prefect; the CLI loads the flows by module name (``importlib``)."""
    for name, path in MODULES.items():
        imported = {m.split(".")[0] for m, _ in _imports(ast.parse(path.read_text()), lazy=True)}
        assert not imported & {"prefect", "prefect_dask"}, name
