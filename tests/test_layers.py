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


# ---- shells use the engine's services, never its internals ---------------------------------------------------------
SHELLS = ("app", "core/cli", "core/api")
# The bench drives an Engine like a shell (asks, services) but also measures components alone (kernels, backends,
# the router's classifier on its held-out split): that is its job, so only the attribute rule applies to it.
ENGINE_USERS = SHELLS + ("core/bench",)
# What the engine keeps for itself: the objects its services wrap, and its stages. A shell that needs one of them
# needs a service method instead (core/engine/services.py).
ENGINE_INTERNALS = {"store", "cache", "pool", "tool_runner", "audit", "registry", "sessions", "router", "safety",
                    "native", "context", "summarizer", "semantic_embedder"}
# Expressions that name an engine: `engine`, `self._engine`, `state.engine`, `Engine` (its class), and the calls
# that return one (`ctx.engine_in_worker()`, the CLI's `_engine(settings)`).
ENGINE_NAMES = {"engine", "_engine", "Engine"}
# Measurement code that times the engine's own parts from inside (it wraps the store's writes and the loaded model
# to split time per stage): reaching internals is its job, and nothing a user runs goes through it.
PROFILERS = {"core/bench/engine_overhead.py": "engine_vs_raw --breakdown: time per engine stage"}
# What a shell may import from EdgeMind, and why. A module is allowed when it is one of these or inside one that
# ends with ".*"; `edgemind.core.engine` itself is allowed but none of its modules: its `__init__` is the surface.
SHELL_IMPORTS = {
    "edgemind.core": "the package (its version)",
    "edgemind.core.engine": "the façade and its services, as its __init__ states them",
    "edgemind.core.errors": "the error contract every edge maps",
    "edgemind.core.events": "the events Engine.stream yields",
    "edgemind.core.settings": "the one settings object a shell loads and passes down",
    "edgemind.core.backends.base": "the request's plain types (CancelToken, Message), light to import",
    "edgemind.core.tools.calls": "the function-calling wire format the API translates (pure parsing, no state)",
    "edgemind.core.hardware": "facts about the machine (doctor, bench), no engine state",
    "edgemind.core.data_folder": "files only the user can read: the API key file, crash logs, the folder itself",
    "edgemind.core.mcp.service": "MCP server configuration (add, list, remove, import): a file, no engine state",
    "edgemind.app.*": "the GUI's own modules",
    "edgemind.core.cli.*": "the CLI's own modules",
    "edgemind.core.api.*": "the API server: the CLI serves it, the GUI starts it in the background",
    "edgemind.core.bench.*": "measurement code: `edgemind bench` and the GUI's bench page run it",
    "edgemind.core.tuning.*": "personalization (tune, distill, packs): training runs and adapter files, no engine state",
}
# Each a shell module that does a component's job with the component itself, where no engine runs at all.
SHELL_IMPORT_EXCEPTIONS = {
    ("core/cli/main.py", "edgemind.core.routing.router"): "`edgemind route` classifies prompts, no engine or model",
    ("core/cli/main.py", "edgemind.core.safety.checker"): "`edgemind safety check` likewise",
    ("core/cli/main.py", "edgemind.core.backends.llama_smoke"): "the frozen bundle's native-check child process",
    ("core/cli/doctor.py", "edgemind.core.backends.llama_native"): "doctor probes what the engine could not run",
    ("core/cli/doctor.py", "edgemind.core.backends.onnx_int4_backend"): "doctor: execution providers",
    ("core/cli/doctor.py", "edgemind.core.backends.onnx_model_cache"): "doctor: the ONNX cache folder's health",
    ("core/cli/doctor.py", "edgemind.core.backends.ollama_backend"): "doctor: is an Ollama server reachable",
    ("core/cli/doctor.py", "edgemind.kernels.tmac"): "doctor: are our C kernels built, and which ISA path runs",
    ("core/cli/doctor.py", "edgemind.core.tools.confined"): "doctor: how strongly this OS lets file tools confine opens",
    ("core/api/app.py", "edgemind.core.embeddings.embedder"): "/v1/embeddings serves the shared encoder itself",
    ("app/permission_dialog.py", "edgemind.plugins.builtin.sandbox"): "a code.exec grant names the code runner's "
    "isolation level, probed by the plugin that owns the sandbox (no engine state)",
    ("app/docs_page.py", "edgemind.plugins.builtin.docs"): "the Documents page lists, indexes (with progress and "
    "cancel) and removes folders in the docs plugin's own index, after Tools.authorize asked for the read grant",
}


