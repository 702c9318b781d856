"""The generation stage: the model answers, after tool steps when the plan offers tools, streamed token by token
and stopped within one token of a cancel. It yields events and fills the request; it stores nothing."""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import closing

from ..events import BackendDone, Event, Metrics, Token
from ..tools.loop import LoopResult, run_tool_steps
from .request import Generated, Request


class Generation:
    def __init__(self, tool_steps: int) -> None:
        self.tool_steps = tool_steps  # the most tool calls one answer may make

    def run(self, request: Request) -> Generator[Event, None, None]:
        plan, backend = request.planned, request.backend
        assert backend is not None, "the context stage picks the backend"
        runner = request.options.tools
        if plan.tools and runner is not None:  # tools are planned only for a request that carries a runner
            names = {t.name for t in plan.tools}
            # docs: search the user's documents first and answer from them (a small model forgets to ask)
            prefetch = ([("docs_search", {"query": request.prompt})]
                        if plan.decision.intent == "docs" and "docs_search" in names else [])
            loop: LoopResult = yield from run_tool_steps(
                backend, request.messages, plan.params, [] if prefetch else list(plan.tools), runner,
                max_steps=self.tool_steps, conversation_id=request.conversation_id, cancel=request.cancel,
                prefetch=prefetch, call_first=plan.decision.intent == "action")
            request.messages = loop.messages
            request.tool_calls = tuple(o.as_dict() for o in loop.outcomes)
        first_at: float | None = None
        done: BackendDone | None = None
        with closing(backend.stream(request.messages, plan.params, request.cancel)) as chunks:
            for chunk in chunks:
                if isinstance(chunk, BackendDone):
                    done = chunk
                    break
                if first_at is None:
                    first_at = time.perf_counter()
                request.pieces.append(chunk)
                yield Token(chunk)
        ended = time.perf_counter()
        done = done or BackendDone("stop", len(request.pieces), 0)
        if request.cancel.cancelled:
            done = BackendDone("cancelled", done.tokens, done.prompt_tokens)
        request.generated = Generated(done, first_at, ended)


def generation_metrics(request: Request) -> Metrics:
    """Time to first token, tokens, decode speed and model load time of a generated answer."""
    generated, backend = request.generated, request.backend
    assert generated is not None and backend is not None
    done, first_at, ended, started = generated.done, generated.first_at, generated.ended, request.started
    ttft = ((first_at or ended) - started) * 1000
    decode_s = ended - first_at if first_at else 0.0
    # tok/s over the decode phase: tokens after the first, over the time after the first.
    tok_s = (done.tokens - 1) / decode_s if done.tokens > 1 and decode_s > 0 else 0.0
    return Metrics(
        ttft_ms=round(ttft, 2), tokens=done.tokens, tok_s=round(tok_s, 2), prompt_tokens=done.prompt_tokens,
        load_ms=round(backend.take_load_ms(), 2), total_ms=round((ended - started) * 1000, 2),
    )
