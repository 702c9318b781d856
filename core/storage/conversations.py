"""The conversation store: conversations and their messages in SQLite.

Plain for now (no summaries, search or recall); memory and full-text search build on these tables later.
Writes commit at once, so what was stored before a crash or Ctrl-C is never lost.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    false,
    func,
    select,
    text,
    true,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from ..errors import StoreError
from .chat_settings import MAX_MODEL_ID_CHARS, ChatSettings
from .db import rowcount
from .schema import Base

T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


def _tool_calls(stored: str | None) -> tuple[dict[str, Any], ...]:
    """The stored JSON list; a damaged value reads as none rather than hiding the message that carries it."""
    if not stored:
        return ()
    try:
        calls = json.loads(stored)
    except ValueError:
        return ()
    return tuple(c for c in calls if isinstance(c, dict)) if isinstance(calls, list) else ()


class ConversationRow(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # the user kept this conversation out of distillation: none of its turns ever becomes training data
    distill_excluded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the chat's own settings (chat_settings.py); NULL: the router's or the routed intent's choice
    chat_model: Mapped[str | None] = mapped_column(String(MAX_MODEL_ID_CHARS), nullable=True)
    chat_temperature: Mapped[float | None] = mapped_column(Float, nullable=True)
    chat_system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    chat_tools: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


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
    # the answer's tool calls as JSON (what ran, with which arguments and decision); NULL when it used none
    tool_calls: Mapped[str | None] = mapped_column(Text, nullable=True)


class SummaryRow(Base):
    """A rolling summary of a conversation's older turns, up to and including message `upto_message_id`."""

    __tablename__ = "summaries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    upto_message_id: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class MemoryItemRow(Base):
    """A fact the user asked EdgeMind to remember, for one conversation or (conversation_id NULL) for all."""

    __tablename__ = "memory_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                        nullable=True, index=True)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation_id: str
    title: str
    message_id: int
    role: str
    snippet: str


