"""An 8-bit block layout for the matrices T-MAC's bit planes cannot hold exactly (Q8_0, Q5_0, K-quants...).

w = s * q (+ m) with int8 codes q, one fp32 scale s (and optionally one fp32 min m) per block of 16 or 32 weights.
Every ggml type below is a special case of that, so the conversion is exact: the floats a row dequantizes to are
the ones kernels/dequant.py (ggml's dequantize_row_*) gives. The decoder's C loop reads it with int8 dot products
(activations quantized to int8 as llama.cpp's vec_dot does for these types: per 32 for the legacy types, per 256 as
block_q8_K for the K-quants). K-quants keep their sub-block scales as fp32 products d * sc, which is how ggml computes
them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..dequant import (
    Q4_0,
    Q4_1,
    Q4_K,
    Q5_0,
    Q5_1,
    Q5_K,
    Q6_K,
    Q8_0,
    _f16,
    _high_bits_32,
    _k_nibbles,
    _k_scales_mins,
    _nibbles,
    type_name,
)
from ..gguf_header import GGML_BLOCK_SIZES, GGUFFormatError

_SLAB_BLOCKS = 1 << 16  # ggml blocks converted at a time: bounds the temporaries for a 151936 x 896 LM head


@dataclass(frozen=True, slots=True)
class Int8Weights:
    """One matrix (n rows of k) as int8 codes with per-block fp32 scales (and mins)."""

    q: np.ndarray  # int8 (n, k)
    scales: np.ndarray  # float32 (n, k / block)
    mins: np.ndarray | None  # float32 (n, k / block)
    block: int  # 16 or 32
    # ggml's legacy types (Q4_0/Q4_1/Q5_0/Q5_1/Q8_0): llama.cpp multiplies them with block_q8_0/q8_1 activations,
    # whose scale and sum are fp16; the decoder rounds them so too and sums in llama.cpp's order (_decoder.c)
    fp16_act: bool = False
    # Q4_1 kept as the GGUF's nibbles: q is uint8 (n, k / 2) in ggml's order, half the bytes of int8 codes
    packed: bool = False

    @property
    def n(self) -> int:
        return int(self.q.shape[0])

    @property
    def k(self) -> int:
        return int(self.q.shape[1]) * (2 if self.packed else 1)

    @property
    def nbytes(self) -> int:
        return int(self.q.nbytes + self.scales.nbytes + (0 if self.mins is None else self.mins.nbytes))

    def dequantize(self) -> np.ndarray:
        """fp32 (n, k): s * q (+ m), in the order ggml computes it."""
        codes = _nibbles(self.q.reshape(-1, 16)) if self.packed else self.q
        q = codes.astype(np.float32).reshape(self.n, -1, self.block)
        out = self.scales[:, :, None] * q
        if self.mins is not None:
            out = out + self.mins[:, :, None]
        return out.reshape(self.n, self.k)


# Per ggml block: (codes (b, block) int8, scales (b, block / sub) fp32, mins or None), sub = our block size.
_Split = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def _q8_0(b: np.ndarray) -> _Split:
    return b[:, 2:].copy().view(np.int8), _f16(b, 0), None


def _q4_0(b: np.ndarray) -> _Split:
    return _nibbles(b[:, 2:]).astype(np.int8) - np.int8(8), _f16(b, 0), None


def _q4_1(b: np.ndarray) -> _Split:
    return _nibbles(b[:, 4:]).astype(np.int8), _f16(b, 0), _f16(b, 2)


def _q5_0(b: np.ndarray) -> _Split:
    q = (_nibbles(b[:, 6:]) | (_high_bits_32(b[:, 2:6]) << np.uint8(4))).astype(np.int8) - np.int8(16)
    return q, _f16(b, 0), None


def _q5_1(b: np.ndarray) -> _Split:
    q = (_nibbles(b[:, 8:]) | (_high_bits_32(b[:, 4:8]) << np.uint8(4))).astype(np.int8)
    return q, _f16(b, 0), _f16(b, 2)


def _q4_k(b: np.ndarray) -> _Split:
    n = b.shape[0]
    sc, mn = _k_scales_mins(b[:, 4:16])
    q = _k_nibbles(b[:, 16:144]).astype(np.int8).reshape(n, 256)
    return q, _f16(b, 0) * sc, -(_f16(b, 2) * mn)


def _q5_k(b: np.ndarray) -> _Split:
    n = b.shape[0]
    sc, mn = _k_scales_mins(b[:, 4:16])
    high = np.unpackbits(b[:, 16:48].reshape(n, 32, 1), axis=2, bitorder="little").transpose(0, 2, 1)
    q = (_k_nibbles(b[:, 48:176]) | (high << np.uint8(4))).astype(np.int8).reshape(n, 256)
    return q, _f16(b, 0) * sc, -(_f16(b, 2) * mn)


def _q6_k(b: np.ndarray) -> _Split:
    n = b.shape[0]
    ql = b[:, 0:128].reshape(n, 2, 1, 64)
    qh = b[:, 128:192].reshape(n, 2, 1, 32)
    low = ((ql >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1)) & np.uint8(0x0F)).reshape(n, 2, 4, 32)
    high = (qh >> np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 4, 1)) & np.uint8(0x03)
    q = ((low | (high << np.uint8(4))).astype(np.int8) - np.int8(32)).reshape(n, 256)
    return q, _f16(b, 208) * b[:, 192:208].view(np.int8).astype(np.float32), None


def from_gguf_q4_1_packed(raw: np.ndarray, shape: tuple[int, ...]) -> Int8Weights:
    """A Q4_1 matrix with its nibbles as the GGUF stores them and fp32 scales and mins: what llama.cpp's own Q4_1 dot
    product reads (the decoder's packed path gives its bits at its bytes per weight)."""
    n, k = (int(v) for v in shape)
    flat = np.ascontiguousarray(raw).reshape(-1).view(np.uint8)
    if len(shape) != 2 or k % 32 or flat.size != n * k // 32 * 20:
        raise GGUFFormatError(f"Q4_1 tensor of shape {shape} does not match its {flat.size:,} bytes")
    blocks = flat.reshape(-1, 20)
    return Int8Weights(q=np.ascontiguousarray(blocks[:, 4:]).reshape(n, k // 2), scales=_f16(blocks, 0).reshape(n, -1),
                       mins=_f16(blocks, 2).reshape(n, -1), block=32, fp16_act=True, packed=True)


# type -> (converter, our block size)
_CONVERT: dict[int, tuple[Callable[[np.ndarray], _Split], int]] = {
    Q8_0: (_q8_0, 32), Q4_0: (_q4_0, 32), Q4_1: (_q4_1, 32), Q5_0: (_q5_0, 32), Q5_1: (_q5_1, 32),
    Q4_K: (_q4_k, 32), Q5_K: (_q5_k, 32), Q6_K: (_q6_k, 16),
}
INT8_TYPES = frozenset(_CONVERT)
LEGACY_TYPES = frozenset({Q4_0, Q4_1, Q5_0, Q5_1, Q8_0})  # llama.cpp's Q8_0/Q8_1 activations, not Q8_K


def from_gguf_int8(raw: np.ndarray, ggml_type: int, shape: tuple[int, ...]) -> Int8Weights:
    """A GGUF matrix's bytes (numpy shape (n, k)) -> Int8Weights, exactly; GGUFFormatError names what does not fit."""
    if len(shape) != 2:
        raise GGUFFormatError(f"the int8 layout takes 2-D weight matrices, got shape {shape}")
    if ggml_type not in _CONVERT:
        raise GGUFFormatError(f"no exact int8 layout for {type_name(ggml_type)} tensors "
                              f"(supported: {', '.join(type_name(t) for t in sorted(_CONVERT))})")
    n, k = (int(v) for v in shape)
    convert, sub = _CONVERT[ggml_type]
    block, block_bytes = GGML_BLOCK_SIZES[ggml_type]
    flat = np.ascontiguousarray(raw).reshape(-1).view(np.uint8)
    if k % block or flat.size != n * k // block * block_bytes:
        raise GGUFFormatError(f"{type_name(ggml_type)} tensor of shape {shape} does not match its {flat.size:,} bytes")
    blocks = flat.reshape(-1, block_bytes)
    q = np.empty((blocks.shape[0], block), np.int8)
    scales = np.empty((blocks.shape[0], block // sub), np.float32)
    mins: np.ndarray | None = None
    for start in range(0, blocks.shape[0], _SLAB_BLOCKS):
        part = blocks[start:start + _SLAB_BLOCKS]
        qs, ss, ms = convert(part)
        q[start:start + len(part)] = qs
        scales[start:start + len(part)] = ss
        if ms is not None:
            if mins is None:
                mins = np.empty_like(scales)
            mins[start:start + len(part)] = ms
    return Int8Weights(q=q.reshape(n, k), scales=scales.reshape(n, k // sub),
                       mins=None if mins is None else mins.reshape(n, k // sub), block=sub,
                       fp16_act=ggml_type in LEGACY_TYPES)
