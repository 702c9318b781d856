"""MCP servers' tools as our `Tool`s: named `mcp__<server>__<tool>`, each needing scope `mcp:<server>/<tool>`, with a
manifest whose hash covers the server's full definition, so a grant binds to exactly what the user saw.

A call re-checks the live definition against the one the manifest was built from and validates the arguments against
the server's real input schema before anything is sent. Never grants anything: calls reach these functions only
through the ToolRunner, after the permission broker said yes.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jsonschema

from ..tools.registry import ManifestError, Tool, ToolError, ToolManifest, ToolRegistry, validate_manifest
from .config import McpServerConfig
from .definitions import DefinitionCache, ServerListing, definition_digest, definition_of, describe_change
from .supervisor import DEFAULT_TIMEOUTS, LoopThread, McpServerError, ServerSupervisor, Timeouts

if TYPE_CHECKING:
    import mcp_types  # imported by render_content: the SDK's types cost ~0.2 s at every start otherwise

log = logging.getLogger("edgemind.mcp")

PREFIX = "mcp__"
Refresh = Literal["none", "missing", "all"]  # which servers a session starts to list their tools (see load)
MAX_RESULT_CHARS = 6_000  # the same cap as our own tools' results (ToolRunner): ~2k tokens of a 4k context
MAX_DESCRIPTION_CHARS = 2_000
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")  # what the MCP spec allows; the scope quotes it as it is
_JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object")
_HINTS = (("readOnlyHint", "read-only"), ("destructiveHint", "destructive"), ("idempotentHint", "idempotent"),
          ("openWorldHint", "reaches outside (open world)"))


def tool_name(server: str, raw: str) -> str:
    """`mcp__<server>__<tool>` in our name rule (lower-case letters, digits, `_`), or ManifestError."""
    base = re.sub(r"[^a-z0-9]+", "_", raw.lower()).strip("_")
    name = f"{PREFIX}{server}__{base}"
    if not base or len(name) > 64:
        raise ManifestError(f"MCP server {server!r} tool {raw[:80]!r}: cannot be named within 64 characters "
                            f"as {PREFIX}{server}__<tool>")
    return name


def _typed(schema: Any, root: Mapping[str, Any]) -> str | None:
    """The one JSON type a property schema admits (through $ref, anyOf/oneOf without null), or None."""
    for _ in range(8):
        if not isinstance(schema, Mapping):
            return None
        ref = schema.get("$ref")
        if not (isinstance(ref, str) and ref.startswith("#/")):
            break
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        schema = target
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = {k for k in kind if k != "null"}
        kind = next(iter(kinds)) if len(kinds) == 1 else None
    if isinstance(kind, str):
        return kind if kind in _JSON_TYPES else None
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            kinds = {_typed(o, root) for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")}
            return kinds.pop() if len(kinds) == 1 else None
    return None


def offered_parameters(server: str, raw: str, schema: Any) -> dict[str, Any]:
    """What the model is shown and the runner checks first: each property with one plain JSON type.

    It may only narrow the server's schema (a property with no single type becomes a string, `null` is dropped, extra
    properties are refused); the server's real schema is checked too, right before the call, so nothing the real
    schema forbids ever reaches the server. ManifestError for a schema that is not a JSON Schema object."""
    where = f"MCP server {server!r} tool {raw!r}"
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        raise ManifestError(f"{where}: input schema is malformed (not a JSON Schema of type object)")
    props = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(props, Mapping) or not isinstance(required, list):
        raise ManifestError(f"{where}: input schema is malformed (properties must be an object, required a list)")
    try:
        jsonschema.validators.validator_for(schema).check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        raise ManifestError(f"{where}: input schema is malformed ({exc.message[:200]})") from None
    out: dict[str, Any] = {}
    for pname, pschema in props.items():
        kind = _typed(pschema, schema) or "string"
        entry: dict[str, Any] = {"type": kind}
        if isinstance(pschema, Mapping):
            if isinstance(pschema.get("description"), str):
                entry["description"] = pschema["description"][:500]
            enum = pschema.get("enum")
            if kind == "string" and isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
                entry["enum"] = enum
        out[str(pname)] = entry
    return {"type": "object", "properties": out, "required": [r for r in required if r in out],
            "additionalProperties": False}


def notes_for(definition: Mapping[str, Any], previous: Mapping[str, Any] | None) -> tuple[str, ...]:
    """What the permission prompt adds for an MCP tool: the server's hints (claims, not checked) and what changed."""
    notes = []
    annotations = definition.get("annotations")
    if isinstance(annotations, Mapping):
        said = [label for key, label in _HINTS if annotations.get(key) is True]
        if said:
            notes.append(f"the server says this tool is: {', '.join(said)} (its claim, not checked; "
                         "it never approves anything by itself)")
    if previous is not None and definition_digest(previous) != definition_digest(definition):
        notes.append("CHANGED since it was last listed:")
        notes.extend(f"  {_visible(line)}" for line in describe_change(previous, definition))
    return tuple(notes)


