"""Ternary weight quantization as BitNet b1.58 does it (AbsMean): scale by the mean magnitude, round to -1/0/+1.
Used after training to see what a ternary model would keep; numpy only, the caller converts tensors."""

from __future__ import annotations

import numpy as np

from ..errors import TuneError

EPSILON = 1e-8  # BitNet's guard for an all-zero weight: its scale stays finite and its trits all 0


def quantize_ternary(weight: np.ndarray) -> tuple[np.ndarray, float]:
    """(trits, scale): trits = clip(round(w / scale), -1, 1) with scale = mean(|w|) + eps, as int8 of w's shape."""
    w = np.asarray(weight, dtype=np.float64)
    if w.size == 0:
        raise TuneError("cannot quantize an empty weight")
    if not np.all(np.isfinite(w)):
        raise TuneError("cannot quantize a weight with NaN or infinite values")
    scale = float(np.abs(w).mean()) + EPSILON
    return np.clip(np.rint(w / scale), -1, 1).astype(np.int8), scale


def dequantize_ternary(trits: np.ndarray, scale: float) -> np.ndarray:
    """The float32 weight the trits stand for."""
    return (np.asarray(trits, dtype=np.float32) * np.float32(scale)).astype(np.float32)
