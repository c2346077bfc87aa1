"""No import cycle between the connector's modules, read from the source with `ast`.

Every import counts: module level, inside functions, under TYPE_CHECKING. `from pkg import
name` is an edge to the module `pkg.name` when there is one, else to `pkg`; importing
`a.b.c` also runs the packages `a` and `a.b`, so those are edges too (except the importer's
own packages, which are being imported already).
"""

from __future__ import annotations

import ast
from pathlib import Path

import source_contractfit

ROOT = Path(source_contractfit.__file__).parent
TOP = ROOT.name


def _modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, bool]]:
    """(imported module, inside a function) for every import of the package in `path`."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    local = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        found += [(t, id(node) in local) for t in targets if t.split(".")[0] == TOP]
    return found


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    modules = _modules()
    edges: dict[str, set[str]] = {module: set() for module in modules}
    local = []
    for module, path in modules.items():
        parts = module.split(".")
        own = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        for target, in_function in _imports(module, path, modules):
            if in_function:
                local.append((module, target))
            pieces = target.split(".")
            for i in range(1, len(pieces) + 1):
                name = ".".join(pieces[:i])
                if name in modules and name != module and (i == len(pieces) or name not in own):
                    edges[module].add(name)
    return edges, local


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def test_no_import_cycle_between_modules() -> None:
    edges, _ = _graph()
    assert "source_contractfit.streams.catalog" in edges["source_contractfit.airbyte.source"]
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_streams_read_and_normalize_import_at_module_level_only() -> None:
    _, local = _graph()
    packages = ("streams", "read", "export.normalize")
    hidden = [
        (module, target)
        for module, target in local
        if any(module.startswith(f"{TOP}.{package}") for package in packages)
    ]
    assert hidden == []


def _third_party_importers(name: str) -> set[str]:
    """Connector modules that import the top-level package `name`."""
    found = set()
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            if any(t == name or t.startswith(name + ".") for t in targets):
                found.add(module)
    return found


def test_only_the_demo_starts_the_emulator_and_only_api_speaks_http() -> None:
    assert _third_party_importers("contractfit_emulator") == {f"{TOP}.cli.demo"}
    assert {m for m in _third_party_importers("httpx")} == {f"{TOP}.api.client"}
