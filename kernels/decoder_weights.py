"""Weights of a Qwen2/Llama GGUF decoder, packed for onnxruntime's MatMulNBits, and the same values as dense floats.

The graph builder and the numpy reference both read weights through `DecoderWeights`, so a parity test compares two
computations on identical numbers. Imports numpy and our own kernels only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .gguf_header import GGUFFormatError
from .gguf_tensors import GGUFTensors
from .matmulnbits import (
    MatMulNBitsWeights,
    pack_matmulnbits,
    q4_0_to_matmulnbits,
    q5_0_to_matmulnbits,
    q8_0_to_matmulnbits,
)
from .quantize import QuantizationError, QuantizedMatrix, quantize_int8

BLOCK = 32
# GGUF types whose codes move into MatMulNBits bit for bit at the given width; other types are dequantized and
# re-quantized blockwise (block 32, asymmetric).
EXACT = {("Q4_0", 4): q4_0_to_matmulnbits, ("Q5_0", 8): q5_0_to_matmulnbits, ("Q8_0", 8): q8_0_to_matmulnbits}


def fit_int4(w: np.ndarray, block: int = BLOCK) -> QuantizedMatrix:
    """Asymmetric 4-bit blockwise codes for a float [n, k] matrix, each block's step chosen to minimise its squared
    error among a few shrinks of the min/max range (as llama.cpp's k-quant search does): clipping one outlier often
    halves the step for the other 31 values."""
    n, k = w.shape
    blocks = w.reshape(n, k // block, block).astype(np.float32)
    lo, hi = blocks.min(axis=2), blocks.max(axis=2)
    best_err = np.full(lo.shape, np.inf, dtype=np.float32)
    best_scale = np.ones(lo.shape, dtype=np.float32)
    best_zp = np.zeros(lo.shape, dtype=np.float32)
    for shrink in (1.0, 0.96, 0.92, 0.88, 0.84, 0.8):
        scale = (hi - lo) * np.float32(shrink / 15.0)
        scale = np.where(scale > 0, scale, np.float32(1.0))
        zp = np.clip(np.rint(-lo / scale), 0, 15)
        codes = np.clip(np.rint(blocks / scale[..., None]) + zp[..., None], 0, 15)
        err = (((codes - zp[..., None]) * scale[..., None] - blocks) ** 2).sum(axis=2)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best_scale = np.where(better, scale, best_scale)
        best_zp = np.where(better, zp, best_zp)
    codes = np.clip(np.rint(blocks / best_scale[..., None]) + best_zp[..., None], 0, 15).astype(np.uint8)
    return QuantizedMatrix(bits=4, block=block, q=codes.reshape(n, k), scales=best_scale,
                           zero_points=best_zp.astype(np.uint8), shape=(n, k))


@dataclass(frozen=True, slots=True)
class SplitQ41:
    """GGUF Q4_1 (w = d*q + m per block of 32) as MatMulNBits codes q with scale d and the default zero point 8, plus
    block offsets c = m + 8d [n, k/32]: x @ w.T = MatMulNBits(x) + blocksum(x) @ c.T. Exact, and fast: onnxruntime's
    CPU kernel takes Q4_1 whole only with float zero points, which it runs ~80x slower (24 ms vs 0.09 ms for
    4864x896). Zero point 8 rather than 0 centres the codes, so the int8 rounding of activations (accuracy_level 4)
    is multiplied by |q - 8| <= 8, not q <= 15: perplexity 1.025x llama.cpp's with zero point 0 on SmolLM2."""

    codes: MatMulNBitsWeights
    offsets: np.ndarray  # float32 [n, k / 32]


def split_q4_1(raw: np.ndarray, shape: tuple[int, int]) -> SplitQ41:
    n, k = shape
    blocks = np.asarray(raw, dtype=np.uint8).reshape(n, k // 32, 20)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    m = blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    qs = blocks[..., 4:]
    codes = np.concatenate([qs & 0x0F, qs >> 4], axis=2).reshape(n, k)  # ggml: low nibbles first, then high
    qm = QuantizedMatrix(bits=4, block=32, q=codes, scales=d, zero_points=None, shape=(n, k))
    return SplitQ41(pack_matmulnbits(qm), np.ascontiguousarray(m + 8 * d))


@dataclass(frozen=True, slots=True)
class QuantPolicy:
    """Which GGUF tensor types get 8-bit MatMulNBits weights; the rest get 4 bits.

    Q8_0 (and Q5_0, when listed) convert to 8 bits exactly, Q4_0 to 4 bits exactly, Q4_1 to 4 bits exactly with its
    offsets split out (SplitQ41). Q6_K keeps 8 bits because 4 would throw away what its author chose to keep for the
    most sensitive tensors. Other types are re-quantized (8 bits asymmetric, or 4 bits by fit_int4).
    """

    int8_types: tuple[str, ...] = ("Q8_0", "Q6_K")

    def bits(self, kind: str) -> int:
        return 8 if kind in self.int8_types else 4

    def convert(self, kind: str, raw: np.ndarray, shape: tuple[int, int], dense: Any) -> MatMulNBitsWeights:
        bits = self.bits(kind)
        if (kind, bits) in EXACT:
            return EXACT[(kind, bits)](raw, shape)
        qm = quantize_int8(dense(), BLOCK, symmetric=False) if bits == 8 else fit_int4(dense())
        return pack_matmulnbits(qm)


class GGUFError(ValueError):
    """The GGUF file cannot be read as a decoder; the message names the problem in one line."""


class DecoderWeights:
    """Reads a GGUF (memory-mapped) and hands out each weight as the graph needs it (packed) and as the reference
    needs it (dense float32 of exactly the packed values, or of the GGUF's own values with `original=True`)."""

    def __init__(self, path: str | Path, policy: QuantPolicy = QuantPolicy()) -> None:
        self.path = Path(path)
        try:
            self._file = GGUFTensors.open(self.path)
        except (GGUFFormatError, OSError) as exc:
            raise GGUFError(f"{self.path.name} is not a readable GGUF file: {exc}") from None
        self.metadata: dict[str, Any] = self._file.metadata
        self._policy = policy
        self._packed: dict[str, MatMulNBitsWeights] = {}
        self._offsets: dict[str, np.ndarray] = {}

    @property
    def names(self) -> set[str]:
        return set(self._file.names)

    @property
    def vocab(self) -> int:
        return self._file.info("token_embd.weight").shape[0] if "token_embd.weight" in self._file else 0

    def kind(self, name: str) -> str:
        return self._file.info(name).type_name

    def _dequantize(self, name: str) -> np.ndarray:
        try:
            return self._file.dequantize(name)
        except (GGUFFormatError, ValueError, KeyError) as exc:
            raise GGUFError(f"{self.path.name}: cannot read tensor {name}: {exc}") from None

    def dense(self, name: str, *, original: bool = False) -> np.ndarray:
        """Float32 tensor in numpy order ([out, in] for matrices)."""
        if original or len(self._file.info(name).shape) == 1:
            return self._dequantize(name)
        w = self.packed(name).dequantize()
        offsets = self.offsets(name)
        return w if offsets is None else w + np.repeat(offsets, BLOCK, axis=1)

    def embedding_codes(self) -> MatMulNBitsWeights | None:
        """The token embedding as exact 8-bit blocks (Q8_0, Q5_0) for GatherBlockQuantized, else None.

        Exact rows matter for greedy agreement with llama.cpp: an fp16 table (2^-11 relative error) moved 2% of
        top-1 picks on SmolLM2 (agreement with llama.cpp's logits 95.0% -> 97.0% with exact rows)."""
        info = self._file.info("token_embd.weight")
        convert = {"Q8_0": q8_0_to_matmulnbits, "Q5_0": q5_0_to_matmulnbits}.get(info.type_name)
        return None if convert is None else convert(self._file.raw("token_embd.weight"), info.shape)

    def embedding_table(self) -> np.ndarray:
        """The token embedding rows the graph gathers: exact float32 when `embedding_codes` holds them, else fp16
        [vocab, hidden] (Gather reads one row per token, so half the bytes cost nothing in speed)."""
        table = self._dequantize("token_embd.weight")
        return table if self.kind("token_embd.weight") in ("Q8_0", "Q5_0") else table.astype(np.float16)

    def packed(self, name: str) -> MatMulNBitsWeights:
        if name not in self._packed:
            info = self._file.info(name)
            if len(info.shape) != 2 or info.shape[1] % BLOCK:
                raise GGUFError(f"{self.path.name}: tensor {name} of shape {info.shape} is not a [out, in] matrix "
                                f"with in a multiple of {BLOCK}")
            try:
                if info.type_name == "Q4_1" and self._policy.bits("Q4_1") == 4:
                    split = split_q4_1(self._file.raw(name), info.shape)
                    self._packed[name], self._offsets[name] = split.codes, split.offsets
                    return split.codes
                self._packed[name] = self._policy.convert(info.type_name, self._file.raw(name), info.shape,
                                                          lambda: self._dequantize(name))
            except QuantizationError as exc:
                raise GGUFError(f"{self.path.name}: cannot quantize tensor {name}: {exc}") from None
        return self._packed[name]

    def offsets(self, name: str) -> np.ndarray | None:
        """Per-block offsets [n, k/32] to add to `packed(name)`'s product (Q4_1 only), else None."""
        self.packed(name)
        return self._offsets.get(name)

    def release(self, name: str) -> None:
        """Forget a packed matrix once the graph holds it, so building a model does not keep two copies."""
        self._packed.pop(name, None)
        self._offsets.pop(name, None)

    def close(self) -> None:
        self._file.close()
