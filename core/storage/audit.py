"""Append-only audit log: every route decision, tool proposal, grant, denial, call, result and refusal.

Each row carries the hash of the row before it, so an edited, deleted, reordered or inserted row breaks the chain;
a keyed seal (HMAC-SHA256 over the head) catches a chain someone re-computed without the key. Rows hold digests of
arguments and results, and short summaries, never whole file contents or secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from ..errors import EdgeMindError, StoreError
from .schema import Base

log = logging.getLogger("edgemind.audit")

GENESIS = "0" * 64
KEY_FILE = "audit.key"
KEYRING_SERVICE = "EdgeMind audit log"
EVENT_KINDS = ("route", "tool_proposed", "grant", "revoke", "denied", "tool_call", "tool_result", "tool_error",
               "refusal", "dry_run")


class AuditError(EdgeMindError):
    kind = "audit"


class AuditRow(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC; a string so the hash input is byte-exact
    kind: Mapped[str] = mapped_column(String(32), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    tool: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    # UNIQUE: two writers that read the same head cannot both append after it (the loser retries)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditSeal(Base):
    __tablename__ = "audit_seal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    head_id: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ts: str
    kind: str
    conversation_id: str | None
    tool: str | None
    detail: dict[str, Any]
    prev_hash: str
    row_hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ts": self.ts, "kind": self.kind, "conversation_id": self.conversation_id,
                "tool": self.tool, "detail": self.detail, "prev_hash": self.prev_hash, "row_hash": self.row_hash}


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "first_bad_id": self.first_bad_id, "problem": self.problem}


def digest(value: Any) -> str:
    """SHA-256 of a value's canonical JSON: how arguments and results appear in the log."""
    data = value if isinstance(value, bytes) else canonical_json(value).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(row_id: int, ts: str, kind: str, conversation_id: str | None, tool: str | None, detail: str,
             prev_hash: str) -> str:
    material = canonical_json([row_id, ts, kind, conversation_id, tool, detail, prev_hash])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _seal_mac(key: bytes, head_id: int, head_hash: str) -> str:
    return hmac.new(key, f"{head_id}:{head_hash}".encode(), hashlib.sha256).hexdigest()


def load_key(home: Path, store: str = "auto") -> bytes:
    """The seal key: from the OS keyring where one works (store 'auto'/'keyring'), else a 0600 file in the data folder.

    The key never goes into the database, so whoever edits the database cannot re-seal a forged chain.
    """
    if store in ("auto", "keyring"):
        key = _keyring_key(home)
        if key is not None:
            return key
        if store == "keyring":
            raise AuditError("no usable OS keyring for the audit key; set audit_key_store = \"file\"")
    path = home / KEY_FILE
    if path.exists():
        try:
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError) as exc:
            raise AuditError(
                f"the audit key {path} cannot be read ({exc}); the log cannot be sealed or verified") from None
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex())
    return key


def _keyring_key(home: Path) -> bytes | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    account = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    try:
        backend = keyring.get_keyring()
        if getattr(backend, "priority", 0) < 1:  # the "fail" and null backends
            return None
        stored = keyring.get_password(KEYRING_SERVICE, account)
        if stored:
            return bytes.fromhex(stored)
        key = secrets.token_bytes(32)
        keyring.set_password(KEYRING_SERVICE, account, key.hex())
        return key
    except (KeyringError, ValueError, RuntimeError, OSError) as exc:
        log.info("OS keyring not usable for the audit key (%s); using a 0600 file", exc)
        return None


