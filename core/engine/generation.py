"""The generation stage: the model answers, after tool steps when the plan offers tools, streamed token by token
and stopped within one token of a cancel. It yields events and fills the request; it stores nothing."""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass, replace

from ..backends.base import GenerationParams, Message
from ..events import BackendDone, Event, Metrics, Token
from ..tools.answer_guard import CallFilter
from ..tools.loop import LoopResult, closing_instruction, latest_question, run_tool_steps
from ..tools.math_answer import calculated_result, states_result
from .request import Generated, Request

# Said when the model, asked twice, only wrote a function call or copied what it was told: neither is shown.
NO_ANSWER = "I could not write an answer to this from the tool results; please rephrase or ask without tools."
# The second try samples at least this warm: a greedy answer that was only a call or a copy is a loop the model is
# stuck in, and the same prompt greedy again often falls into it again (the 0.5B model copied a question twice).
RETRY_TEMPERATURE = 0.7
RETRY_SEED = 1


def no_answer(loop: LoopResult) -> str:
    """What is said when the model, asked twice, wrote only a call or copied its instructions: where a call failed,
    that failure in plain words (what the user can act on), else NO_ANSWER."""
    failed = [o for o in loop.outcomes if not o.ok]
    if not failed:
        return NO_ANSWER
    last = failed[-1]
    how = "was not allowed" if last.decision.startswith("denied") else f"failed: {last.summary}"
    return f"I could not get an answer: the {last.tool} call {how}. Please rephrase the question or ask it in parts."


@dataclass(slots=True)
class _Shown:
    first_at: float | None = None  # when the first answer text was shown (time to first token)
    # when the answer's first chunk came from the model: decode speed is measured from there, also for an answer
    # held back until it was whole
    decode_from: float | None = None


class Generation:
    def __init__(self, tool_steps: int) -> None:
        self.tool_steps = tool_steps  # the most tool calls one answer may make

    def run(self, request: Request) -> Generator[Event, None, None]:
        plan, backend = request.planned, request.backend
        assert backend is not None, "the context stage picks the backend"
        runner = request.options.tools
        shown = _Shown()
        if plan.tools and runner is not None:  # tools are planned only for a request that carries a runner
            names = {t.name for t in plan.tools}
            # docs: search the user's documents first and answer from them (a small model forgets to ask)
            prefetch = ([("docs_search", {"query": request.prompt})]
                        if plan.decision.intent == "docs" and "docs_search" in names else [])
            loop: LoopResult = yield from run_tool_steps(
                backend, request.messages, plan.params, [] if prefetch else list(plan.tools), runner,
                max_steps=self.tool_steps, conversation_id=request.conversation_id, cancel=request.cancel,
                prefetch=prefetch, call_first=plan.decision.intent == "action",
                math_setup="calculator" if plan.decision.intent == "math" and "calculator" in names else None)
            question = latest_question(request.messages)  # before the loop's conversation replaces them
            request.messages = loop.messages
            request.tool_calls = tuple(o.as_dict() for o in loop.outcomes)
            done = yield from self._guarded(request, loop, question, shown)
        else:
            done = yield from self._stream(request, request.messages, None, shown)
        ended = time.perf_counter()
        done = done or BackendDone("stop", len(request.pieces), 0)
        if request.cancel.cancelled:
            done = BackendDone("cancelled", done.tokens, done.prompt_tokens)
        request.generated = Generated(done, shown.first_at, ended, shown.decode_from or shown.first_at)

    def _guarded(self, request: Request, loop: LoopResult, question: str,
                 shown: _Shown) -> Generator[Event, None, BackendDone | None]:
        """The answer after tool steps, with any function call the model writes held back and dropped: when it wrote
        nothing but a call (or a copy of the question or its instructions), it is asked once more from the
        conversation told in words, without the tools, sampling (RETRY_TEMPERATURE). A math answer after a
        calculation is held until it is whole and shown only if it states the calculated result (math_answer.py);
        when the second try does not either, the calculation is the answer."""
        # The question itself is an echo too: after reading a file, the 0.5B model sometimes answered with the
        # question copied word for word (on an AVX2 CPU, where its numbers differ a little).
        echoes = (*closing_instruction(question, loop.outcomes).splitlines(), question) if loop.outcomes else ()
        result = calculated_result(loop.outcomes) if request.planned.decision.intent == "math" else None

        def answered(guard: CallFilter) -> bool:
            if result is not None:
                return states_result(guard.shown, result)
            return not (guard.dropped and not guard.shown.strip())

        guard = CallFilter(echoes=echoes)
        done = yield from self._stream(request, request.messages, guard, shown, held=result is not None)
        if not answered(guard) and not request.cancel.cancelled:
            guard = CallFilter(echoes=echoes)
            request.messages = loop.plain
            params = request.planned.params
            retry = replace(params, temperature=max(params.temperature, RETRY_TEMPERATURE),
                            seed=params.seed if params.seed is not None else RETRY_SEED)
            done = yield from self._stream(request, loop.plain, guard, shown, retry, held=result is not None)
            if not answered(guard):
                fallback = result.line if result is not None else no_answer(loop)
                yield from self._emit(request, fallback, shown)
                return done
        if result is not None:
            yield from self._emit(request, guard.shown, shown)
        return done

    def _stream(self, request: Request, messages: list[Message], guard: CallFilter | None, shown: _Shown,
                params: GenerationParams | None = None, *,
                held: bool = False) -> Generator[Event, None, BackendDone | None]:
        """Stream the model's answer through `guard`; `held` keeps it in the guard (guard.shown) instead of showing
        it, for the caller to check first."""
        backend, done = request.backend, None
        assert backend is not None

        def show(text: str) -> Generator[Event, None, None]:
            if not held:
                yield from self._emit(request, text, shown)

        shown.decode_from = None  # a second try's speed is its own
        with closing(backend.stream(messages, params or request.planned.params, request.cancel)) as chunks:
            for chunk in chunks:
                if isinstance(chunk, BackendDone):
                    done = chunk
                    break
                if shown.decode_from is None:
                    shown.decode_from = time.perf_counter()
                yield from show(guard.feed(chunk) if guard else chunk)
        if guard is not None:
            yield from show(guard.finish())
        return done

    @staticmethod
    def _emit(request: Request, text: str, shown: _Shown) -> Generator[Event, None, None]:
        if not text:
            return
        if shown.first_at is None:
            shown.first_at = time.perf_counter()
        request.pieces.append(text)
        yield Token(text)


def generation_metrics(request: Request) -> Metrics:
    """Time to first token, tokens, decode speed and model load time of a generated answer."""
    generated, backend = request.generated, request.backend
    assert generated is not None and backend is not None
    done, first_at, ended, started = generated.done, generated.first_at, generated.ended, request.started
    ttft = ((first_at or ended) - started) * 1000
    decode_from = generated.decode_from
    decode_s = ended - decode_from if decode_from else 0.0
    # tok/s over the decode phase: tokens after the first, over the time after the first.
    tok_s = (done.tokens - 1) / decode_s if done.tokens > 1 and decode_s > 0 else 0.0
    return Metrics(
        ttft_ms=round(ttft, 2), tokens=done.tokens, tok_s=round(tok_s, 2), prompt_tokens=done.prompt_tokens,
        load_ms=round(backend.take_load_ms(), 2), total_ms=round((ended - started) * 1000, 2),
    )
