"""What `edgemind doctor` says about each configured MCP server without starting it: its transport, how many tools
are cached, and whether its command is found on PATH or its URL stays on this machine. Never starts a server and
never reads a secret."""

from __future__ import annotations

import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .config import McpServerConfig
from .definitions import ServerListing


@dataclass(frozen=True, slots=True)
class ServerHealth:
    """One server as doctor shows it; `found` is the command's full path (None: not found) for stdio, and
    `loopback` whether the URL's host is this machine for HTTP."""

    name: str
    transport: str
    disabled: bool
    tools_cached: int | None  # None: never listed
    command: str | None = None
    found: str | None = None
    url: str | None = None
    loopback: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "transport": self.transport, "disabled": self.disabled,
                "tools_cached": self.tools_cached, "command": self.command, "found": self.found, "url": self.url,
                "loopback": self.loopback}

    def line(self) -> str:
        tools = "never listed" if self.tools_cached is None else f"{self.tools_cached} tools cached"
        if self.transport == "http":
            where = "loopback (this machine)" if self.loopback else "REMOTE (leaves this machine)"
            target = f"{self.url}: {where}"
        else:
            found = "found" if self.found == self.command else f"found at {self.found}"
            target = f"{self.command}: {found if self.found else 'NOT FOUND on PATH'}"
        return f"{self.name}  {self.transport}  {tools}  {target}" + ("  (disabled)" if self.disabled else "")


def is_loopback(url: str) -> bool:
    """Whether `url`'s host is this machine, judged from the name alone (no DNS lookup: doctor stays offline)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def find_command(server: McpServerConfig) -> str | None:
    """The program a stdio server would start, as the OS would find it: on the PATH its env gives (else ours),
    relative to its working folder when the command is a relative path."""
    command = server.command or ""
    if os.sep in command or (os.altsep and os.altsep in command):
        path = Path(command)
        if not path.is_absolute() and server.cwd:
            path = Path(server.cwd) / path
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(command, path=server.env.get("PATH") or None)


def check_server(server: McpServerConfig, listing: ServerListing | None) -> ServerHealth:
    tools = None if listing is None else len(listing.tools)
    if server.url is not None:
        return ServerHealth(server.name, "http", server.disabled, tools, url=server.url,
                            loopback=is_loopback(server.url))
    return ServerHealth(server.name, "stdio", server.disabled, tools, command=server.command,
                        found=find_command(server))
