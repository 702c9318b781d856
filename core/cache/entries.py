"""What the cache stores, shared by its exact tiers (`answers.py`) and its semantic tier (`semantic.py`): a cached
answer, the SQLite rows of `cache.db`, and the prompt normalisation both tiers key on. Imports neither tier.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def normalize_prompt(prompt: str) -> str:
    """Same words, same key: Unicode NFC and collapsed whitespace (case is kept; it can change meaning)."""
    return " ".join(unicodedata.normalize("NFC", prompt).split())


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    text: str
    model: str
    tokens: int
    prompt_tokens: int
    created_at: float


class CacheBase(DeclarativeBase):
    """`cache.db`'s own tables: derived data, apart from the main database's metadata."""


class CacheRow(CacheBase):
    __tablename__ = "answers"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    last_used_at: Mapped[float] = mapped_column(Float, index=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer)
    # the conversation the answer was given in, so deleting that conversation deletes its cached answers too
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class PendingDeletionRow(CacheBase):
    """A conversation whose deletion began: its answers are already gone from this file (in the same transaction
    that wrote this row); the conversation itself may still be in the main database if the process was killed."""

    __tablename__ = "pending_deletions"
    conversation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    requested_at: Mapped[float] = mapped_column(Float)


class SemanticRow(CacheBase):
    """A stand-alone prompt's embedding and guard signature, pointing at its answer in `answers`."""

    __tablename__ = "semantic_prompts"
    # ON DELETE CASCADE (with PRAGMA foreign_keys on): deleting the answer by any path deletes the embedding.
    key: Mapped[str] = mapped_column(String(64), ForeignKey("answers.key", ondelete="CASCADE"), primary_key=True)
    # digest of model + SHA + system prompt + params: only prompts asked in the same situation are compared
    scope: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(32))  # semantic_guard.Facts.signature(): exact facts
    prompt: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 unit vector
    created_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_semantic_scope_signature", "scope", "signature"),)
