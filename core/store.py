"""The conversation store: conversations and their messages in SQLite.

Plain for now (no summaries, search or recall); memory and full-text search build on these tables later.
Writes commit at once, so what was stored before a crash or Ctrl-C is never lost.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from .db import Base
from .errors import StoreError


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ConversationRow(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class MessageRow(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # complete | cancelled | error: a cancelled answer is kept (what the user saw), marked as such
    status: Mapped[str] = mapped_column(String(16), default="complete")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    role: str
    content: str
    model: str | None
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int


class ConversationStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _write(self, fn):  # type: ignore[no-untyped-def]
        try:
            with self._sessions.begin() as s:
                return fn(s)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not write to the conversation database: {exc.__class__.__name__}") from None

    def new_conversation(self, title: str = "", first_message: str | None = None) -> str:
        """Create a conversation, with its first user message in the same transaction (one commit, not two)."""
        conv_id = uuid.uuid4().hex

        def write(s: Session) -> None:
            title_text = title or " ".join((first_message or "").split())[:80]
            s.add(ConversationRow(id=conv_id, title=title_text[:200]))
            if first_message is not None:
                s.flush()
                s.add(MessageRow(conversation_id=conv_id, role="user", content=first_message))

        self._write(write)
        return conv_id

    def exists(self, conversation_id: str) -> bool:
        with self._sessions() as s:
            return s.get(ConversationRow, conversation_id) is not None

    def add_message(self, conversation_id: str, role: str, content: str, *, model: str | None = None,
                    status: str = "complete") -> int:
        def write(s: Session) -> int:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise StoreError(f"no conversation {conversation_id!r}")
            if not conv.title and role == "user":
                conv.title = " ".join(content.split())[:80]
            conv.updated_at = _now()
            row = MessageRow(conversation_id=conversation_id, role=role, content=content, model=model,
                             status=status)
            s.add(row)
            s.flush()
            return row.id

        return self._write(write)

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        with self._sessions() as s:
            rows = s.scalars(
                select(MessageRow).where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.id)
            )
            return [StoredMessage(r.id, r.role, r.content, r.model, r.status, r.created_at) for r in rows]

    def conversations(self, limit: int = 50) -> list[ConversationInfo]:
        with self._sessions() as s:
            count = (
                select(MessageRow.conversation_id, func.count(MessageRow.id).label("n"))
                .group_by(MessageRow.conversation_id)
                .subquery()
            )
            rows = s.execute(
                select(ConversationRow, func.coalesce(count.c.n, 0))
                .outerjoin(count, count.c.conversation_id == ConversationRow.id)
                .order_by(ConversationRow.updated_at.desc())
                .limit(limit)
            )
            return [ConversationInfo(c.id, c.title, c.created_at, c.updated_at, n) for c, n in rows]
