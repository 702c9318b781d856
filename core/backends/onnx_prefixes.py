"""KV reuse for onnx_int4: the previous request's prompt, and snapshots of system prompts.

onnxruntime hands back a new present-KV buffer each step, so a cache list is never written again once made: keeping
one is keeping a reference, and a shorter prefix is a slice. Two kinds, as on the llama.cpp side:
- live: the KV of the last request's prompt. The next turn of a conversation starts with all of it, so only the
  previous answer and the new message are evaluated;
- snapshots: the KV right after a system prompt, shared by every request with the same system prompt.

Reuse never changes the text. Our graph's prompt evaluation gives bit-identical logits however the prompt is cut
into pieces of two or more tokens (measured: max difference 0.0 on both bundled models), but not one token at a time
(decode runs onnxruntime's single-row kernels: up to 0.8 apart on SmolLM2, enough to change a greedy pick). So only
prompt KV is kept, never the answer's, and at least two tokens are always left to evaluate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .prefix_states import MIN_PREFIX_TOKENS, BoundedLRU, common_prefix


class Stepper(Protocol):
    def empty_cache(self) -> list[Any]: ...

    def step(self, token_ids: list[int], cache: list[Any], total: int) -> tuple[np.ndarray, list[Any]]: ...


@dataclass(frozen=True, slots=True)
class KV:
    tokens: tuple[int, ...]
    values: list[Any]  # OrtValues [1, kv_heads, len(tokens), head_dim]: key and value of each layer

    @property
    def nbytes(self) -> int:
        return sum(int(np.prod(v.shape())) * 4 for v in self.values)


def truncated(values: list[Any], n: int) -> list[Any]:
    """The first n positions of each KV value (copies: the originals stay as they are)."""
    import onnxruntime

    return [onnxruntime.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v.numpy()[:, :, :n, :])) for v in values]


class OnnxPrefixes:
    """One loaded model's reusable KV, within `max_bytes` (0 turns reuse off)."""

    def __init__(self, max_bytes: int) -> None:
        self._snapshots: BoundedLRU[KV] = BoundedLRU(max_bytes, lambda kv: kv.nbytes)
        self._last: KV | None = None
        self.counters = {"live": 0, "restored": 0, "saved": 0, "evaluated": 0, "skipped": 0}

    @property
    def max_bytes(self) -> int:
        return self._snapshots.max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:  # 0 turns reuse off (the benchmark's baseline)
        self._snapshots.max_bytes = value

    def start(self, model: Stepper, tokens: Sequence[int], prefix_len: int) -> tuple[int, list[Any], str]:
        """(n, cache, how): a KV cache holding `tokens[:n]`, n < len(tokens), to evaluate the rest on."""
        how, n, values = self._start(model, tokens, prefix_len)
        self.counters[how] += 1
        return n, values, how

    def _start(self, model: Stepper, tokens: Sequence[int], prefix_len: int) -> tuple[str, int, list[Any]]:
        budget = self._snapshots.max_bytes
        if budget > 0 and self._last is not None:
            # two or more tokens are left to evaluate, so they run as a prompt piece (see the module's docstring)
            n = min(common_prefix(self._last.tokens, tokens), len(tokens) - 2)
            if n >= max(prefix_len, MIN_PREFIX_TOKENS):
                values = self._last.values if n == len(self._last.tokens) else truncated(self._last.values, n)
                return "live", n, values
        if prefix_len < MIN_PREFIX_TOKENS or prefix_len > len(tokens) - 2:
            return "skipped", 0, model.empty_cache()
        key = tuple(tokens[:prefix_len])
        snapshot = self._snapshots.get(key) if budget > 0 else None
        if snapshot is not None:
            return "restored", prefix_len, snapshot.values
        _, values = model.step(list(key), model.empty_cache(), prefix_len)
        saved = budget > 0 and self._snapshots.put(key, KV(key, values))
        return ("saved" if saved else "evaluated"), prefix_len, values

    def remember(self, tokens: Sequence[int], values: list[Any]) -> None:
        """After a prompt is evaluated: `values` hold exactly `tokens`."""
        # Not counted in the snapshot budget: like llama.cpp's own context, it is at most one context's KV
        # (Qwen2.5-0.5B: 24 KiB a token in fp32, 96 MiB at 4,096 tokens), and a long conversation needs it most.
        self._last = KV(tuple(tokens), values) if self._snapshots.max_bytes > 0 else None

    def clear(self) -> None:
        self._snapshots.clear()
        self._last = None
