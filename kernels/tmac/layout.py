"""T-MAC weight layout: b-bit codes as b one-bit planes, four weights of a plane forming one 4-bit table index.

The C kernels (kernels/tmac/_lut.c) read this byte stream as it lies, so its shape is the contract between them and
us. Rows come in tiles of 128 / bits rows; per tile and per scale block of `block` weights the stream holds the
tile's fp16 scales d, then (Q4_1-style) its fp16 mins m, then block / 4 groups of 64 bytes: 128 nibbles, each the
index (bit i = plane bit of weight 4j + i) of one (row, plane). The scales stay the fp16 values llama.cpp stores, so a
layout built from a GGUF tensor dequantizes to exactly the floats kernels/dequant.py gives (w = d * (q - zero) + m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dequant import Q4_0, Q4_1, TQ1_0, TQ2_0, tq1_0_codes, tq2_0_codes, type_name
from ..gguf_header import GGML_BLOCK_SIZES, GGUFFormatError

CHUNK = 32  # activations per table scale: the unit of integer accumulation
GROUP = 4  # weights per table index
BITS = (1, 2, 4)


def tile_rows(bits: int) -> int:
    """Rows per tile: a group of a tile is 64 bytes (4 SIMD lanes of 16), 128 nibbles, one per (row, plane)."""
    return 128 // bits


GROUP_BYTES = 64


def nibble_positions(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(byte, high) arrays of shape (rows, bits): where row r's plane p index sits in a group's 64 bytes.

    Lane l (bytes 16l..16l+15) holds rows 8l..8l+7 of each 32-row slice, so one multiply-add of adjacent bytes sums
    a row's lookups in row order and lanes are never reduced into each other: 4-bit rows keep planes 0/1 in the low
    nibbles of bytes 2s/2s+1 (s = r % 8) and planes 2/3 in their high nibbles; 2-bit rows 0-31 use low nibbles, rows
    32-63 high ones (bytes 2s/2s+1 = planes 0/1); 1-bit rows 0-31 the low nibbles of even bytes, 32-63 of odd
    bytes, 64-127 likewise in the high nibbles. Same as nib_pos() in _lut.c.
    """
    rows = tile_rows(bits)
    r = np.arange(rows).reshape(-1, 1)
    p = np.arange(bits).reshape(1, -1)
    i = r & 31
    slot = (i >> 3) * 16 + 2 * (i & 7)
    if bits == 4:
        byte, high = (r >> 3) * 16 + 2 * (r & 7) + (p & 1), np.broadcast_to(p >> 1, (rows, bits))
    elif bits == 2:
        byte, high = slot + p, np.broadcast_to(r >> 5, (rows, bits))
    else:
        byte, high = np.broadcast_to(slot + ((r >> 5) & 1), (rows, bits)), np.broadcast_to(r >> 6, (rows, bits))
    return np.ascontiguousarray(byte), np.ascontiguousarray(high)


