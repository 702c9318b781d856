"""Permission scopes: what a tool may touch (`fs.read:<folder>`, `net:<host>`, `code.exec`...), and when a grant
covers a need.

Paths are compared only after canonicalisation (absolute, symlinks resolved, case folded where the file system
folds case), so `..`, symlinks and case tricks cannot carry a call outside the granted folder. Never trust a
scope string that did not pass `parse_scope`. An `mcp:` grant names an MCP server (`mcp:time`, every tool of it) or
one of its tools by the server's own tool name (`mcp:time/get_current_time`). A `net:` grant names a host and may
name a port (`net:127.0.0.1:8080`); a wildcard (`net:*.example.org`) covers names, never addresses. Where a host
resolves is checked when a tool connects (addresses.py), since DNS can point a granted name anywhere.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import EdgeMindError
from .addresses import literal_address

# kind -> what its target is. A kind with no target is all-or-nothing (code.exec runs any code in the sandbox).
SCOPE_KINDS: dict[str, str] = {
    "fs.read": "folder",
    "fs.write": "folder",
    "net": "host",
    "code.exec": "",
    "system.info": "",
    "clipboard": "",
    "docs.read": "",
    "mcp": "server",
}
MAX_PATH_CHARS = 1024
# `<server>` (the configured name, normalised) or `<server>/<tool>` (the tool's own name as the server lists it)
_MCP_TARGET = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*(/[A-Za-z0-9_.-]{1,128})?$")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$")


class ScopeError(EdgeMindError):
    """A scope, path or URL that cannot be granted or checked: named with the reason."""

    kind = "bad_scope"


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str
    # canonical folder path; lower-case host (may start with "*.") with an optional port (`[::1]:8080` for IPv6);
    # or "" for target-less kinds
    target: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind


def canonical_path(raw: str | os.PathLike[str], base: Path | None = None) -> Path:
    """The real absolute path `raw` names (symlinks resolved), or ScopeError for paths no tool should ever take."""
    text = os.fspath(raw)
    if not text or not text.strip():
        raise ScopeError("empty path")
    if "\x00" in text:
        raise ScopeError("path contains a NUL byte")
    if len(text) > MAX_PATH_CHARS:
        raise ScopeError(f"path longer than {MAX_PATH_CHARS} characters")
    if text.startswith(("\\\\", "//", "\\\\?\\")):
        raise ScopeError(f"network and device paths are not allowed: {text[:80]!r}")
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    try:
        resolved = Path(os.path.realpath(path))
    except (OSError, ValueError) as exc:
        raise ScopeError(f"cannot resolve path {text[:80]!r}: {exc}") from None
    return Path(os.path.normcase(resolved))


def path_within(path: Path, folder: Path) -> bool:
    """True when canonical `path` is `folder` or inside it (compared part by part, so /a/bc is not in /a/b)."""
    try:
        return os.path.commonpath([str(path), str(folder)]) == str(folder)
    except ValueError:  # different drives on Windows
        return False


def host_of(url: str) -> str:
    """The lower-case host a URL points at; ScopeError for anything but a plain http(s) URL."""
    if not isinstance(url, str) or len(url) > 2048:
        raise ScopeError("URL missing or longer than 2048 characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise ScopeError(f"only http and https URLs can be fetched, not {parts.scheme or 'no scheme'!r}")
    if parts.username or parts.password:
        raise ScopeError("URLs with credentials are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ScopeError(f"URL has no host: {url[:80]!r}")
    return host.lower()


def split_host_port(target: str) -> tuple[str, int | None]:
    """`example.org:8080` -> ('example.org', 8080); `[::1]:8080` -> ('::1', 8080); `::1` -> ('::1', None)."""
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        if "]" not in target or (rest and not rest.startswith(":")):
            raise ScopeError(f"not a host: {target!r}")
        port_text = rest[1:] if rest else None
    elif target.count(":") == 1:
        host, port_text = target.split(":")
    else:
        host, port_text = target, None
    if port_text is None:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ScopeError(f"not a port: {port_text!r} in {target!r}")
    return host, int(port_text)


def _join_host_port(host: str, port: int | None) -> str:
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_host(target: str) -> str:
    """A grantable `host[:port]`, lower-case, IP literals in their canonical form (so `[0::1]` grants `::1`)."""
    host, port = split_host_port(target.strip().lower())
    host = host.rstrip(".")
    try:
        return _join_host_port(str(ipaddress.ip_address(host)), port)
    except ValueError:
        pass
    if not _HOST.match(host):
        raise ScopeError(f"not a host name: {host!r}")
    return _join_host_port(host, port)


def parse_scope(text: str) -> Scope:
    """`fs.read:~/Documents` -> Scope('fs.read', '/home/me/Documents'); ScopeError names what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ScopeError("empty scope")
    kind, sep, target = text.strip().partition(":")
    if kind not in SCOPE_KINDS:
        raise ScopeError(f"unknown scope kind {kind!r}; known: {', '.join(sorted(SCOPE_KINDS))}")
    wants = SCOPE_KINDS[kind]
    if not wants:
        if sep and target:
            raise ScopeError(f"scope {kind} takes no target, got {target!r}")
        return Scope(kind)
    if not target.strip():
        example = "~/Documents" if wants == "folder" else "example.org"
        raise ScopeError(f"scope {kind} needs a {wants}, e.g. {kind}:{example}")
    if wants == "folder":
        return Scope(kind, str(canonical_path(target)))
    if wants == "server":
        if not _MCP_TARGET.match(target.strip()):
            raise ScopeError(f"scope {kind} needs a server name or server/tool, e.g. mcp:time or "
                             f"mcp:time/get_current_time, not {target.strip()[:80]!r}")
        return Scope(kind, target.strip())
    checked = _check_host(target)
    host, port = split_host_port(checked)
    if port in (80, 443):  # a URL on its default port needs `net:<host>`, which a grant with a port never covers
        raise ScopeError(f"{port} is a default web port: grant {kind}:{host} (any port) instead")
    return Scope(kind, checked)


