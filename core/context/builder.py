"""The seam the engine builds a model's messages through: `ContextBuilder` (`memory.ConversationMemory` is the one
it uses). Plain types only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..backends.base import Message


class ContextBuilder(Protocol):
    """Chooses the messages the model sees within `budget` tokens, counted by `count`."""

    def build(self, system: str, history: Sequence[Message], prompt: str, budget: int,
              count: Callable[[list[Message]], int], *, summary: str | None = None,
              facts: Sequence[str] = ()) -> list[Message]: ...
