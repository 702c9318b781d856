"""Import hygiene, checked on the source: no function-level import of an EdgeMind module unless it says why
(`# lazy: <reason>`), and no import cycle among the modules of core, plugins and kernels.

A cycle is broken by moving the shared type down a layer (STYLE.md), never by hiding an import inside a function;
this test is what keeps the second from passing for the first.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "plugins", "kernels", "app")
LAZY_MARK = "# lazy:"

@dataclass(frozen=True, slots=True)
class Import:
    path: Path  # the importing file
    line: int
    targets: tuple[str, ...]  # edgemind modules this statement imports (a `from x import y` names x and x.y)
    in_function: bool
    lazy_reason: str | None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["edgemind", *parts])


def _modules() -> dict[str, Path]:
    return {module_name(p): p for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))}


MODULES = _modules()


def _package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, path: Path) -> tuple[str, ...]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = _package_of(path).split(".")
            base = base[: len(base) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        # `from pkg import sub` imports the module pkg.sub when there is one; otherwise a name inside pkg.
        names = [module] + [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in MODULES]
    return tuple(n for n in names if n == "edgemind" or n.startswith("edgemind."))


def imports_in(path: Path) -> list[Import]:
    """Every import of an edgemind module in one file, except those under `if TYPE_CHECKING:` (they never run)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                targets = _targets(child, path)
                if targets:
                    text = "\n".join(lines[child.lineno - 1: (child.end_lineno or child.lineno)])
                    reason = text.partition(LAZY_MARK)[2].strip() if LAZY_MARK in text else None
                    found.append(Import(path, child.lineno, targets, in_function, reason or None))
                continue
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source, filename=str(path)), False)
    return found


def function_level_violations() -> list[str]:
    out = []
    for path in MODULES.values():
        for imp in imports_in(path):
            if imp.in_function and imp.lazy_reason is None:
                out.append(f"{path.relative_to(ROOT)}:{imp.line} imports {', '.join(imp.targets)} inside a function "
                           f"(move it to the top, or say why with '{LAZY_MARK} <reason>')")
    return out


def import_graph() -> dict[str, set[str]]:
    """Module-level edges, with the packages a target's import runs (its __init__s) unless the importer is inside them."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for imp in imports_in(path):
            if imp.in_function:
                continue
            for target in imp.targets:
                parts = target.split(".")
                for i in range(2, len(parts) + 1):
                    step = ".".join(parts[:i])
                    if step in MODULES and step != name and not (name + ".").startswith(step + "."):
                        graph[name].add(step)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected component with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan; the graph is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    found = []
    for component in components:
        start = min(component)
        paths = {start: [start]}
        frontier = [start]
        while frontier:  # breadth first, inside the component, back to start
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & component):
                    if w == start:
                        found.append(paths[v] + [start])
                        nxt = []
                        break
                    if w not in paths:
                        paths[w] = paths[v] + [w]
                        nxt.append(w)
                else:
                    continue
                break
            frontier = nxt
    return found


def _short(name: str) -> str:
    return name.removeprefix("edgemind.")


def cycle_violations() -> list[str]:
    return [" -> ".join(_short(m) for m in cycle) for cycle in cycles(import_graph())]


def test_no_function_level_import_of_an_edgemind_module_without_a_reason() -> None:
    ours = function_level_violations()
    assert not ours, f"{len(ours)} function-level imports:\n" + "\n".join(ours)


def test_core_has_no_import_cycle() -> None:
    ours = cycle_violations()
    assert not ours, f"{len(ours)} import cycles (one per tangle of modules):\n" + "\n".join(ours)


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    module = tmp_path / "probe.py"
    module.write_text("from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
                      "from edgemind.core import errors\n"
                      "if TYPE_CHECKING:\n    from edgemind.core import events\n"
                      "def f():\n    from edgemind.core import settings\n"
                      "    from edgemind.core import hardware  # lazy: measured slow\n    import json\n")
    found = imports_in(module)
    assert [(i.line, i.targets, i.in_function, i.lazy_reason) for i in found] == [
        (3, ("edgemind.core", "edgemind.core.errors"), False, None),
        (7, ("edgemind.core", "edgemind.core.settings"), True, None),
        (8, ("edgemind.core", "edgemind.core.hardware"), True, "measured slow"),
    ]
