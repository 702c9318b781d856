"""Measured memory bandwidth: the ceiling a memory-bound kernel (INT4 GEMV, decode) is judged against.

Decode on a laptop reads every weight once per token, so "fast" only means something as a fraction of what the
memory system delivers. We measure it rather than trust a spec sheet: a large buffer (well past the last-level cache)
is read with numpy's sum (one streaming pass, vectorised) and copied (read + write), repeated, median taken.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Bandwidth:
    read_gbs: float  # streaming read, GB/s (1e9 bytes)
    copy_gbs: float  # read + write counted as 2x the buffer, GB/s
    buffer_mb: int
    repeats: int


def measure_bandwidth(buffer_mb: int = 256, repeats: int = 7) -> Bandwidth:
    """Median read and copy bandwidth of a `buffer_mb` buffer; ~0.1 s per repeat on a laptop."""
    if buffer_mb < 8 or repeats < 1:
        raise ValueError("bandwidth needs a buffer of at least 8 MB and one repeat")
    n = buffer_mb * 1024 * 1024 // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    src.sum()  # fault the pages in before timing
    np.copyto(dst, src)
    reads, copies = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        src.sum()
        t1 = time.perf_counter()
        np.copyto(dst, src)
        t2 = time.perf_counter()
        reads.append(src.nbytes / (t1 - t0) / 1e9)
        copies.append(2 * src.nbytes / (t2 - t1) / 1e9)
    return Bandwidth(read_gbs=statistics.median(reads), copy_gbs=statistics.median(copies),
                     buffer_mb=buffer_mb, repeats=repeats)
