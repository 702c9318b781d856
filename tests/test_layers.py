"""The layer rules, checked on the source: kernels <- core <- plugins <- app; core never imports Qt."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["kernels", "core", "plugins", "app"]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    package = "edgemind." + ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.add(node.module)
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_a_layer_above_it(layer: str) -> None:
    above = LAYERS[LAYERS.index(layer) + 1:]
    for path in (ROOT / layer).rglob("*.py"):
        for name in imports_of(path):
            for higher in above:
                assert not name.startswith(f"edgemind.{higher}"), f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("layer", ["kernels", "core", "plugins"])
def test_headless_layers_never_import_qt(layer: str) -> None:
    for path in (ROOT / layer).rglob("*.py"):
        for name in imports_of(path):
            assert not name.startswith(("PySide6", "PyQt", "shiboken")), f"{path.relative_to(ROOT)} imports {name}"


def test_kernels_import_only_numpy_onnx_and_the_standard_library() -> None:
    allowed = {"numpy", "onnx", "onnxruntime", "edgemind", "__future__"} | set(sys.stdlib_module_names)
    for path in (ROOT / "kernels").rglob("*.py"):
        for name in imports_of(path):
            assert name.split(".")[0] in allowed, f"{path.relative_to(ROOT)} imports {name}"
