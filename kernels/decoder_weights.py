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
from .matmulnbits import (MatMulNBitsWeights, pack_matmulnbits, q4_0_to_matmulnbits, q4_1_to_matmulnbits,
                          q5_0_to_matmulnbits, q8_0_to_matmulnbits)
from .quantize import QuantizationError, quantize_int4, quantize_int8

BLOCK = 32
# How each GGUF type becomes MatMulNBits weights. "direct": codes moved bit for bit (exact); "int4"/"int8":
# dequantized and re-quantized blockwise (block 32; int4 asymmetric, int8 symmetric).
DIRECT = {"Q4_0": q4_0_to_matmulnbits, "Q4_1": q4_1_to_matmulnbits, "Q5_0": q5_0_to_matmulnbits,
          "Q8_0": q8_0_to_matmulnbits}


@dataclass(frozen=True, slots=True)
class QuantPolicy:
    """Which GGUF tensor types keep 8 bits. 4 bits everywhere is fastest; a type listed here is converted exactly
    (Q8_0, Q5_0) or re-quantized to 8 bits (Q6_K, ...) because 4 bits would throw away what its author kept."""

    int8_types: tuple[str, ...] = ("Q8_0", "Q6_K")

    def convert(self, kind: str, raw: np.ndarray, shape: tuple[int, int], dense: Any) -> MatMulNBitsWeights:
        eight = kind in self.int8_types
        direct = DIRECT.get(kind)
        if direct is not None:
            bits = 8 if kind in ("Q8_0", "Q5_0") else 4
            if bits == (8 if eight else 4):
                return direct(raw, shape)
        qm = quantize_int8(dense(), BLOCK) if eight else quantize_int4(dense(), BLOCK, symmetric=False)
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
        return self.packed(name).dequantize()

    def embedding_table(self) -> np.ndarray:
        """The token embedding as fp16 [vocab, hidden]: Gather reads one row per token, so half the bytes on disk
        and in memory cost nothing in speed; fp16 keeps Q8_0/Q5_0 rows to within 2^-11 relative."""
        return self._dequantize("token_embd.weight").astype(np.float16)

    def packed(self, name: str) -> MatMulNBitsWeights:
        if name not in self._packed:
            info = self._file.info(name)
            if len(info.shape) != 2 or info.shape[1] % BLOCK:
                raise GGUFError(f"{self.path.name}: tensor {name} of shape {info.shape} is not a [out, in] matrix "
                                f"with in a multiple of {BLOCK}")
            try:
                self._packed[name] = self._policy.convert(info.type_name, self._file.raw(name), info.shape,
                                                          lambda: self._dequantize(name))
            except QuantizationError as exc:
                raise GGUFError(f"{self.path.name}: cannot quantize tensor {name}: {exc}") from None
        return self._packed[name]

    def release(self, name: str) -> None:
        """Forget a packed matrix once the graph holds it, so building a model does not keep two copies."""
        self._packed.pop(name, None)

    def close(self) -> None:
        self._file.close()
