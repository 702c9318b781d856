"""Weights of a Qwen2/Llama GGUF decoder, packed for onnxruntime's MatMulNBits, and the same values as dense floats.

The graph builder and the numpy reference both read weights through `DecoderWeights`, so a parity test compares two
computations on identical numbers. Never imports anything beyond numpy: GGUF tensors come through one private reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BLOCK = 32


@dataclass(frozen=True, slots=True)
class PackedMatrix:
    """A [n, k] weight in MatMulNBits layout: `b` is uint8 [n, k/block, block*bits/8], `scales` float32 [n*k/block],
    `zero_points` uint8 packed per row, or float32 [n*k/block] (None: the op's default 8 for 4 bits, 128 for 8)."""

    n: int
    k: int
    bits: int
    block: int
    b: np.ndarray
    scales: np.ndarray
    zero_points: np.ndarray | None

    def dequantize(self) -> np.ndarray:
        """The float32 [n, k] matrix MatMulNBits multiplies by, exactly as the op sees it."""
        blocks = self.k // self.block
        if self.bits == 4:
            q = np.empty((self.n, blocks, self.block), dtype=np.float32)
            q[..., 0::2] = self.b & 0x0F
            q[..., 1::2] = self.b >> 4
            if self.zero_points is None:
                zp = np.full((self.n, blocks), 8, dtype=np.float32)
            elif self.zero_points.dtype != np.uint8:
                zp = self.zero_points.reshape(self.n, blocks).astype(np.float32)
            else:
                zp2 = np.empty((self.n, self.zero_points.shape[1] * 2), dtype=np.float32)
                zp2[:, 0::2] = self.zero_points & 0x0F
                zp2[:, 1::2] = self.zero_points >> 4
                zp = zp2[:, :blocks]
        else:
            q = self.b.astype(np.float32)
            zp = (np.full((self.n, blocks), 128, dtype=np.float32) if self.zero_points is None
                  else self.zero_points.astype(np.float32))
        s = self.scales.reshape(self.n, blocks, 1)
        return ((q - zp[..., None]) * s).reshape(self.n, self.k)


def pack_int4(w: np.ndarray, block: int = BLOCK) -> PackedMatrix:
    """Asymmetric 4-bit blockwise quantization of a float [n, k] matrix (min/max per block, uint8 zero points).

    Asymmetric because GGUF's re-quantized tensors (Q5_0, Q4_K, Q6_K) are rarely centred on zero per block; a free zero
    point spends the 16 levels on the block's real range.
    """
    n, k = w.shape
    blocks = w.reshape(n, k // block, block).astype(np.float32)
    lo = blocks.min(axis=2)
    hi = blocks.max(axis=2)
    scale = (hi - lo) / 15.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    zp = np.clip(np.round(-lo / scale), 0, 15)
    q = np.clip(np.round(blocks / scale[..., None] + zp[..., None]), 0, 15).astype(np.uint8)
    b = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    zpu = zp.astype(np.uint8)
    if zpu.shape[1] % 2:
        zpu = np.concatenate([zpu, np.zeros((n, 1), np.uint8)], axis=1)
    zpp = (zpu[:, 0::2] | (zpu[:, 1::2] << 4)).astype(np.uint8)
    return PackedMatrix(n, k, 4, block, np.ascontiguousarray(b), scale.reshape(-1), np.ascontiguousarray(zpp))


def pack_int8(w: np.ndarray, block: int = BLOCK) -> PackedMatrix:
    """Symmetric 8-bit blockwise quantization (zero point 128): for the tensors 4 bits would hurt most."""
    n, k = w.shape
    blocks = w.reshape(n, k // block, block).astype(np.float32)
    scale = np.abs(blocks).max(axis=2) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.clip(np.round(blocks / scale[..., None]), -127, 127).astype(np.int16) + 128
    return PackedMatrix(n, k, 8, block, np.ascontiguousarray(q.astype(np.uint8)), scale.reshape(-1), None)


def q8_0_to_int8(raw: np.ndarray, n: int, k: int) -> PackedMatrix:
    """GGUF Q8_0 (fp16 scale d, 32 int8 q: d*q) is MatMulNBits 8-bit block 32 with zero point 128, bit for bit."""
    blocks = raw.reshape(n, k // 32, 34)
    d = blocks[..., :2].copy().view(np.float16).astype(np.float32).reshape(-1)
    q = (blocks[..., 2:].view(np.int8).astype(np.int16) + 128).astype(np.uint8)
    return PackedMatrix(n, k, 8, 32, np.ascontiguousarray(q), d, None)


def q4_0_to_int4(raw: np.ndarray, n: int, k: int) -> PackedMatrix:
    """GGUF Q4_0 (d*(q-8), element j in the low nibble of byte j, j+16 in its high nibble) is MatMulNBits 4-bit with
    the default zero point 8: only the nibble order changes."""
    blocks = raw.reshape(n, k // 32, 18)
    d = blocks[..., :2].copy().view(np.float16).astype(np.float32).reshape(-1)
    qs = blocks[..., 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=2)
    b = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return PackedMatrix(n, k, 4, 32, np.ascontiguousarray(b), d, None)


def q4_1_to_int4(raw: np.ndarray, n: int, k: int) -> PackedMatrix:
    """GGUF Q4_1 (d*q + m) is MatMulNBits 4-bit with scale d and a float zero point -m/d, exactly: no float round
    trip of the weights, only the nibble order changes."""
    blocks = raw.reshape(n, k // 32, 20)
    d = blocks[..., :2].copy().view(np.float16).astype(np.float32)[..., 0]
    m = blocks[..., 2:4].copy().view(np.float16).astype(np.float32)[..., 0]
    qs = blocks[..., 4:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=2)
    flat = d == 0
    # A block of one repeated value (d = 0) is still exact: q = 0 with scale m/8 and zero point -8.
    q = np.where(flat[..., None], 0, q)
    scale = np.where(flat, np.where(m != 0, m / 8.0, 1.0), d).astype(np.float32)
    zp = np.where(flat, -8.0, -m / np.where(flat, 1.0, d)).astype(np.float32)
    b = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return PackedMatrix(n, k, 4, 32, np.ascontiguousarray(b), scale.reshape(-1), zp.reshape(-1))


class GGUFError(ValueError):
    """The GGUF file cannot be read as a decoder; the message names the problem in one line."""


def _gguf_tensors(path: Path) -> dict[str, tuple[str, tuple[int, ...], np.ndarray]]:
    """name -> (ggml type name, numpy-order shape, raw bytes as uint8 or float array), plus metadata under ''."""
    # Development stand-in until kernels/gguf_tensors.py lands; the only place that touches the `gguf` package.
    import gguf

    reader = gguf.GGUFReader(str(path))
    out: dict[str, Any] = {}
    for t in reader.tensors:
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))
        out[t.name] = (t.tensor_type.name, shape, t.data)
    meta: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if len(field.types) == 1 and field.types[0] != gguf.GGUFValueType.ARRAY:
            val = field.parts[field.data[0]]
            if field.types[0] == gguf.GGUFValueType.STRING:
                meta[key] = bytes(val).decode("utf-8", errors="replace")
            else:
                meta[key] = val.tolist()[0]
    out[""] = meta
    return out


def _dequantize(kind: str, shape: tuple[int, ...], data: np.ndarray) -> np.ndarray:
    import gguf

    return np.asarray(gguf.quants.dequantize(data, gguf.GGMLQuantizationType[kind]), dtype=np.float32).reshape(shape)


class DecoderWeights:
    """Reads a GGUF once and hands out each weight as the graph needs it (packed) and as the reference needs it
    (dense float32 of exactly the packed values, or of the GGUF's own values with `original=True`)."""

    def __init__(self, path: str | Path, *, int8_types: tuple[str, ...] = ("Q8_0", "Q6_K")) -> None:
        self.path = Path(path)
        try:
            self._tensors = _gguf_tensors(self.path)
        except (ValueError, OSError, KeyError, IndexError) as exc:
            raise GGUFError(f"{self.path.name} is not a readable GGUF file: {exc}") from None
        self.metadata: dict[str, Any] = self._tensors.pop("")
        # GGUF types whose matrices get 8 bits instead of 4: Q8_0 converts to 8 bits exactly, and 4 bits would throw
        # away most of what a 6- or 8-bit tensor's author chose to keep (llama.cpp mixes keep them for the tensors
        # that hurt perplexity most: the LM head, some attn_v and ffn_down).
        self._int8_types = int8_types
        self._packed: dict[str, PackedMatrix] = {}

    @property
    def names(self) -> set[str]:
        return set(self._tensors)

    @property
    def vocab(self) -> int:
        return self._tensors["token_embd.weight"][1][0] if "token_embd.weight" in self._tensors else 0

    def has(self, name: str) -> bool:
        return name in self._tensors

    def kind(self, name: str) -> str:
        return self._tensors[name][0]

    def dense(self, name: str, *, original: bool = False) -> np.ndarray:
        """Float32 tensor in numpy order ([out, in] for matrices)."""
        kind, shape, data = self._tensors[name]
        if original or len(shape) == 1:
            return _dequantize(kind, shape, data)
        return self.packed(name).dequantize()

    def embedding_table(self) -> np.ndarray:
        """The token embedding as fp16 [vocab, hidden]: Gather reads one row per token, so half the bytes on disk
        and in memory cost nothing in speed; fp16 keeps Q8_0/Q5_0 rows to within 2^-11 relative."""
        return self.dense("token_embd.weight", original=True).astype(np.float16)

    def packed(self, name: str) -> PackedMatrix:
        if name not in self._packed:
            self._packed[name] = self._pack(name)
        return self._packed[name]

    def _pack(self, name: str) -> PackedMatrix:
        kind, shape, data = self._tensors[name]
        n, k = shape
        if k % BLOCK:
            raise GGUFError(f"{self.path.name}: tensor {name} has {k} columns, not a multiple of {BLOCK}")
        eight = kind in self._int8_types
        raw = np.asarray(data).view(np.uint8)
        if eight and kind == "Q8_0":
            return q8_0_to_int8(raw, n, k)
        if not eight and kind == "Q4_0":
            return q4_0_to_int4(raw, n, k)
        if not eight and kind == "Q4_1":
            return q4_1_to_int4(raw, n, k)
        w = _dequantize(kind, shape, data)
        return pack_int8(w) if eight else pack_int4(w)

    def release(self, name: str) -> None:
        """Forget a packed matrix once the graph holds it, so building a model does not keep two copies."""
        self._packed.pop(name, None)
