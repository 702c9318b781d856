"""Assemble the tool machinery for one session: loaded plugins, the audit log, the broker and the runner.

Every host (CLI, GUI, API server) builds its runner here, so they share one definition of what a session may do.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session, sessionmaker

from ..settings import Settings
from ..storage.audit import AuditLog, load_key
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


def open_audit(settings: Settings, sessions: sessionmaker[Session]) -> AuditLog:
    return AuditLog(sessions, load_key(settings.home, settings.audit_key_store))


def open_tool_runner(settings: Settings, sessions: sessionmaker[Session], *, ask: AskCallback | None = None,
                     grants: Iterable[str | Scope] = (), registry: ToolRegistry | None = None,
                     audit: AuditLog | None = None) -> ToolRunner:
    """A runner over every installed plugin; `ask` None means nobody can be asked, so ungranted calls are denied."""
    audit = audit or open_audit(settings, sessions)
    registry = registry or ToolRegistry.from_entry_points(plugin_context(settings))
    return ToolRunner(registry, PermissionBroker(sessions, audit, ask=ask, preset=grants), audit)
