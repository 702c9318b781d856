"""Each MCP server's last `tools/list`, kept in the data folder so tool definitions are known without starting servers.

The file is a cache of untrusted text: it never grants anything. A definition that differs from the cached one keeps
the old one as `previous`, so the next permission prompt can show what changed. Never raises on a damaged file: a
cache that cannot be read is an empty cache (servers are listed again on the next refresh).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..data_folder import FILE_MODE
from ..storage.audit import canonical_json

log = logging.getLogger("edgemind.mcp")

CACHE_FILE = "mcp_tools.json"
# The parts of a tool definition that bind a grant: a change to any of them is a changed tool.
DEFINITION_KEYS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
MAX_CACHE_BYTES = 20_000_000
_DIFF_CHARS = 160


def definition_of(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The binding part of one tool as a server listed it (volatile `_meta` and icons left out)."""
    return {k: raw[k] for k in DEFINITION_KEYS if k in raw and raw[k] is not None}


def definition_digest(definition: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a definition: the manifest's code_digest for an MCP tool."""
    return hashlib.sha256(canonical_json(definition_of(definition)).encode("utf-8")).hexdigest()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= _DIFF_CHARS else text[:_DIFF_CHARS] + "…"


def describe_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """A short diff a person can read in a prompt: one line per changed part, old and new value cut to fit."""
    a, b = definition_of(old), definition_of(new)
    lines = []
    for key in DEFINITION_KEYS:
        if a.get(key) == b.get(key):
            continue
        if key == "inputSchema" and isinstance(a.get(key), Mapping) and isinstance(b.get(key), Mapping):
            old_props = a[key].get("properties") or {}
            new_props = b[key].get("properties") or {}
            if isinstance(old_props, Mapping) and isinstance(new_props, Mapping):
                added = sorted(set(new_props) - set(old_props))
                removed = sorted(set(old_props) - set(new_props))
                changed = sorted(p for p in set(old_props) & set(new_props) if old_props[p] != new_props[p])
                parts = [f"{what}: {', '.join(names)}" for what, names in
                         (("added", added), ("removed", removed), ("changed", changed)) if names]
                if parts:
                    lines.append(f"parameters {'; '.join(parts)}")
                    continue
        lines.append(f"{key}: was {_short(a.get(key, '(none)'))!s} -> now {_short(b.get(key, '(none)'))!s}")
    return lines


@dataclass(slots=True)
class ServerListing:
    """One server's cached listing: its tools' definitions in the order the server gave them."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)  # tool name -> the definition before a change
    listed_at: str = ""


class DefinitionCache:
    """`<data folder>/mcp_tools.json`: read at session start, written when a server was (re)listed."""

    def __init__(self, home: Path) -> None:
        self.path = home / CACHE_FILE

    def load(self) -> dict[str, ServerListing]:
        try:
            if self.path.stat().st_size > MAX_CACHE_BYTES:
                log.warning("%s is larger than %d bytes; ignoring it", self.path, MAX_CACHE_BYTES)
                return {}
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("cannot read %s (%s); MCP tools are listed again when their servers start", self.path, exc)
            return {}
        out: dict[str, ServerListing] = {}
        if not isinstance(data, dict):
            return out
        for server, entry in data.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("tools"), list):
                continue
            previous = entry.get("previous")
            previous = previous if isinstance(previous, dict) else {}
            out[str(server)] = ServerListing([t for t in entry["tools"] if isinstance(t, dict)],
                                             {str(k): v for k, v in previous.items() if isinstance(v, dict)},
                                             str(entry.get("listed_at", "")))
        return out

    def store(self, server: str, tools: list[dict[str, Any]]) -> ServerListing:
        """Record a fresh listing; a tool whose definition changed keeps its old definition as `previous`."""
        listings = self.load()
        old = listings.get(server, ServerListing())
        before = {t.get("name"): t for t in old.tools}
        previous = dict(old.previous)
        for tool in tools:
            prior = before.get(tool.get("name"))
            if prior is not None and definition_digest(prior) != definition_digest(tool):
                previous[str(tool.get("name"))] = definition_of(prior)
        listing = ServerListing([definition_of(t) for t in tools], previous, datetime.now(UTC).isoformat())
        listings[server] = listing
        self._write(listings)
        return listing

    def _write(self, listings: dict[str, ServerListing]) -> None:
        data = {name: {"tools": lst.tools, "previous": lst.previous, "listed_at": lst.listed_at}
                for name, lst in sorted(listings.items())}
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, indent=1)
            os.replace(tmp, self.path)
        except OSError as exc:  # a cache that cannot be written only means servers are listed again next time
            log.warning("cannot write %s: %s", self.path, exc)
