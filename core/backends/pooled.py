"""What the local GGUF backends (llama_cpp, onnx_int4, tmac) share: the file prepared on first use, one loaded copy in
the model pool, and the prompt rendered and tokenized once per request."""

from __future__ import annotations

import codecs
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from ..errors import ModelError
from ..events import BackendDone
from ..models.manifest import ModelSpec
from .base import CancelToken, Chunk, Message, StopScanner
from .chat_template import ChatTemplate
from .model_pool import ModelPool
from .prefix_states import common_prefix


class LoadedModel(Protocol):
    template: ChatTemplate
    n_ctx: int

    def tokenize(self, text: str) -> list[int]: ...


T = TypeVar("T", bound=LoadedModel)


class PooledGGUFBackend(Generic[T]):
    """Subclasses say how to load the prepared file (`_load`) and may name their own pool slot (`pool_key`)."""

    def __init__(self, spec: ModelSpec, *, pool: ModelPool[Any], prepare: Callable[[ModelSpec], Path], threads: int,
                 context_cap: int, prefix_cache_bytes: int = 64 * 2**20) -> None:
        self._spec = spec
        self._prefix_cache_bytes = prefix_cache_bytes
        # system prompt text -> its tokens as the template renders it alone (recent ones)
        self._system_tokens: OrderedDict[str, list[int]] = OrderedDict()
        self._pool = pool
        self._prepare = prepare
        self._threads = threads
        self._context_cap = context_cap
        self._load_ms = 0.0
        # The engine counts the prompt's tokens to fit the context, then streams the same messages: keep the last
        # tokenization so the prompt is rendered and tokenized once per request, not twice.
        self._last_prompt: tuple[tuple[Message, ...], list[int]] | None = None

    @property
    def pool_key(self) -> str:
        return self._spec.id

    def _load(self, path: Path) -> T:
        raise NotImplementedError

    def take_load_ms(self) -> float:
        load_ms, self._load_ms = self._load_ms, 0.0
        return load_ms

    @contextmanager
    def _lease(self) -> Iterator[T]:
        path = self._spec.path
        size = self._spec.size_bytes or (os.path.getsize(path) if path and path.exists() else 0)
        with self._pool.lease(self.pool_key, lambda: self._load(self._prepare(self._spec)), size) as (loaded, load_ms):
            self._load_ms += load_ms
            yield loaded

    def _tokens(self, loaded: T, messages: list[Message]) -> list[int]:
        key = tuple(messages)
        if self._last_prompt is not None and self._last_prompt[0] == key:
            return self._last_prompt[1]
        tokens = loaded.tokenize(loaded.template.render(messages))
        self._last_prompt = (key, tokens)
        return tokens

    def _system_prefix(self, loaded: T, messages: list[Message], tokens: list[int]) -> int:
        """How many of `tokens` are the system message as the template renders it (0 without one): the part a
        snapshot can share between requests."""
        if not messages or messages[0].role != "system":
            return 0
        text = messages[0].content
        if text not in self._system_tokens:
            try:
                alone = loaded.tokenize(loaded.template.render(messages[:1], add_generation_prompt=False))
            except ModelError:  # a template that insists on a user turn: no shared prefix to keep
                alone = []
            self._system_tokens[text] = alone
            while len(self._system_tokens) > 64:
                self._system_tokens.popitem(last=False)
        # Rendered alone, a template may end the system turn differently than inside a conversation: only the
        # tokens both renderings share are the prefix.
        return common_prefix(self._system_tokens[text], tokens)

    def context_window(self) -> int:
        with self._lease() as loaded:
            return loaded.n_ctx

    def count_tokens(self, messages: list[Message]) -> int | None:
        with self._lease() as loaded:
            return len(self._tokens(loaded, messages))


def stream_text(picks: Iterator[int], *, llm: Any, prompt: list[int], stops: tuple[str, ...], cancel: CancelToken,
                max_new: int) -> Iterator[Chunk]:
    """Picked token ids -> streamed text, then one BackendDone. Shared by both local backends, so they end, stop
    and cancel alike: cancel checked before every token, end-of-generation tokens never printed, stop sequences held
    back until they cannot be one (then cut), UTF-8 split across tokens joined. `llm` is a llama_cpp.Llama (a
    vocabulary-only one will do) that detokenizes with the text before, as the model wrote it."""
    import llama_cpp

    vocab = llm._model.vocab  # llama-cpp-python exposes no public is-end-of-generation check
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    scanner = StopScanner(stops)
    history = list(prompt)
    produced, finish, hit_stop = 0, "length", False
    for token in picks:
        if cancel.cancelled:
            finish = "cancelled"
            break
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            finish = "stop"
            break
        produced += 1
        piece = decoder.decode(llm.detokenize([token], prev_tokens=history))
        history.append(token)
        text, hit = scanner.feed(piece)
        if text:
            yield text
        if hit:
            finish, hit_stop = "stop", True
            break
        if produced >= max_new:
            break
    if not hit_stop:
        # Text held back while watching for stop sequences (or an unfinished UTF-8 sequence) is real output.
        tail, hit_stop = scanner.feed(decoder.decode(b"", final=True))
        rest = tail + ("" if hit_stop else scanner.flush())
        if rest:
            yield rest
    yield BackendDone(finish, produced, len(prompt))
