"""JSON-schema output: schemas compiled once to llama.cpp grammars, run as a filter over logits by both local
backends' own token loops.

The filter checks the token the sampler picked first and masks the whole vocabulary only when the grammar rejects
it (as llama.cpp's own common sampler does): most tokens inside a JSON string are allowed, so most steps cost one
check, not a pass over 150k tokens (llama.cpp's sampler chain masks the whole vocabulary every step: 2.8x slower
than unconstrained on Qwen2.5's vocabulary here, against 1.2x this way). Resampling from the masked logits after a
rejection gives exactly the masked distribution: P(t) = P(t) + P(rejected) * P(t) / P(allowed) = P(t) / P(allowed).
"""

from __future__ import annotations

import ctypes
import json
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from ..errors import PromptError
from .sampling import Sampler

# llama_token_data: {int32 id; float logit; float p}
_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


class GrammarCache:
    """JSON Schema -> compiled llama.cpp grammar, kept for the most recent schemas: a client that sends the same
    response_format or tools on every request pays the conversion once."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._grammars: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, schema: dict[str, Any]) -> Any:
        from llama_cpp import LlamaGrammar

        try:
            key = json.dumps(schema, sort_keys=True)
        except (TypeError, ValueError):
            raise PromptError("the JSON schema is not plain JSON") from None
        with self._lock:
            if key in self._grammars:
                self._grammars.move_to_end(key)
                return self._grammars[key]
        try:
            grammar = LlamaGrammar.from_json_schema(key, verbose=False)
        except RecursionError:
            raise PromptError("the JSON schema nests too deeply to constrain the output") from None
        except Exception as exc:  # the converter raises bare Exceptions/ValueErrors/KeyErrors for schemas it lacks
            raise PromptError(f"the JSON schema cannot be used to constrain the output: "
                              f"{exc.__class__.__name__}: {exc}") from None
        with self._lock:
            self._grammars[key] = grammar
            while len(self._grammars) > self._size:
                self._grammars.popitem(last=False)
        return grammar


GRAMMARS = GrammarCache()


class GrammarFilter:
    """One generation's grammar state over a vocabulary. `llm` is a llama_cpp.Llama (vocab-only will do)."""

    def __init__(self, llm: Any, grammar: Any, vocab_size: int) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._vocab = llm._model.vocab  # llama-cpp-python has no public handle for it
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            self._vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not self._sampler:
            raise PromptError("llama.cpp could not load the grammar made from the JSON schema")
        self._all = np.zeros(vocab_size, dtype=_TOKEN_DATA)
        self._one = np.zeros(1, dtype=_TOKEN_DATA)

    def _apply(self, data: np.ndarray) -> None:
        array = self._lib.llama_token_data_array(
            data=ctypes.cast(data.ctypes.data, self._lib.llama_token_data_p), size=data.size, selected=-1,
            sorted=False)
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(array))

    def allows(self, token: int) -> bool:
        self._one["id"], self._one["logit"] = token, 0.0
        self._apply(self._one)
        return bool(np.isfinite(self._one["logit"][0]))

    def restrict(self, logits: np.ndarray) -> np.ndarray:
        """A copy of the logits row with every token the grammar rejects here set to -inf."""
        self._all["id"] = np.arange(self._all.size, dtype=np.int32)
        self._all["logit"] = logits[: self._all.size]
        self._apply(self._all)
        out = np.full(logits.shape, -np.inf, dtype=np.float32)
        out[self._all["id"]] = self._all["logit"]
        return out

    def accept(self, token: int) -> None:
        """Advance the grammar past a token it allowed. End-of-generation tokens end the answer instead (llama.cpp
        aborts the process if one is accepted before the grammar is complete)."""
        if not self._lib.llama_vocab_is_eog(self._vocab, token):
            self._lib.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None


def pick_allowed(sampler: Sampler, grammar: GrammarFilter | None, row: np.ndarray, history: list[int],
                 end_token: int) -> int:
    """The sampler's pick from one logits row, within what the grammar allows (and advanced past it); `end_token`
    when the grammar allows nothing more."""
    token = sampler.pick(row, history)
    if grammar is None:
        return token
    if not grammar.allows(token):
        row = grammar.restrict(row)
        if not np.isfinite(row).any():
            return end_token
        token = sampler.pick(row, history)
    grammar.accept(token)
    return token
