"""The tmac backend: EdgeMind's own C decoder over the T-MAC lookup-table kernels (kernels/tmac), one call per token.

Shaped as onnx_int4 is: tokens and chat template from the same GGUF through llama.cpp's tokenizer (vocabulary only),
the same sampler, grammar filter, stop handling and cancel (stream_text). The KV cache lives in the C decoder (one
per loaded model, n_ctx positions): a new prompt reuses the longest prefix it shares with what the cache holds (the
last prompt and the answer generated after it), so a conversation's next turn evaluates only the new text. The C
loop computes a token the same way however a prompt is split, so reuse never changes the text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgemind.kernels import tmac
from edgemind.kernels.gguf_header import read_gguf_header
from edgemind.kernels.tmac.decoder import TmacDecoder, TmacModelError

from ..errors import BackendUnavailable, ModelError
from ..models.manifest import ModelSpec
from .base import CancelToken, Chunk, ChunkStream, GenerationParams, Message
from .chat_template import ChatTemplate
from .llama_native import NativeGuard, import_llama, model_key
from .model_pool import ModelPool
from .own_decode import decode_stream
from .pooled import PooledGGUFBackend
from .prefix_states import common_prefix

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LoadedTmac:
    decoder: TmacDecoder
    vocab: Any  # llama_cpp.Llama with vocab_only=True
    template: ChatTemplate
    n_ctx: int
    cached: list[int] = field(default_factory=list)  # tokens whose KV the decoder holds at positions 0..len-1
    reused: int = 0  # prompt tokens the last request took from the cache (tests and logs read it)
    batch_prompt: bool = True  # a prompt's attention summed as llama.cpp sums a batch (TmacDecoder.run)

    def tokenize(self, prompt: str) -> list[int]:
        tokens = self.vocab.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        bos = self.vocab.token_bos()
        if len(tokens) >= 2 and tokens[0] == bos and tokens[1] == bos:
            tokens = tokens[1:]
        return list(tokens)

    def start(self, tokens: list[int]) -> np.ndarray:
        """Logits after the prompt `tokens`, evaluating only what the cache does not already hold (at least one
        token, for its logits)."""
        done = min(common_prefix(self.cached, tokens), len(tokens) - 1)
        self.reused = done
        del self.cached[done:]
        logits = self.decoder.run(tokens[done:], done, batch=self.batch_prompt)
        self.cached.extend(tokens[done:])
        return logits

    def feed(self, token: int) -> np.ndarray:
        logits = self.decoder.run([token], len(self.cached))
        self.cached.append(token)
        return logits

    def forget_kv(self) -> None:
        """The next prompt is evaluated from scratch."""
        self.cached.clear()

    def close(self) -> None:
        self.vocab.close()


def _token_text(llm: Any, token: int) -> str:
    return "" if token < 0 else llm.detokenize([token], special=True).decode("utf-8", errors="replace")


def load_tmac(spec: ModelSpec, path: Path, *, threads: int, context_cap: int, native: NativeGuard,
              lut: bool = True, kv_f16: bool = True, batch_prompt: bool = True,
              q4_1_lut: bool = False) -> LoadedTmac:
    """Convert the GGUF's weights into the C decoder (once per load) and read its vocabulary with llama.cpp (no
    llama.cpp kernels run); one-line errors for what cannot be used. `lut` False puts 4-bit matrices on the int8
    path too (what benchmarks/tmac_decode.py --no-lut measures); `q4_1_lut` puts Q4_1 on T-MAC planes
    (--q4-1-lut). `kv_f16`: the cache rounded as llama.cpp's default
    f16 cache holds it (the same text needs the same rounding); `batch_prompt`: a prompt's attention summed as
    llama.cpp sums a batch, so that a prompt gives llama.cpp's text (10 of 10 prompts on SmolLM2, 3 of 10 token by
    token). Like llama.cpp's, those sums differ between a batch and one token at a time, so a reused prefix can
    change an answer, as it can in llama.cpp; False evaluates prompts token by token, where reuse never does."""
    if not tmac.available():
        raise BackendUnavailable(f"the tmac backend cannot run: {tmac.why_unavailable()}")
    header = read_gguf_header(path)
    model_ctx = header.context_length or spec.context_length or context_cap
    n_ctx = min(context_cap, model_ctx)
    try:
        decoder = TmacDecoder(path, n_ctx=n_ctx, threads=threads, lut=lut, kv_f16=kv_f16, q4_1_lut=q4_1_lut)
    except TmacModelError as exc:
        raise ModelError(f"tmac cannot run model {spec.id!r}: {exc}") from None
    except MemoryError:
        raise ModelError(f"tmac: not enough memory for model {spec.id!r} with a {n_ctx}-token context") from None
    llama_cpp = import_llama(native.vocabulary_variant(path, model_key(spec.sha256, path)))
    from llama_cpp._utils import suppress_stdout_stderr

    try:
        with suppress_stdout_stderr(disable=False):  # a vocabulary-only load warns about its context, unasked
            vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"llama.cpp could not read the vocabulary of {spec.id!r}: {exc}") from None
    template = ChatTemplate(header.chat_template, bos_token=_token_text(vocab, vocab.token_bos()),
                            eos_token=_token_text(vocab, vocab.token_eos()), model_id=spec.id)
    c = decoder.counts
    log.info("tmac %s: %d T-MAC, %d int8, %d dense matrices, %d threads, isa %s", spec.id, c.tmac, c.int8, c.dense,
             threads, tmac.selected_isa())
    return LoadedTmac(decoder=decoder, vocab=vocab, template=template, n_ctx=decoder.n_ctx, batch_prompt=batch_prompt)


class TmacBackend(PooledGGUFBackend[LoadedTmac]):
    name = "tmac"

    def __init__(self, spec: ModelSpec, *, pool: ModelPool[Any], prepare: Callable[[ModelSpec], Path], threads: int,
                 context_cap: int, native: NativeGuard, prefix_cache_bytes: int = 64 * 2**20, **_: Any) -> None:
        if not tmac.available():
            raise BackendUnavailable(f"the tmac backend cannot run: {tmac.why_unavailable()}")
        super().__init__(spec, pool=pool, prepare=prepare, threads=threads, context_cap=context_cap,
                         prefix_cache_bytes=prefix_cache_bytes)
        self._native = native

    @property
    def pool_key(self) -> str:
        # Its own slot: the same GGUF may also be loaded by llama_cpp or onnx_int4.
        return f"tmac:{self._spec.id}"

    def _load(self, path: Path) -> LoadedTmac:
        return load_tmac(self._spec, path, threads=self._threads, context_cap=self._context_cap,
                         native=self._native)

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> ChunkStream:
        with self._lease() as loaded:
            tokens = list(self._tokens(loaded, messages))
            if self._prefix_cache_bytes <= 0:
                loaded.forget_kv()
            yield from generate(loaded, tokens, params, cancel, model_id=self._spec.id)


def generate(loaded: LoadedTmac, tokens: list[int], params: GenerationParams, cancel: CancelToken, *,
             model_id: str = "") -> Iterator[Chunk]:
    """Stream text for a tokenized prompt (see own_decode.decode_stream), reusing the KV the decoder still holds."""

    def start() -> np.ndarray:
        logits = loaded.start(tokens)
        log.debug("tmac KV reuse: %d of %d prompt tokens", loaded.reused, len(tokens))
        return logits

    return decode_stream(loaded.vocab, loaded.n_ctx, tokens, params, cancel, model_id=model_id, start=start,
                         feed=lambda token, _length: loaded.feed(token))
