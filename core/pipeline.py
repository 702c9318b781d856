"""The replaceable stages of a request that sit between the prompt and the backend.

Today: a router that picks the requested or default model, and a context builder that keeps the most recent turns
that fit the model's window. The intent router, cache, memory and safety checks replace or join these later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from .backends.base import Message
from .errors import PromptError

DEFAULT_SYSTEM_PROMPT = "You are EdgeMind, a helpful assistant running locally on the user's computer. Answer concisely."


@dataclass(frozen=True, slots=True)
class RouteDecision:
    intent: str
    model_id: str | None
    system_prompt: str
    reason: str
    confidence: float = 1.0


class Router(Protocol):
    def route(self, prompt: str, requested_model: str | None) -> RouteDecision: ...


class DefaultRouter:
    """Until the intent router lands: every prompt is `chat`, on the requested model or the default one."""

    def __init__(self, default_model: str, system_prompt: str = DEFAULT_SYSTEM_PROMPT) -> None:
        self._default = default_model
        self._system = system_prompt

    def route(self, prompt: str, requested_model: str | None) -> RouteDecision:
        if requested_model:
            return RouteDecision("chat", requested_model, self._system, "model chosen by the user")
        return RouteDecision("chat", self._default, self._system, "default model")


class ContextBuilder(Protocol):
    def build(self, system: str, history: Sequence[Message], prompt: str, budget: int,
              count: Callable[[list[Message]], int]) -> list[Message]: ...


class RecentTurns:
    """System prompt + as many of the most recent turns as fit + the new prompt; the oldest turns go first."""

    def build(self, system: str, history: Sequence[Message], prompt: str, budget: int,
              count: Callable[[list[Message]], int]) -> list[Message]:
        head = [Message("system", system)] if system else []
        tail = [Message("user", prompt)]
        needed = count(head + tail)
        if needed > budget:
            raise PromptError(
                f"the prompt needs {needed} tokens but only {budget} fit in the model's context "
                "after room for the answer; shorten it or lower --max-tokens"
            )
        if count(head + list(history) + tail) <= budget:  # the usual case: one count, no search
            return head + list(history) + tail
        # Binary search for the oldest turn we can keep: fitting is monotonic in how many turns we drop.
        lo, hi = 1, len(history)
        while lo < hi:
            mid = (lo + hi) // 2
            if count(head + list(history[mid:]) + tail) <= budget:
                hi = mid
            else:
                lo = mid + 1
        kept = list(history[lo:])
        # Never start the kept history with an assistant turn that has lost its question.
        while kept and kept[0].role == "assistant":
            kept.pop(0)
        return head + kept + tail
