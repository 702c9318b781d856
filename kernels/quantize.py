"""Blockwise INT4/INT8 weight quantizers (symmetric, asymmetric, per-channel) and a BitNet-style ternary quantizer.

A weight matrix is [rows, K] with blocks running along K, the reduction axis: that is GGUF's [out, in] = [N, K]
layout and MatMulNBits' B layout, so a quantized matrix packs without a transpose. Codes are unsigned; a value is
always `scale * (code - zero_point)`, the zero point being 2**(bits-1) when `zero_points` is None (MatMulNBits'
default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class QuantizationError(ValueError):
    """The matrix or the options cannot be quantized; the message says which and why in one line."""


@dataclass(frozen=True, slots=True)
class QuantizedMatrix:
    """Codes, per-block scales and optional zero points of a [rows, K] matrix; K is padded up to whole blocks."""

    bits: int
    block: int  # elements per block along K (K itself, rounded up, for per-channel)
    q: np.ndarray  # uint8 codes [rows, n_blocks * block], one code per byte
    scales: np.ndarray  # float32 [rows, n_blocks]
    zero_points: np.ndarray | None  # uint8 [rows, n_blocks], or None for the symmetric default 2**(bits-1)
    shape: tuple[int, int]  # (rows, K) of the original matrix

    @property
    def n_blocks(self) -> int:
        return self.scales.shape[1]

    @property
    def default_zero_point(self) -> int:
        return 1 << (self.bits - 1)

    def dequantize(self) -> np.ndarray:
        """The float32 [rows, K] matrix the codes stand for (padding dropped)."""
        rows, k = self.shape
        codes = self.q.reshape(rows, self.n_blocks, self.block).astype(np.float32)
        zp = (np.float32(self.default_zero_point) if self.zero_points is None
              else self.zero_points.astype(np.float32)[:, :, None])
        return ((codes - zp) * self.scales[:, :, None]).reshape(rows, -1)[:, :k]


def _check_matrix(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w)
    if w.ndim != 2:
        raise QuantizationError(f"expected a 2-D weight matrix [rows, K], got shape {w.shape}")
    if w.size == 0:
        raise QuantizationError(f"cannot quantize an empty matrix of shape {w.shape}")
    if not np.issubdtype(w.dtype, np.floating):
        raise QuantizationError(f"expected floating-point weights, got {w.dtype}")
    w = w.astype(np.float32, copy=False)
    if not np.isfinite(w).all():
        raise QuantizationError("weights contain NaN or infinity")
    return w


def _blocks(w: np.ndarray, block: int | None) -> tuple[np.ndarray, int]:
    """[rows, K] -> zero-padded [rows, n_blocks, block]; block None means one block per row (per-channel)."""
    rows, k = w.shape
    if block is None:
        block = k
    elif block < 16 or block & (block - 1):
        raise QuantizationError(f"block size must be a power of two of at least 16 (got {block})")
    n_blocks = -(-k // block)
    if n_blocks * block != k:
        # Zero padding never changes a block's scale: symmetric scales follow max |w|, and the asymmetric range
        # always includes 0.
        w = np.pad(w, ((0, 0), (0, n_blocks * block - k)))
    return w.reshape(rows, n_blocks, block), block


def _safe_inverse(scales: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(scales == 0, np.float32(0), np.float32(1) / scales).astype(np.float32)


def quantize_blockwise(w: np.ndarray, bits: int = 4, block: int | None = 32, *,
                       symmetric: bool = True) -> QuantizedMatrix:
    """Quantize [rows, K] in blocks of `block` along K (None: per-channel) to `bits` = 4 or 8.

    Symmetric: scale = max|w| / (2**(bits-1) - 1), codes centred on 2**(bits-1), so the most negative code is unused
    but every value is within scale/2 of its code. Asymmetric: the block's range, widened to include 0 so the
    integer zero point lies in the code range, is split into 2**bits - 1 steps; error is again at most scale/2.
    """
    if bits not in (4, 8):
        raise QuantizationError(f"bits must be 4 or 8 (got {bits})")
    w = _check_matrix(w)
    blocks, block = _blocks(w, block)
    top = (1 << bits) - 1
    if symmetric:
        mid = 1 << (bits - 1)
        scales = (np.abs(blocks).max(axis=2) / np.float32(mid - 1)).astype(np.float32)
        codes = np.rint(blocks * _safe_inverse(scales)[:, :, None]) + mid
        zero_points = None
    else:
        lo = np.minimum(blocks.min(axis=2), 0)
        hi = np.maximum(blocks.max(axis=2), 0)
        scales = ((hi - lo) / np.float32(top)).astype(np.float32)
        inv = _safe_inverse(scales)
        zp = np.clip(np.rint(-lo * inv), 0, top)
        codes = np.rint(blocks * inv[:, :, None]) + zp[:, :, None]
        zero_points = zp.astype(np.uint8)
    q = np.clip(codes, 0, top).astype(np.uint8).reshape(w.shape[0], -1)
    return QuantizedMatrix(bits=bits, block=block, q=q, scales=scales, zero_points=zero_points, shape=w.shape)


def quantize_int4(w: np.ndarray, block: int | None = 32, *, symmetric: bool = True) -> QuantizedMatrix:
    """INT4 blockwise (block 32/64/128 along K, None per-channel); see quantize_blockwise."""
    return quantize_blockwise(w, 4, block, symmetric=symmetric)


def quantize_int8(w: np.ndarray, block: int | None = 32, *, symmetric: bool = True) -> QuantizedMatrix:
    """INT8 blockwise (block 32/64/128 along K, None per-channel); see quantize_blockwise."""
    return quantize_blockwise(w, 8, block, symmetric=symmetric)


def quantize_ternary(w: np.ndarray, block: int | None = None, eps: float = 1e-6) -> QuantizedMatrix:
    """BitNet b1.58 AbsMean: scale = mean|w| (per matrix by default, or per block), codes round(w/scale) in {-1,0,1}.

    For research only: it is lossy by design (a model must be trained for it). Codes are stored as 2-bit values
    1, 2, 3 around the default zero point 2, which MatMulNBits runs with bits=2.
    """
    w = _check_matrix(w)
    rows, k = w.shape
    if block is None:
        gamma = np.float32(np.abs(w).mean())
        scaled = np.clip(np.rint(w / (gamma + np.float32(eps))), -1, 1)
        codes, blk = scaled, k
        scales = np.full((rows, 1), gamma, dtype=np.float32)
    else:
        blocks, blk = _blocks(w, block)
        # padded zeros would drag the last block's mean down: average over the real elements only
        counts = np.minimum(k - np.arange(blocks.shape[1]) * blk, blk).astype(np.float32)
        scales = (np.abs(blocks).sum(axis=2) / counts).astype(np.float32)
        codes = np.clip(np.rint(blocks / (scales + np.float32(eps))[:, :, None]), -1, 1).reshape(rows, -1)
    q = (codes + 2).astype(np.uint8)
    return QuantizedMatrix(bits=2, block=blk, q=q, scales=scales, zero_points=None, shape=(rows, k))