class AuditLog:
    """Appends chained rows and checks them. One per database; safe to share between threads and processes."""

    def __init__(self, sessions: sessionmaker[Session], key: bytes) -> None:
        self._sessions = sessions
        self._key = key
        self._lock = threading.Lock()

    def record(self, kind: str, detail: dict[str, Any] | None = None, *, conversation_id: str | None = None,
               tool: str | None = None) -> AuditEntry:
        if kind not in EVENT_KINDS:
            raise AuditError(f"unknown audit event kind {kind!r}")
        body = canonical_json(detail or {})
        ts = datetime.now(UTC).isoformat(timespec="microseconds")
        with self._lock:
            for _attempt in range(20):
                try:
                    with self._sessions.begin() as s:
                        last = s.execute(select(AuditRow.id, AuditRow.row_hash).order_by(AuditRow.id.desc())
                                         .limit(1)).first()
                        row_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                        h = row_hash(row_id, ts, kind, conversation_id, tool, body, prev)
                        s.add(AuditRow(id=row_id, ts=ts, kind=kind, conversation_id=conversation_id, tool=tool,
                                       detail=body, prev_hash=prev, row_hash=h))
                        s.merge(AuditSeal(id=1, head_id=row_id, head_hash=h, mac=_seal_mac(self._key, row_id, h)))
                    return AuditEntry(row_id, ts, kind, conversation_id, tool, json.loads(body), prev, h)
                except IntegrityError:
                    continue  # another process appended after the same head: read the new head and retry
                except SQLAlchemyError as exc:
                    raise StoreError(f"cannot write the audit log: {exc}") from None
        raise StoreError("cannot write the audit log: the database stayed busy")

    def entries(self, *, kind: str | None = None, tool: str | None = None, conversation_id: str | None = None,
                limit: int | None = None, newest_first: bool = False) -> list[AuditEntry]:
        query = select(AuditRow)
        if kind:
            query = query.where(AuditRow.kind == kind)
        if tool:
            query = query.where(AuditRow.tool == tool)
        if conversation_id:
            query = query.where(AuditRow.conversation_id == conversation_id)
        query = query.order_by(AuditRow.id.desc() if newest_first else AuditRow.id)
        if limit:
            query = query.limit(limit)
        with self._sessions() as s:
            return [self._entry(r) for r in s.scalars(query)]

    @staticmethod
    def _entry(r: AuditRow) -> AuditEntry:
        try:
            detail = json.loads(r.detail)
        except (TypeError, ValueError):
            detail = {"unreadable": r.detail}
        return AuditEntry(r.id, r.ts, r.kind, r.conversation_id, r.tool, detail, r.prev_hash, r.row_hash)

    def export_jsonl(self) -> Iterator[str]:
        for entry in self.entries():
            yield canonical_json(entry.as_dict())

    def verify(self) -> VerifyResult:
        """Walk the chain from the first row; name the first row that does not fit, then check the keyed seal."""
        prev, expected_id, count = GENESIS, 1, 0
        with self._sessions() as s:
            for r in s.scalars(select(AuditRow).order_by(AuditRow.id)):
                count += 1
                if r.id != expected_id:
                    return VerifyResult(False, count, expected_id if r.id > expected_id else r.id,
                                        f"row {expected_id} is missing (next row is {r.id})")
                if r.prev_hash != prev:
                    return VerifyResult(False, count, r.id, f"row {r.id} does not follow row {r.id - 1} "
                                        "(deleted, reordered or inserted rows)")
                if row_hash(r.id, r.ts, r.kind, r.conversation_id, r.tool, r.detail, r.prev_hash) != r.row_hash:
                    return VerifyResult(False, count, r.id, f"row {r.id} was edited (its hash does not match)")
                prev, expected_id = r.row_hash, r.id + 1
            seal = s.get(AuditSeal, 1)
        if count == 0:
            if seal is not None:
                return VerifyResult(False, 0, seal.head_id,
                                    "the log is empty but its seal names rows: rows were deleted")
            return VerifyResult(True, 0)
        last_id = expected_id - 1
        if seal is None:
            return VerifyResult(False, count, last_id, "the seal is missing")
        if seal.head_id != last_id or seal.head_hash != prev:
            bad = min(seal.head_id, last_id) + 1 if seal.head_id != last_id else last_id
            return VerifyResult(False, count, bad, f"the seal covers row {seal.head_id} but the log ends at row "
                                f"{last_id} (rows deleted or appended outside EdgeMind)")
        if not hmac.compare_digest(seal.mac, _seal_mac(self._key, seal.head_id, seal.head_hash)):
            return VerifyResult(False, count, last_id, "the seal does not match the key: the chain was re-computed "
                                "or the key changed")
        return VerifyResult(True, count)
