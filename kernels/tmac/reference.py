"""Numpy references for the T-MAC kernels, written from the maths (never by calling _lut.c).

`tables` builds the same fp32 partial sums in the same order as the C code, so its int8 tables are bit-identical;
`chunk_ints` is the integer dot product per 32-weight chunk (bit-exact: the tests compare with ==); `gemm` turns
those into fp32 outputs in float64, which the C results must match within fp32 rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import CHUNK, GROUP, TmacWeights, unpack


@dataclass(frozen=True, slots=True)
class ActivationTables:
    """Per activation vector: int8 tables (m, k/4, 16), and per 32 activations the table scale, the sum of each
    group's entry 15 (for the zero point) and the fp32 sum of the activations (for mins)."""

    tq: np.ndarray  # int8 (m, k / 4, 16)
    scales: np.ndarray  # float32 (m, k / 32)
    c15: np.ndarray  # int32 (m, k / 32)
    xsum: np.ndarray  # float32 (m, k / 32)

    @property
    def m(self) -> int:
        return int(self.tq.shape[0])

    @property
    def k(self) -> int:
        return int(self.tq.shape[1]) * GROUP


def tables(x: np.ndarray) -> ActivationTables:
    """Tables for (m, k) activations: T[i] = sum of x[b] over the set bits b of i (T[i + 2^b] = T[i] + x[b]), per
    32 activations s = amax / 127 and Tq = rint(T * (127 / amax)), all in fp32 as the C code computes them."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    m, k = x.shape
    g = x.reshape(m, k // GROUP, GROUP)
    t = np.zeros((m, k // GROUP, 16), dtype=np.float32)
    for b in range(GROUP):
        t[:, :, 1 << b:2 << b] = t[:, :, :1 << b] + g[:, :, b:b + 1]
    per_chunk = t.reshape(m, k // CHUNK, CHUNK // GROUP * 16)
    amax = np.abs(per_chunk).max(axis=2)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
    tq = np.rint(per_chunk * inv[:, :, None]).astype(np.int8).reshape(m, k // GROUP, 16)
    c15 = tq[:, :, 15].astype(np.int32).reshape(m, k // CHUNK, CHUNK // GROUP).sum(axis=2, dtype=np.int32)
    xsum = x.reshape(m, k // CHUNK, CHUNK).sum(axis=2, dtype=np.float32)
    return ActivationTables(tq=tq, scales=(amax / np.float32(127)).astype(np.float32), c15=c15, xsum=xsum)


def chunk_ints(w: TmacWeights, t: ActivationTables) -> np.ndarray:
    """int32 (m, n, k / 32): sum over planes p of 2^p * sum over groups of Tq[group][index of plane p], minus
    zero * c15 -- the integer value of a row against a chunk of activations, before any scale."""
    codes, _, _ = unpack(w)
    n, k = codes.shape
    g = codes.reshape(n, k // GROUP, GROUP).astype(np.int64)
    total = np.zeros((t.m, n, k // GROUP), dtype=np.int64)
    for p in range(w.bits):
        idx = (((g >> p) & 1) << np.arange(GROUP)).sum(axis=2)  # (n, groups)
        looked = np.take_along_axis(t.tq[:, None, :, :].astype(np.int64),
                                    np.broadcast_to(idx[None, :, :, None], (t.m, n, k // GROUP, 1)), axis=3)[..., 0]
        total += looked << p
    per_chunk = total.reshape(t.m, n, k // CHUNK, CHUNK // GROUP).sum(axis=3)
    return (per_chunk - w.zero * t.c15[:, None, :]).astype(np.int32)


def gemm(w: TmacWeights, t: ActivationTables) -> np.ndarray:
    """float64 (m, n): y = sum over chunks of d * s_c * R_c (+ m * xsum_c), the kernels' maths without rounding."""
    ints = chunk_ints(w, t).astype(np.float64)
    _, d, mins = unpack(w)
    per_chunk = w.block // CHUNK
    d_c = np.repeat(d.astype(np.float64), per_chunk, axis=1)  # (n, k / 32)
    y = (ints * d_c[None] * t.scales.astype(np.float64)[:, None, :]).sum(axis=2)
    if mins is not None:
        m_c = np.repeat(mins.astype(np.float64), per_chunk, axis=1)
        y += (m_c[None] * t.xsum.astype(np.float64)[:, None, :]).sum(axis=2)
    return y


def gemm_magnitude(w: TmacWeights, t: ActivationTables) -> np.ndarray:
    """float64 (m, n): the sum of |terms| of gemm(), the scale fp32 rounding errors of a result are measured in."""
    ints = np.abs(chunk_ints(w, t).astype(np.float64))
    _, d, mins = unpack(w)
    per_chunk = w.block // CHUNK
    d_c = np.abs(np.repeat(d.astype(np.float64), per_chunk, axis=1))
    y = (ints * d_c[None] * t.scales.astype(np.float64)[:, None, :]).sum(axis=2)
    if mins is not None:
        m_c = np.abs(np.repeat(mins.astype(np.float64), per_chunk, axis=1))
        y += (m_c[None] * np.abs(t.xsum.astype(np.float64))[:, None, :]).sum(axis=2)
    return y
