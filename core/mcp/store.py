"""Changing the configured MCP servers: add, remove, import; `<home>/mcp.json` written whole, 0600 and durable.

Secret values (core/mcp/secrets.py says which) go to the OS keyring or mcp_secrets.json before the file is written,
and the file holds only references to them. The CLI and the Settings page both call these functions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..data_folder import secure_data_folder, write_private
from ..secret_store import REFERENCE, is_reference
from .config import (
    CONFIG_FILE,
    McpConfigError,
    McpServerConfig,
    normalise_name,
    parse_server,
    read_stored,
    resolve_secrets,
)
from .secrets import MASK, Field, McpSecrets, is_secret, secret_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    """What one add or import did: `added` and `replaced` server names, `skipped` as (name, reason) pairs."""

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()

    def lines(self) -> list[str]:
        """One line per server, for the CLI and the Settings page alike."""
        return ([f"added {name}" for name in self.added] + [f"replaced {name}" for name in self.replaced]
                + [f"skipped {name}: {why}" for name, why in self.skipped])


def _references(server: McpServerConfig) -> list[tuple[str, str]]:
    """(secret id, reference) of each secret a stored server holds."""
    fields: tuple[tuple[Field, Mapping[str, str]], ...] = (("env", server.env), ("headers", server.headers))
    return [(secret_id(server.name, f, k), v) for f, values in fields for k, v in values.items() if is_reference(v)]


def _check_plain(server: McpServerConfig) -> None:
    """A value given by a user or another app must not look like one of our references: it would be read back as
    a pointer into the keyring instead of as itself."""
    for field_name, values in (("env", server.env), ("headers", server.headers)):
        for key, value in values.items():
            if value.startswith(REFERENCE):
                raise McpConfigError(f"server {server.name!r}: {field_name}.{key} starts with {REFERENCE!r}, "
                                     "which EdgeMind keeps for its own secret references")


def _stored_form(server: McpServerConfig, secrets: McpSecrets) -> dict[str, Any]:
    """The JSON entry of a server with real values, its secrets saved and replaced by references."""
    def kept(field_name: Field, values: Mapping[str, str]) -> dict[str, str]:
        return {k: (secrets.save(secret_id(server.name, field_name, k), v) if is_secret(field_name, k) and v else v)
                for k, v in values.items()}
    entry: dict[str, Any]
    if server.url is not None:
        entry = {"url": server.url}
        if server.headers:
            entry["headers"] = kept("headers", server.headers)
    else:
        entry = {"command": server.command, "args": list(server.args)}
        if server.env:
            entry["env"] = kept("env", server.env)
        if server.cwd is not None:
            entry["cwd"] = server.cwd
    if server.disabled:
        entry["disabled"] = True
    return entry


def _entry_of_stored(server: McpServerConfig) -> dict[str, Any]:
    """The JSON entry of a server read back from mcp.json (its references written back unchanged)."""
    entry: dict[str, Any] = ({"url": server.url, **({"headers": dict(server.headers)} if server.headers else {})}
                             if server.url is not None else
                             {"command": server.command, "args": list(server.args),
                              **({"env": dict(server.env)} if server.env else {}),
                              **({"cwd": server.cwd} if server.cwd is not None else {})})
    if server.disabled:
        entry["disabled"] = True
    return entry


def _write(home: Path, entries: Mapping[str, dict[str, Any]]) -> None:
    path = home / CONFIG_FILE
    try:
        secure_data_folder(home)
        write_private(path, json.dumps({"mcpServers": dict(entries)}, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise McpConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def save_servers(home: Path, servers: Iterable[McpServerConfig], *, replace_existing: bool = False,
                 secrets: McpSecrets | None = None) -> Change:
    """Add `servers` (real values, e.g. from the CLI, the Settings page or an import) to mcp.json, all or none.

    A name already configured is refused unless `replace_existing`; one configured with the very same settings is
    skipped as unchanged. The existing file is validated first, so a damaged one is never overwritten."""
    store = secrets or McpSecrets(home)
    stored = {s.name: s for s in read_stored(home)}
    new = list(servers)
    names = [s.name for s in new]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise McpConfigError(f"server name {twice[0]!r} is given twice")
    for server in new:
        _check_plain(server)
    unchanged = {s.name for s in new if s.name in stored and _same(stored[s.name], s, store)}
    clashes = [s.name for s in new if s.name in stored and s.name not in unchanged]
    if clashes and not replace_existing:
        raise McpConfigError(f"{len(clashes)} server(s) already configured: {', '.join(clashes)}; "
                             "remove them first or replace them (--replace)")
    entries = {name: _entry_of_stored(s) for name, s in stored.items()}
    for server in new:
        if server.name not in unchanged:
            entries[server.name] = _stored_form(server, store)
    _write(home, entries)
    for name in clashes:  # secrets the replaced entry had and the new one no longer names
        kept = set(_references(_parsed(name, entries[name])))
        for sid, ref in _references(stored[name]):
            if (sid, ref) not in kept:
                store.forget(sid, ref)
    return Change(added=tuple(s.name for s in new if s.name not in stored),
                  replaced=tuple(clashes),
                  skipped=tuple((n, "already configured with the same settings") for n in names if n in unchanged))


def _parsed(name: str, entry: Mapping[str, Any]) -> McpServerConfig:
    return parse_server(name, entry, CONFIG_FILE)


def _same(stored: McpServerConfig, new: McpServerConfig, secrets: McpSecrets) -> bool:
    """Whether `new` equals what is stored, secrets compared by value (a missing secret counts as different)."""
    try:
        return resolve_secrets(stored, secrets, CONFIG_FILE) == new
    except McpConfigError:
        return False


def remove_server(home: Path, name: str, secrets: McpSecrets | None = None) -> McpServerConfig:
    """Remove one server from mcp.json and forget its secrets; returns it as it was stored."""
    store = secrets or McpSecrets(home)
    key = normalise_name(name)
    stored = {s.name: s for s in read_stored(home)}
    if key not in stored:
        known = ", ".join(stored) or "none"
        raise McpConfigError(f"no MCP server named {name!r} (configured: {known})")
    gone = stored.pop(key)
    _write(home, {n: _entry_of_stored(s) for n, s in stored.items()})
    for sid, ref in _references(gone):
        store.forget(sid, ref)
    return gone


def set_disabled(home: Path, name: str, disabled: bool) -> McpServerConfig:
    """Switch one server off (its tools are not offered, its process never started) or on again; secrets untouched."""
    key = normalise_name(name)
    stored = {s.name: s for s in read_stored(home)}
    if key not in stored:
        known = ", ".join(stored) or "none"
        raise McpConfigError(f"no MCP server named {name!r} (configured: {known})")
    stored[key] = replace(stored[key], disabled=disabled)
    _write(home, {n: _entry_of_stored(s) for n, s in stored.items()})
    return stored[key]


def masked(server: McpServerConfig) -> dict[str, Any]:
    """A server as the CLI and the Settings page show it: secret values (and references to them) as `***`."""
    def shown(field_name: Field, values: Mapping[str, str]) -> dict[str, str]:
        return {k: MASK if is_reference(v) or (v and is_secret(field_name, k)) else v for k, v in values.items()}
    row: dict[str, Any] = {"name": server.name, "transport": server.transport, "disabled": server.disabled}
    if server.url is not None:
        row.update(url=server.url, headers=shown("headers", server.headers))
    else:
        row.update(command=server.command, args=list(server.args), env=shown("env", server.env), cwd=server.cwd)
    return row
