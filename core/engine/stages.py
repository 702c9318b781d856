"""The replaceable stages of a request that sit between the prompt and the backend.

Today: a router that picks the requested or default model; the context builder protocol (implemented by
`memory.ConversationMemory`). The intent router, cache, memory and safety checks replace or join these later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from ..backends.base import Message

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
    """Chooses the messages the model sees; `memory.ConversationMemory` is the one the engine uses."""

    def build(self, system: str, history: Sequence[Message], prompt: str, budget: int,
              count: Callable[[list[Message]], int], *, summary: str | None = None,
              facts: Sequence[str] = ()) -> list[Message]: ...


class SafetyVerdict(Protocol):
    allowed: bool
    category: str | None
    reason: str
    message: str | None


class Safety(Protocol):
    """Checks a prompt before it is answered and an answer before it is kept (`safety.SafetyChecker`)."""

    def check_input(self, text: str) -> SafetyVerdict: ...

    def check_output(self, text: str) -> SafetyVerdict: ...
