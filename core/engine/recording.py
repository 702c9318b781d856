"""The recording stage: what a request leaves behind — the prompt and the answer (or the refusal shown instead) in
the conversation, the route or refusal in the audit log, a rolling summary when the conversation outgrew the window.
It also ends each kind of answer with its done event. It never decides what the answer is."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..context.memory import Summarizer
from ..errors import EdgeMindError
from ..events import Done, Event, Metrics, Route, Token
from ..safety.verdict import Verdict
from ..storage.audit import AuditLog, digest
from ..storage.conversations import ConversationStore
from .context_window import was_trimmed
from .generation import generation_metrics
from .request import Request

log = logging.getLogger(__name__)
REFUSAL = "I can't help with that."
WITHHELD = "This answer was withheld by the safety check."


def sent_system(request: Request) -> str:
    """The system message the backend was sent (the plan's system prompt with any remembered facts or summary the
    context added); on a cache hit, where nothing was sent, the plan's system prompt."""
    first = request.messages[0] if request.messages else None
    return first.content if first is not None and first.role == "system" else request.planned.system


class Recorder:
    def __init__(self, store: ConversationStore, audit: AuditLog | None, summarizer: Summarizer) -> None:
        self.store = store
        self.audit = audit
        self.summarizer = summarizer
        # Long-lived hosts (chat, GUI, server) write rolling summaries in the background; one-shot `ask` turns it off
        # so the process does not wait for a summary before it can exit.
        self.summarize_in_background = True

    def record_prompt(self, request: Request) -> None:
        """The user's message, in a new conversation unless the request continues one."""
        if not request.options.store:
            return
        if request.conversation_id is None:
            request.conversation_id = self.store.new_conversation(first_message=request.prompt,
                                                                  settings=request.options.new_chat)
        else:
            self.store.add_message(request.conversation_id, "user", request.prompt)

    def refuse(self, request: Request, verdict: Verdict) -> Iterator[Event]:
        """A refused prompt: the refusal (or support message) is the answer; it is stored, never generated."""
        message = verdict.message or REFUSAL
        self.record_prompt(request)
        if request.options.store:
            assert request.conversation_id is not None
            self.store.add_message(request.conversation_id, "assistant", message, status="refused")
        if self.audit is not None:
            detail = {"category": verdict.category, "reason": str(verdict.reason)[:200],
                      "prompt_sha": digest(request.prompt)}
            self.audit.record("refusal", detail, conversation_id=request.conversation_id)
        yield Route("refused", "", "", verdict.reason, 1.0)
        yield Token(message)
        elapsed = round((time.perf_counter() - request.started) * 1000, 3)
        yield Done(Metrics(ttft_ms=elapsed, total_ms=elapsed), "refused", request.conversation_id, refused=True,
                   safety_category=verdict.category)

    def serve_cached(self, request: Request) -> Iterator[Event]:
        """The cache's answer, shown and stored as if generated, with its tier (and similarity) in the done event."""
        hit = request.hit
        assert hit is not None
        request.pieces.append(hit.answer.text)
        yield Token(hit.answer.text)
        self._store_answer(request, hit.answer.text)
        elapsed = (time.perf_counter() - request.started) * 1000
        metrics = Metrics(ttft_ms=round(elapsed, 3), tokens=hit.answer.tokens, prompt_tokens=hit.answer.prompt_tokens,
                          total_ms=round(elapsed, 3))
        self.audit_route(request, cache=hit.tier)
        yield Done(metrics, "stop", request.conversation_id, cache=hit.tier, similarity=hit.similarity)

    def withhold(self, request: Request, verdict: Verdict) -> Iterator[Event]:
        """The answer failed the output check: it was already streamed, so what is kept (stored, shown on reload) is
        the notice; it is neither cached nor audited as an answer."""
        log.warning("answer withheld by the safety check (%s)", verdict.category)
        notice = verdict.message or WITHHELD
        yield Token("\n\n" + notice)
        self._store_answer(request, notice, status="refused")
        yield Done(generation_metrics(request), "refused", request.conversation_id, refused=True,
                   safety_category=verdict.category)

    def record_answer(self, request: Request) -> None:
        assert request.generated is not None
        cancelled = request.generated.done.finish_reason == "cancelled"
        self._store_answer(request, request.text, status="cancelled" if cancelled else "complete",
                           tool_calls=request.tool_calls)

    def finish(self, request: Request) -> Done:
        """Schedule a summary when earlier turns were left out, audit the route, and say how generation ended."""
        plan, generated = request.planned, request.generated
        assert generated is not None
        if (request.conversation_id and self.summarize_in_background
                and was_trimmed(request.messages, plan.history)):
            self.summarizer.schedule(request.conversation_id)
        self.audit_route(request)
        return Done(generation_metrics(request), generated.done.finish_reason, request.conversation_id,
                    tool_calls=request.tool_calls)

    def keep_partial(self, request: Request) -> None:
        """Reached on error or when the consumer stops early (Ctrl-C, GUI closed): keep what was already shown."""
        if not request.pieces or request.stored_answer or not request.options.store or not request.conversation_id:
            return
        try:
            self.store.add_message(request.conversation_id, "assistant", request.text, model=request.model_id,
                                   status="cancelled")
        except EdgeMindError:
            log.exception("could not store the partial answer")

    def audit_route(self, request: Request, cache: str = "miss") -> None:
        """Logged after the answer streamed (or came from the cache), so the write never delays the first token."""
        if self.audit is None:
            return
        plan = request.planned
        d = plan.decision
        try:
            self.audit.record("route", {
                "intent": d.intent, "model": plan.spec.id, "confidence": round(float(d.confidence), 3),
                "reason": str(d.reason)[:200], "tools_offered": list(d.tools), "tool_calls": len(request.tool_calls),
                "cache": cache, "prompt_sha": digest(request.prompt),
                # what the model was told and how it sampled, so a chat's settings can be checked after the fact
                # (the system prompt as a digest: it may be private)
                "temperature": plan.params.temperature, "system_sha": digest(sent_system(request))},
                conversation_id=request.conversation_id)
        except EdgeMindError as exc:
            log.warning("could not write the audit log: %s", exc)

    def _store_answer(self, request: Request, text: str, *, status: str = "complete",
                      tool_calls: Sequence[dict[str, Any]] = ()) -> None:
        if request.options.store and request.conversation_id:
            self.store.add_message(request.conversation_id, "assistant", text, model=request.model_id, status=status,
                                   tool_calls=tool_calls)
            request.stored_answer = True