def _module_exists(name: str) -> bool:
    parts = name.split(".")[1:]  # edgemind.<folder>... maps onto ROOT/<folder>/...
    return bool(parts) and ((ROOT.joinpath(*parts).with_suffix(".py")).is_file()
                            or (ROOT.joinpath(*parts) / "__init__.py").is_file())


def _package(path: Path) -> str:
    return "edgemind." + ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])


def modules_imported(source: str, package: str) -> set[str]:
    """Every EdgeMind module a file of `package` imports, at any depth of the file (imports inside functions too):
    `from ..engine import facade` counts as `edgemind.core.engine.facade`, `from ..engine import Engine` as
    `edgemind.core.engine`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names if _module_exists(f"{module}.{a.name}"))
    return {name for name in found if name.startswith("edgemind.")}


def shell_may_import(name: str) -> bool:
    return any(name == allowed or (allowed.endswith(".*") and name.startswith(allowed[:-1]))
               or (allowed.endswith(".*") and name == allowed[:-2]) for allowed in SHELL_IMPORTS)


def _names_an_engine(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ENGINE_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in ENGINE_NAMES
    if isinstance(node, ast.Call):
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return called in ("_engine", "engine_in_worker")
    return False


def engine_internals_reached(source: str) -> list[str]:
    """`engine.store`, `self._engine._params`, `ctx.engine_in_worker().pool`, `Engine._answer_version`…, as
    `line: expression`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _names_an_engine(node.value):
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            if node.attr in ENGINE_INTERNALS or private:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def _files(folders: tuple[str, ...]) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def test_shells_reach_the_engine_only_through_its_services() -> None:
    """Shells (and the bench, where it holds an Engine) call `engine.conversations.list()`, never
    `engine.store.conversations()`: an attribute of the engine's own (ENGINE_INTERNALS) or a private one, on
    anything that names an engine, is a missing service method (STYLE.md: a façade is narrow)."""
    reached = [f"{path.relative_to(ROOT)}:{hit}" for path in _files(ENGINE_USERS)
               if path.relative_to(ROOT).as_posix() not in PROFILERS
               for hit in engine_internals_reached(path.read_text(encoding="utf-8"))]
    assert not reached, "shells reach engine internals; add a service method instead:\n" + "\n".join(reached)


def test_shells_import_only_the_engine_surface() -> None:
    """A shell imports the engine package (never its modules), the shared vocabulary (errors, events, settings, the
    request's plain types), other shells, and, named one by one in SHELL_IMPORT_EXCEPTIONS with the reason, a
    component a command runs without an engine. Importing storage, the cache or the tool runner directly would
    bypass the services (and the audit log and permission broker behind them)."""
    imported = {(path.relative_to(ROOT).as_posix(), name) for path in _files(SHELLS)
                for name in modules_imported(path.read_text(encoding="utf-8"), _package(path))}
    bad = sorted(f"{where} imports {name}" for where, name in imported
                 if not shell_may_import(name) and (where, name) not in SHELL_IMPORT_EXCEPTIONS)
    assert not bad, "shells import engine internals:\n" + "\n".join(bad)
    stale = set(SHELL_IMPORT_EXCEPTIONS) - imported
    assert not stale, f"exceptions no shell needs any more (remove them): {sorted(stale)}"


def test_the_shell_rules_catch_what_they_forbid() -> None:
    """The checks above on code written the old way (each line one the shells had): every one must be found."""
    old_ways = ("engine.store.search('x')\nself.ctx.engine_in_worker().registry.list_models()\n"
                "state.engine.pool.waiting\nEngine._answer_version(spec)\nself._engine._params(o)\n"
                "_engine(settings).store\nengine.conversations.list()\nengine.models.get(None)\n")
    assert sorted(engine_internals_reached(old_ways)) == [
        "1: engine.store", "2: self.ctx.engine_in_worker().registry", "3: state.engine.pool",
        "4: Engine._answer_version", "5: self._engine._params", "6: _engine(settings).store"]
    imports = ("from ..engine.facade import Engine\nfrom ..engine import request\nfrom ..engine import AskOptions\n"
               "def f():\n    from edgemind.core.storage.audit import EVENT_KINDS\n"
               "from ..tools.session import open_tool_runner\nfrom ..cache.answers import AnswerCache\n")
    found = modules_imported(imports, "edgemind.core.cli")
    assert sorted(n for n in found if not shell_may_import(n)) == [
        "edgemind.core.cache.answers", "edgemind.core.engine.facade", "edgemind.core.engine.request",
        "edgemind.core.storage.audit", "edgemind.core.tools.session"]
    assert shell_may_import("edgemind.core.engine") and shell_may_import("edgemind.core.api.server")
