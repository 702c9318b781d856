"""The narrow services the shells (GUI, CLI, API server) use instead of the engine's internals: conversations, models,
cache admin, tools, grants and the audit log. Each is a thin typed façade over one existing object; none holds logic
of its own, and none may ever be bypassed by a shell (tests/test_layers.py enforces it).

An `Engine` exposes them as `engine.conversations`, `engine.models`, `engine.cache_admin` and `engine.audit_log`.
`Tools` and `Grants` wrap a shell's own tool capability (`Tools(engine.open_tools(ask))`): the engine holds none.
Commands that need no model (`edgemind models list`, `audit verify`, …) open one alone with its `open(settings)`,
over the same data folder, without loading the router or a model.
"""

from __future__ import annotations

# The services' `list` methods hide the builtin inside their classes: annotations say `builtins.list`.
import builtins
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ..backends.model_pool import ModelPool
from ..backends.ollama_backend import list_ollama_models
from ..backends.registry import model_sources
from ..cache.answers import AnswerCache
from ..errors import EdgeMindError, StoreError
from ..mcp.tools import Refresh
from ..models.adapters import AdapterManifest, is_adapter_name
from ..models.catalog import CatalogEntry, find_entry, load_catalog
from ..models.download import part_path
from ..models.integrity import Progress
from ..models.manifest import ModelSpec
from ..models.pull import PullOutcome, pull, pulled_path
from ..models.registry import ModelRegistry
from ..settings import Settings
from ..storage.audit import EVENT_KINDS, AuditEntry, AuditLog, VerifyResult
from ..storage.chat_settings import ChatSettings, Preset, PresetStore
from ..storage.conversations import ConversationInfo, ConversationStore, QAPair, SearchHit, StoredMessage
from ..storage.db import open_database
from ..tools.permissions import Answer, AskCallback, Decision, GrantInfo, PermissionRequest
from ..tools.registry import Tool
from ..tools.runner import ToolOutcome, ToolRunner, ensure_granted
from ..tools.scopes import Scope, parse_scope
from ..tools.session import open_audit, open_tool_runner

log = logging.getLogger(__name__)

__all__ = ["AuditTrail", "CacheAdmin", "Conversations", "Grants", "Models", "Presets", "Tools", "open_registry",
           # the vocabulary of a host's ask callback (Tools.open, Engine.open_tools)
           "Answer", "AskCallback", "PermissionRequest"]