@dataclass(frozen=True, slots=True)
class Summary:
    upto_message_id: int
    content: str


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    role: str
    content: str
    model: str | None
    status: str
    created_at: datetime
    tool_calls: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class QAPair:
    """One answered prompt: a user message and the complete assistant answer that followed it."""

    conversation_id: str
    prompt_id: int
    prompt: str
    answer: str
    model: str | None
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

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The database's sessions, for the other stores over the same file (presets)."""
        return self._sessions

    def _write(self, fn: Callable[[Session], T]) -> T:
        try:
            with self._sessions.begin() as s:
                return fn(s)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not write to the conversation database: {exc.__class__.__name__}") from None

    def new_conversation(self, title: str = "", first_message: str | None = None,
                         settings: ChatSettings | None = None) -> str:
        """Create a conversation (with its own settings, when given), with its first user message in the same
        transaction (one commit, not two)."""
        conv_id = uuid.uuid4().hex
        chat = (settings or ChatSettings()).checked()

        def write(s: Session) -> None:
            title_text = title or " ".join((first_message or "").split())[:80]
            s.add(ConversationRow(id=conv_id, title=title_text[:200], chat_model=chat.model,
                                  chat_temperature=chat.temperature, chat_system_prompt=chat.system_prompt,
                                  chat_tools=chat.tools))
            if first_message is not None:
                s.flush()
                s.add(MessageRow(conversation_id=conv_id, role="user", content=first_message))

        self._write(write)
        return conv_id

    def exists(self, conversation_id: str) -> bool:
        with self._sessions() as s:
            return s.get(ConversationRow, conversation_id) is not None

    def add_message(self, conversation_id: str, role: str, content: str, *, model: str | None = None,
                    status: str = "complete", tool_calls: Sequence[dict[str, Any]] = ()) -> int:
        def write(s: Session) -> int:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise StoreError(f"no conversation {conversation_id!r}")
            if not conv.title and role == "user":
                conv.title = " ".join(content.split())[:80]
            conv.updated_at = _now()
            calls = json.dumps(list(tool_calls), ensure_ascii=False) if tool_calls else None
            row = MessageRow(conversation_id=conversation_id, role=role, content=content, model=model,
                             status=status, tool_calls=calls)
            s.add(row)
            s.flush()
            return row.id

        return self._write(write)

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        with self._sessions() as s:
            rows = s.scalars(
                select(MessageRow).where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.id)
            )
            return [StoredMessage(r.id, r.role, r.content, r.model, r.status, r.created_at, _tool_calls(r.tool_calls))
                    for r in rows]

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

    def resolve(self, id_or_prefix: str) -> str:
        """The full id of the one conversation whose id starts with id_or_prefix (as git does with hashes)."""
        if not id_or_prefix:
            raise StoreError("give a conversation id (see `edgemind history list`)")
        with self._sessions() as s:
            ids = s.scalars(select(ConversationRow.id).where(ConversationRow.id.startswith(id_or_prefix,
                                                                                         autoescape=True)).limit(2)).all()
        if len(ids) != 1:
            what = "no conversation" if not ids else "more than one conversation"
            raise StoreError(f"{what} matches {id_or_prefix!r}; see `edgemind history list`")
        return ids[0]

    def info(self, conversation_id: str) -> ConversationInfo:
        for c in self.conversations(limit=1_000_000):
            if c.id == conversation_id:
                return c
        raise StoreError(f"no conversation {conversation_id!r}")

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Full-text search (SQLite FTS5) over every message; each word must match, prefixes with a trailing *."""
        terms = [t for t in query.split() if t.strip('"*')]
        if not terms:
            raise StoreError("the search query is empty")
        # Quote every term so FTS5 syntax in user input (AND, NEAR, quotes, colons) is searched for, not obeyed.
        match = " ".join('"' + t.rstrip("*").replace('"', '""') + '"' + ("*" if t.endswith("*") else "")
                         for t in terms)
        sql = text(
            "SELECT m.conversation_id, c.title, m.id, m.role, "
            "snippet(messages_fts, 0, '[', ']', '…', 12) "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH :match ORDER BY bm25(messages_fts) LIMIT :limit"
        )
        try:
            with self._sessions() as s:
                rows = s.execute(sql, {"match": match, "limit": limit}).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"search failed: {exc.__class__.__name__}") from None
        return [SearchHit(*row) for row in rows]

    def delete(self, conversation_id: str) -> int:
        """Delete a conversation with its messages, summaries and memory items (the FTS index follows)."""
        def write(s: Session) -> int:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise StoreError(f"no conversation {conversation_id!r}")
            n = rowcount(s.execute(delete(MessageRow).where(MessageRow.conversation_id == conversation_id)))
            s.execute(delete(SummaryRow).where(SummaryRow.conversation_id == conversation_id))
            s.execute(delete(MemoryItemRow).where(MemoryItemRow.conversation_id == conversation_id))
            s.delete(conv)
            return n

        return self._write(write)

    def rename(self, conversation_id: str, title: str) -> None:
        """Give a conversation a title of the user's choosing (one line, at most 200 characters)."""
        title = " ".join(title.split())[:200]
        if not title:
            raise StoreError("a conversation title cannot be empty")

        def write(s: Session) -> None:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise StoreError(f"no conversation {conversation_id!r}")
            conv.title = title

        self._write(write)

    def truncate(self, conversation_id: str, from_message_id: int) -> int:
        """Delete the message `from_message_id` and every later one of the conversation (edit-and-resend, regenerate),
        with the summaries that covered them; return how many messages went."""
        def write(s: Session) -> int:
            if s.get(ConversationRow, conversation_id) is None:
                raise StoreError(f"no conversation {conversation_id!r}")
            n = rowcount(s.execute(delete(MessageRow).where(MessageRow.conversation_id == conversation_id,
                                                            MessageRow.id >= from_message_id)))
            s.execute(delete(SummaryRow).where(SummaryRow.conversation_id == conversation_id,
                                               SummaryRow.upto_message_id >= from_message_id))
            return n

        return self._write(write)

    def latest_summary(self, conversation_id: str) -> Summary | None:
        with self._sessions() as s:
            row = s.scalars(select(SummaryRow).where(SummaryRow.conversation_id == conversation_id)
                            .order_by(SummaryRow.upto_message_id.desc()).limit(1)).first()
            return Summary(row.upto_message_id, row.content) if row else None

    def add_summary(self, conversation_id: str, upto_message_id: int, content: str, model: str | None) -> None:
        self._write(lambda s: s.add(SummaryRow(conversation_id=conversation_id, upto_message_id=upto_message_id,
                                               content=content, model=model)))

    def remember(self, content: str, conversation_id: str | None = None) -> int:
        def write(s: Session) -> int:
            row = MemoryItemRow(conversation_id=conversation_id, content=content.strip())
            s.add(row)
            s.flush()
            return row.id

        return self._write(write)

    def set_distill_excluded(self, conversation_id: str, excluded: bool) -> None:
        """Keep a conversation out of distillation (or let it back in)."""
        def write(s: Session) -> None:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise StoreError(f"no conversation {conversation_id!r}")
            conv.distill_excluded = excluded

        self._write(write)

    def distill_excluded(self, conversation_id: str) -> bool:
        with self._sessions() as s:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise StoreError(f"no conversation {conversation_id!r}")
            return conv.distill_excluded

    def chat_settings(self, conversation_id: str) -> ChatSettings:
        """The conversation's settings as stored (unchecked: `ChatSettings.usable` says what can no longer be used)."""
        with self._sessions() as s:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise StoreError(f"no conversation {conversation_id!r}")
            return ChatSettings(conv.chat_model, conv.chat_temperature, conv.chat_system_prompt,
                                True if conv.chat_tools is None else conv.chat_tools)

    def set_chat_settings(self, conversation_id: str, settings: ChatSettings) -> ChatSettings:
        """Store the conversation's settings, checked first (a bad value is refused, nothing is written)."""
        chat = settings.checked()

        def write(s: Session) -> None:
            conv = s.get(ConversationRow, conversation_id)
            if conv is None:
                raise StoreError(f"no conversation {conversation_id!r}")
            conv.chat_model, conv.chat_temperature = chat.model, chat.temperature
            conv.chat_system_prompt, conv.chat_tools = chat.system_prompt, chat.tools

        self._write(write)
        return chat

    def answered_prompts(self, limit: int = 10_000) -> list[QAPair]:
        """User prompts each followed directly by a complete assistant answer, from conversations not excluded from
        distillation, oldest first (the newest `limit`). A cancelled or failed answer is not an answer to learn from."""
        with self._sessions() as s:
            rows = s.execute(
                select(MessageRow.conversation_id, MessageRow.id, MessageRow.role, MessageRow.content,
                       MessageRow.model, MessageRow.status, MessageRow.created_at)
                .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
                .where(ConversationRow.distill_excluded.is_(False))
                .order_by(MessageRow.conversation_id, MessageRow.id)
            ).all()
        pairs: list[QAPair] = []
        for before, after in zip(rows, rows[1:], strict=False):
            if (before.conversation_id == after.conversation_id and before.role == "user"
                    and after.role == "assistant" and after.status == "complete" and after.content.strip()):
                pairs.append(QAPair(before.conversation_id, before.id, before.content, after.content, after.model,
                                    before.created_at))
        pairs.sort(key=lambda p: p.prompt_id)
        return pairs[-limit:] if limit > 0 else []

    def memories(self, conversation_id: str | None) -> list[str]:
        """Facts for this conversation plus the ones remembered for every conversation."""
        with self._sessions() as s:
            cond: ColumnElement[bool] = MemoryItemRow.conversation_id.is_(None)
            if conversation_id:
                cond = cond | (MemoryItemRow.conversation_id == conversation_id)
            return list(s.scalars(select(MemoryItemRow.content).where(cond).order_by(MemoryItemRow.id)))
