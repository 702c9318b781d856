"""The permission broker: deny by default; a tool call goes ahead only when every scope it needs is granted.

Grants come from the user, never from content: an answer to the ask callback (dialog, terminal prompt), a
`--grant SCOPE` on the command line, or an earlier "always" stored in SQLite. Stored and session grants are bound
to the tool's manifest SHA-256, so a tool that changed (code, scopes, description) asks again.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, delete, select, true
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from ..errors import StoreError
from ..storage.anchor import grant_digest
from ..storage.audit import AuditLog, digest, missing_table
from ..storage.db import rowcount
from ..storage.schema import Base
from .registry import Tool
from .scopes import Scope, covers, parse_scope

log = logging.getLogger("edgemind.permissions")


class Answer(enum.Enum):
    ONCE = "once"
    SESSION = "session"
    ALWAYS = "always"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class PermissionRequest:
    """What the user is shown before deciding: the tool, the scopes it needs and the exact arguments."""

    tool: str
    plugin: str
    description: str
    scopes: tuple[str, ...]
    arguments: dict[str, Any]
    manifest_sha: str
    conversation_id: str | None = None
    notes: tuple[str, ...] = ()  # shown with the request (MCP annotations, what changed): never decides anything


AskCallback = Callable[[PermissionRequest], Answer]


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    how: str  # pure | always | session | preset | once | denied | denied_earlier | no_one_to_ask
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GrantInfo:
    id: int
    tool: str
    manifest_sha: str
    scope: str
    created_at: str
    honoured: bool = True  # False: the audit anchor does not cover it (restored from an older copy, or hand-written)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tool": self.tool, "manifest_sha": self.manifest_sha, "scope": self.scope,
                "created_at": self.created_at, "honoured": self.honoured}


class GrantRow(Base):
    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("tool", "manifest_sha", "scope", name="uq_grants_tool_sha_scope"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tool: Mapped[str] = mapped_column(String(200), index=True)
    manifest_sha: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(slots=True)
class _SessionState:
    grants: set[tuple[str, str, Scope]] = field(default_factory=set)  # (tool, manifest sha, scope)
    denied: set[tuple[str, str, tuple[Scope, ...]]] = field(default_factory=set)


class PermissionBroker:
    """Decides every tool call. One per session (a CLI run, a GUI session, an API server process)."""

    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog, ask: AskCallback | None = None,
                 preset: Iterable[str | Scope] = ()) -> None:
        self._sessions = sessions
        self._audit = audit
        self._ask = ask
        # --grant SCOPE for this run: any tool may use it, for this process only, never stored
        self._preset = [s if isinstance(s, Scope) else parse_scope(s) for s in preset]
        self._state = _SessionState()
        self._lock = threading.Lock()
        self._warned: set[int] = set()

    @property
    def preset(self) -> tuple[Scope, ...]:
        return tuple(self._preset)

    def is_granted(self, tool: Tool, needed: list[Scope]) -> str | None:
        """How the call is already granted without asking ('pure' | 'always' | 'session' | 'preset'), or None."""
        sha = tool.manifest.sha256
        stored = self._stored_scopes(tool.name, sha)
        ways = []
        for scope in needed:
            if any(covers(g, scope) for g in self._preset):
                ways.append("preset")
            elif any(t == tool.name and s == sha and covers(g, scope) for t, s, g in self._state.grants):
                ways.append("session")
            elif any(covers(g, scope) for g in stored):
                ways.append("always")
            else:
                return None
        for way in ("preset", "session", "always"):
            if way in ways:
                return way
        return "always" if needed else "pure"  # a tool that declares no scope touches nothing: a calculator

    def decide(self, tool: Tool, needed: list[Scope], arguments: dict[str, Any],
               conversation_id: str | None = None) -> Decision:
        scopes = tuple(str(s) for s in needed)
        with self._lock:
            how = self.is_granted(tool, needed)
            if how is not None:
                return Decision(True, how, scopes)
            key = (tool.name, tool.manifest.sha256, tuple(needed))
            if key in self._state.denied:
                self._record_denial(tool, scopes, "denied_earlier", conversation_id)
                return Decision(False, "denied_earlier", scopes)
            if self._ask is None:
                self._record_denial(tool, scopes, "no_one_to_ask", conversation_id)
                return Decision(False, "no_one_to_ask", scopes)
            request = PermissionRequest(tool.name, tool.manifest.plugin, tool.manifest.description, scopes,
                                        dict(arguments), tool.manifest.sha256, conversation_id, tool.notes)
            try:
                answer = self._ask(request)
            except Exception as exc:  # a dialog that crashed or timed out is a "no"
                log.warning("permission prompt failed (%s); denying", exc)
                answer = Answer.DENY
            if not isinstance(answer, Answer) or answer is Answer.DENY:
                self._state.denied.add(key)
                self._record_denial(tool, scopes, "denied", conversation_id)
                return Decision(False, "denied", scopes)
            if answer is Answer.SESSION:
                self._state.grants.update((tool.name, tool.manifest.sha256, s) for s in needed)
            elif answer is Answer.ALWAYS:
                self._store(tool, needed)
            self._audit.record("grant", {"how": answer.value, "scopes": list(scopes),
                                         "manifest_sha": tool.manifest.sha256, "arguments_sha": digest(arguments)},
                               conversation_id=conversation_id, tool=tool.name)
            return Decision(True, answer.value, scopes)

    def _record_denial(self, tool: Tool, scopes: tuple[str, ...], how: str, conversation_id: str | None) -> None:
        self._audit.record("denied", {"how": how, "scopes": list(scopes), "manifest_sha": tool.manifest.sha256},
                           conversation_id=conversation_id, tool=tool.name)

    def _stored_scopes(self, tool: str, sha: str) -> list[Scope]:
        """Stored grants for this tool, only those the audit anchor vouches for: a grant row that came back with an
        older copy of the database, or was written in by hand, grants nothing."""
        covered = self._audit.covered_grants()
        try:
            with self._sessions() as s:
                rows = s.execute(select(GrantRow.id, GrantRow.scope).where(
                    GrantRow.tool == tool, GrantRow.manifest_sha == sha)).all()
        except SQLAlchemyError as exc:
            raise missing_table(exc) or StoreError(f"cannot read the stored grants: {exc}") from None
        out = []
        for grant_id, text in rows:
            if covered is not None and grant_digest(tool, sha, text) not in covered:
                if grant_id not in self._warned:
                    self._warned.add(grant_id)
                    log.warning("stored grant %s (%s %s) is not covered by the audit anchor (restored from an older "
                                "copy, or written outside EdgeMind); not honoured", grant_id, tool, text)
                continue
            try:
                out.append(parse_scope(text))
            except Exception:  # a grant row edited into nonsense grants nothing
                log.warning("ignoring unreadable stored grant %r for %s", text, tool)
        return out

    def _store(self, tool: Tool, needed: list[Scope]) -> None:
        """The row first, then the anchor's cover: a crash in between leaves a grant that is not honoured (asked
        again), never one that is honoured without the anchor."""
        try:
            with self._audit.anchor_locked():
                with self._sessions.begin() as s:
                    for scope in needed:
                        exists = s.scalar(select(GrantRow.id).where(
                            GrantRow.tool == tool.name, GrantRow.manifest_sha == tool.manifest.sha256,
                            GrantRow.scope == str(scope)))
                        if exists is None:
                            s.add(GrantRow(tool=tool.name, manifest_sha=tool.manifest.sha256, scope=str(scope),
                                           created_at=datetime.now(UTC)))
                if self._audit.anchor is not None:
                    self._audit.anchor.update_grants(
                        add=[grant_digest(tool.name, tool.manifest.sha256, str(scope)) for scope in needed])
        except SQLAlchemyError as exc:
            raise missing_table(exc) or StoreError(f"cannot store the grant: {exc}") from None

    def grant_always(self, tool: Tool, scopes: Iterable[str | Scope]) -> None:
        """Store grants the user made outside a prompt (settings page, `edgemind tools grant`)."""
        parsed = [s if isinstance(s, Scope) else parse_scope(s) for s in scopes]
        self._store(tool, parsed)
        self._audit.record("grant", {"how": "always", "scopes": [str(s) for s in parsed],
                                     "manifest_sha": tool.manifest.sha256}, tool=tool.name)

    def grants(self) -> list[GrantInfo]:
        covered = self._audit.covered_grants()
        with self._sessions() as s:
            return [GrantInfo(r.id, r.tool, r.manifest_sha, r.scope, r.created_at.isoformat(),
                              covered is None or grant_digest(r.tool, r.manifest_sha, r.scope) in covered)
                    for r in s.scalars(select(GrantRow).order_by(GrantRow.id))]

    def revoke(self, *, grant_id: int | None = None, tool: str | None = None) -> int:
        """Remove stored grants (one by id, or all of a tool's, or all) and this session's; returns rows removed."""
        query = delete(GrantRow)
        if grant_id is not None:
            query = query.where(GrantRow.id == grant_id)
        elif tool is not None:
            query = query.where(GrantRow.tool == tool)
        with self._lock, self._audit.anchor_locked():
            try:
                # the anchor's cover goes first: a crash in between leaves a row the anchor no longer honours
                if self._audit.anchor is not None:
                    with self._sessions() as s:
                        gone = s.execute(select(GrantRow.tool, GrantRow.manifest_sha, GrantRow.scope)
                                         .where(query.whereclause if query.whereclause is not None else true())).all()
                    self._audit.anchor.update_grants(remove=[grant_digest(t, m, sc) for t, m, sc in gone])
                with self._sessions.begin() as s:
                    removed = rowcount(s.execute(query))
            except SQLAlchemyError as exc:
                raise missing_table(exc) or StoreError(f"cannot revoke grants: {exc}") from None
            if grant_id is None:
                self._state.grants = {g for g in self._state.grants if tool is not None and g[0] != tool}
        self._audit.record("revoke", {"grant_id": grant_id, "removed": removed}, tool=tool)
        return removed
