"""The plugin SDK: a manifest is built from the function, checked whole, and bound to a hash; bad plugins never load."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Literal

import pytest

from edgemind.core.tools.registry import ManifestError, ToolRegistry
from edgemind.plugins.sdk import json_schema_for, tool


def test_the_schema_comes_from_type_hints_and_defaults() -> None:
    def f(path: str, count: int = 3, mode: Literal["fast", "exact"] = "fast", tags: list[str] | None = None,
          ratio: float = 0.5, on: bool = True) -> str:
        return ""

    schema = json_schema_for(f, "f")
    assert schema["required"] == ["path"]
    assert schema["properties"]["count"] == {"type": "integer", "default": 3}
    assert schema["properties"]["mode"] == {"type": "string", "enum": ["fast", "exact"], "default": "fast"}
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("declare, words", [
    (lambda: tool(scopes=["root"])(typed_fn), "unknown scope kind"),
    (lambda: tool(scopes=["fs.read:{missing}"])(typed_fn), "must be a required string parameter"),
    (lambda: tool(scopes=["fs.read:{n}"])(typed_fn), "must be a required string parameter"),
    (lambda: tool(scopes=["code.exec:/tmp"])(typed_fn), "takes no target"),
    (lambda: tool(red_lines={"path": ["("]})(typed_fn), "not a valid regex"),
    (lambda: tool(red_lines={"nope": ["x"]})(typed_fn), "unknown parameter"),
    (lambda: tool(timeout_s=0)(typed_fn), "timeout_s"),
    (lambda: tool(rate_limit_per_min=0)(typed_fn), "rate_limit_per_min"),
    (lambda: tool(name="Bad Name")(typed_fn), "name must be"),
    (lambda: tool(dry_run=True)(typed_fn), "takes no dry_run parameter"),
    (lambda: tool(untyped_fn), "has no type hint"),
    (lambda: tool(varargs_fn), "are not allowed"),
    (lambda: tool(nodoc_fn), "description must be"),
])
def test_bad_manifests_are_rejected_with_the_reason(declare, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ManifestError, match=words):
        declare()


def typed_fn(path: str, n: int = 1) -> str:
    """A well-typed tool."""
    return path


def untyped_fn(path) -> str:  # type: ignore[no-untyped-def]
    """No hint."""
    return path


def varargs_fn(*paths: str) -> str:
    """Varargs."""
    return ""


def nodoc_fn(path: str) -> str:
    return path


def test_the_manifest_hash_changes_with_code_scopes_or_description() -> None:
    base = tool(scopes=["fs.read:{path}"], name="tt")(typed_fn).manifest.sha256

    def typed_fn2(path: str, n: int = 1) -> str:
        """A well-typed tool."""
        return path + "!"

    assert tool(scopes=["fs.read:{path}"], name="tt")(typed_fn2).manifest.sha256 != base
    assert tool(scopes=["fs.write:{path}"], name="tt")(typed_fn).manifest.sha256 != base
    assert tool(scopes=["fs.read:{path}"], name="tt", description="other")(typed_fn).manifest.sha256 != base
    assert tool(scopes=["fs.read:{path}"], name="tt")(typed_fn).manifest.sha256 == base


def test_a_plugin_with_one_bad_tool_is_not_half_loaded() -> None:
    good = tool(name="good_one")(typed_fn)
    registry = ToolRegistry()
    clash = tool(name="good_one")(typed_fn)
    with pytest.raises(ManifestError, match="already taken"):
        registry.add_plugin("p", [good, clash])
    assert "good_one" not in registry


@pytest.fixture
def third_party(tmp_path: Path) -> Iterator[Path]:
    """Two installed third-party plugins (a real dist-info on sys.path): one good, one broken."""
    site = tmp_path / "site"
    (site / "acme_tools").mkdir(parents=True)
    (site / "acme_tools" / "__init__.py").write_text(
        "from edgemind.plugins.sdk import tool\n\n"
        "@tool(scopes=['system.info'])\ndef acme_uptime() -> str:\n    \"\"\"Say how long the machine has run.\"\"\"\n    return 'up'\n\n"
        "TOOLS = [acme_uptime]\n")
    (site / "broken_tools").mkdir()
    (site / "broken_tools" / "__init__.py").write_text(
        "from edgemind.core.tools.registry import Tool, ToolManifest\n"
        "TOOLS = [Tool(ToolManifest(name='ok_tool', description='fine', plugin='broken', parameters={'type': 'object', "
        "'properties': {}}), print), Tool(ToolManifest(name='bad_tool', description='bad', plugin='broken', "
        "parameters={'type': 'object', 'properties': {}}, scopes=('everything',)), print)]\n")
    for name, target in (("acme", "acme_tools:TOOLS"), ("broken", "broken_tools:TOOLS")):
        info = site / f"{name}_plugin-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-plugin\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[edgemind.plugins]\n{name} = {target}\n")
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    yield site
    sys.path.remove(str(site))
    for mod in ("acme_tools", "broken_tools"):
        sys.modules.pop(mod, None)


def test_third_party_plugins_load_through_entry_points_and_a_broken_one_is_rejected_whole(third_party: Path) -> None:
    registry = ToolRegistry.from_entry_points()
    assert "acme_uptime" in registry and "calculator" in registry
    assert "ok_tool" not in registry and "bad_tool" not in registry
    assert any("broken" in p and "unknown scope kind 'everything'" in p for p in registry.problems)


def test_tools_list_warns_about_a_broken_plugin_in_one_line(third_party: Path, cli_env: dict[str, str]) -> None:
    env = dict(cli_env, PYTHONPATH=str(third_party))
    done = subprocess.run([sys.executable, "-m", "edgemind.core.cli", "tools", "list"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0 and "acme_uptime" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if line]
    assert len(warnings) == 1 and "broken" in warnings[0] and "Traceback" not in done.stderr
