"""How the modules of ``src/convscope`` may import each other.

No import cycle (counting lazy imports and those only for type checking); the engine imports no
layer above it and not the data; no private name crosses a module's border; and a name is
imported from the module that defines it, never through a module that only re-exports it.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "convscope"


def module_files() -> dict[str, Path]:
    """``{"convscope.widget.explorer": path, "convscope.widget": its __init__.py, ...}``."""
    modules = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = module_files()


@cache
def tree_of(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text())


def is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def imported_names(module: str) -> list[tuple[str, str | None]]:
    """Every import of convscope in ``module``, anywhere in it: ``(module, name or None)``."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree_of(module)):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name in MODULES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in MODULES:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.append(
                    (submodule, None) if submodule in MODULES else (node.module, alias.name)
                )
    return found


def imports_of(module: str) -> set[str]:
    return {source for source, _ in imported_names(module)} - {module}


def defined_names(module: str) -> set[str]:
    names = set()
    for node in tree_of(module).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo += graph.get(node, set())
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others."""
    reach = {node: reachable(graph, node) for node in graph}
    groups = {
        tuple(sorted(other for other in reach[node] if node in reach[other]))
        for node in graph
        if node in reach[node]
    }
    return sorted(list(group) for group in groups)


def test_every_import_of_convscope_names_a_module_that_exists() -> None:
    for module in MODULES:
        for node in ast.walk(tree_of(module)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
                assert node.module in MODULES, f"{module} imports {node.module}"
            elif isinstance(node, ast.Import):
                missing = [a.name for a in node.names if a.name.startswith(f"{PACKAGE}.")]
                assert set(missing) <= set(MODULES), f"{module} imports {missing}"


def test_no_import_cycle() -> None:
    graph = {module: imports_of(module) for module in MODULES}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_engine_imports_no_layer_above_it_and_not_the_data() -> None:
    below = ("convscope.engine", "convscope.errors", "convscope.tensorflow_logs")
    for module in MODULES:
        if module.startswith("convscope.engine"):
            reached = {m for m in imports_of(module) if not m.startswith(below)}
            assert reached == set(), module


def test_no_private_name_is_imported_across_modules() -> None:
    for module in MODULES:
        private = [
            f"{source}.{name}"
            for source, name in imported_names(module)
            if name is not None and name.startswith("_") and not name.startswith("__")
        ]
        assert private == [], module


def test_a_name_is_imported_from_the_module_that_defines_it() -> None:
    # A package's __init__ is the public face of its modules; any other module that only
    # passes a name on is a re-export shim.
    for module in MODULES:
        passed_on = [
            f"{source}.{name}"
            for source, name in imported_names(module)
            if name is not None and not is_package(source) and name not in defined_names(source)
        ]
        assert passed_on == [], module


def test_no_module_is_only_imports() -> None:
    for module in MODULES:
        if is_package(module):
            continue
        body = tree_of(module).body
        if body and isinstance(body[0], ast.Expr):  # the docstring
            body = body[1:]
        kinds = {type(node) for node in body} - {ast.Import, ast.ImportFrom}
        assert kinds - {ast.Assign} or not body, f"{module} only re-exports"
