"""Tools as the engine sees them: a checked manifest plus a function, found through the `edgemind.plugins` entry points.

Core never imports a plugin module by name (plugins sit above core); it loads whatever the entry points register,
checks every manifest, and rejects a plugin whole when any of its tools is malformed, so nothing is half-loaded.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from ..errors import EdgeMindError
from ..storage.audit import canonical_json
from .scopes import SCOPE_KINDS, ScopeError, parse_scope

log = logging.getLogger("edgemind.tools")

ENTRY_POINT_GROUP = "edgemind.plugins"
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_PLACEHOLDER = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")
_JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object"}


class ManifestError(EdgeMindError):
    """A plugin declared something EdgeMind will not load; the message names the plugin, tool and field."""

    kind = "bad_manifest"


class ToolError(EdgeMindError):
    """A tool call that cannot go ahead: unknown tool, bad arguments, a red line, a limit."""

    kind = "tool"


class PermissionDenied(EdgeMindError):
    kind = "permission_denied"


@dataclass(frozen=True, slots=True)
class ToolManifest:
    """What a tool declares. Its SHA-256 binds grants: change any of it (or the code) and the user is asked again."""

    name: str
    description: str
    plugin: str
    parameters: Mapping[str, Any]  # JSON Schema, type "object"
    # templates: "code.exec", "fs.read:{path}" (the `path` argument's canonical path), "net:{url}" (the URL's host)
    scopes: tuple[str, ...] = ()
    timeout_s: float = 30.0
    rate_limit_per_min: int = 60
    # argument name -> regexes never allowed in it (searched in the value, case-insensitive)
    red_lines: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    dry_run: bool = False
    version: str = "1"
    code_digest: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "plugin": self.plugin,
                "parameters": dict(self.parameters), "scopes": list(self.scopes), "timeout_s": self.timeout_s,
                "rate_limit_per_min": self.rate_limit_per_min,
                "red_lines": {k: list(v) for k, v in self.red_lines.items()}, "dry_run": self.dry_run,
                "version": self.version, "code_digest": self.code_digest}

    @property
    def sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.as_dict()).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Tool:
    manifest: ToolManifest
    # called with validated, scope-canonicalised keyword arguments (plus dry_run=True when previewing)
    function: Callable[..., Any]
    # lines the user also sees when asked (an MCP server's annotations, what changed in its definition); shown only,
    # never part of the manifest hash and never a reason to allow anything
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.manifest.name


def validate_manifest(m: ToolManifest) -> None:
    """Raise ManifestError naming the first thing wrong; a tool that passes can be checked and run safely."""
    where = f"plugin {m.plugin!r} tool {m.name!r}"
    if not isinstance(m.name, str) or not _NAME.match(m.name):
        raise ManifestError(f"{where}: name must be 2-64 lower-case letters, digits or _, starting with a letter")
    if not isinstance(m.description, str) or not m.description.strip() or len(m.description) > 2000:
        raise ManifestError(f"{where}: description must be 1-2000 characters")
    params = m.parameters
    if (not isinstance(params, Mapping) or params.get("type") != "object"
            or not isinstance(params.get("properties"), Mapping)):
        raise ManifestError(f"{where}: parameters must be a JSON Schema object with properties")
    props: Mapping[str, Any] = params["properties"]
    for pname, schema in props.items():
        if not isinstance(schema, Mapping) or schema.get("type") not in _JSON_TYPES:
            raise ManifestError(f"{where}: parameter {pname!r} needs a JSON type ({', '.join(sorted(_JSON_TYPES))})")
    for req in params.get("required", []):
        if req not in props:
            raise ManifestError(f"{where}: required parameter {req!r} is not declared")
    for template in m.scopes:
        kind, _, target = template.partition(":")
        if kind not in SCOPE_KINDS:
            raise ManifestError(f"{where}: unknown scope kind {kind!r} in {template!r}")
        if kind == "mcp" and m.plugin != f"mcp:{target.partition('/')[0]}":
            # only an MCP server's own tools carry its scope, so a grant of mcp:<server> never covers a plugin
            raise ManifestError(f"{where}: scope {template!r} belongs to the MCP server's own tools")
        if SCOPE_KINDS[kind]:
            match = _PLACEHOLDER.match(target)
            if match:
                arg = match.group(1)
                if props.get(arg, {}).get("type") != "string" or arg not in params.get("required", []):
                    raise ManifestError(f"{where}: scope {template!r} refers to {arg!r}, which must be a required "
                                        "string parameter")
            else:
                try:
                    parse_scope(template)
                except ScopeError as exc:
                    raise ManifestError(f"{where}: scope {template!r}: {exc}") from None
        elif target:
            raise ManifestError(f"{where}: scope {kind} takes no target")
    if not isinstance(m.timeout_s, (int, float)) or not 0 < m.timeout_s <= 600:
        raise ManifestError(f"{where}: timeout_s must be in (0, 600]")
    if not isinstance(m.rate_limit_per_min, int) or not 1 <= m.rate_limit_per_min <= 10_000:
        raise ManifestError(f"{where}: rate_limit_per_min must be an integer from 1 to 10000")
    for arg, patterns in m.red_lines.items():
        if arg not in props:
            raise ManifestError(f"{where}: red line on unknown parameter {arg!r}")
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ManifestError(f"{where}: red line {pattern!r} is not a valid regex ({exc})") from None


@dataclass(frozen=True, slots=True)
class PluginContext:
    """What a plugin may be handed at registration: its own folder, read-only settings, shared services.

    Never a broker, grants or the audit log: a plugin cannot grant itself anything.
    """

    data_dir: Path  # <home>/plugins: each plugin keeps its files in a sub-folder named after itself
    settings: Any = None
    services: Mapping[str, Callable[[], Any]] = field(default_factory=dict)  # e.g. "embedder" -> lazy factory


def _tools_from(ep: EntryPoint, context: PluginContext | None) -> list[Tool]:
    try:
        target = ep.load()
        if isinstance(target, Tool) or not callable(target):
            found = target
        else:
            takes_context = len(inspect.signature(target).parameters) >= 1
            found = target(context) if takes_context else target()
        tools = [found] if isinstance(found, Tool) else list(found)
    except Exception as exc:  # a broken third-party plugin must not take the app down
        raise ManifestError(f"plugin {ep.name!r} could not be loaded: {type(exc).__name__}: {exc}") from None
    for t in tools:
        if not isinstance(t, Tool):
            raise ManifestError(f"plugin {ep.name!r} registered {type(t).__name__}, not a Tool (use @tool)")
        validate_manifest(t.manifest)
    return tools


class ToolRegistry:
    """Every loaded tool by name. Plugins that fail to load are listed in `problems`, never partly registered."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self.problems: list[str] = []
        self.closers: list[Callable[[], None]] = []  # e.g. stopping the MCP servers whose tools are registered
        self.add_plugin("(given)", list(tools))

    @classmethod
    def from_entry_points(cls, context: PluginContext | None = None,
                          group: str = ENTRY_POINT_GROUP) -> ToolRegistry:
        registry = cls()
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            try:
                registry.add_plugin(ep.name, _tools_from(ep, context))
            except ManifestError as exc:
                registry.problems.append(str(exc))
                log.info("%s", exc)  # hosts show registry.problems (the CLI prints one line each)
        return registry

    def add_plugin(self, plugin: str, tools: list[Tool]) -> None:
        """All or nothing: validate every tool and check for clashes before registering any."""
        names = set()
        for t in tools:
            validate_manifest(t.manifest)
            if t.name in self._tools or t.name in names:
                raise ManifestError(f"plugin {plugin!r}: tool name {t.name!r} is already taken")
            names.add(t.name)
        for t in tools:
            self._tools[t.name] = t

    def replace(self, tool: Tool) -> None:
        """Swap a registered tool for its new version (an MCP server changed a definition): its new manifest hash
        means stored and session grants of the old one no longer apply."""
        validate_manifest(tool.manifest)
        if tool.name not in self._tools:
            raise ManifestError(f"tool {tool.name!r} is not registered, so it cannot be replaced")
        self._tools[tool.name] = tool

    def close(self) -> None:
        for close in self.closers:
            close()
        self.closers.clear()

    def get(self, name: str) -> Tool:
        if name not in self._tools:
            raise ToolError(f"unknown tool {name!r}; see `edgemind tools list`")
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def all(self) -> list[Tool]:
        return [self._tools[n] for n in sorted(self._tools)]

    def offered(self, names: Iterable[str]) -> list[Tool]:
        """The tools among `names` that are loaded (a router policy may name a tool whose plugin is absent)."""
        return [self._tools[n] for n in names if n in self._tools]
