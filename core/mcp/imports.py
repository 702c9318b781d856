"""Reading other apps' MCP config files: Claude Desktop, LM Studio (Cursor's notation), Jan and AnythingLLM.

All keep an `mcpServers` object of `{command, args, env}` or `{url, headers}` entries; they differ in extra keys
(`type`/`transport` naming the transport, Jan's `active`, AnythingLLM's `anythingllm` block, `serverUrl`) that are
translated here. A server on a transport EdgeMind does not speak (legacy SSE, WebSocket) is skipped with a reason;
anything malformed fails the whole import with one line, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .config import McpConfigError, McpServerConfig, parse_server, read_json_file
from .secrets import McpSecrets
from .store import Change, save_servers

_HTTP = {"http", "streamable", "streamable-http", "streamable_http", "streamablehttp", "http_stream", "http-stream"}
_SSE = {"sse", "http+sse"}
_TYPE_KEYS = ("type", "transport", "transportType")


@dataclass(frozen=True, slots=True)
class Foreign:
    """What a file holds: servers EdgeMind can run, and (name, reason) for those it cannot."""

    servers: tuple[McpServerConfig, ...]
    skipped: tuple[tuple[str, str], ...]


def _servers_object(obj: object, where: str) -> Mapping[str, object]:
    """The `mcpServers` object, at the top or inside an `mcp` block (`servers` is VS Code's name for it)."""
    if not isinstance(obj, Mapping):
        raise McpConfigError(f"{where}: expected a JSON object with mcpServers")
    for holder in (obj, obj.get("mcp")):
        if isinstance(holder, Mapping):
            for key in ("mcpServers", "servers"):
                if key in holder:
                    found = holder[key]
                    if not isinstance(found, Mapping):
                        raise McpConfigError(f"{where}: {key} must be an object of servers")
                    return found
    raise McpConfigError(f"{where}: no mcpServers object; not an MCP config file")


def _transport(name: str, entry: Mapping[str, object], where: str, anythingllm: bool) -> str | None:
    """"stdio", "http", or None with the entry left to skip; the declared type wins over what the keys suggest."""
    declared = next((entry[k] for k in _TYPE_KEYS if k in entry), None)
    if declared is not None:
        if not isinstance(declared, str):
            raise McpConfigError(f"{where}: server {name!r}: type must be a string")
        kind = declared.strip().lower()
        if kind == "stdio":
            return "stdio"
        if kind in _HTTP:
            return "http"
        if kind in _SSE:
            return None
        raise McpConfigError(f"{where}: server {name!r}: unknown transport type {declared!r}")
    if "command" in entry:
        return "stdio"
    url = entry.get("url", entry.get("serverUrl"))
    if url is None:
        raise McpConfigError(f"{where}: server {name!r} has neither command nor url")
    if isinstance(url, str) and (anythingllm or urlsplit(url).path.rstrip("/").endswith("/sse")):
        return None  # AnythingLLM reads a bare url as legacy SSE; an /sse endpoint is one too
    return "http"


def parse_foreign(obj: object, where: str, *, anythingllm: bool = False) -> Foreign:
    """Servers from another app's config object, translated to ours; McpConfigError for anything malformed."""
    servers: list[McpServerConfig] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, entry in _servers_object(obj, where).items():
        if not isinstance(entry, Mapping):
            raise McpConfigError(f"{where}: server {name!r} must be an object, not {type(entry).__name__}")
        from_anythingllm = anythingllm or "anythingllm" in entry or "anythingllm.autoStart" in entry
        transport = _transport(name, entry, where, from_anythingllm)
        if transport is None:
            skipped.append((name, "uses the legacy SSE transport; EdgeMind speaks stdio and streamable HTTP only"))
            continue
        ours: dict[str, object] = {}
        if transport == "stdio":
            if "url" in entry or "serverUrl" in entry:
                raise McpConfigError(f"{where}: server {name!r} has both command and url; give one (stdio or HTTP)")
            ours.update({k: entry[k] for k in ("command", "args", "env", "cwd") if k in entry})
            if "command" not in entry:
                raise McpConfigError(f"{where}: server {name!r} is stdio but has no command")
        else:
            if "command" in entry:
                raise McpConfigError(f"{where}: server {name!r} has both command and url; give one (stdio or HTTP)")
            url = entry.get("url", entry.get("serverUrl"))
            if url is None:
                raise McpConfigError(f"{where}: server {name!r} is HTTP but has no url")
            ours.update(url=url, **({"headers": entry["headers"]} if "headers" in entry else {}))
        disabled = entry.get("disabled", False)
        active = entry.get("active", True)  # Jan's switch
        if not isinstance(active, bool):
            raise McpConfigError(f"{where}: server {name!r}: active must be true or false")
        ours["disabled"] = disabled if not isinstance(disabled, bool) else disabled or not active
        server = parse_server(str(name), ours, where)
        if server.name in seen:
            raise McpConfigError(f"{where}: two servers are named {server.name!r} (names are compared normalised)")
        seen.add(server.name)
        servers.append(server)
    return Foreign(tuple(servers), tuple(skipped))


def import_file(home: Path, path: Path, *, replace_existing: bool = False,
                secrets: McpSecrets | None = None) -> Change:
    """Add every server of another app's config file to ours, all or none; the Change says what happened to each."""
    foreign = parse_foreign(read_json_file(path), str(path), anythingllm=path.name.startswith("anythingllm"))
    change = save_servers(home, foreign.servers, replace_existing=replace_existing, secrets=secrets)
    return Change(change.added, change.replaced, change.skipped + foreign.skipped)
