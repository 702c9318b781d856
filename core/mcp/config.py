"""The MCP servers a user configured: the `mcpServers` shape other apps use, validated into plain records.

Reading never rewrites the file (a damaged `mcp.json` stays as the user left it); every problem is one
McpConfigError naming the file, the server and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from ..errors import EdgeMindError
from ..secret_store import is_reference
from .secrets import Field, McpSecrets, secret_id

CONFIG_FILE = "mcp.json"
MAX_FILE_BYTES = 1_000_000  # a config of hundreds of servers is a few KB; more is not a config file
MAX_NAME_CHARS = 40  # tool names are mcp__<server>__<tool> and models' APIs cap names at 64 characters


class McpConfigError(EdgeMindError):
    """An MCP configuration (ours or one being imported) that cannot be used: the message names server and field."""

    kind = "mcp_config"
    exit_code = 2


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """One server: stdio (`command`, `args`, `env`, `cwd`) or streamable HTTP (`url`, `headers`), never both.

    `env` and `headers` hold the real values (secrets already resolved from the keyring): keep this record in memory
    only, and show it through `masked()`.
    """

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    disabled: bool = False

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "http" if self.url is not None else "stdio"


def normalise_name(raw: str) -> str:
    """The server name used everywhere: lower-case letters, digits and single `_` only ("mcp-server-time" ->
    "mcp_server_time"), because it becomes part of tool names `mcp__<server>__<tool>` where `__` separates parts
    and models' function-calling APIs accept only `[a-zA-Z0-9_-]`. Raises McpConfigError when nothing is left."""
    name = re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")
    if not name:
        raise McpConfigError(f"MCP server name {raw!r} has no letters or digits; use a-z, 0-9 and _")
    if len(name) > MAX_NAME_CHARS:
        raise McpConfigError(f"MCP server name {raw!r} is longer than {MAX_NAME_CHARS} characters")
    return name


