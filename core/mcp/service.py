"""The MCP configuration service the shells call (`edgemind mcp`, the Settings page): one data folder's servers.

The shells import this module only; it binds the data folder and the secret-store setting once, so the CLI and the
GUI cannot disagree about where a secret goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import Settings
from .config import (
    McpConfigError,
    McpServerConfig,
    load_servers,
    normalise_name,
    parse_server,
    read_stored,
    resolve_secrets,
)
from .definitions import DefinitionCache
from .health import ServerHealth, check_server
from .imports import import_file
from .offer import offers
from .secrets import MASK, McpSecrets, is_secret
from .store import Change, masked, remove_server, save_servers, set_disabled
from .supervisor import DEFAULT_TIMEOUTS, Timeouts
from .tools import McpToolSource

__all__ = ["MASK", "Change", "McpConfigError", "McpOffer", "McpServerConfig", "McpServers", "ServerHealth",
           "ServerTools", "is_secret", "normalise_name", "server_from_fields"]


def server_from_fields(name: str, *, command: str | None = None, args: list[str] | tuple[str, ...] = (),
                       env: dict[str, str] | None = None, cwd: str | None = None, url: str | None = None,
                       headers: dict[str, str] | None = None) -> McpServerConfig:
    """A server from what a user typed (CLI arguments, the Settings form), validated as a config entry is."""
    entry: dict[str, Any] = {}
    if command is not None:
        entry.update(command=command, args=list(args), env=env or {}, cwd=cwd)
    if url is not None:
        entry.update(url=url, headers=headers or {})
    return parse_server(name, entry, "")


@dataclass(frozen=True, slots=True)
class ServerTools:
    """What listing one server's tools right after it was saved found: how many tools (None: it could not be
    listed) and the problems met, each one line naming the server. Either way the server stays configured."""

    name: str
    tools: int | None
    problems: tuple[str, ...] = ()

    def line(self) -> str:
        """`time: 2 tools`, or the first problem (the server could not start) for a warning."""
        if self.tools is None:
            why = self.problems[0] if self.problems else f"MCP server {self.name!r} could not be listed"
            return f"{why}; it stays configured"
        return f"{self.name}: {self.tools} tool{'' if self.tools == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class McpOffer:
    """An MCP tool a prompt would be offered (given a tool capability), and why (core/mcp/offer.py)."""

    tool: str
    server: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"tool": self.tool, "server": self.server, "why": self.why}


@dataclass(frozen=True, slots=True)
class McpServers:
    """The MCP servers of one data folder; `store` is the audit_key_store setting ("auto", "keyring", "file")."""

    home: Path
    store: str = "auto"

    @classmethod
    def of(cls, settings: Settings) -> McpServers:
        return cls(settings.home, settings.audit_key_store)

    @property
    def secrets(self) -> McpSecrets:
        return McpSecrets(self.home, self.store)

    @property
    def file(self) -> Path:
        return self.home / "mcp.json"

    def shown(self) -> list[dict[str, Any]]:
        """Every server as shown to a user, secrets as `***` (reads no secret, so a locked keyring is fine)."""
        return [masked(s) for s in read_stored(self.home)]

    def load(self) -> list[McpServerConfig]:
        """Every server with its real secrets, for starting them."""
        return load_servers(self.home, self.secrets)

    def add(self, server: McpServerConfig, *, replace_existing: bool = False) -> Change:
        return save_servers(self.home, [server], replace_existing=replace_existing, secrets=self.secrets)

    def remove(self, name: str) -> McpServerConfig:
        return remove_server(self.home, name, self.secrets)

    def set_disabled(self, name: str, disabled: bool) -> McpServerConfig:
        return set_disabled(self.home, name, disabled)

    def import_file(self, path: Path, *, replace_existing: bool = False) -> Change:
        return import_file(self.home, path, replace_existing=replace_existing, secrets=self.secrets)

    def health(self) -> list[ServerHealth]:
        """Each configured server as `edgemind doctor` shows it, without starting it or reading a secret."""
        listings = DefinitionCache(self.home).load()
        return [check_server(s, listings.get(s.name)) for s in read_stored(self.home)]

    def offers(self, prompt: str) -> tuple[list[McpOffer], list[str]]:
        """The MCP tools `prompt` would be offered and why, from the cached definitions (no server starts, no
        secret is read), with the problems met (a server whose tools were never listed cannot be offered)."""
        stored = [s for s in read_stored(self.home) if not s.disabled]
        if not stored:
            return [], []
        loaded = McpToolSource(stored, self.home).load("none")
        found = [McpOffer(t.name, t.manifest.plugin.removeprefix("mcp:"), why)
                 for t, why in offers(prompt, loaded.tools)]
        return found, loaded.problems

    def list_tools(self, names: Iterable[str], timeouts: Timeouts = DEFAULT_TIMEOUTS) -> list[ServerTools]:
        """Start the named (enabled) servers side by side, list their tools into the definitions cache and stop
        them again: what `mcp add|import|enable` and the Settings page do right after saving, so the next session
        knows the tools. A server that cannot start costs its own line; a disabled one is skipped."""
        wanted = {normalise_name(n) for n in names}
        out: list[ServerTools] = []
        ready: list[McpServerConfig] = []
        for stored in read_stored(self.home):
            if stored.name not in wanted or stored.disabled:
                continue
            try:
                ready.append(resolve_secrets(stored, self.secrets, str(self.file)))
            except McpConfigError as exc:
                out.append(ServerTools(stored.name, None, (str(exc),)))
        if not ready:
            return out
        loaded = McpToolSource(ready, self.home, timeouts=timeouts).load("all")
        try:
            for server in ready:
                mine = tuple(p for p in loaded.problems if p.startswith(f"MCP server {server.name!r}"))
                count = sum(t.manifest.plugin == f"mcp:{server.name}" for t in loaded.tools)
                out.append(ServerTools(server.name, None if server.name in loaded.unlisted else count, mine))
        finally:
            loaded.close()
        return out
