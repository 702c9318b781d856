"""What every router returns (`RouteDecision`) and the seams the engine routes through (`Router`, and the optional
`JudgedRouter` / `EmbeddingRouter` abilities). Plain types only: importing this never loads an embedder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .policy import IntentParams

if TYPE_CHECKING:
    import numpy as np

DEFAULT_SYSTEM_PROMPT = ("You are EdgeMind, a helpful assistant running locally on the user's computer. "
                         "Answer concisely.")

# `judge(prompt, candidates) -> intent | None`: settles a prompt the router is unsure about (routing.judge.ModelJudge).
Judge = Callable[[str, Sequence[str]], "str | None"]
# `strongest() -> (model id, why) | None`: the installed model stronger than the default that a policy's "strongest"
# means, or None when there is none (models.strength.StrongestModel).
Strongest = Callable[[], "tuple[str, str] | None"]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which intent a prompt is, and so which model, system prompt, generation settings and tools answer it."""

    intent: str
    model_id: str | None
    system_prompt: str
    reason: str
    confidence: float = 1.0  # the classifier's probability for its best guess (also when it fell back)
    tools: tuple[str, ...] = ()  # the tools offered for this prompt (none runs without a grant)
    # (tool, what in the prompt needs it) for each offered tool, and (tool, why not) for the intent's others
    tools_why: tuple[tuple[str, str], ...] = ()
    tools_left_out: tuple[tuple[str, str], ...] = ()
    params: IntentParams = IntentParams()  # None in a field: the user's option or the engine's default decides
    latency_ms: float = 0.0
    signals: tuple[str, ...] = ()  # the cheap signals that fired
    language: str = "und"
    # The prompt's MiniLM embedding and the text it was computed from: the semantic cache reuses it when that text
    # is the whole prompt, so a cache miss costs no second embedding.
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    embedded_text: str = field(default="", repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The `edgemind route --json` object."""
        return {
            "intent": self.intent, "model": self.model_id, "tools": list(self.tools),
            "tools_why": dict(self.tools_why), "tools_left_out": dict(self.tools_left_out),
            "confidence": round(self.confidence, 4), "reason": self.reason, "latency_ms": round(self.latency_ms, 3),
            "params": {"temperature": self.params.temperature, "max_tokens": self.params.max_tokens},
            "signals": list(self.signals), "language": self.language,
        }


class Router(Protocol):
    """Decides how a prompt is answered; never generates text or runs tools."""

    def route(self, prompt: str, requested_model: str | None) -> RouteDecision: ...


@runtime_checkable
class JudgedRouter(Router, Protocol):
    """A router that hands the prompts it is unsure about to a model when its policy names one (`unsure_model`,
    empty: none); the engine attaches that model as `judge`."""

    judge: Judge | None

    @property
    def unsure_model(self) -> str: ...


@runtime_checkable
class EscalatingRouter(Router, Protocol):
    """A router whose policy may send an intent to the strongest installed model; the engine attaches what finds it
    as `strongest` (None: the default model answers those intents too)."""

    strongest: Strongest | None


class PromptEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class EmbeddingRouter(Router, Protocol):
    """A router that embeds every prompt: the semantic cache tier uses the same embedder (and reuses a decision's
    `embedding` when it was computed from the whole prompt)."""

    embedder: PromptEmbedder


class DefaultRouter:
    """The router when the intent router is off: every prompt is `chat`, on the requested model or the default."""

    def __init__(self, default_model: str, system_prompt: str = DEFAULT_SYSTEM_PROMPT) -> None:
        self._default = default_model
        self._system = system_prompt

    def route(self, prompt: str, requested_model: str | None) -> RouteDecision:
        if requested_model:
            return RouteDecision("chat", requested_model, self._system, "model chosen by the user")
        return RouteDecision("chat", self._default, self._system, "default model")