def _open_sessions(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(open_database(settings.db_path), expire_on_commit=False)


def open_registry(settings: Settings) -> tuple[ModelRegistry, sessionmaker[Session]]:
    """The database and model registry alone: what model commands and `doctor` need, without loading the router's
    embedder or a cache (which `Engine.create` adds)."""
    sessions = _open_sessions(settings)
    return ModelRegistry(settings, sessions, ollama_lister=list_ollama_models, sources=model_sources()), sessions


class Conversations:
    """Stored conversations: list, search, read, export, rename, truncate, delete; and facts to remember."""

    def __init__(self, store: ConversationStore, cache: AnswerCache | None = None) -> None:
        self._store = store
        self._cache = cache

    @classmethod
    def open(cls, settings: Settings) -> Conversations:
        """Over the data folder's database and answer cache, without an engine (history commands); a deletion a
        killed process left half done is finished first."""
        conversations = cls(ConversationStore(_open_sessions(settings)),
                            AnswerCache.from_settings(settings) if settings.cache_enabled else None)
        conversations.finish_deletions()
        return conversations

    def list(self, limit: int = 50) -> builtins.list[ConversationInfo]:
        """Most recently updated first."""
        return self._store.conversations(limit=limit)

    def search(self, query: str, limit: int = 20) -> builtins.list[SearchHit]:
        return self._store.search(query, limit=limit)

    def resolve(self, id_or_prefix: str) -> str:
        """The full id of the one conversation whose id starts with `id_or_prefix`; an error names the problem."""
        return self._store.resolve(id_or_prefix)

    def get(self, conversation_id: str) -> ConversationInfo:
        return self._store.info(conversation_id)

    def messages(self, conversation_id: str) -> builtins.list[StoredMessage]:
        return self._store.messages(conversation_id)

    def export(self, conversation_id: str) -> dict[str, Any]:
        """The conversation and its messages as plain JSON-ready data (`edgemind history export --format json`)."""
        info = self._store.info(conversation_id)
        return {
            "id": info.id, "title": info.title, "created_at": info.created_at.isoformat(),
            "updated_at": info.updated_at.isoformat(),
            "messages": [{"id": m.id, "role": m.role, "content": m.content, "model": m.model, "status": m.status,
                          "created_at": m.created_at.isoformat(),
                          **({"tool_calls": list(m.tool_calls)} if m.tool_calls else {})}
                         for m in self._store.messages(info.id)],
        }

    def rename(self, conversation_id: str, title: str) -> None:
        self._store.rename(conversation_id, title)

    def truncate(self, conversation_id: str, from_message_id: int) -> int:
        """Drop this message and every later one (editing an earlier prompt); returns how many went."""
        return self._store.truncate(conversation_id, from_message_id)

    def delete(self, conversation_id: str) -> dict[str, int]:
        """Remove a conversation everywhere: messages, summaries, remembered facts, search index, cached answers.

        Two databases, so the order matters: the cached answers go first, together with a pending mark, and the
        conversation after. Killed in between, nothing is ever served from it, and `finish_deletions` (run on the
        next open) deletes the rest."""
        if not self._store.exists(conversation_id):
            raise StoreError(f"no conversation {conversation_id!r}")
        cached = self._cache.delete_conversation(conversation_id) if self._cache is not None else 0
        messages = self._store.delete(conversation_id)
        if self._cache is not None:
            self._cache.deletion_done(conversation_id)
        return {"messages": messages, "cached_answers": cached}

    def finish_deletions(self) -> builtins.list[str]:
        """Finish deletions a killed process left half done (answers gone, conversation still stored); their ids."""
        if self._cache is None:
            return []
        finished = []
        for conversation_id in self._cache.pending_deletions():
            if self._store.exists(conversation_id):
                try:
                    self._store.delete(conversation_id)
                except StoreError:  # deleted meanwhile by another process: what we wanted
                    pass
            self._cache.deletion_done(conversation_id)
            finished.append(conversation_id)
        if finished:
            log.info("finished %d conversation deletion(s) an earlier process left half done", len(finished))
        return finished

    def remember(self, fact: str, conversation_id: str | None = None) -> int:
        """A fact kept in mind in every conversation (or in one); returns its id."""
        return self._store.remember(fact, conversation_id)

    def exclude_from_distillation(self, conversation_id: str, excluded: bool = True) -> None:
        """Keep a conversation's prompts and answers out of distillation (False: let them back in)."""
        self._store.set_distill_excluded(conversation_id, excluded)

    def excluded_from_distillation(self, conversation_id: str) -> bool:
        return self._store.distill_excluded(conversation_id)

    def start(self, settings: ChatSettings) -> str:
        """A new, empty conversation with its own settings (checked first), for a shell that sets them before the
        first question; its title comes from that question."""
        return self._store.new_conversation(settings=settings)

    def chat_settings(self, conversation_id: str) -> ChatSettings:
        """The conversation's settings as stored; `ChatSettings.usable` says what can no longer be used."""
        return self._store.chat_settings(conversation_id)

    def set_chat_settings(self, conversation_id: str, settings: ChatSettings) -> ChatSettings:
        """Store a conversation's settings; every later request of it runs with them (a bad value: one line, and
        nothing is written). Returns them as stored."""
        return self._store.set_chat_settings(conversation_id, settings)

    def answered_prompts(self, limit: int = 10_000) -> builtins.list[QAPair]:
        """The user's answered prompts that distillation may learn from (excluded conversations left out)."""
        return self._store.answered_prompts(limit)


class Presets:
    """Saved chat presets: a name and the settings it gives a chat (model, temperature, system prompt, tools)."""

    def __init__(self, store: PresetStore) -> None:
        self._store = store

    @classmethod
    def open(cls, settings: Settings) -> Presets:
        """Over the data folder's database, without an engine."""
        return cls(PresetStore(_open_sessions(settings)))

    def list(self) -> builtins.list[Preset]:
        """By name."""
        return self._store.all()

    def get(self, name: str) -> Preset:
        """The preset called `name`; an unknown name is one line listing the saved ones."""
        return self._store.get(name)

    def save(self, name: str, settings: ChatSettings) -> Preset:
        """Save (or replace) a preset; a bad value is refused in one line and nothing is written."""
        return self._store.save(name, settings)

    def delete(self, name: str) -> None:
        self._store.delete(name)


class Models:
    """The models the engine can run: list, look up, install, add and remove; unload what is resident."""

    def __init__(self, registry: ModelRegistry, pool: ModelPool[Any] | None = None) -> None:
        self._registry = registry
        self._pool = pool

    @classmethod
    def open(cls, settings: Settings) -> Models:
        """The registry alone (nothing is ever resident): for model commands that run no model."""
        return cls(open_registry(settings)[0])

    def list(self, *, include_ollama: bool = True) -> builtins.list[ModelSpec]:
        return self._registry.list_models(include_ollama=include_ollama)

    def get(self, model_id: str | None = None) -> ModelSpec:
        """A model by id (None: the default one); ModelNotFound names the ids there are."""
        return self._registry.get(model_id)

    def bundled(self) -> builtins.list[ModelSpec]:
        return self._registry.bundled()

    def prepare(self, spec: ModelSpec, progress: Progress | None = None) -> Path:
        """Install (bundled models) or check the file of a local model before its first use; returns its path."""
        return self._registry.prepare(spec, progress)

    def verify(self, model_id: str, progress: Progress | None = None) -> ModelSpec:
        return self._registry.verify(model_id, progress)

    def add_gguf(self, path: Path, model_id: str | None = None, progress: Progress | None = None) -> ModelSpec:
        return self._registry.add_gguf(path, model_id, progress)

    def add_openai(self, endpoint: str, remote_model: str, api_key: str | None = None,
                   model_id: str | None = None) -> ModelSpec:
        return self._registry.add_openai(endpoint, remote_model, api_key, model_id)

    def adapter(self, model_id: str) -> AdapterManifest | None:
        """The manifest of the adapter model `model_id` (its base, kind, data summary and evaluation figures), None
        when it is not an adapter: what a shell shows about a tuned model without reaching into the registry."""
        return self._registry.adapters.get(model_id) if is_adapter_name(model_id) else None

    def add_adapter(self, manifest: AdapterManifest, gguf_file: Path, *, move: bool = False) -> ModelSpec:
        """A tuned LoRA adapter as a model of its own (its id is the manifest's name), pinned by SHA-256."""
        return self._registry.add_adapter(manifest, gguf_file, move=move)

    @staticmethod
    def catalog(path: Path | None = None) -> builtins.list[CatalogEntry]:
        """The models `pull` can download: the shipped catalogue, or the TOML file at `path`."""
        return load_catalog(path)

    @staticmethod
    def catalog_entry(model_id: str, path: Path | None = None) -> CatalogEntry:
        """One catalogue entry; ModelNotFound names the ids there are."""
        return find_entry(load_catalog(path), model_id)

    @staticmethod
    def partial_pull(entry: CatalogEntry, models_dir: Path) -> Path:
        """Where an unfinished pull of `entry` keeps its bytes (the next pull resumes from it)."""
        return part_path(pulled_path(models_dir, entry))

    def pull(self, entry: CatalogEntry, hub_url: str, models_dir: Path, progress: Progress | None = None,
             timeout: float = 60.0) -> PullOutcome:
        """Download a catalogue model from the hub (resuming a partial file), verify its pin, register it."""
        return pull(self._registry, entry, hub_url, models_dir, progress, timeout)

    def remove(self, model_id: str) -> str:
        """Forget a user-added model; returns a line saying what was done."""
        return self._registry.remove(model_id)

    def loaded(self) -> builtins.list[str]:
        """Keys of the models resident in memory now."""
        return self._pool.loaded() if self._pool is not None else []

    def waiting(self) -> dict[str, int]:
        """Requests waiting per model right now (the API server's queue-depth metric)."""
        return self._pool.waiting() if self._pool is not None else {}

    def unload_all(self) -> None:
        """Free the memory of every resident model now (pausing, or one model at a time in the bench)."""
        if self._pool is not None:
            self._pool.unload_all()


class CacheAdmin:
    """The answer cache seen from outside: its figures and clearing it. None when the cache is off."""

    def __init__(self, cache: AnswerCache | None, settings: Settings) -> None:
        self._cache = cache
        self._settings = settings

    @classmethod
    def open(cls, settings: Settings) -> CacheAdmin:
        """The data folder's cache file, also when the cache is off in the settings (its answers can still be
        counted and cleared)."""
        return cls(AnswerCache.from_settings(settings), settings)

    @property
    def available(self) -> bool:
        return self._cache is not None

    def stats(self) -> dict[str, Any]:
        """Stored answers, bytes, hits and the file, with the settings that govern it."""
        if self._cache is None:
            raise EdgeMindError("the answer cache is off (cache_enabled = false)")
        return {**self._cache.l2.stats(), "enabled": self._settings.cache_enabled,
                "ttl_seconds": self._settings.cache_ttl_seconds,
                "semantic_enabled": self._settings.cache_semantic_enabled}

    def clear(self) -> int:
        """Forget every cached answer (and its prompt embedding); returns how many stored answers went."""
        return self._cache.clear()["l2"] if self._cache is not None else 0


class Tools:
    """The installed tools, and running one by hand through the same permission broker and audit log."""

    def __init__(self, runner: ToolRunner) -> None:
        # a shell's tool capability (Engine.open_tools, or Tools.open without an engine)
        self._runner = runner

    @classmethod
    def open(cls, settings: Settings, *, ask: AskCallback | None = None,
             grants: Iterable[str | Scope] = (), mcp_refresh: Refresh = "missing") -> Tools:
        """Every installed plugin and MCP server, without an engine; `ask` None: only stored grants and `grants` (for
        this process only) hold. `mcp_refresh`: which MCP servers are started to list their tools now (see
        add_mcp_tools)."""
        return cls(open_tool_runner(settings, _open_sessions(settings), ask=ask, grants=grants,
                                    mcp_refresh=mcp_refresh))

    def close(self) -> None:
        """Stop the MCP servers this session started."""
        self._runner.close()

    def list(self) -> builtins.list[Tool]:
        return self._runner.registry.all()

    def problems(self) -> builtins.list[str]:
        """Plugins that could not be loaded, one line each."""
        return list(self._runner.registry.problems)

    def offered(self, names: Iterable[str]) -> builtins.list[Tool]:
        """Those of `names` that are installed and may be offered."""
        return self._runner.registry.offered(names)

    def run(self, name: str, arguments: Any, *, dry_run: bool = False, raise_if_denied: bool = False) -> ToolOutcome:
        """One call, checked, asked for and audited as the tool loop does; PermissionDenied on a denied call when
        `raise_if_denied`."""
        outcome = self._runner.call(name, arguments, dry_run=dry_run)
        return ensure_granted(outcome) if raise_if_denied else outcome

    def authorize(self, name: str, arguments: Any, *, ask: bool = True) -> tuple[Decision, dict[str, Any]]:
        """Permission for a call the shell runs itself (with progress and cancel, as the Documents page indexes a
        folder): checked, asked (when `ask`) and audited as a call would be. The decision and the checked
        arguments (canonical paths: use these, not the raw ones)."""
        return self._runner.authorize(name, arguments, ask=ask)


class Grants:
    """Stored (always) grants: list, grant and revoke, through the permission broker (which audits each)."""

    def __init__(self, runner: ToolRunner) -> None:
        self._runner = runner  # its broker keeps the grants (any shell's runner sees the same stored ones)

    @classmethod
    def open(cls, settings: Settings) -> Grants:
        # MCP tools from the cache only: listing or revoking grants starts no server
        return cls(open_tool_runner(settings, _open_sessions(settings), mcp_refresh="none"))

    @staticmethod
    def parse(scopes: Iterable[str]) -> builtins.list[Scope]:
        """`fs.read:~/notes` and the like as scopes; ScopeError names the first that is not one."""
        return [parse_scope(s) for s in scopes]

    def list(self) -> builtins.list[GrantInfo]:
        return self._runner.broker.grants()

    def grant(self, tool: str, scopes: Iterable[str | Scope]) -> Tool:
        """Grant `tool` these scopes until revoked, bound to its manifest's hash; returns the tool."""
        found = self._runner.registry.get(tool)
        self._runner.broker.grant_always(found, scopes)
        return found

    def revoke(self, *, grant_id: int | None = None, tool: str | None = None) -> int:
        """Revoke one grant, a tool's grants, or (neither given) all; returns how many went."""
        return self._runner.broker.revoke(grant_id=grant_id, tool=tool)


class AuditTrail:
    """The append-only audit log: read it, export it and verify its hash chain and seal."""

    kinds: tuple[str, ...] = EVENT_KINDS

    def __init__(self, audit: AuditLog | None) -> None:
        self._audit = audit

    @classmethod
    def open(cls, settings: Settings) -> AuditTrail:
        """For reading and verifying: a rolled-back log opens (verify reports it); a lost key does not."""
        return cls(open_audit(settings, _open_sessions(settings), check=False))

    def _log(self) -> AuditLog:
        if self._audit is None:
            raise EdgeMindError("this engine keeps no audit log")
        return self._audit

    def entries(self, *, kind: str | None = None, tool: str | None = None, conversation_id: str | None = None,
                limit: int | None = None, newest_first: bool = False) -> builtins.list[AuditEntry]:
        return self._log().entries(kind=kind, tool=tool, conversation_id=conversation_id, limit=limit,
                                   newest_first=newest_first)

    def export_jsonl(self) -> Iterator[str]:
        return self._log().export_jsonl()

    def verify(self) -> VerifyResult:
        """Every row's hash chain, the keyed seal and the anchored head; `ok` False names the first bad row."""
        return self._log().verify()

    def accept(self) -> VerifyResult:
        """Re-anchor at the log as it is now (after a restore the user chose); the chain must still be intact."""
        return self._log().accept()
