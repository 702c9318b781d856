"""The compiled T-MAC kernels behind typed functions: tables once per activation vector, then GEMV/GEMM.

A decoder calls build_tables() once per activation vector and gemm() for every matrix that reads it (q, k, v share
one set of tables), with preallocated outputs: no allocation per token. The C code releases the GIL while it runs.
"""

from __future__ import annotations

import numpy as np

from . import native
from .layout import CHUNK, GROUP, TmacWeights
from .reference import ActivationTables


def empty_tables(m: int, k: int) -> ActivationTables:
    """Buffers for m vectors of k activations, for build_tables(out=...)."""
    if m < 1 or k < CHUNK or k % CHUNK:
        raise ValueError(f"activations need m >= 1 and a length that is a multiple of {CHUNK} (got {m} x {k})")
    return ActivationTables(tq=np.empty((m, k // GROUP, 16), np.int8), scales=np.empty((m, k // CHUNK), np.float32),
                            c15=np.empty((m, k // CHUNK), np.int32), xsum=np.empty((m, k // CHUNK), np.float32))


def build_tables(x: np.ndarray, out: ActivationTables | None = None) -> ActivationTables:
    """Quantized tables for activations x, shape (k,) or (m, k): bit-identical to reference.tables()."""
    x2 = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)
    if x2.ndim != 2:
        raise ValueError(f"activations must be a vector or a (m, k) matrix, got shape {np.shape(x)}")
    m, k = x2.shape
    t = out if out is not None else empty_tables(m, k)
    if (t.m, t.k) != (m, k):
        raise ValueError(f"tables are for {t.m} x {t.k} activations, not {m} x {k}")
    native().build_tables(x2, m, k, t.tq, t.scales, t.c15, t.xsum)
    return t


def _check(w: TmacWeights, t: ActivationTables) -> None:
    if t.k != w.k:
        raise ValueError(f"activations of length {t.k} do not match weights with rows of {w.k}")


def gemm(w: TmacWeights, x: np.ndarray | ActivationTables, *, threads: int = 1,
         out: np.ndarray | None = None) -> np.ndarray:
    """y (m, n) = x W^T for activations (m, k) or their tables; `out` (m, n_padded) float32 is written in place."""
    t = x if isinstance(x, ActivationTables) else build_tables(x)
    _check(w, t)
    y = out if out is not None else np.empty((t.m, w.n_padded), np.float32)
    if y.shape != (t.m, w.n_padded) or y.dtype != np.float32 or not y.flags.c_contiguous:
        raise ValueError(f"out must be a contiguous float32 array of shape {(t.m, w.n_padded)}")
    native().gemm(w.data, w.bits, w.block, w.zero, w.has_min, w.n_padded, w.k, t.tq, t.scales, t.c15, t.xsum, t.m,
                  y, None, int(threads))
    return y[:, :w.n]


def gemv(w: TmacWeights, x: np.ndarray, *, threads: int = 1) -> np.ndarray:
    """y (n,) = W x for one activation vector (the decode case)."""
    return gemm(w, np.asarray(x, dtype=np.float32).reshape(1, -1), threads=threads)[0]


def chunk_ints(w: TmacWeights, t: ActivationTables, *, threads: int = 1) -> np.ndarray:
    """The kernels' integer values per (vector, row, 32-weight chunk), int32 (m, n, k / 32): what the tests hold
    bit-exact against reference.chunk_ints()."""
    _check(w, t)
    y = np.empty((t.m, w.n_padded), np.float32)
    ints = np.empty((t.m, w.n_padded, w.k // CHUNK), np.int32)
    native().gemm(w.data, w.bits, w.block, w.zero, w.has_min, w.n_padded, w.k, t.tq, t.scales, t.c15, t.xsum, t.m,
                  y, ints, int(threads))
    return ints[:, :w.n]
