"""The bare greedy loop the decode comparisons time (onnx_speed: onnx_int4, tmac_decode: tmac, each against llama.cpp).

A side is two calls, `first()` (evaluate the prompt) and `step(token)` (evaluate one more token), each returning the
last token's logits; the loop picks the argmax. Sides run in ABBA order after a warm-up of each, so drift in a shared
machine's load hits both alike. Nothing here picks a winner. Library code: no printing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backends.llama_cpp_backend import last_logits

# The timed prompt of both comparisons: long enough that prefill is not one batch of a few tokens.
PROMPT = ("You are a helpful assistant.\nUser: Explain in a few paragraphs how a hash map works, what a collision "
          "is, and how open addressing differs from chaining.\nAssistant:")

First = Callable[[], np.ndarray]
Step = Callable[[int], np.ndarray]


@dataclass(frozen=True, slots=True)
class Run:
    """One timed prompt + `new_tokens` greedy tokens on one side."""

    ttft_ms: float  # prompt in, first token picked
    decode_tok_s: float  # tokens after the first, per second
    step_ms: tuple[float, ...]  # each decode step's wall time

    def figures(self) -> dict[str, float]:
        """What a result file keeps of a run (the per-step times are summarised elsewhere, never stored)."""
        return {"ttft_ms": self.ttft_ms, "decode_tok_s": self.decode_tok_s}


def llama_side(llm: Any, prompt: list[int]) -> tuple[First, Step]:
    """llama.cpp's side on a fresh context: the logits come from the context's last row (`last_logits`), since
    `llm.scores` holds only zeros without logits_all and an argmax over it picks token 0 every time."""
    llm.reset()

    def first() -> np.ndarray:
        llm.eval(prompt)
        return last_logits(llm)

    def step(token: int) -> np.ndarray:
        llm.eval([token])
        return last_logits(llm)

    return first, step


def time_loop(first: First, step: Step, new_tokens: int) -> Run:
    """Time the prompt and `new_tokens` greedy tokens (end-of-generation not honoured: always `new_tokens`)."""
    t0 = time.perf_counter()
    token = int(np.argmax(first()))
    t1 = time.perf_counter()
    steps = []
    for _ in range(new_tokens - 1):
        s = time.perf_counter()
        token = int(np.argmax(step(token)))
        steps.append((time.perf_counter() - s) * 1000)
    t2 = time.perf_counter()
    return Run(ttft_ms=(t1 - t0) * 1000, decode_tok_s=(new_tokens - 1) / (t2 - t1), step_ms=tuple(steps))


def greedy_ids(first: First, step: Step, n: int) -> list[int]:
    """The first `n` greedy token ids of a side: what two engines must agree on."""
    ids = [int(np.argmax(first()))]
    while len(ids) < n:
        ids.append(int(np.argmax(step(ids[-1]))))
    return ids


def time_abba(sides: dict[str, Callable[[], tuple[First, Step]]], new_tokens: int, repeats: int,
              say: Callable[[str], None]) -> dict[str, list[Run]]:
    """Each side once untimed (first-run allocations and page faults are not what we compare), then `repeats` rounds
    with the order reversed every round; `sides` maps a name to a call that gives that side afresh."""
    for side in sides.values():
        time_loop(*side(), new_tokens)
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    order = list(sides)
    for r in range(repeats):
        for name in (order if r % 2 == 0 else order[::-1]):
            runs[name].append(time_loop(*sides[name](), new_tokens))
        say(f"repeat {r + 1}/{repeats}: " + ", ".join(f"{n} {runs[n][-1].decode_tok_s:.1f} tok/s" for n in order))
    return runs
