"""The answer cache: L1 in memory, L2 in its own SQLite file; identical concurrent requests share one generation.

A key covers everything that shapes an answer (normalised prompt, model and its SHA, sampling params, system prompt
and a digest of the conversation so far), so a cached answer is only ever served for the same question in the same
situation. L2 is derived data in `cache.db`: if that file is damaged it is moved aside and started afresh; nothing
else is lost. The semantic tier (`semantic.py`) keeps its prompt embeddings in the same file, each row tied to
an L2 answer: whatever removes the answer (clear, eviction, TTL, a deleted conversation) removes its embedding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, select
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..data_folder import prepare_database_file, secure_data_folder
from ..settings import Settings
from ..storage.db import rowcount

# CachedAnswer and the rows are imported from here too (the engine, the bench and tests do)
from .entries import CacheBase, CachedAnswer, CacheRow, PendingDeletionRow, SemanticRow, normalize_prompt
from .semantic import SHIPPED_THRESHOLD, SemanticIndex

log = logging.getLogger(__name__)
TIERS = ("l1", "l2", "semantic")
CACHE_SCHEMA_VERSION = 4  # 3: the semantic tier's table; 4: pending conversation deletions


def cache_key(*, prompt: str, model_id: str, model_version: str, system_prompt: str,
              history: Sequence[tuple[str, str]], params: dict[str, Any]) -> str:
    context_digest = hashlib.sha256(json.dumps(list(history), ensure_ascii=False).encode()).hexdigest()
    material = {
        "prompt": normalize_prompt(prompt), "model": model_id, "model_version": model_version,
        "system": system_prompt, "context": context_digest, "params": params,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class MemoryCache:
    """L1: an LRU dict; microseconds, gone when the process ends."""

    def __init__(self, max_entries: int = 256) -> None:
        self._items: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedAnswer | None:
        with self._lock:
            answer = self._items.get(key)
            if answer is not None:
                self._items.move_to_end(key)
            return answer

    def put(self, key: str, answer: CachedAnswer) -> None:
        with self._lock:
            self._items[key] = answer
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> int:
        with self._lock:
            n = len(self._items)
            self._items.clear()
            return n

    def __len__(self) -> int:
        return len(self._items)


def _open_cache_db(path: Path) -> Engine:
    prepare_database_file(path)  # 0600, and so its -wal and -shm
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA secure_delete=ON")  # a deleted conversation's answers are zeroed, not left in free pages
        cur.close()

    with engine.begin() as conn:
        # Derived data: an older layout is dropped and rebuilt rather than migrated.
        if conn.exec_driver_sql("PRAGMA user_version").scalar_one() != CACHE_SCHEMA_VERSION:
            CacheBase.metadata.drop_all(conn)
            conn.exec_driver_sql(f"PRAGMA user_version = {CACHE_SCHEMA_VERSION}")
        CacheBase.metadata.create_all(conn)
    with Session(engine) as s:  # touch the tables: a damaged file fails here, not mid-request
        s.execute(select(func.count()).select_from(CacheRow)).scalar_one()
        s.execute(select(func.count()).select_from(SemanticRow)).scalar_one()
    return engine


class SqliteCache:
    """L2: persistent across restarts, bounded in bytes with least-recently-used eviction."""

    def __init__(self, path: Path, max_bytes: int = 64 * 2**20, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._max_bytes = max_bytes
        secure_data_folder(path.parent)
        try:
            engine = _open_cache_db(path)
        except (DatabaseError, OperationalError) as exc:
            aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
            log.warning("answer cache %s is damaged (%s); moved to %s and started afresh", path, exc.orig, aside)
            for suffix in ("", "-wal", "-shm"):
                p = Path(str(path) + suffix)
                if p.exists():
                    p.replace(Path(str(aside) + suffix))
            engine = _open_cache_db(path)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The file's sessions, shared with the semantic tier (its rows live in the same file)."""
        return self._sessions

    def get(self, key: str, ttl_seconds: float) -> CachedAnswer | None:
        now = self._clock()
        try:
            with self._sessions.begin() as s:
                row = s.get(CacheRow, key)
                if row is None:
                    return None
                if ttl_seconds > 0 and now - row.created_at > ttl_seconds:
                    s.delete(row)
                    return None
                row.last_used_at, row.hits = now, row.hits + 1
                return CachedAnswer(row.text, row.model, row.tokens, row.prompt_tokens, row.created_at)
        except SQLAlchemyError as exc:  # a cache failure must never fail the request
            log.warning("answer cache read failed: %s", exc.__class__.__name__)
            return None

    def put(self, key: str, answer: CachedAnswer, conversation_id: str | None = None) -> None:
        size = len(answer.text.encode("utf-8")) + 200
        try:
            with self._sessions.begin() as s:
                if conversation_id is not None and s.get(PendingDeletionRow, conversation_id) is not None:
                    return  # an answer that finished while its conversation was being deleted
                row = s.get(CacheRow, key)
                if row is None:  # a refreshed entry keeps its hit count
                    row = CacheRow(key=key, hits=0)
                    s.add(row)
                for name, value in asdict(answer).items():
                    setattr(row, name, value)
                row.size_bytes, row.last_used_at = size, self._clock()
                row.conversation_id = conversation_id
                s.flush()
                total = s.execute(select(func.coalesce(func.sum(CacheRow.size_bytes), 0))).scalar_one()
                while total > self._max_bytes:
                    oldest = s.execute(
                        select(CacheRow.key, CacheRow.size_bytes).order_by(CacheRow.last_used_at).limit(64)
                    ).all()
                    if not oldest:
                        break
                    for k, sz in oldest:
                        s.execute(delete(CacheRow).where(CacheRow.key == k))
                        total -= sz
                        if total <= self._max_bytes:
                            break
        except SQLAlchemyError as exc:
            log.warning("answer cache write failed: %s", exc.__class__.__name__)

    def clear(self) -> int:
        with self._sessions.begin() as s:
            return rowcount(s.execute(delete(CacheRow)))

    def delete_conversation(self, conversation_id: str) -> list[str]:
        """First step of deleting a conversation: its answers go and the deletion is recorded as pending, in one
        transaction, so a process killed after this serves none of them and the next open finishes the rest."""
        with self._sessions.begin() as s:
            keys = list(s.scalars(select(CacheRow.key).where(CacheRow.conversation_id == conversation_id)))
            s.execute(delete(CacheRow).where(CacheRow.conversation_id == conversation_id))
            s.merge(PendingDeletionRow(conversation_id=conversation_id, requested_at=self._clock()))
            return keys

    def pending_deletions(self) -> list[str]:
        with self._sessions() as s:
            return list(s.scalars(select(PendingDeletionRow.conversation_id)))

    def deletion_done(self, conversation_id: str) -> None:
        with self._sessions.begin() as s:
            s.execute(delete(CacheRow).where(CacheRow.conversation_id == conversation_id))
            s.execute(delete(PendingDeletionRow).where(PendingDeletionRow.conversation_id == conversation_id))

    def stats(self) -> dict[str, Any]:
        with self._sessions() as s:
            n, size, hits = s.execute(
                select(func.count(), func.coalesce(func.sum(CacheRow.size_bytes), 0),
                       func.coalesce(func.sum(CacheRow.hits), 0))
            ).one()
            semantic = s.execute(select(func.count()).select_from(SemanticRow)).scalar_one()
        return {"entries": n, "bytes": size, "hits": hits, "semantic_entries": semantic, "path": str(self.path),
                "max_bytes": self._max_bytes}


