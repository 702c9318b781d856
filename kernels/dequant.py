"""Vectorized numpy dequantization of ggml tensor blocks (F32/F16/BF16, Q4_0..Q8_0, K-quants, TQ1_0/TQ2_0) to fp32.

The reference for layout and arithmetic is ggml's `dequantize_row_*`; results are bit-exact with the `gguf` package
(checked in the tests). Whole tensors are decoded a slab of rows at a time so temporaries stay small; there is never
a Python loop over blocks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .gguf_header import GGML_BLOCK_SIZES, GGML_TYPE_NAMES, GGUFFormatError

F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, BF16 = 0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 30
TQ1_0, TQ2_0 = 34, 35  # llama.cpp's ternary types (BitNet b1.58): w = d * (q - 1), one fp16 scale per 256
QK_K = 256
# Elements decoded per slab: bounds the int/float temporaries (a few times this many bytes x 4) for huge tensors
# such as a 151936 x 896 token embedding.
_SLAB_ELEMENTS = 1 << 20

_LOW_HIGH = np.array([0, 4], dtype=np.uint8)


def _f16(blocks: np.ndarray, start: int) -> np.ndarray:
    """The little-endian float16 at byte `start` of every block, as an (n, 1) float32 column."""
    return blocks[:, start:start + 2].copy().view(np.float16).astype(np.float32)


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """Bytes (n, 16) -> 32 codes: the low nibbles are elements 0..15, the high nibbles 16..31 (ggml's order)."""
    n = qs.shape[0]
    return ((qs.reshape(n, 1, -1) >> _LOW_HIGH.reshape(1, 2, 1)) & np.uint8(0x0F)).reshape(n, -1)


def _high_bits_32(qh: np.ndarray) -> np.ndarray:
    """Four bytes of a little-endian uint32 (n, 4) -> its 32 bits (n, 32) as 0/1, bit j for element j."""
    return np.unpackbits(qh, axis=1, bitorder="little")


def _f32(blocks: np.ndarray) -> np.ndarray:
    return blocks.copy().view(np.float32)


def _f16_blocks(blocks: np.ndarray) -> np.ndarray:
    return blocks.copy().view(np.float16).astype(np.float32)


def _bf16(blocks: np.ndarray) -> np.ndarray:
    return (blocks.copy().view(np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def _q4_0(blocks: np.ndarray) -> np.ndarray:
    d = _f16(blocks, 0)
    q = _nibbles(blocks[:, 2:]).astype(np.int8) - np.int8(8)
    return d * q.astype(np.float32)


def _q4_1(blocks: np.ndarray) -> np.ndarray:
    d, m = _f16(blocks, 0), _f16(blocks, 2)
    return d * _nibbles(blocks[:, 4:]).astype(np.float32) + m


def _q5_0(blocks: np.ndarray) -> np.ndarray:
    d = _f16(blocks, 0)
    q = (_nibbles(blocks[:, 6:]) | (_high_bits_32(blocks[:, 2:6]) << np.uint8(4))).astype(np.int8) - np.int8(16)
    return d * q.astype(np.float32)


def _q5_1(blocks: np.ndarray) -> np.ndarray:
    d, m = _f16(blocks, 0), _f16(blocks, 2)
    q = _nibbles(blocks[:, 8:]) | (_high_bits_32(blocks[:, 4:8]) << np.uint8(4))
    return d * q.astype(np.float32) + m


def _q8_0(blocks: np.ndarray) -> np.ndarray:
    return blocks[:, 2:].view(np.int8).astype(np.float32) * _f16(blocks, 0)


def _k_scales_mins(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 12 packed bytes of Q4_K/Q5_K -> eight 6-bit scales and eight 6-bit mins per super-block.

    Bytes 0-3 hold scales 0-3 (low 6 bits), bytes 4-7 mins 0-3; scales/mins 4-7 take their low 4 bits from
    bytes 8-11 and their high 2 bits from the top of bytes 0-3 / 4-7.
    """
    a, b, c = packed[:, 0:4], packed[:, 4:8], packed[:, 8:12]
    scales = np.concatenate([a & 0x3F, (c & 0x0F) | ((a >> 6) << 4)], axis=1)
    mins = np.concatenate([b & 0x3F, (c >> 4) | ((b >> 6) << 4)], axis=1)
    return scales.astype(np.float32), mins.astype(np.float32)


def _k_nibbles(qs: np.ndarray) -> np.ndarray:
    """128 bytes -> 8 sub-blocks of 32: sub-block 2j is the low nibbles of bytes 32j.., 2j+1 their high nibbles."""
    n = qs.shape[0]
    return ((qs.reshape(n, 4, 1, 32) >> _LOW_HIGH.reshape(1, 1, 2, 1)) & np.uint8(0x0F)).reshape(n, 8, 32)


def _q4_k(blocks: np.ndarray) -> np.ndarray:
    n = blocks.shape[0]
    d, dmin = _f16(blocks, 0), _f16(blocks, 2)
    sc, mn = _k_scales_mins(blocks[:, 4:16])
    q = _k_nibbles(blocks[:, 16:144]).astype(np.float32)
    return ((d * sc)[:, :, None] * q - (dmin * mn)[:, :, None]).reshape(n, QK_K)


def _q5_k(blocks: np.ndarray) -> np.ndarray:
    n = blocks.shape[0]
    d, dmin = _f16(blocks, 0), _f16(blocks, 2)
    sc, mn = _k_scales_mins(blocks[:, 4:16])
    # qh[l] bit i is the fifth bit of element l of sub-block i
    high = np.unpackbits(blocks[:, 16:48].reshape(n, 32, 1), axis=2, bitorder="little").transpose(0, 2, 1)
    q = (_k_nibbles(blocks[:, 48:176]) | (high << np.uint8(4))).astype(np.float32)
    return ((d * sc)[:, :, None] * q - (dmin * mn)[:, :, None]).reshape(n, QK_K)


def _q6_k(blocks: np.ndarray) -> np.ndarray:
    n = blocks.shape[0]
    # two halves of 128 elements; per half 64 bytes of low nibbles and 32 bytes holding four 2-bit high parts
    ql = blocks[:, 0:128].reshape(n, 2, 1, 64)
    qh = blocks[:, 128:192].reshape(n, 2, 1, 32)
    low = ((ql >> _LOW_HIGH.reshape(1, 1, 2, 1)) & np.uint8(0x0F)).reshape(n, 2, 4, 32)
    high = (qh >> np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)) & np.uint8(0x03)
    q = ((low | (high << np.uint8(4))).astype(np.int8) - np.int8(32)).reshape(n, 16, 16).astype(np.float32)
    scales = blocks[:, 192:208].view(np.int8).astype(np.float32)
    d = _f16(blocks, 208)
    return ((d * scales)[:, :, None] * q).reshape(n, QK_K)


_POW3_5 = np.array([1, 3, 9, 27, 81], dtype=np.uint8)
_POW3_4 = np.array([1, 3, 9, 27], dtype=np.uint8)
_CRUMBS = np.array([0, 2, 4, 6], dtype=np.uint8)


def tq2_0_codes(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TQ2_0 super-blocks (n, 66) -> ternary codes (n, 256) in 0..2 (w = d * (q - 1)) and d (n, 1) as float16.

    Bytes 0-63 hold four 2-bit codes each: element 128h + 32l + m is bits 2l..2l+1 of byte 32h + m.
    """
    n = blocks.shape[0]
    q = (blocks[:, :64].reshape(n, 2, 1, 32) >> _CRUMBS.reshape(1, 1, 4, 1)) & np.uint8(3)
    return q.reshape(n, QK_K), blocks[:, 64:66].copy().view(np.float16)


def tq1_0_codes(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TQ1_0 super-blocks (n, 54) -> ternary codes (n, 256) in 0..2 and d (n, 1) as float16.

    Five codes per byte in base 3 as a fixed-point fraction: multiplying by 3^i (mod 256) brings code i to the top,
    and (byte * 3) >> 8 reads it. 32 + 16 bytes of five codes, then 4 bytes of four; d last.
    """
    n = blocks.shape[0]
    qs0 = (blocks[:, :32].reshape(n, 1, 32) * _POW3_5.reshape(1, 5, 1)).reshape(n, 160)
    qs1 = (blocks[:, 32:48].reshape(n, 1, 16) * _POW3_5.reshape(1, 5, 1)).reshape(n, 80)
    qh = (blocks[:, 48:52].reshape(n, 1, 4) * _POW3_4.reshape(1, 4, 1)).reshape(n, 16)
    q = (np.concatenate([qs0, qs1, qh], axis=1).astype(np.uint16) * np.uint16(3)) >> np.uint16(8)
    return q.astype(np.uint8), blocks[:, 52:54].copy().view(np.float16)


def _ternary(codes: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    q, d = codes
    return d.astype(np.float32) * (q.astype(np.int8) - np.int8(1)).astype(np.float32)


def _tq1_0(blocks: np.ndarray) -> np.ndarray:
    return _ternary(tq1_0_codes(blocks))


def _tq2_0(blocks: np.ndarray) -> np.ndarray:
    return _ternary(tq2_0_codes(blocks))


_DECODERS: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    F32: _f32, F16: _f16_blocks, BF16: _bf16, Q4_0: _q4_0, Q4_1: _q4_1, Q5_0: _q5_0, Q5_1: _q5_1, Q8_0: _q8_0,
    Q4_K: _q4_k, Q5_K: _q5_k, Q6_K: _q6_k, TQ1_0: _tq1_0, TQ2_0: _tq2_0,
}
SUPPORTED_TYPES: frozenset[int] = frozenset(_DECODERS)


def type_name(ggml_type: int) -> str:
    """ggml's name for a type number ("Q4_0"), or "type N" for one we do not know."""
    return GGML_TYPE_NAMES.get(ggml_type, f"type {ggml_type}")


def tensor_nbytes(ggml_type: int, shape: tuple[int, ...]) -> int:
    """Bytes a tensor of `shape` (numpy order, last dim contiguous) takes in `ggml_type`; GGUFFormatError if none."""
    if ggml_type not in GGML_BLOCK_SIZES:
        raise GGUFFormatError(f"unknown ggml tensor type {ggml_type}")
    block, block_bytes = GGML_BLOCK_SIZES[ggml_type]
    if any(d < 0 for d in shape):
        raise GGUFFormatError(f"negative dimension in shape {shape}")
    cols = shape[-1] if shape else 1
    if cols % block:
        raise GGUFFormatError(
            f"a row of {cols} values is not a whole number of {type_name(ggml_type)} blocks of {block}"
        )
    n = 1
    for d in shape:
        n *= d
    return n // block * block_bytes


def dequantize(raw: np.ndarray, ggml_type: int, shape: tuple[int, ...]) -> np.ndarray:
    """Decode the bytes of one tensor to a float32 array of `shape`; GGUFFormatError names a bad type or size."""
    shape = tuple(int(d) for d in shape)
    nbytes = tensor_nbytes(ggml_type, shape)
    decode = _DECODERS.get(ggml_type)
    if decode is None:
        supported = ", ".join(type_name(t) for t in sorted(SUPPORTED_TYPES))
        raise GGUFFormatError(f"cannot dequantize {type_name(ggml_type)} tensors (supported: {supported})")
    flat = np.ascontiguousarray(raw).reshape(-1).view(np.uint8)
    if flat.size != nbytes:
        raise GGUFFormatError(
            f"{type_name(ggml_type)} tensor of shape {shape} needs {nbytes:,} bytes but got {flat.size:,}"
        )
    block, block_bytes = GGML_BLOCK_SIZES[ggml_type]
    n_blocks = nbytes // block_bytes
    blocks = flat.reshape(n_blocks, block_bytes)
    out = np.empty((n_blocks, block), dtype=np.float32)
    step = max(1, _SLAB_ELEMENTS // block)
    for start in range(0, n_blocks, step):
        out[start:start + step] = decode(blocks[start:start + step])
    return out.reshape(shape)
