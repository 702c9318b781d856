"""A small model settles the prompts the intent router is unsure about.

The embedding classifier is fast and right ~90% of the time; below its confidence threshold it is right only about
half the time. For those few prompts a language model, asked for one word under a grammar that only admits the five
intent names, reads the request instead of its neighbours. It is optional (a model call costs a few hundred ms),
and any failure of the model leaves the router's own fallback in place: routing never fails because of it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence

from ..backends.base import CancelToken, GenerationParams, Message
from ..errors import EdgeMindError
from .signals import INTENTS

log = logging.getLogger(__name__)

StreamFn = Callable[[list[Message], GenerationParams, CancelToken], Iterator[object]]
MAX_PROMPT_CHARS = 1200  # the head of a long prompt says what it is; the judge need not read a whole file

DESCRIPTIONS = {
    "chat": "conversation, general knowledge, writing, advice, anything else",
    "math": "a calculation, equation or numeric problem",
    "code": "writing, explaining, fixing or reviewing program code",
    "docs": "a question about the user's own documents, notes or files' contents",
    "action": "do something on this computer: list/read/search files, run code, fetch a web page, system information",
}


class ModelJudge:
    """`judge(prompt, candidates) -> intent | None` (a `decision.Judge`): which of the router's best guesses the
    prompt is; None when the model could not say (the router then falls back). Choosing between two close guesses
    is a question a small model can answer; naming one of five kinds cold, it was right about half the time
    (benchmarks/router.py)."""

    def __init__(self, model_id: str, stream: Callable[[], StreamFn]) -> None:
        self.model_id = model_id
        self._stream = stream  # resolved per call, so the model is only loaded when a prompt needs it

    def __call__(self, prompt: str, candidates: Sequence[str] = INTENTS) -> str | None:
        options = [c for c in candidates if c in DESCRIPTIONS] or list(INTENTS)
        instructions = ("Classify the user's request into one category:\n"
                        + "\n".join(f"{c} - {DESCRIPTIONS[c]}" for c in options)
                        + "\nReply with the category name only.")
        messages = [Message("system", instructions), Message("user", prompt[:MAX_PROMPT_CHARS])]
        params = GenerationParams(max_tokens=8, temperature=0.0, json_schema={"type": "string", "enum": options})
        try:
            pieces = [c for c in self._stream()(messages, params, CancelToken()) if isinstance(c, str)]
        except EdgeMindError as exc:
            log.warning("the router's model %s could not classify a prompt: %s", self.model_id, exc)
            return None
        text = "".join(pieces).strip()
        try:
            answer = json.loads(text)
        except ValueError:
            answer = text.strip('"').strip().lower()
        return answer if answer in options else None
