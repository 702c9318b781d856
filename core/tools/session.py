"""Assemble the tool machinery for one session: loaded plugins, the audit log, the broker and the runner.

Every host (CLI, GUI, API server) builds its runner here, so they share one definition of what a session may do.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session, sessionmaker

from ..mcp.config import McpConfigError
from ..mcp.service import McpServers
from ..mcp.tools import McpToolSource, Refresh
from ..settings import Settings
from ..storage.anchor import ANCHOR_FILE, LOCK_FILE, Anchor, AnchorStore, FileAnchorStore, KeyringAnchorStore
from ..storage.audit import AuditLog, open_key
from .permissions import AskCallback, PermissionBroker
from .registry import PluginContext, ToolRegistry
from .runner import ToolRunner
from .scopes import Scope


def plugin_context(settings: Settings) -> PluginContext:
    def embedding_function() -> object:
        # chromadb and onnxruntime are slow to import, and only the docs tool's index calls this
        from ..embeddings.chroma import ChromaEmbeddingFunction  # lazy: chromadb, for the docs index only
        from ..embeddings.embedder import embeddings_cache_dir  # lazy: onnxruntime, for the docs index only

        return ChromaEmbeddingFunction(embeddings_cache_dir(settings))

    return PluginContext(settings.home / "plugins", settings, {"embedding_function": embedding_function})


def open_audit(settings: Settings, sessions: sessionmaker[Session], *, check: bool = True) -> AuditLog:
    """The audit log with its key and its anchor (`<data>/audit.anchor`, vouched for by the OS keyring where the key
    is there).

    `check` (every session but `audit verify`/`accept`, which report instead) refuses a rolled-back or unanchored
    log with one AuditError line; a key gone under existing rows is refused always."""
    unkeyed = AuditLog(sessions, b"")
    key = open_key(settings.home, settings.audit_key_store, sealed_rows=unkeyed.row_count())
    path = settings.home / ANCHOR_FILE
    store: AnchorStore = KeyringAnchorStore(key.account, path) if key.where == "keyring" else FileAnchorStore(path)
    audit = AuditLog(sessions, key.key, Anchor(store, key.key, settings.home / LOCK_FILE))
    if check:
        audit.check_on_open()
    return audit


def add_mcp_tools(registry: ToolRegistry, settings: Settings, refresh: Refresh = "missing") -> None:
    """The configured MCP servers' tools, from their cached definitions. A server never listed yet is started now to
    list it ("missing": its first need, bounded by the start timeout), so a server just added works in the first
    session; one with cached definitions is not started until a call needs it ("all" lists every server afresh,
    "none" only reads the cache: see McpToolSource.load). A bad configuration or a broken server is a problem line,
    never a failure."""
    try:
        servers = McpServers.of(settings).load()  # secrets from the store the settings name
    except McpConfigError as exc:
        registry.problems.append(str(exc))
        return
    if not servers:
        return
    loaded = McpToolSource(servers, settings.home).load(refresh)
    loaded.add_to(registry)
    registry.closers.append(loaded.close)


def open_tool_runner(settings: Settings, sessions: sessionmaker[Session], *, ask: AskCallback | None = None,
                     grants: Iterable[str | Scope] = (), registry: ToolRegistry | None = None,
                     audit: AuditLog | None = None, mcp_refresh: Refresh = "missing") -> ToolRunner:
    """A runner over every installed plugin and configured MCP server; `ask` None means nobody can be asked, so
    ungranted calls are denied. Close it (ToolRunner.close) to stop the MCP servers it started."""
    audit = audit or open_audit(settings, sessions)
    if registry is None:
        registry = ToolRegistry.from_entry_points(plugin_context(settings))
        add_mcp_tools(registry, settings, mcp_refresh)
    return ToolRunner(registry, PermissionBroker(sessions, audit, ask=ask, preset=grants), audit)