def _visible(text: str) -> str:
    """Control and format characters (terminal escapes, bidi overrides) as <U+XXXX>: a server's text is shown on a
    terminal and in a dialog, where they could hide or fake what the user reads."""
    return "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") else c for c in text)


def render_content(result: mcp_types.CallToolResult, limit: int = MAX_RESULT_CHARS) -> str:
    """MCP content as text for the model: text as is, resources by their text, images/audio/binary as placeholders;
    cut at `limit` characters with a note saying how much was left out."""
    import mcp_types

    parts: list[str] = []
    size = 0
    for item in result.content:
        if isinstance(item, mcp_types.TextContent):
            text = item.text
        elif isinstance(item, mcp_types.ImageContent):
            text = f"[image ({item.mime_type}) not shown]"
        elif isinstance(item, mcp_types.AudioContent):
            text = f"[audio ({item.mime_type}) not shown]"
        elif isinstance(item, mcp_types.EmbeddedResource):
            res = item.resource
            text = (res.text if isinstance(res, mcp_types.TextResourceContents)
                    else f"[binary resource {res.uri} not shown]")
        elif isinstance(item, mcp_types.ResourceLink):
            text = f"[resource link: {item.uri}]"
        else:
            text = f"[{type(item).__name__} not shown]"
        parts.append(text)
        size += len(text)
        if size > limit:
            break
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    text = "\n".join(parts)
    if len(text) > limit:
        text = text[:limit] + f"\n[... truncated at {limit} characters]"
    return text


@dataclass(slots=True)
class McpTools:
    """The MCP tools of one session, their supervisors and the problems met while building them."""

    tools: list[Tool] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    supervisors: dict[str, ServerSupervisor] = field(default_factory=dict)
    sources: list[McpToolSource] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # servers asked to list their tools now that could not

    def add_to(self, registry: ToolRegistry) -> None:
        """Register each server's tools (a clash with a plugin's name skips that server, with a problem); a tool
        found changed at call time is replaced there, so the next call is asked for again."""
        for source in {id(s): s for s in self.sources}.values():
            source.registry = registry
        by_server: dict[str, list[Tool]] = {}
        for t in self.tools:
            by_server.setdefault(t.manifest.plugin, []).append(t)
        for plugin, tools in by_server.items():
            try:
                registry.add_plugin(plugin, tools)
            except ManifestError as exc:
                self.problems.append(str(exc))
        registry.problems.extend(self.problems)

    def close(self) -> None:
        for supervisor in self.supervisors.values():
            supervisor.stop()


