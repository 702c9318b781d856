"""The onnx_int4 backend: EdgeMind's own INT4 decoder (built from the GGUF's weights) run by onnxruntime.

Tokens and chat template come from the same GGUF through llama.cpp's tokenizer (vocab only, no weights), so prompts
tokenize exactly as with the llama_cpp backend. The KV cache stays in onnxruntime values between steps (IO binding).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgemind.kernels.decoder_names import kv_names
from edgemind.kernels.gguf_header import read_gguf_header

from ..errors import BackendUnavailable, ModelError
from ..models.integrity import sha256_file
from ..models.manifest import ModelSpec
from .base import CancelToken, Chunk, ChunkStream, GenerationParams, Message
from .chat_template import ChatTemplate
from .llama_native import NativeGuard, import_llama, model_key
from .model_pool import ModelPool
from .onnx_prefixes import OnnxPrefixes
from .own_decode import decode_stream
from .pooled import PooledGGUFBackend

log = logging.getLogger(__name__)
PROVIDERS = {"cpu": "CPUExecutionProvider", "directml": "DmlExecutionProvider"}
# Rotary caches cover this many positions at most (8 MB at 32k); the usable context is still the settings' cap.
MAX_GRAPH_POSITIONS = 32768


def choose_provider(preference: str = "auto") -> str:
    """The execution provider to run on: DirectML when present (Windows GPUs/NPUs) unless the user asked for CPU."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if preference == "auto":
        return PROVIDERS["directml"] if PROVIDERS["directml"] in available else PROVIDERS["cpu"]
    wanted = PROVIDERS.get(preference)
    if wanted is None or wanted not in available:
        raise BackendUnavailable(
            f"onnx provider {preference!r} is not available here; available: {', '.join(available)}")
    return wanted


@dataclass(slots=True)
class LoadedOnnx:
    session: Any  # onnxruntime.InferenceSession
    vocab: Any  # llama_cpp.Llama with vocab_only=True
    template: ChatTemplate
    n_ctx: int
    layers: int
    kv_heads: int
    head_dim: int
    provider: str
    prefixes: OnnxPrefixes | None = None  # reusable KV on this model (set by the backend)

    def tokenize(self, prompt: str) -> list[int]:
        tokens = self.vocab.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        bos = self.vocab.token_bos()
        if len(tokens) >= 2 and tokens[0] == bos and tokens[1] == bos:
            tokens = tokens[1:]
        return tokens

    def empty_cache(self) -> list[Any]:
        import onnxruntime

        empty = np.zeros((1, self.kv_heads, 0, self.head_dim), dtype=np.float32)
        return [onnxruntime.OrtValue.ortvalue_from_numpy(empty) for _ in range(2 * self.layers)]

    def step(self, token_ids: list[int], cache: list[Any], total: int) -> tuple[np.ndarray, list[Any]]:
        """Run `token_ids` after `total - len(token_ids)` cached positions; return the logits of the last position(s)
        and the grown cache, which stays in onnxruntime's memory for the next step."""
        binding = self.session.io_binding()
        binding.bind_cpu_input("input_ids", np.asarray([token_ids], dtype=np.int64))
        binding.bind_cpu_input("seqlens_k", np.asarray([total - 1], dtype=np.int32))
        binding.bind_cpu_input("total_sequence_length", np.asarray(total, dtype=np.int32))
        binding.bind_output("logits")
        for i in range(self.layers):
            past_k, past_v, present_k, present_v = kv_names(i)
            binding.bind_ortvalue_input(past_k, cache[2 * i])
            binding.bind_ortvalue_input(past_v, cache[2 * i + 1])
            binding.bind_output(present_k)
            binding.bind_output(present_v)
        self.session.run_with_iobinding(binding)
        outs = binding.get_outputs()
        return outs[0].numpy()[0], list(outs[1:])

    def forget_kv(self) -> None:
        """Drop every reusable KV (the previous prompt's and snapshots): the next prompt is evaluated from scratch."""
        if self.prefixes is not None:
            self.prefixes.clear()

    def close(self) -> None:
        self.vocab.close()
        self.session = None


def _token_text(llm: Any, token: int) -> str:
    if token < 0:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", errors="replace")


def open_session(model: Path, *, threads: int, provider: str) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(model), options, providers=[provider])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types, not one base class
        raise ModelError(f"onnxruntime could not load {model}: {exc.__class__.__name__}: {str(exc)[:300]}") from None


