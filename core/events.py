"""The events a request streams: what the CLI prints, the API turns into SSE/NDJSON and the GUI forwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Metrics:
    ttft_ms: float = 0.0
    tokens: int = 0
    tok_s: float = 0.0
    prompt_tokens: int = 0
    load_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    type: Literal["token"] = "token"


@dataclass(frozen=True, slots=True)
class Route:
    intent: str
    model: str
    backend: str
    reason: str
    confidence: float = 1.0
    tools: tuple[str, ...] = ()  # the tools the routed intent offers (none run without a grant)
    type: Literal["route"] = "route"


@dataclass(frozen=True, slots=True)
class Done:
    metrics: Metrics
    finish_reason: str  # stop | length | cancelled
    conversation_id: str | None = None
    cache: str = "miss"  # miss | l1 | l2 | semantic: where the answer came from
    similarity: float | None = None  # semantic hits: cosine similarity to the earlier prompt whose answer this is
    refused: bool = False  # the safety check refused the prompt or withheld the answer
    safety_category: str | None = None
    # one dict per tool call made for this answer: tool, arguments, decision, ok, result_summary, result_sha256
    tool_calls: tuple[dict[str, Any], ...] = ()
    type: Literal["done"] = "done"


@dataclass(frozen=True, slots=True)
class Error:
    message: str
    kind: str = "error"
    type: Literal["error"] = "error"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model proposed a call; it has not been checked yet (the ToolResult says what the broker decided)."""

    tool: str
    arguments: dict[str, Any]
    step: int
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a tool found what it returned (a docs_search hit): set by the tool from its own index, never parsed from
    model text, so a shell can link to it. Still only a claim: a shell opens it only inside the user's folders."""

    path: str  # the file's real path
    start_line: int
    end_line: int
    label: str  # how the tool cited it to the model: `notes/garden.md:31-36`
    page: int | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    tool: str
    decision: str  # allowed:<how> | denied:<how> | rejected | error
    ok: bool
    summary: str
    step: int
    type: Literal["tool_result"] = "tool_result"
    sources: tuple[Citation, ...] = ()  # the files the result came from, for the shell's links


Event = Token | Route | Done | Error | ToolCall | ToolResult


@dataclass(frozen=True, slots=True)
class BackendDone:
    """What a backend reports at the end of its stream; the engine adds timing it measured itself."""

    finish_reason: str
    tokens: int
    prompt_tokens: int
    extra: dict[str, Any] = field(default_factory=dict)
