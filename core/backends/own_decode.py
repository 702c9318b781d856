"""The token loop of EdgeMind's own decoders (onnx_int4, tmac): sampling, JSON-schema filtering, stops and cancel.

Each decoder only says how it gets logits (the prompt's last row, then one row per fed token); what is done with them
must be the same in both, so that a grammar, a stop sequence or a cancel behaves alike whichever decoder runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import PromptError
from ..events import BackendDone
from .base import CancelToken, Chunk, GenerationParams
from .grammar import GRAMMARS, GrammarFilter, pick_allowed
from .pooled import stream_text
from .sampling import Sampler


def decode_stream(vocab: Any, n_ctx: int, tokens: list[int], params: GenerationParams, cancel: CancelToken, *,
                  model_id: str, start: Callable[[], np.ndarray],
                  feed: Callable[[int, int], np.ndarray]) -> Iterator[Chunk]:
    """Stream text for a tokenized prompt, then one BackendDone; checks `cancel` before every token.

    `start()` evaluates the prompt and returns its last logits row; `feed(token, length)` evaluates one token whose
    sequence is now `length` tokens long. `vocab` is the llama.cpp vocabulary that tokenizes and detokenizes."""
    n_prompt = len(tokens)
    room = n_ctx - n_prompt
    if room <= 0 or n_prompt == 0:
        raise PromptError(f"the prompt takes {n_prompt} tokens but model {model_id!r} has a {n_ctx}-token context")
    max_new = min(params.max_tokens, room)
    if cancel.cancelled:
        yield BackendDone("cancelled", 0, n_prompt)
        return
    sampler = Sampler(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k,
                      repeat_penalty=params.repeat_penalty, seed=params.seed)
    grammar = None
    if params.json_schema is not None:
        grammar = GrammarFilter(vocab, GRAMMARS.get(params.json_schema), vocab.n_vocab())

    def picks() -> Iterator[int]:
        history = list(tokens)
        logits = start()
        while True:
            token = pick_allowed(sampler, grammar, logits, history, vocab.token_eos())
            yield token  # the next step runs only if the caller asks for another token
            history.append(token)
            logits = feed(token, len(history))

    try:
        yield from stream_text(picks(), llm=vocab, prompt=tokens, stops=params.stop, cancel=cancel, max_new=max_new)
    finally:
        if grammar is not None:
            grammar.close()