def load_onnx(spec: ModelSpec, path: Path, *, data_dir: Path, threads: int, context_cap: int, provider: str,
              native: NativeGuard, all_logits: bool = False, weights: str = "accurate") -> LoadedOnnx:
    """Build (once) and open the ONNX decoder for a GGUF; one-line ModelErrors for what cannot be used. llama.cpp
    reads only the vocabulary here (no native kernels run), with whichever CPU code `native` finds usable."""
    # The graph builder imports onnx, and ml_dtypes with it, whose import holds the GIL ~1.4 s: loaded with this
    # module (every backend is, at every start) it froze the app's window; only loading an onnx_int4 model needs it.
    from .onnx_model_cache import ensure_model  # lazy: onnx holds the GIL ~1.4 s on import (see above)

    llama_cpp = import_llama(native.vocabulary_variant(path, model_key(spec.sha256, path)))
    from llama_cpp._utils import suppress_stdout_stderr

    header = read_gguf_header(path)
    arch = header.architecture or "?"
    model_ctx = header.context_length or spec.context_length or context_cap
    sha = spec.sha256 or sha256_file(path)
    onnx_path = ensure_model(path, sha, data_dir, max_positions=min(model_ctx, MAX_GRAPH_POSITIONS),
                             all_logits=all_logits, weights=weights, model_id=spec.id)
    session = open_session(onnx_path, threads=threads, provider=provider)
    try:
        # a vocabulary-only load still makes a context and warns, unasked, that it is larger than the (absent)
        # training context: keep that line off the user's terminal
        with suppress_stdout_stderr(disable=False):
            vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"llama.cpp could not read the vocabulary of {spec.id!r}: {exc}") from None
    template = ChatTemplate(header.chat_template, bos_token=_token_text(vocab, vocab.token_bos()),
                            eos_token=_token_text(vocab, vocab.token_eos()), model_id=spec.id)
    past = next(i for i in session.get_inputs() if i.name == kv_names(0)[0])
    layers = sum(1 for i in session.get_inputs() if i.name.endswith(".key"))
    log.info("onnx_int4 %s (%s) on %s", spec.id, arch, provider)
    return LoadedOnnx(session=session, vocab=vocab, template=template, n_ctx=min(context_cap, model_ctx),
                      layers=layers, kv_heads=int(past.shape[1]), head_dim=int(past.shape[3]), provider=provider)


class OnnxInt4Backend(PooledGGUFBackend[LoadedOnnx]):
    name = "onnx_int4"

    def __init__(self, spec: ModelSpec, *, pool: ModelPool[Any], prepare: Callable[[ModelSpec], Path], threads: int,
                 context_cap: int, data_dir: Path | None = None, onnx_provider: str = "auto",
                 onnx_weights: str = "accurate", prefix_cache_bytes: int = 64 * 2**20,
                 native: NativeGuard, **_: Any) -> None:
        if data_dir is None:
            raise ModelError("onnx_int4 needs the data folder to keep its built models in")
        super().__init__(spec, pool=pool, prepare=prepare, threads=threads, context_cap=context_cap,
                         prefix_cache_bytes=prefix_cache_bytes)
        self._data_dir = data_dir
        self._native = native
        self._provider_pref = onnx_provider
        self._weights = onnx_weights

    @property
    def pool_key(self) -> str:
        # Its own slot: the same GGUF may also be loaded by llama_cpp under the bare model id.
        return f"onnx_int4:{self._spec.id}"

    def _load(self, path: Path) -> LoadedOnnx:
        return load_onnx(self._spec, path, data_dir=self._data_dir, threads=self._threads,
                         context_cap=self._context_cap, provider=choose_provider(self._provider_pref),
                         native=self._native, weights=self._weights)

    def provider(self) -> str:
        """The execution provider the loaded model runs on (loads it if needed)."""
        with self._lease() as loaded:
            return loaded.provider

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> ChunkStream:
        with self._lease() as loaded:
            tokens = list(self._tokens(loaded, messages))
            if loaded.prefixes is None:
                loaded.prefixes = OnnxPrefixes(self._prefix_cache_bytes)
            yield from generate(loaded, tokens, params, cancel, model_id=self._spec.id,
                                prefix_len=self._system_prefix(loaded, messages, tokens))


def generate(loaded: LoadedOnnx, tokens: list[int], params: GenerationParams, cancel: CancelToken, *,
             model_id: str = "", prefix_len: int = 0) -> Iterator[Chunk]:
    """Stream text for a tokenized prompt (see own_decode.decode_stream). The first `prefix_len` tokens are the
    system prompt (see OnnxPrefixes)."""
    n_prompt = len(tokens)
    cache: Any = None

    def start() -> np.ndarray:
        nonlocal cache
        if loaded.prefixes is None:
            done, cache = 0, loaded.empty_cache()
        else:
            done, cache, how = loaded.prefixes.start(loaded, tokens, prefix_len)
            log.debug("onnx_int4 KV reuse: %s, %d of %d prompt tokens", how, done, n_prompt)
        logits, cache = loaded.step(tokens[done:], cache, n_prompt)
        if loaded.prefixes is not None:
            loaded.prefixes.remember(tokens, cache)
        return logits[-1]

    def feed(token: int, length: int) -> np.ndarray:
        nonlocal cache
        logits, cache = loaded.step([token], cache, length)
        return logits[-1]

    return decode_stream(loaded.vocab, loaded.n_ctx, tokens, params, cancel, model_id=model_id, start=start,
                         feed=feed)
