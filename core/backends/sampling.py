"""Picks the next token from a logits row: greedy, or llama.cpp's chain (repeat penalty -> top-k -> top-p ->
temperature) with a seeded generator. Pure numpy; never touches a model."""

from __future__ import annotations

import numpy as np

# llama.cpp's default penalty window (penalty_last_n): only recent tokens are penalised.
PENALTY_WINDOW = 64


class Sampler:
    def __init__(self, *, temperature: float, top_p: float, top_k: int, repeat_penalty: float,
                 seed: int | None) -> None:
        self._temperature = temperature
        self._top_p = top_p
        self._top_k = top_k
        self._penalty = repeat_penalty
        self._rng = np.random.default_rng(seed)

    def pick(self, logits: np.ndarray, history: list[int]) -> int:
        """The next token for one row of logits, given every token so far (for the repeat penalty)."""
        logits = np.asarray(logits, dtype=np.float32)
        if self._penalty != 1.0 and history:
            logits = logits.copy()
            recent = np.unique(np.asarray(history[-PENALTY_WINDOW:], dtype=np.int64))
            vals = logits[recent]
            logits[recent] = np.where(vals > 0, vals / self._penalty, vals * self._penalty)
        if self._temperature <= 0:
            return int(np.argmax(logits))
        k = self._top_k if 0 < self._top_k < logits.size else logits.size
        top = np.argpartition(-logits, k - 1)[:k] if k < logits.size else np.arange(logits.size)
        top = top[np.argsort(-logits[top], kind="stable")]
        z = logits[top].astype(np.float64) / self._temperature
        probs = np.exp(z - z.max())
        probs /= probs.sum()
        if self._top_p < 1.0:
            keep = int(np.searchsorted(np.cumsum(probs), self._top_p) + 1)
            top, probs = top[:keep], probs[:keep] / probs[:keep].sum()
        return int(top[self._rng.choice(len(top), p=probs)])
