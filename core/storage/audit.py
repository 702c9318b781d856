"""Append-only audit log: every route decision, tool proposal, grant, denial, call, result and refusal.

Each row carries the hash of the row before it, so an edited, deleted, reordered or inserted row breaks the chain;
a keyed seal (HMAC-SHA256 over the head) catches a chain someone re-computed without the key, and the head anchored
outside the database (anchor.py) catches a rollback to an older copy. Rows hold digests of arguments and results,
and short summaries, never whole file contents or secrets. A missing key is an error, never a fresh key.
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
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, Text, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from ..errors import AuditError, StoreError
from .anchor import ANCHOR_FILE, Anchor, AnchorHead, AnchorState, grant_digest
from .schema import Base

log = logging.getLogger("edgemind.audit")

GENESIS = "0" * 64
KEY_FILE = "audit.key"
KEYRING_SERVICE = "EdgeMind audit log"
EVENT_KINDS = ("route", "tool_proposed", "grant", "revoke", "denied", "tool_call", "tool_result", "tool_error",
               "refusal", "dry_run", "anchor")
# audit_seal row 2 says "this log has an anchor": an anchor gone missing is then an error, not a log from before
# anchors (which the first open adopts).
ANCHORED_MARK = 2

__all__ = ["ANCHOR_FILE", "AuditError", "AuditKey", "AuditLog", "VerifyResult", "load_key", "open_key"]


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
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1: the seal; 2 (ANCHORED_MARK): anchored since
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
    note: str = ""  # something an intact log still wants said (an append lost in a crash, not anchored yet)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "first_bad_id": self.first_bad_id, "problem": self.problem,
                "note": self.note}


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


@dataclass(frozen=True, slots=True)
class AuditKey:
    key: bytes
    where: str  # "keyring" | "file": the anchor is kept in the same place
    account: str  # the keyring account of this data folder


def keyring_account(home: Path) -> str:
    return hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]


def load_key(home: Path, store: str = "auto") -> bytes:
    """The seal key (made when there is none yet); `open_key` is the checked way that refuses a lost key."""
    return open_key(home, store).key


def open_key(home: Path, store: str = "auto", *, sealed_rows: int = 0) -> AuditKey:
    """The seal key: from the OS keyring where one works (store 'auto'/'keyring'), else a 0600 file in the data folder.

    The key never goes into the database, so whoever edits the database cannot re-seal a forged chain. A new key is
    made only for a log that has nothing sealed yet: a key that vanished under existing rows (or an anchor) is an
    error, or deleting `audit.key` would let a forged chain be re-sealed.
    """
    account = keyring_account(home)
    if store in ("auto", "keyring"):
        key = _keyring_key(account)
        if key is not None:
            return AuditKey(key, "keyring", account)
    path = home / KEY_FILE
    if store != "keyring" and path.exists():
        try:
            return AuditKey(bytes.fromhex(path.read_text(encoding="ascii").strip()), "file", account)
        except (OSError, ValueError) as exc:
            raise AuditError(
                f"the audit key {path} cannot be read ({exc}); the log cannot be sealed or verified") from None
    if sealed_rows:
        raise AuditError(f"audit key missing: the log has {sealed_rows} rows sealed with a key that is gone "
                         f"(not in the OS keyring, no {path}); restore the key, or move edgemind.db aside")
    if (home / ANCHOR_FILE).exists():
        raise AuditError(f"audit key missing: the anchor {home / ANCHOR_FILE} was sealed with a key that is gone; "
                         "restore the key, or move the anchor and edgemind.db aside")
    key = secrets.token_bytes(32)
    if store in ("auto", "keyring") and _keyring_store(account, key):
        return AuditKey(key, "keyring", account)
    if store == "keyring":
        raise AuditError("no usable OS keyring for the audit key; set audit_key_store = \"file\"")
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex())
    return AuditKey(key, "file", account)


def _usable_keyring() -> Any:
    """The keyring module when a real backend is there, else None (headless Linux has only the "fail" backend)."""
    try:
        import keyring  # slow to import and only useful where a desktop keyring runs
    except ImportError:
        return None
    try:
        if getattr(keyring.get_keyring(), "priority", 0) < 1:  # the "fail" and null backends
            return None
    except (RuntimeError, OSError, ValueError) as exc:
        log.info("OS keyring not usable for the audit key (%s); using a 0600 file", exc)
        return None
    return keyring


def _keyring_key(account: str) -> bytes | None:
    keyring = _usable_keyring()
    if keyring is None:
        return None
    try:
        stored = keyring.get_password(KEYRING_SERVICE, account)
        return bytes.fromhex(stored) if stored else None
    except (keyring.errors.KeyringError, ValueError, RuntimeError, OSError) as exc:
        log.info("OS keyring not usable for the audit key (%s); using a 0600 file", exc)
        return None


def _keyring_store(account: str, key: bytes) -> bool:
    keyring = _usable_keyring()
    if keyring is None:
        return False
    try:
        keyring.set_password(KEYRING_SERVICE, account, key.hex())
        return True
    except (keyring.errors.KeyringError, RuntimeError, OSError) as exc:
        log.info("OS keyring not usable for the audit key (%s); using a 0600 file", exc)
        return False


def missing_table(exc: SQLAlchemyError) -> StoreError | None:
    """A dropped audit or grants table, as one line (the database opened, so it was edited, not damaged)."""
    message = str(getattr(exc, "orig", None) or exc)
    if isinstance(exc, OperationalError) and "no such table" in message:
        table = message.rsplit(":", 1)[-1].strip()
        name = "audit log" if table.startswith("audit") else table
        return StoreError(f"the {name} table is missing ({table}): edgemind.db was edited outside EdgeMind; "
                          "restore it from a backup or move it aside to start afresh")
    return None


def _store_error(exc: SQLAlchemyError, doing: str) -> StoreError:
    return missing_table(exc) or StoreError(f"{doing}: {exc}")


class AuditLog:
    """Appends chained rows and checks them. One per database; safe to share between threads and processes.

    With an `anchor` (every product path: tools.session.open_audit) each append moves the anchor too, and `verify`
    and `check_on_open` compare the database with it; without one (tests of the chain alone) nothing is anchored.
    """

    def __init__(self, sessions: sessionmaker[Session], key: bytes, anchor: Anchor | None = None) -> None:
        self._sessions = sessions
        self._key = key
        self._lock = threading.Lock()
        self.anchor = anchor

    def anchor_locked(self) -> AbstractContextManager[None]:
        """Hold the anchor across a change that must agree with it (a grant stored or revoked)."""
        return self.anchor.locked() if self.anchor is not None else nullcontext()

    def covered_grants(self) -> frozenset[str] | None:
        """Digests of the grants the anchor vouches for; None when this log keeps no anchor (all are honoured)."""
        if self.anchor is None:
            return None
        state = self.anchor.load()
        return state.grants if state is not None else frozenset()

    def record(self, kind: str, detail: dict[str, Any] | None = None, *, conversation_id: str | None = None,
               tool: str | None = None) -> AuditEntry:
        if kind not in EVENT_KINDS:
            raise AuditError(f"unknown audit event kind {kind!r}")
        body = canonical_json(detail or {})
        ts = datetime.now(UTC).isoformat(timespec="microseconds")
        with self._lock, self.anchor_locked():
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
                        s.flush()  # holds the database's write lock from here to the commit
                        # The crash-window rule: the anchor names this row as pending before the commit, and as
                        # committed after it. A crash in between leaves the anchor one ahead, naming exactly the row
                        # that never landed, which verify tells apart from a rollback.
                        self._anchor_move(pending=AnchorHead(row_id, h))
                    self._anchor_move(committed=AnchorHead(row_id, h))
                    return AuditEntry(row_id, ts, kind, conversation_id, tool, json.loads(body), prev, h)
                except IntegrityError:
                    continue  # another process appended after the same head: read the new head and retry
                except SQLAlchemyError as exc:
                    raise _store_error(exc, "cannot write the audit log") from None
        raise StoreError("cannot write the audit log: the database stayed busy")

    def _anchor_move(self, *, pending: AnchorHead | None = None, committed: AnchorHead | None = None) -> None:
        if self.anchor is None:
            return
        state = self.anchor.load()
        if state is None:
            raise AuditError("the audit anchor is missing; reopen EdgeMind so the log is checked and anchored")
        if pending is not None:
            self.anchor.save(AnchorState(state.head, pending, state.grants))
        if committed is not None:
            self.anchor.save(state.committed(committed.seq, committed.head_hash))

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
        try:
            with self._sessions() as s:
                return [self._entry(r) for r in s.scalars(query)]
        except SQLAlchemyError as exc:
            raise _store_error(exc, "cannot read the audit log") from None

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

    def row_count(self) -> int:
        """Rows in the log (StoreError naming a dropped table)."""
        try:
            with self._sessions() as s:
                return s.scalar(select(func.count()).select_from(AuditRow)) or 0
        except SQLAlchemyError as exc:
            raise _store_error(exc, "cannot read the audit log") from None

    def verify(self) -> VerifyResult:
        """Walk the chain from the first row; name the first row that does not fit, then check the keyed seal and the
        anchor outside the database."""
        try:
            result = self._verify_chain()
        except SQLAlchemyError as exc:
            raise _store_error(exc, "cannot read the audit log") from None
        if not result.ok or self.anchor is None:
            return result
        try:
            finding = self._compare_with_anchor()
        except AuditError as exc:
            return VerifyResult(False, result.rows, None, str(exc))
        if finding.problem:
            return VerifyResult(False, result.rows, finding.bad_id, finding.problem)
        return VerifyResult(True, result.rows, note=finding.note)

    def _verify_chain(self) -> VerifyResult:
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

    def _compare_with_anchor(self) -> _Finding:
        """The database's head against the anchor's (cheap: three rows read, not the chain)."""
        assert self.anchor is not None
        state = self.anchor.load()
        with self._sessions() as s:
            last = s.execute(select(AuditRow.id, AuditRow.row_hash).order_by(AuditRow.id.desc()).limit(1)).first()
            last_id, last_hash = (last[0], last[1]) if last else (0, GENESIS)

            def hash_at(seq: int) -> str | None:
                return s.scalar(select(AuditRow.row_hash).where(AuditRow.id == seq)) if seq else GENESIS

            if state is None:
                mark = s.get(AuditSeal, ANCHORED_MARK)
                if mark is not None:
                    return _Finding(
                        f"the anchor is missing ({self.anchor.store}): this log was anchored from row {mark.head_id}"
                        f" and nothing outside the database vouches for its head now; a rollback cannot be ruled "
                        f"out", last_id + 1 if last_id else None)
                if last_id:
                    return _Finding(note=f"not anchored yet: the log's {last_id} rows were written before anchors; "
                                    "the next open anchors them")
                return _Finding()
            head, pending = state.head, state.pending
            if last_id < head.seq:
                missing = f"row {head.seq}" if last_id + 1 == head.seq else f"rows {last_id + 1}-{head.seq}"
                ends = "the log is empty" if last_id == 0 else f"the log ends at row {last_id}"
                return _Finding(f"rollback: {ends} but the anchor says {head.seq}; {missing} missing", last_id + 1)
            if hash_at(head.seq) != head.head_hash:
                return _Finding(f"rollback: row {head.seq} is not the row the anchor sealed (an older or rebuilt "
                                "copy of the log)", head.seq)
            if last_id == head.seq:
                if pending is not None and pending.seq == head.seq + 1:
                    return _Finding(note=f"the append of row {pending.seq} was cut off before it reached the "
                                    "database (a crash); nothing is missing")
                return _Finding()
            if pending is not None and last_id == pending.seq == head.seq + 1 and last_hash == pending.head_hash:
                return _Finding(note=f"row {pending.seq} landed but the anchor was not moved on (a crash); the next "
                                "open moves it")
            return _Finding(f"rows {head.seq + 1}-{last_id} are not covered by the anchor: appended outside EdgeMind",
                            head.seq + 1)

    def check_on_open(self) -> None:
        """Every open: refuse a log that is rolled back or not vouched for; anchor a new or pre-anchor log; settle an
        append a crash cut off. AuditError names the problem in one line."""
        if self.anchor is None:
            return
        try:
            with self.anchor.locked():
                finding = self._compare_with_anchor()
                if finding.problem:
                    raise AuditError(f"{finding.problem} (see `edgemind audit verify`; `edgemind audit accept` "
                                     "re-anchors at the log as it is now, keeping no stored grant)")
                self._settle_anchor()
        except SQLAlchemyError as exc:
            raise _store_error(exc, "cannot read the audit log") from None

    def _settle_anchor(self) -> None:
        assert self.anchor is not None
        state = self.anchor.load()
        with self._sessions() as s:
            last = s.execute(select(AuditRow.id, AuditRow.row_hash).order_by(AuditRow.id.desc()).limit(1)).first()
        head = AnchorHead(last[0], last[1]) if last else AnchorHead(0, GENESIS)
        if state is None:
            self.anchor.save(AnchorState(head, None, self._grant_digests()))
            self._mark_anchored(head.seq)
        elif state.pending is not None:
            self.anchor.save(state.committed(head.seq, head.head_hash) if head.seq >= state.pending.seq
                             else AnchorState(state.head, None, state.grants))

    def accept(self) -> VerifyResult:
        """Re-anchor at the log as it is now, after the user looked at what verify found (a restore from a backup).
        The chain itself must be intact; stored grants the old anchor did not cover stay unhonoured."""
        if self.anchor is None:
            raise AuditError("this audit log keeps no anchor")
        with self.anchor.locked():
            chain = self.verify_chain_only()
            if not chain.ok:
                raise AuditError(f"the log itself is damaged at row {chain.first_bad_id}: {chain.problem}")
            try:
                old = self.anchor.load()
                finding = self._compare_with_anchor().problem
            except AuditError as exc:
                old, finding = None, str(exc)
            with self._sessions() as s:
                last = s.execute(select(AuditRow.id, AuditRow.row_hash).order_by(AuditRow.id.desc()).limit(1)).first()
            head = AnchorHead(last[0], last[1]) if last else AnchorHead(0, GENESIS)
            self.anchor.save(AnchorState(head, None, old.grants if old is not None else frozenset()))
            self._mark_anchored(head.seq)
        self.record("anchor", {"accepted": finding or "nothing to accept", "head": head.seq})
        return self.verify()

    def verify_chain_only(self) -> VerifyResult:
        try:
            return self._verify_chain()
        except SQLAlchemyError as exc:
            raise _store_error(exc, "cannot read the audit log") from None

    def _mark_anchored(self, since: int) -> None:
        with self._sessions.begin() as s:
            s.merge(AuditSeal(id=ANCHORED_MARK, head_id=since, head_hash=GENESIS,
                              mac=_seal_mac(self._key, since, "anchored")))

    def _grant_digests(self) -> frozenset[str]:
        """The grants stored now (adopted when a log is first anchored: trust on first use)."""
        try:
            with self._sessions() as s:
                rows = s.execute(text("SELECT tool, manifest_sha, scope FROM grants")).all()
        except SQLAlchemyError as exc:
            raise _store_error(exc, "cannot read the stored grants") from None
        return frozenset(grant_digest(str(t), str(m), str(sc)) for t, m, sc in rows)


@dataclass(frozen=True, slots=True)
class _Finding:
    problem: str = ""
    bad_id: int | None = None
    note: str = ""