def _text(value: object, where: str, what: str) -> str:
    if not isinstance(value, str):
        raise McpConfigError(f"{where}: {what} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise McpConfigError(f"{where}: {what} contains a NUL byte")
    return value


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token: what an HTTP header name may be


def _string_map(value: object, where: str, what: str) -> dict[str, str]:
    """`env` or `headers`: names and values that can be passed on as they are (an `=` in a variable name, or a line
    break in a header, would be cut or injected by the OS or the HTTP client, so both are refused here)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise McpConfigError(f"{where}: {what} must be an object of strings, not {type(value).__name__}")
    out: dict[str, str] = {}
    for key, item in value.items():
        key = _text(key, where, f"a name in {what}")
        text = _text(item, where, f"{what}.{key}")
        if what == "headers":
            if not _HEADER_NAME.fullmatch(key):
                raise McpConfigError(f"{where}: headers: {key!r} is not a valid HTTP header name")
            if "\r" in text or "\n" in text:
                raise McpConfigError(f"{where}: headers.{key} contains a line break")
        elif not key or "=" in key:
            raise McpConfigError(f"{where}: env: {key!r} is not a valid variable name (empty, or with =)")
        out[key] = text
    return out


def check_url(url: str, where: str) -> str:
    """An http(s) URL with a host and no credentials in it, or McpConfigError: anything else (file:, javascript:, a
    bare path, spaces or control characters) is refused."""
    url = url.strip()
    bad = McpConfigError(f"{where}: url {url!r} is not an http:// or https:// address with a host")
    try:
        parts = urlsplit(url)
        host, credentials = parts.hostname, (parts.username, parts.password)
        _ = parts.port  # a malformed port raises here
    except ValueError:  # a malformed port or IPv6 address
        raise bad from None
    if parts.scheme not in ("http", "https") or not host or any(ord(c) < 33 for c in url):
        raise bad
    if credentials != (None, None):
        # mcp.json is a plain file: a credential belongs in a header, which goes to the keyring
        raise McpConfigError(f"{where}: url has a user name or password in it; give it as a header instead "
                             "(e.g. Authorization), which EdgeMind keeps in the OS keyring")
    return url


def parse_server(name: str, obj: object, where: str) -> McpServerConfig:
    """One entry of `mcpServers`, validated; `name` is normalised (see normalise_name)."""
    here = f"{where}: server {name!r}" if where else f"server {name!r}"
    if not isinstance(obj, Mapping):
        raise McpConfigError(f"{here} must be an object, not {type(obj).__name__}")
    command, url = obj.get("command"), obj.get("url")
    if command is not None and url is not None:
        raise McpConfigError(f"{here} has both command and url; give one (stdio or HTTP)")
    if command is None and url is None:
        raise McpConfigError(f"{here} has neither command nor url")
    disabled = obj.get("disabled", False)
    if not isinstance(disabled, bool):
        raise McpConfigError(f"{here}: disabled must be true or false")
    norm = normalise_name(_text(name, where, "a server name"))
    if url is not None:
        return McpServerConfig(name=norm, url=check_url(_text(url, here, "url"), here),
                               headers=_string_map(obj.get("headers"), here, "headers"), disabled=disabled)
    command = _text(command, here, "command").strip()
    if not command:
        raise McpConfigError(f"{here}: command is empty")
    args = obj.get("args", [])
    if not isinstance(args, list | tuple):
        raise McpConfigError(f"{here}: args must be a list of strings")
    cwd = obj.get("cwd")
    return McpServerConfig(name=norm, command=command,
                           args=tuple(_text(a, here, f"args[{i}]") for i, a in enumerate(args)),
                           env=_string_map(obj.get("env"), here, "env"),
                           cwd=None if cwd is None else _text(cwd, here, "cwd"), disabled=disabled)


def parse_servers(obj: object, where: str) -> list[McpServerConfig]:
    """The `{"mcpServers": {name: {...}}}` shape, validated; two names that normalise alike are an error."""
    if not isinstance(obj, Mapping):
        raise McpConfigError(f"{where}: expected a JSON object with mcpServers")
    servers = obj.get("mcpServers", {})
    if not isinstance(servers, Mapping):
        raise McpConfigError(f"{where}: mcpServers must be an object of servers")
    out: dict[str, McpServerConfig] = {}
    for name, entry in servers.items():
        server = parse_server(name, entry, where)
        if server.name in out:
            raise McpConfigError(f"{where}: two servers are named {server.name!r} (names are compared normalised)")
        out[server.name] = server
    return list(out.values())


def read_json_file(path: Path) -> object:
    """A JSON file of at most MAX_FILE_BYTES, or McpConfigError naming it; never changes the file."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise McpConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise McpConfigError(f"{path} is larger than {MAX_FILE_BYTES // 1_000_000} MB; not an MCP config file")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise McpConfigError(f"{path} is not valid JSON ({exc})") from None


def read_stored(home: Path) -> list[McpServerConfig]:
    """The servers of `<home>/mcp.json` as stored: secret values are still references (`edgemind-secret:...`).
    Enough to list them (masked) without asking the keyring; [] when there is no file."""
    path = home / CONFIG_FILE
    if not path.exists():
        return []
    return parse_servers(read_json_file(path), str(path))


def resolve_secrets(server: McpServerConfig, secrets: McpSecrets, where: str) -> McpServerConfig:
    """`server` with each secret reference replaced by its value; McpConfigError names the one that is missing."""
    def resolved(field_name: Field, values: Mapping[str, str]) -> dict[str, str]:
        out = {}
        for key, value in values.items():
            if is_reference(value):
                found = secrets.load(secret_id(server.name, field_name, key), value)
                if found is None:
                    raise McpConfigError(
                        f"{where}: server {server.name!r}: {field_name}.{key} is kept in the "
                        f"{value.removeprefix('edgemind-secret:')} store, which no longer has it; add the server "
                        "again with its value (edgemind mcp add ... --replace)")
                value = found
            out[key] = value
        return out
    return replace(server, env=resolved("env", server.env), headers=resolved("headers", server.headers))


def load_servers(home: Path, secrets: McpSecrets | None = None) -> list[McpServerConfig]:
    """The servers of `<home>/mcp.json` with their secrets resolved (from the OS keyring or mcp_secrets.json);
    [] when there is no such file; McpConfigError when it is damaged or a secret is missing. Never writes."""
    store = secrets or McpSecrets(home)
    where = str(home / CONFIG_FILE)
    return [resolve_secrets(server, store, where) for server in read_stored(home)]
