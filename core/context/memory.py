"""Conversation memory: what of a long conversation the model sees, within its token budget.

Order of the context: system prompt with remembered facts, a rolling summary of older turns, the older messages
most relevant to the new prompt (recalled by keyword overlap), then as many recent turns as fit. Summaries are
written by a small model in the background, so no request waits for one.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

from ..backends.base import CancelToken, Chunk, GenerationParams, Message
from ..errors import EdgeMindError, PromptError
from ..events import BackendDone
from ..storage.conversations import ConversationStore, StoredMessage

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to say what a message is about (English; other languages still match on content words).
_STOP = set("""a an and are as at be but by can could did do does for from had has have he her him his how i if in
into is it its me my no not of on or our she so than that the their them then there these they this to too up us
was we were what when where which who why will with would you your yes ok okay please tell say said just
also""".split())
RECALL_ITEMS = 3
RECALL_CHARS = 400
KEEP_RECENT_MESSAGES = 6  # never summarised: the model sees these verbatim
SUMMARY_PROMPT = (
    "Summarise the conversation below in at most six short bullet points. Keep every name, number, date and "
    "decision exactly as written. Write only the bullet points."
)


def _words(text: str) -> list[str]:
    return [w for w in (m.group().lower() for m in _WORD.finditer(text)) if w not in _STOP and len(w) > 1]


def recall(candidates: Sequence[Message], prompt: str, k: int = RECALL_ITEMS) -> list[Message]:
    """The k candidates sharing the most informative words with the prompt (IDF-weighted), best first."""
    query = set(_words(prompt))
    if not query or not candidates:
        return []
    docs = [Counter(_words(m.content)) for m in candidates]
    df = Counter(w for d in docs for w in set(d) if w in query)
    n = len(docs)
    scored = []
    for i, d in enumerate(docs):
        score = sum(math.log(1 + n / df[w]) for w in query if d.get(w))
        if score > 0:
            scored.append((score, i))
    return [candidates[i] for _, i in sorted(scored, key=lambda t: (-t[0], t[1]))[:k]]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConversationMemory:
    """A `builder.ContextBuilder` that remembers: facts, summary and recalled turns besides recent ones."""

    def build(self, system: str, history: Sequence[Message], prompt: str, budget: int,
              count: Callable[[list[Message]], int], *, summary: str | None = None,
              facts: Sequence[str] = ()) -> list[Message]:
        sys_text = system
        if facts:
            sys_text += "\n\nFacts the user asked you to remember:\n" + "\n".join(f"- {_clip(f, 300)}" for f in facts)
        tail = [Message("user", prompt)]

        def with_system(text: str) -> list[Message]:
            return [Message("system", text)] if text else []

        needed = count(with_system(sys_text) + tail)
        if needed > budget:
            raise PromptError(
                f"the prompt needs {needed} tokens but only {budget} fit in the model's context "
                "after room for the answer; shorten it or lower --max-tokens"
            )
        if count(with_system(sys_text) + list(history) + tail) <= budget:
            return with_system(sys_text) + list(history) + tail

        # Keep room for the memory block, fit the most recent turns into the rest (binary search: fitting is
        # monotonic in how many of the oldest turns we drop).
        reserve = min(budget // 3, 400)
        lo, hi = 1, len(history)
        while lo < hi:
            mid = (lo + hi) // 2
            if count(with_system(sys_text) + list(history[mid:]) + tail) <= budget - reserve:
                hi = mid
            else:
                lo = mid + 1
        kept, dropped = list(history[lo:]), list(history[:lo])
        while kept and kept[0].role == "assistant":  # never open with an answer whose question was dropped
            dropped.append(kept.pop(0))

        parts: list[str] = []
        if summary:
            parts.append("Summary of the earlier conversation:\n" + _clip(summary, 1500))
        recalled = recall(dropped, prompt)
        if recalled:
            lines = [f"- {m.role}: {_clip(m.content, RECALL_CHARS)}" for m in recalled]
            parts.append("Earlier messages that may be relevant:\n" + "\n".join(lines))
        text = sys_text
        for part in parts:  # add what fits, most general first
            candidate = (text + "\n\n" + part).strip()
            if count(with_system(candidate) + kept + tail) <= budget:
                text = candidate
        return with_system(text) + kept + tail


class Summarizer:
    """Writes rolling summaries of conversations' older turns in a background thread, one job per conversation."""

    def __init__(self, store: ConversationStore, stream_for: Callable[[], tuple[str, Callable[..., Iterator[Chunk]]]],
                 min_chars: int = 1200) -> None:
        self._store = store
        self._stream_for = stream_for  # () -> (model id, backend.stream)
        self._min_chars = min_chars
        self._running: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def pending_text(self, conversation_id: str) -> tuple[list[StoredMessage], int]:
        """Messages old enough to summarise and not yet covered by a summary, and the id they run up to."""
        messages = self._store.messages(conversation_id)[:-KEEP_RECENT_MESSAGES]
        latest = self._store.latest_summary(conversation_id)
        after = latest.upto_message_id if latest else 0
        fresh = [m for m in messages if m.id > after and m.role in ("user", "assistant")]
        return fresh, (fresh[-1].id if fresh else after)

    def summarize_now(self, conversation_id: str) -> bool:
        fresh, upto = self.pending_text(conversation_id)
        if sum(len(m.content) for m in fresh) < self._min_chars:
            return False
        latest = self._store.latest_summary(conversation_id)
        transcript = "\n".join(f"{m.role}: {_clip(m.content, 600)}" for m in fresh)
        if latest:
            transcript = f"(summary so far)\n{latest.content}\n(later messages)\n{transcript}"
        model_id, stream = self._stream_for()
        pieces: list[str] = []
        for chunk in stream([Message("system", SUMMARY_PROMPT), Message("user", _clip(transcript, 6000))],
                            GenerationParams(max_tokens=200, temperature=0.0), CancelToken()):
            if not isinstance(chunk, BackendDone):
                pieces.append(chunk)
        text = "".join(pieces).strip()
        if text:
            self._store.add_summary(conversation_id, upto, text, model_id)
        return bool(text)

    def schedule(self, conversation_id: str) -> None:
        with self._lock:
            running = self._running.get(conversation_id)
            if running is not None and running.is_alive():
                return

            def job() -> None:
                try:
                    self.summarize_now(conversation_id)
                except EdgeMindError as exc:
                    log.warning("could not summarise conversation %s: %s", conversation_id, exc)

            thread = threading.Thread(target=job, name=f"edgemind-summary-{conversation_id[:8]}", daemon=True)
            self._running[conversation_id] = thread
            thread.start()

    def join(self, timeout: float | None = None) -> None:
        with self._lock:
            threads = list(self._running.values())
        for t in threads:
            t.join(timeout)