@dataclass(frozen=True, slots=True)
class TmacWeights:
    """One weight matrix (n rows of k) in the kernels' layout; `data` is the byte stream _lut.c reads."""

    bits: int
    block: int  # weights per scale (32 for Q4_0/Q4_1, 256 for TQ2_0)
    zero: int  # w = d * (q - zero) (+ m)
    has_min: bool
    n: int  # rows the caller asked for
    k: int
    data: np.ndarray  # uint8, (n_padded / tile_rows) * (k / block) records

    @property
    def n_padded(self) -> int:
        rows = tile_rows(self.bits)
        return -(-self.n // rows) * rows

    @property
    def record_bytes(self) -> int:
        """Bytes of one (tile, block) record: scales (+ mins) then the groups."""
        return tile_rows(self.bits) * 2 * (1 + self.has_min) + self.block // GROUP * GROUP_BYTES

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


def _check(bits: int, block: int, k: int, zero: int) -> None:
    if bits not in BITS:
        raise ValueError(f"T-MAC weights are 1, 2 or 4 bits, not {bits}")
    if block < CHUNK or block % CHUNK or k % block:
        raise ValueError(f"scale block {block} must be a multiple of {CHUNK} that divides the row length {k}")
    if not 0 <= zero < 1 << bits:
        raise ValueError(f"zero point {zero} does not fit {bits} bits")


def pack(codes: np.ndarray, d: np.ndarray, m: np.ndarray | None = None, *, bits: int, block: int,
         zero: int = 0) -> TmacWeights:
    """Codes (n, k) in [0, 2^bits) with fp16 scales d (n, k / block) and optional fp16 mins -> the kernels' layout.

    Rows are padded with zero codes and zero scales to a whole tile; the kernels compute them and callers drop them.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D (rows, columns) array, got shape {codes.shape}")
    n, k = codes.shape
    _check(bits, block, k, zero)
    if codes.size and int(codes.max()) >= 1 << bits:
        raise ValueError(f"a code is {int(codes.max())}, past the {bits}-bit range")
    n_blocks = k // block
    d = np.asarray(d, dtype=np.float16)
    if d.shape != (n, n_blocks) or (m is not None and np.shape(m) != (n, n_blocks)):
        raise ValueError(f"scales (and mins) must have shape {(n, n_blocks)}, got {d.shape}")
    rows = tile_rows(bits)
    n_pad = -(-n // rows) * rows
    n_tiles = n_pad // rows
    q = np.zeros((n_pad, k), dtype=np.uint8)
    q[:n] = codes
    groups = k // GROUP
    # index of plane p for (row, group): bit i is plane p of weight 4j + i
    w4 = q.reshape(n_tiles, rows, groups, GROUP)
    body = np.zeros((n_tiles, groups, GROUP_BYTES), dtype=np.uint8)
    byte, high = nibble_positions(bits)
    for p in range(bits):
        plane = (w4 >> np.uint8(p)) & np.uint8(1)
        idx = plane[..., 0] | (plane[..., 1] << 1) | (plane[..., 2] << 2) | (plane[..., 3] << 3)  # (tiles, rows, G)
        for h in (0, 1):  # the rows whose plane p sits in low (high) nibbles; their bytes are distinct
            rs = np.flatnonzero(high[:, p] == h)
            if rs.size:
                body[:, :, byte[rs, p]] |= (idx[:, rs, :] << np.uint8(4 * h)).transpose(0, 2, 1)
    scales = [_tile_halves(d, n_pad, rows)]
    if m is not None:
        scales.append(_tile_halves(np.asarray(m, dtype=np.float16), n_pad, rows))
    body = body.reshape(n_tiles, n_blocks, block // GROUP * GROUP_BYTES)
    data = np.concatenate([*scales, body], axis=2).reshape(-1)
    return TmacWeights(bits=bits, block=block, zero=zero, has_min=m is not None, n=n, k=k, data=data)


def _tile_halves(h: np.ndarray, n_pad: int, rows: int) -> np.ndarray:
    """fp16 (n, blocks) -> bytes (tiles, blocks, rows * 2): each record's scales for its tile's rows."""
    full = np.zeros((n_pad, h.shape[1]), dtype=np.float16)
    full[:h.shape[0]] = h
    return full.reshape(n_pad // rows, rows, -1).transpose(0, 2, 1).copy().view(np.uint8)


def unpack(w: TmacWeights) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The layout back to (codes (n, k) uint8, d (n, k / block) fp16, m or None): the reference kernels and
    dequantize() read the stream through this, never through the C code."""
    rows = tile_rows(w.bits)
    n_tiles, n_blocks = w.n_padded // rows, w.k // w.block
    rec = w.data.reshape(n_tiles, n_blocks, w.record_bytes)
    head = rows * 2

    def halves(start: int) -> np.ndarray:
        part = rec[:, :, start:start + head].copy().view(np.float16)  # (tiles, blocks, rows)
        return part.transpose(0, 2, 1).reshape(w.n_padded, n_blocks)[:w.n]

    d = halves(0)
    m = halves(head) if w.has_min else None
    body = rec[:, :, head * (1 + w.has_min):].reshape(n_tiles, w.k // GROUP, GROUP_BYTES)
    byte, high = nibble_positions(w.bits)
    codes = np.zeros((n_tiles, rows, w.k // GROUP, GROUP), dtype=np.uint8)
    for r in range(rows):
        for p in range(w.bits):
            idx = (body[:, :, byte[r, p]] >> np.uint8(4 * high[r, p])) & np.uint8(15)
            for i in range(GROUP):
                codes[:, r, :, i] |= ((idx >> np.uint8(i)) & np.uint8(1)) << np.uint8(p)
    return codes.reshape(w.n_padded, w.k)[:w.n], d, m


def dequantize(w: TmacWeights) -> np.ndarray:
    """fp32 (n, k) weights, computed as kernels/dequant.py computes llama.cpp's: d * (q - zero) (+ m)."""
    codes, d, m = unpack(w)
    n_blocks = w.k // w.block
    q = (codes.astype(np.int8) - np.int8(w.zero)).astype(np.float32).reshape(w.n, n_blocks, w.block)
    out = d.astype(np.float32)[:, :, None] * q
    if m is not None:
        out = out + m.astype(np.float32)[:, :, None]
    return out.reshape(w.n, w.k)


# ------------------------------------------------------------------------------------------------ from GGUF

def _nibbles_32(qs: np.ndarray) -> np.ndarray:
    """ggml's Q4 bytes (blocks, 16) -> codes (blocks, 32): low nibbles are elements 0..15, high ones 16..31."""
    return np.concatenate([qs & np.uint8(15), qs >> np.uint8(4)], axis=1)


def from_gguf(raw: np.ndarray, ggml_type: int, shape: tuple[int, ...]) -> TmacWeights:
    """A GGUF tensor's bytes (numpy shape (n, k)) -> the layout, exactly: Q4_0 (4-bit, zero 8), Q4_1 (4-bit with
    mins), and the ternary TQ2_0/TQ1_0 (2-bit planes, zero 1, one scale per 256)."""
    if len(shape) != 2:
        raise GGUFFormatError(f"T-MAC takes 2-D weight matrices, got shape {shape}")
    n, k = (int(v) for v in shape)
    if ggml_type not in (Q4_0, Q4_1, TQ1_0, TQ2_0):
        raise GGUFFormatError(f"no exact T-MAC layout for {type_name(ggml_type)} tensors "
                              "(supported: Q4_0, Q4_1, TQ1_0, TQ2_0)")
    block, block_bytes = GGML_BLOCK_SIZES[ggml_type]
    flat = np.ascontiguousarray(raw).reshape(-1).view(np.uint8)
    if k % block or flat.size != n * k // block * block_bytes:
        raise GGUFFormatError(f"{type_name(ggml_type)} tensor of shape {shape} does not match its {flat.size:,} bytes")
    blocks = flat.reshape(n * k // block, block_bytes)
    if ggml_type in (TQ1_0, TQ2_0):
        q, d16 = (tq2_0_codes if ggml_type == TQ2_0 else tq1_0_codes)(blocks)
        return pack(q.reshape(n, k), d16.reshape(n, k // block), bits=2, block=block, zero=1)
    d = blocks[:, 0:2].copy().view(np.float16).reshape(n, k // block)
    if ggml_type == Q4_0:
        codes = _nibbles_32(blocks[:, 2:]).reshape(n, k)
        return pack(codes, d, bits=4, block=block, zero=8)
    m = blocks[:, 2:4].copy().view(np.float16).reshape(n, k // block)
    codes = _nibbles_32(blocks[:, 4:]).reshape(n, k)
    return pack(codes, d, m, bits=4, block=block)