class McpToolSource:
    """Builds Tools from the definitions cache (no server starts) and refreshes servers when asked to."""

    def __init__(self, servers: Iterable[McpServerConfig], home: Path, *, loop: LoopThread | None = None,
                 timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self.servers = [s for s in servers if not s.disabled]
        self.cache = DefinitionCache(home)
        self.supervisors = {s.name: ServerSupervisor(s, loop, timeouts) for s in self.servers}
        self._timeouts = timeouts
        self.registry: ToolRegistry | None = None  # where a changed tool is swapped for its new version

    def load(self, refresh: Refresh = "none") -> McpTools:
        """`refresh`: "none" (cache only; servers never listed are a problem line), "missing" (start servers with no
        cached listing), "all" (start every server to list it now). Servers are started side by side, so a session
        waits at most one start timeout however many servers it lists."""
        out = McpTools(supervisors=self.supervisors, sources=[self])
        listings = self.cache.load()
        wanted = [s.name for s in self.servers
                  if refresh == "all" or (refresh == "missing" and s.name not in listings)]
        for name, fresh in self._list_now(wanted).items():
            if isinstance(fresh, McpServerError):
                out.problems.append(str(fresh))
                out.unlisted.append(name)
            else:  # stored one by one: the cache file is rewritten whole
                listings[name] = self.cache.store(name, fresh)
        for server in self.servers:
            listing = listings.get(server.name)
            if listing is None:
                if server.name not in wanted:
                    out.problems.append(f"MCP server {server.name!r}: its tools are not known yet; a tool session "
                                        "or `edgemind tools list` starts it once to list them")
                continue
            out.tools.extend(self._tools_of(server.name, listing, out.problems))
        return out

    def _list_now(self, names: list[str]) -> dict[str, list[dict[str, Any]] | McpServerError]:
        """Each named server's live listing (or why not), the servers started in parallel threads."""
        if not names:
            return {}
        with ThreadPoolExecutor(max_workers=min(8, len(names)), thread_name_prefix="mcp-list") as pool:
            futures = {name: pool.submit(self.supervisors[name].tools) for name in names}
        out: dict[str, list[dict[str, Any]] | McpServerError] = {}
        for name, future in futures.items():
            try:
                out[name] = future.result()
            except McpServerError as exc:
                out[name] = exc
        return out

    def _tools_of(self, server: str, listing: ServerListing, problems: list[str]) -> list[Tool]:
        tools: list[Tool] = []
        seen: set[str] = set()
        for definition in listing.tools:
            try:
                t = self.tool_for(server, definition, listing.previous.get(str(definition.get("name"))))
            except ManifestError as exc:
                problems.append(str(exc))
                continue
            if t.name in seen:
                problems.append(f"MCP server {server!r}: two tools are both named {t.name!r} here; skipped the second")
                continue
            seen.add(t.name)
            tools.append(t)
        return tools

    def tool_for(self, server: str, definition: Mapping[str, Any], previous: Mapping[str, Any] | None) -> Tool:
        raw = definition.get("name")
        if not isinstance(raw, str) or not _TOOL_NAME.match(raw):
            raise ManifestError(f"MCP server {server!r}: a tool named {str(raw)[:80]!r} cannot be used "
                                "(names are 1-128 letters, digits, _ . or -)")
        name = tool_name(server, raw)
        description = definition.get("description")
        text = " ".join(description.split()) if isinstance(description, str) else ""
        schema = definition.get("inputSchema")
        manifest = ToolManifest(
            name=name, description=(text or f"{raw} (MCP server {server})")[:MAX_DESCRIPTION_CHARS],
            plugin=f"mcp:{server}", parameters=offered_parameters(server, raw, schema),
            scopes=(f"mcp:{server}/{raw}",),
            timeout_s=min(600.0, self._timeouts.start_s + self._timeouts.call_s + 5), version="mcp",
            code_digest=definition_digest(definition))
        validate_manifest(manifest)
        return Tool(manifest, self._caller(server, raw, dict(definition)), notes_for(definition, previous))

    def _caller(self, server: str, raw: str, definition: dict[str, Any]) -> Callable[..., str]:
        supervisor = self.supervisors[server]
        expected = definition_digest(definition)
        schema = definition.get("inputSchema")
        assert isinstance(schema, dict), "tool_for checked the schema"

        def call(**arguments: Any) -> str:
            try:
                jsonschema.validate(arguments, schema)
            except jsonschema.ValidationError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
                raise ToolError(f"{PREFIX}{server}: {raw}: {where}: {exc.message[:200]}") from None
            # a server may change a tool after it was granted (a "rug pull"): call only what the user saw
            live = {str(t.get("name")): t for t in supervisor.tools()}
            now = live.get(raw)
            if now is None or definition_digest(now) != expected:
                self.cache.store(server, list(live.values()))
                if now is not None and self.registry is not None:
                    try:
                        self.registry.replace(self.tool_for(server, now, definition))
                    except ManifestError as exc:
                        log.warning("%s", exc)
                what = "; ".join(describe_change(definition, now)) if now is not None else "the tool is gone"
                raise ToolError(f"MCP server {server!r} changed tool {raw!r} since it was listed ({what[:300]}); "
                                "not called: the next request asks again, showing the change")
            result = supervisor.call(raw, arguments)
            text = render_content(result)
            if result.is_error:
                raise ToolError(f"MCP server {server!r} tool {raw!r} reported an error: {text[:MAX_RESULT_CHARS]}")
            return text

        return call


def definition_for_display(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The binding part of a definition, for `tools list --json` and the settings page."""
    return definition_of(definition)
