"""Perplexity of a token stream under any model given as "logits for this token sequence": llama.cpp, our T-MAC
forward, torch, and later the `tmac` backend are all measured by the same function on the same windows."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

LogitsFn = Callable[[list[int]], np.ndarray]  # ids -> float (len(ids), vocab): logits at every position


@dataclass(frozen=True, slots=True)
class Perplexity:
    """exp(mean negative log-likelihood) over `scored` predicted tokens in `windows` windows."""

    perplexity: float
    nll: float
    scored: int
    windows: int


def perplexity(logits_fn: LogitsFn, tokens: Sequence[int], *, window: int = 128, max_windows: int | None = None) -> \
        Perplexity:
    """Split `tokens` into non-overlapping windows of `window` tokens (the last partial one dropped); each window is
    scored from a fresh context: the log-likelihood of tokens 1..window-1 given those before them."""
    if window < 2:
        raise ValueError(f"a window needs at least 2 tokens, got {window}")
    n = len(tokens) // window
    if max_windows is not None:
        n = min(n, max_windows)
    if n < 1:
        raise ValueError(f"{len(tokens)} tokens do not fill one {window}-token window")
    total = 0.0
    for w in range(n):
        ids = [int(t) for t in tokens[w * window:(w + 1) * window]]
        logits = np.asarray(logits_fn(ids), dtype=np.float64)
        if logits.ndim != 2 or logits.shape[0] != len(ids):
            raise ValueError(f"the logits function returned shape {logits.shape} for {len(ids)} tokens")
        z = logits[:-1]
        top = z.max(axis=1, keepdims=True)
        logp = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
        total -= float(logp[np.arange(len(ids) - 1), ids[1:]].sum())
    scored = n * (window - 1)
    return Perplexity(perplexity=math.exp(total / scored), nll=total / scored, scored=scored, windows=n)
