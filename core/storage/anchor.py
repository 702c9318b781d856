"""The audit log's head, anchored outside the database, so a restored older copy of `edgemind.db` is caught.

The anchor holds the last committed row (number and hash), an append in flight (`pending`, written before the database
commit) and the digests of the stored grants, sealed with an HMAC under the audit key. It lives in `<data>/audit.anchor`
(0600, replaced atomically); where the key is in the OS keyring, the keyring holds the file's digest too. Only the
audit log and the permission broker write it, always inside `Anchor.locked()`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..data_folder import write_private
from ..errors import AuditError
from .file_lock import lock_file, unlock_file

log = logging.getLogger("edgemind.audit")

ANCHOR_FILE = "audit.anchor"
LOCK_FILE = "audit.anchor.lock"
KEYRING_SERVICE = "EdgeMind audit anchor"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class AnchorHead:
    """A row of the chain: its number and its hash."""

    seq: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class AnchorState:
    head: AnchorHead  # the last row whose commit the anchor saw
    pending: AnchorHead | None = None  # an append written to the anchor but maybe not (yet) to the database
    grants: frozenset[str] = field(default_factory=frozenset)  # grant_digest() of every stored grant

    def committed(self, seq: int, head_hash: str) -> AnchorState:
        """The state after row `seq` reached the database: the head never moves back (another process may be ahead)."""
        head = self.head if self.head.seq >= seq else AnchorHead(seq, head_hash)
        pending = self.pending if self.pending is not None and self.pending.seq > head.seq else None
        return AnchorState(head, pending, self.grants)


def grant_digest(tool: str, manifest_sha: str, scope: str) -> str:
    """What the anchor keeps of a grant: enough to recognise it, not to read it."""
    return hashlib.sha256("\0".join((tool, manifest_sha, scope)).encode("utf-8")).hexdigest()


class AnchorStore(Protocol):
    """Where the sealed anchor text lives."""

    where: str

    def read(self) -> str | None: ...

    def write(self, text: str) -> None: ...


class FileAnchorStore:
    """`<data>/audit.anchor`: used where the audit key is a file too (no OS keyring)."""

    where = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditError(f"the audit anchor {self.path} cannot be read ({exc})") from None

    def write(self, text: str) -> None:
        try:
            write_private(self.path, text)
        except OSError as exc:
            raise AuditError(f"cannot write the audit anchor {self.path}: {exc.strerror or exc}") from None

    def __str__(self) -> str:
        return str(self.path)


class KeyringAnchorStore:
    """The anchor's text in `<data>/audit.anchor`, its SHA-256 in the OS keyring, out of reach of whoever has only the
    data folder. Only the digest goes to the keyring: Windows' Credential Manager holds 2,560 bytes, and the grants'
    digests would outgrow that.

    A write goes `audit.anchor.next` -> keyring digest -> rename, so a crash at any point leaves a file that matches."""

    where = "keyring"

    def __init__(self, account: str, path: Path) -> None:
        self.account = account
        self.file = FileAnchorStore(path)
        self.next = FileAnchorStore(path.with_name(path.name + ".next"))

    def read(self) -> str | None:
        vouched = self._keyring_get()
        if vouched is None:
            return None  # never anchored here (or the keyring entry was removed: the caller's mark tells which)
        for candidate in (self.file, self.next):
            text = candidate.read()
            if text is not None and _sha(text) == vouched:
                if candidate is self.next:  # a crash after the keyring write, before the rename: finish it
                    os.replace(self.next.path, self.file.path)
                return text
        raise AuditError(f"rollback: the audit anchor {self.file.path} is not the one the OS keyring vouches for "
                         "(an older copy of the data folder, or the file was edited or deleted)")

    def write(self, text: str) -> None:
        self.next.write(text)
        self._keyring_set(_sha(text))
        try:
            os.replace(self.next.path, self.file.path)
        except OSError as exc:
            raise AuditError(f"cannot write the audit anchor {self.file.path}: {exc.strerror or exc}") from None

    def _keyring_get(self) -> str | None:
        import keyring  # keyring's backends are slow to load; only where the key is in the keyring
        from keyring.errors import KeyringError

        try:
            return keyring.get_password(KEYRING_SERVICE, self.account)
        except (KeyringError, RuntimeError, OSError) as exc:
            raise AuditError(f"the audit anchor cannot be read from the OS keyring ({exc})") from None

    def _keyring_set(self, digest: str) -> None:
        import keyring  # keyring's backends are slow to load; only where the key is in the keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(KEYRING_SERVICE, self.account, digest)
        except (KeyringError, RuntimeError, OSError) as exc:
            raise AuditError(f"cannot write the audit anchor to the OS keyring ({exc})") from None

    def __str__(self) -> str:
        return f"{self.file.path}, vouched for by the OS keyring entry {KEYRING_SERVICE!r}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Anchor:
    """Reads and writes the sealed anchor; `locked()` serialises every read-modify-write across threads and
    processes (an append, a grant change)."""

    def __init__(self, store: AnchorStore, key: bytes, lock_path: Path) -> None:
        self.store = store
        self._key = key
        self._lock_path = lock_path
        self._rlock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @property
    def where(self) -> str:
        return self.store.where

    def _mac(self, body: dict[str, Any]) -> str:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hmac.new(self._key, b"anchor:" + text.encode("utf-8"), hashlib.sha256).hexdigest()

    def load(self) -> AnchorState | None:
        """The anchor, or None where none was ever written; AuditError when it was edited or sealed with another key."""
        with self.locked():  # never beside a write: on Windows a reader's open handle makes os.replace fail
            text = self.store.read()
        if text is None:
            return None
        try:
            data = json.loads(text)
            mac = data.pop("mac")
            pending = data["pending"]
            state = AnchorState(AnchorHead(int(data["seq"]), str(data["head"])),
                                AnchorHead(int(pending[0]), str(pending[1])) if pending else None,
                                frozenset(str(g) for g in data["grants"]))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            raise AuditError(f"the audit anchor ({self.store}) is unreadable: it was edited or damaged") from None
        if not isinstance(mac, str) or not hmac.compare_digest(mac, self._mac(data)):
            raise AuditError(f"the audit anchor ({self.store}) does not match the audit key: it was edited, or the "
                             "key was replaced") from None
        return state

    def save(self, state: AnchorState) -> None:
        body: dict[str, Any] = {"v": FORMAT, "seq": state.head.seq, "head": state.head.head_hash,
                                "pending": [state.pending.seq, state.pending.head_hash] if state.pending else None,
                                "grants": sorted(state.grants)}
        body["mac"] = self._mac(body)
        self.store.write(json.dumps(body, sort_keys=True))

    def update_grants(self, *, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Cover or uncover grants (call inside `locked()`; the anchor must exist)."""
        state = self.load()
        if state is None:
            raise AuditError("the audit anchor is missing; grants cannot be stored until the audit log is opened")
        self.save(AnchorState(state.head, state.pending, (state.grants | set(add)) - set(remove)))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the anchor for a read-modify-write: a thread lock, and a lock file for other processes. Re-entrant."""
        with self._rlock:
            if self._depth == 0:
                self._fd = _lock_file(self._lock_path)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    unlock_file(self._fd)
                    self._fd = None


def _lock_file(path: Path) -> int:
    try:
        return lock_file(path)
    except OSError as exc:
        raise AuditError(f"cannot open the audit lock {path}: {exc.strerror or exc}") from None