class SingleFlight:
    """Identical concurrent requests: the first generates, the others wait for it and are served from the cache."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Event] = {}

    def begin(self, key: str) -> threading.Event | None:
        """None: you lead, generate and call end(key). An Event: someone else leads; wait on it."""
        with self._lock:
            if key in self._inflight:
                return self._inflight[key]
            self._inflight[key] = threading.Event()
            return None

    def end(self, key: str) -> None:
        with self._lock:
            done = self._inflight.pop(key, None)
        if done is not None:
            done.set()


class AnswerCache:
    def __init__(self, path: Path, *, memory_entries: int = 256, disk_bytes: int = 64 * 2**20,
                 ttl_seconds: float = 7 * 86400, clock: Callable[[], float] = time.time,
                 semantic_threshold: float | None = None) -> None:
        self.clock = clock
        self.l1 = MemoryCache(memory_entries)
        self.l2 = SqliteCache(path, disk_bytes, clock)
        self.ttl_seconds = ttl_seconds
        self.semantic = SemanticIndex(self.l2.sessions, answers=lambda key: self.l2.get(key, ttl_seconds), clock=clock,
                                      threshold=SHIPPED_THRESHOLD if semantic_threshold is None else semantic_threshold)
        self.flights = SingleFlight()
        # "miss" counts exact-key misses; a semantic hit is one of them that the semantic tier then answered
        self.counters = {"l1": 0, "l2": 0, "miss": 0, "semantic": 0}

    @classmethod
    def from_settings(cls, settings: Settings) -> AnswerCache:
        return cls(settings.home / "cache.db", memory_entries=settings.cache_memory_entries,
                   disk_bytes=settings.cache_disk_mb * 2**20, ttl_seconds=settings.cache_ttl_seconds,
                   semantic_threshold=settings.cache_semantic_threshold)

    def lookup(self, key: str) -> tuple[str, CachedAnswer] | None:
        answer = self.l1.get(key)
        if answer is not None and self.ttl_seconds > 0 and self.clock() - answer.created_at > self.ttl_seconds:
            self.l1.drop(key)
            answer = None
        if answer is not None:
            self.counters["l1"] += 1
            return "l1", answer
        answer = self.l2.get(key, self.ttl_seconds)
        if answer is not None:
            self.l1.put(key, answer)
            self.counters["l2"] += 1
            return "l2", answer
        self.counters["miss"] += 1
        return None

    def store(self, key: str, answer: CachedAnswer, conversation_id: str | None = None) -> None:
        self.l1.put(key, answer)
        self.l2.put(key, answer, conversation_id)

    def delete_conversation(self, conversation_id: str) -> int:
        """Make the conversation's answers unusable and record the deletion as pending (see `deletion_done`)."""
        keys = self.l2.delete_conversation(conversation_id)
        for key in keys:
            self.l1.drop(key)
        return len(keys)

    def pending_deletions(self) -> list[str]:
        """Conversations whose deletion began in a process that did not finish it."""
        return self.l2.pending_deletions()

    def deletion_done(self, conversation_id: str) -> None:
        """The conversation is gone from the main database too: the pending mark goes."""
        self.l2.deletion_done(conversation_id)

    def clear(self) -> dict[str, int]:
        return {"l1": self.l1.clear(), "l2": self.l2.clear()}

    def stats(self) -> dict[str, Any]:
        return {"l1_entries": len(self.l1), "l2": self.l2.stats(), "this_process": dict(self.counters),
                "ttl_seconds": self.ttl_seconds}