def covers(granted: Scope, needed: Scope) -> bool:
    """Whether a grant of `granted` allows what `needed` asks for. Both must come from parse_scope/need_* helpers."""
    if granted.kind != needed.kind:
        return False
    wants = SCOPE_KINDS.get(granted.kind)
    if wants is None:
        return False
    if not wants:
        return True
    if wants == "folder":
        return path_within(Path(needed.target), Path(granted.target))
    if wants == "server":  # a server grant covers each of its tools; a tool grant only that tool
        return granted.target == needed.target or ("/" not in granted.target
                                                   and needed.target.startswith(granted.target + "/"))
    granted_host, granted_port = split_host_port(granted.target)
    needed_host, needed_port = split_host_port(needed.target)
    if granted_port is not None and granted_port != needed_port:
        return False
    if granted_host.startswith("*."):  # a wildcard covers names under it, never an address (`*.0.1` is no grant)
        suffix = granted_host[1:]
        return needed_host.endswith(suffix) and len(needed_host) > len(suffix) and literal_address(needed_host) is None
    return granted_host == needed_host


def need_path(kind: str, raw: str, base: Path | None = None) -> Scope:
    """The scope a call touching path `raw` needs (its canonical path, so a grant check sees the real target)."""
    return Scope(kind, str(canonical_path(raw, base)))


def need_host(url: str) -> Scope:
    """`net:<host>` for a URL on its scheme's default port, `net:<host>:<port>` for any other port."""
    host = host_of(url)
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        raise ScopeError(f"URL has a port that is not a number from 1 to 65535: {url[:80]!r}") from None
    default = {"http": 80, "https": 443}[parts.scheme]
    return Scope("net", _check_host(_join_host_port(host, None if port in (None, default) else port)))
