"""One request's state as the engine's stages fill it in: the caller's options, the routing plan, the cache's
answer or the generated one. Plain data; no stage logic lives here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..backends.base import Backend, CancelToken, GenerationParams, Message
from ..cache.answers import CachedAnswer
from ..events import BackendDone, Route
from ..models.manifest import ModelSpec
from ..routing.decision import RouteDecision
from ..storage.chat_settings import ChatSettings
from ..tools.registry import Tool
from ..tools.runner import ToolRunner


@dataclass(frozen=True, slots=True)
class AskOptions:
    model: str | None = None
    backend: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    system_prompt: str | None = None
    conversation_id: str | None = None
    store: bool = True
    use_cache: bool = True  # False: never answer from cache (the fresh answer still refreshes it)
    # The tools this one request may run: a capability the shell grants (its runner, with its own way to ask and its
    # grants; Engine.open_tools). None: no tool is offered. The engine keeps none of its own, so a shell that passes
    # none (the API server, the quick ask) can never make the engine run a tool.
    tools: ToolRunner | None = None
    top_p: float | None = None
    # Earlier turns supplied by the caller (the API server's stateless requests) instead of a stored conversation.
    history: tuple[Message, ...] = ()
    # Constrain the answer to JSON valid against this schema (GenerationParams.json_schema).
    json_schema: dict[str, Any] | None = None
    # The settings a conversation this request creates is stored with (a new chat's, or a preset's, chosen before
    # its first question), in the same write as its first message; a continued conversation keeps its own.
    new_chat: ChatSettings | None = None
    # The prompt is a task the app itself sets around the user's own material (code review: "find the bugs in" a
    # file): the safety check of the request is skipped, since the request is the app's and the material is no request
    # (the checker, trained on requests, refused whole reviews of a restaurant bill or a playlist as fraud or worse);
    # the answer is still checked. Never set from what a client sends.
    app_task: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """What routing settled: the model on the backend that runs it here, and what it is given."""

    decision: RouteDecision
    spec: ModelSpec
    params: GenerationParams
    system: str
    history: tuple[Message, ...]
    tools: tuple[Tool, ...]  # offered to the model; empty: no tool step

    def route_event(self) -> Route:
        d = self.decision
        return Route(d.intent, self.spec.id, self.spec.backend, d.reason, d.confidence, d.tools)


@dataclass(frozen=True, slots=True)
class CacheHit:
    tier: str  # l1 | l2 | semantic
    answer: CachedAnswer
    similarity: float | None = None  # semantic: cosine similarity to the earlier prompt


@dataclass(frozen=True, slots=True)
class SemanticQuery:
    """This request may use and feed the semantic tier: its scope and the prompt's embedding."""

    scope: str
    embedding: Any


@dataclass(slots=True)
class Generated:
    """How generation ended, with the times the metrics are measured from."""

    done: BackendDone
    first_at: float | None  # the first text shown
    ended: float
    decode_from: float | None = None  # the model's first chunk of the answer shown (decode speed starts there)


@dataclass(slots=True)
class Request:
    prompt: str
    options: AskOptions
    cancel: CancelToken = field(default_factory=CancelToken)
    started: float = field(default_factory=time.perf_counter)
    conversation_id: str | None = None
    plan: Plan | None = None
    key: str | None = None  # the exact cache key; None: this answer is never cached
    leading_key: str | None = None  # the key this request leads (identical ones wait); released at the end
    semantic: SemanticQuery | None = None
    hit: CacheHit | None = None
    backend: Backend | None = None
    messages: list[Message] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)  # the answer's text as streamed so far
    tool_calls: tuple[dict[str, Any], ...] = ()
    generated: Generated | None = None
    stored_answer: bool = False  # the answer (or the refusal shown instead) is in the conversation

    def __post_init__(self) -> None:
        if self.conversation_id is None:
            self.conversation_id = self.options.conversation_id

    @property
    def planned(self) -> Plan:
        """The plan, for the stages after routing (a stage run before it is a bug, not a user error)."""
        if self.plan is None:
            raise RuntimeError("the request was not routed yet")
        return self.plan

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def model_id(self) -> str | None:
        return self.plan.spec.id if self.plan is not None else None
