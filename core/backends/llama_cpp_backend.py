"""The default backend: llama.cpp through llama-cpp-python, on local GGUF files.

We drive `Llama.generate` token by token ourselves rather than `create_chat_completion`: that is what lets a cancel
stop within one token, lets us count tokens exactly, and keeps the chat template in our sandbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgemind.kernels.gguf_header import read_gguf_header

from ..errors import ModelError, PromptError
from ..events import BackendDone
from ..models.manifest import ModelSpec
from .base import CancelToken, ChunkStream, GenerationParams, Message
from .chat_template import ChatTemplate
from .grammar import GRAMMARS, GrammarFilter, pick_allowed
from .llama_native import NativeGuard, import_llama, model_key
from .model_pool import ModelPool
from .pooled import PooledGGUFBackend, stream_text
from .prefix_states import PrefixStates, common_prefix
from .sampling import Sampler

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LoadedLlama:
    llm: Any  # llama_cpp.Llama
    template: ChatTemplate
    n_ctx: int
    prefixes: PrefixStates | None = None  # KV snapshots of system prompts on this context (set by the backend)

    def tokenize(self, prompt: str) -> list[int]:
        tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        bos = self.llm.token_bos()
        # A template that writes the BOS text itself plus the model's add_bos flag would give two BOS tokens.
        if len(tokens) >= 2 and tokens[0] == bos and tokens[1] == bos:
            tokens = tokens[1:]
        return tokens

    def forget_kv(self) -> None:
        """Drop every reusable KV (the live context and snapshots): the next prompt is evaluated from scratch."""
        self.llm.reset()
        if self.prefixes is not None:
            self.prefixes.clear()

    def close(self) -> None:
        self.llm.close()


def _token_text(llm: Any, token: int) -> str:
    if token < 0:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", errors="replace")


def last_logits(llm: Any) -> np.ndarray:
    """The logits of the token llama.cpp evaluated last, read in place: llama-cpp-python (0.3) no longer copies them
    into `llm.scores` unless the model was loaded with logits_all, so a row read there is zeros (argmax: token 0)."""
    import llama_cpp

    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))


def load_llama(spec: ModelSpec, path: Path, *, threads: int, context_cap: int, native: NativeGuard,
               kv_f32: bool = False, flash_attn: bool = False) -> LoadedLlama:
    """Load a GGUF with llama.cpp; turn its failures into one-line ModelErrors. `native` checks (once, in a child
    process) that llama.cpp's CPU code runs this model here, and raises NativeCodeError when it does not.
    `kv_f32` / `flash_attn`: not the app's settings (llama-cpp-python's defaults: fp16 KV cache, no flash attention)
    but what a benchmark sets to hold llama.cpp's cache in the precision of an engine it is compared with."""
    key = model_key(spec.sha256, path)
    llama_cpp = import_llama(native.variant_for(path, key))
    header = read_gguf_header(path)
    model_ctx = header.context_length or spec.context_length or context_cap
    n_ctx = min(context_cap, model_ctx)
    # A tuned adapter (checked against its pin by the registry's prepare) is applied by llama.cpp at load.
    lora = {"lora_path": str(spec.adapter)} if spec.adapter is not None else {}
    kv = {"type_k": llama_cpp.GGML_TYPE_F32, "type_v": llama_cpp.GGML_TYPE_F32} if kv_f32 else {}
    try:
        llm = llama_cpp.Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=512,
            n_gpu_layers=native.gpu_layers(key), verbose=False, flash_attn=flash_attn, **lora, **kv,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        what = f"{path.name} with adapter {spec.adapter.name}" if spec.adapter is not None else path.name
        raise ModelError(f"llama.cpp could not load model {spec.id!r} from {what}: {exc}") from None
    template = ChatTemplate(
        header.chat_template, bos_token=_token_text(llm, llm.token_bos()), eos_token=_token_text(llm, llm.token_eos()),
        model_id=spec.id,
    )
    return LoadedLlama(llm=llm, template=template, n_ctx=n_ctx)


class LlamaCppBackend(PooledGGUFBackend[LoadedLlama]):
    name = "llama_cpp"

    def __init__(self, spec: ModelSpec, *, pool: ModelPool[LoadedLlama], prepare: Callable[[ModelSpec], Path],
                 threads: int, context_cap: int, native: NativeGuard, prefix_cache_bytes: int = 64 * 2**20,
                 **_: Any) -> None:
        super().__init__(spec, pool=pool, prepare=prepare, threads=threads, context_cap=context_cap,
                         prefix_cache_bytes=prefix_cache_bytes)
        self._native = native

    def _load(self, path: Path) -> LoadedLlama:
        return load_llama(self._spec, path, threads=self._threads, context_cap=self._context_cap, native=self._native)

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> ChunkStream:
        with self._lease() as loaded:
            llm = loaded.llm
            tokens = list(self._tokens(loaded, messages))
            n_prompt = len(tokens)
            room = loaded.n_ctx - n_prompt
            if room <= 0:
                raise PromptError(
                    f"the prompt takes {n_prompt} tokens but model {self._spec.id!r} has a {loaded.n_ctx}-token context"
                )
            max_new = min(params.max_tokens, room)
            if cancel.cancelled:
                yield BackendDone("cancelled", 0, n_prompt)
                return
            if params.seed is not None:
                llm.set_seed(params.seed)
            if loaded.prefixes is None:
                loaded.prefixes = PrefixStates(self._prefix_cache_bytes)
            how = loaded.prefixes.prepare(llm, tokens, self._system_prefix(loaded, messages, tokens))
            log.debug("system prompt prefix: %s", how)
            gen: Generator[int, None, None]
            if params.json_schema is not None:
                # Our own token loop over llama.cpp's logits with the grammar as a filter (see grammar.py): the
                # grammar in llama.cpp's sampler chain would mask the whole vocabulary on every token.
                grammar = GrammarFilter(llm, GRAMMARS.get(params.json_schema), llm.n_vocab())
                gen = _constrained_tokens(llm, tokens, params, grammar)
            else:
                grammar = None
                gen = llm.generate(
                    tokens, top_k=params.top_k, top_p=params.top_p, temp=params.temperature,
                    repeat_penalty=params.repeat_penalty, reset=True,
                )
            try:
                yield from stream_text(gen, llm=llm, prompt=tokens, stops=params.stop, cancel=cancel, max_new=max_new)
            finally:
                gen.close()
                if grammar is not None:
                    grammar.close()


def _constrained_tokens(llm: Any, tokens: list[int], params: GenerationParams,
                        grammar: GrammarFilter) -> Generator[int, None, None]:
    """Picked tokens for `tokens`, each within the grammar. Reuses the context's KV for the longest common prefix,
    as `Llama.generate` does (and so what PrefixStates.prepare left there)."""
    n = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
    n = min(n, len(tokens) - 1)  # at least one token evaluated, for fresh logits
    llm.n_tokens = n
    llm.eval(tokens[n:])
    sampler = Sampler(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k,
                      repeat_penalty=params.repeat_penalty, seed=params.seed)
    history = list(tokens)
    while True:
        token = pick_allowed(sampler, grammar, last_logits(llm), history, llm.token_eos())
        yield token
        history.append(token)
        llm.eval([token])
