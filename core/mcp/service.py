"""The MCP configuration service the shells call (`edgemind mcp`, the Settings page): one data folder's servers.

The shells import this module only; it binds the data folder and the secret-store setting once, so the CLI and the
GUI cannot disagree about where a secret goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import Settings
from .config import McpConfigError, McpServerConfig, load_servers, normalise_name, parse_server, read_stored
from .imports import import_file
from .secrets import MASK, McpSecrets, is_secret
from .store import Change, masked, remove_server, save_servers, set_disabled

__all__ = ["MASK", "Change", "McpConfigError", "McpServerConfig", "McpServers", "is_secret", "normalise_name",
           "server_from_fields"]


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
