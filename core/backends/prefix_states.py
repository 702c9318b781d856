"""KV snapshots of shared prompt prefixes (each intent's system prompt) for one loaded llama.cpp model, and the
byte-bounded LRU both local backends keep their snapshots in.

llama-cpp-python already reuses the KV of the longest common token prefix with the *previous* call on the same
context, which covers a conversation's next turn. It loses that as soon as a request with another system prompt
runs in between (another intent, the background summariser, another conversation). A snapshot taken right after a
system prompt was evaluated puts it back in a memory copy instead of a full prompt evaluation. Snapshots are only
ever of exactly the tokens they are keyed by, so restoring one changes speed, never the text generated.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
# A prefix shorter than this is evaluated faster than a snapshot is worth keeping (and most templates' bare
# "<|im_start|>system\n" header is about this long).
MIN_PREFIX_TOKENS = 16
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Snapshot:
    tokens: tuple[int, ...]
    state: bytes  # llama_state_get_data right after exactly `tokens` were evaluated


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class BoundedLRU(Generic[V]):
    """Values keyed by token prefixes; the least recently used go first once their sizes pass `max_bytes`. A lock
    guards the dictionary only: callers already hold the model's lease."""

    def __init__(self, max_bytes: int, size: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size = size
        self._items: OrderedDict[tuple[int, ...], V] = OrderedDict()
        self.bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[int, ...]) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[int, ...], value: V) -> bool:
        """Keep `value` (False, kept nowhere, when it alone is larger than the budget)."""
        size = self._size(value)
        if size > self.max_bytes:
            return False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= self._size(old)
            self._items[key] = value
            self.bytes += size
            while self.bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= self._size(dropped)
        return True

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


class PrefixStates:
    """A bounded LRU of snapshots for one llama.cpp context. Not thread-safe on its own: the model pool's lease
    already gives one request at a time the context; the lock only guards the dictionary."""

    def __init__(self, max_bytes: int) -> None:
        self._snapshots: BoundedLRU[Snapshot] = BoundedLRU(max_bytes, lambda snap: len(snap.state))
        self.counters = {"live": 0, "restored": 0, "saved": 0, "evaluated": 0, "skipped": 0}

    def __len__(self) -> int:
        return len(self._snapshots)

    @property
    def max_bytes(self) -> int:
        return self._snapshots.max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:  # 0 turns snapshots off (the benchmark's baseline)
        self._snapshots.max_bytes = value

    @property
    def bytes(self) -> int:
        return self._snapshots.bytes

    def prepare(self, llm: Any, tokens: Sequence[int], prefix_len: int) -> str:
        """Before `llm.generate(tokens)`: make the context hold exactly `tokens[:prefix_len]` (the system prompt)
        unless it already does, so generate's own prefix match starts after it. Returns live | restored | saved |
        evaluated | skipped.

        The prefix is always evaluated on its own, from position 0, as one piece: llama.cpp's arithmetic depends on
        how a prompt is cut into batches, so this keeps its KV bit-identical whether it is restored from a snapshot,
        evaluated fresh, or snapshots are off, and greedy answers do not change with the cache's state."""
        if prefix_len < MIN_PREFIX_TOKENS or prefix_len >= len(tokens):
            self.counters["skipped"] += 1
            return "skipped"
        if common_prefix(llm.input_ids[: llm.n_tokens], tokens) >= prefix_len:
            self.counters["live"] += 1
            return "live"
        key = tuple(tokens[:prefix_len])
        snapshot = self._snapshots.get(key)
        if snapshot is not None and self.max_bytes > 0 and _restore(llm, snapshot):
            self.counters["restored"] += 1
            return "restored"
        llm.n_tokens = 0
        llm.eval(list(key))
        if self.max_bytes > 0:
            state = _state_bytes(llm)
            if state is not None and self._snapshots.put(key, Snapshot(key, state)):
                self.counters["saved"] += 1
                return "saved"
        self.counters["evaluated"] += 1
        return "evaluated"

    def clear(self) -> None:
        self._snapshots.clear()


def _state_bytes(llm: Any) -> bytes | None:
    """The context's state (KV cells in use, last logits) without llama-cpp-python's save_state, which also copies
    its n_batch x n_vocab scores array (311 MB for Qwen's vocabulary) that token-by-token sampling never reads."""
    import llama_cpp

    ctx = llm._ctx.ctx  # llama-cpp-python has no public handle; save_state itself reads it this way
    size = int(llama_cpp.llama_state_get_size(ctx))
    buffer = (ctypes.c_uint8 * size)()
    written = int(llama_cpp.llama_state_get_data(ctx, buffer, size))
    if written <= 0 or written > size:
        log.warning("llama.cpp state snapshot failed (%d of %d bytes)", written, size)
        return None
    return bytes(memoryview(buffer)[:written])


def _restore(llm: Any, snapshot: Snapshot) -> bool:
    import llama_cpp

    data = (ctypes.c_uint8 * len(snapshot.state)).from_buffer_copy(snapshot.state)
    if int(llama_cpp.llama_state_set_data(llm._ctx.ctx, data, len(snapshot.state))) != len(snapshot.state):
        log.warning("llama.cpp refused a prefix snapshot; evaluating the prompt instead")
        llm.reset()
        return False
    n = len(snapshot.tokens)
    llm.input_ids[:n] = snapshot.tokens
    llm.n_tokens = n
    llm._requires_eval = True  # the logits are restored, not decoded live: generate re-decodes before sampling
    return True
