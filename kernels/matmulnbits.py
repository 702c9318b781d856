"""Packing of quantized weights into onnxruntime's com.microsoft MatMulNBits layout, and direct GGUF conversions.

MatMulNBits computes Y = A @ dequant(B)^T with B stored [N, K] (one row per output, blocks along K): GGUF's
[out, in] layout, so GGUF tensors need no transpose. For Y = X @ W with W [K, N], quantize W.T. Codes are packed
low bits first, `8 // bits` per byte; uint8 zero points likewise per row; scales are [N * k_blocks].
The direct conversions move GGUF codes bit for bit and never round-trip weights through float.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .gguf_header import GGUFFormatError
from .quantize import QuantizationError, QuantizedMatrix

MS_DOMAIN = "com.microsoft"
# ggml type numbers of the blocks converted directly
Q4_0, Q4_1, Q5_0, Q8_0 = 2, 3, 6, 8


@dataclass(frozen=True, slots=True)
class MatMulNBitsWeights:
    """The constant inputs and attributes of one MatMulNBits node."""

    B: np.ndarray  # uint8 [N, k_blocks, block_size * bits / 8]
    scales: np.ndarray  # float32 or float16 [N * k_blocks]
    zero_points: np.ndarray | None  # uint8 packed [N * ceil(k_blocks * bits / 8)], or scales' dtype [N * k_blocks]
    K: int
    N: int
    bits: int
    block_size: int

    @property
    def k_blocks(self) -> int:
        return self.B.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes a GEMV reads: packed codes, scales and zero points."""
        return self.B.nbytes + self.scales.nbytes + (0 if self.zero_points is None else self.zero_points.nbytes)

    def dequantize(self) -> np.ndarray:
        """The float32 [N, K] matrix the node multiplies by, decoded from the packed layout (the tests' oracle)."""
        n, nb, bs = self.N, self.k_blocks, self.block_size
        codes = _unpack(self.B.reshape(n, -1), self.bits).reshape(n, nb, bs).astype(np.float32)
        if self.zero_points is None:
            zp = np.full((n, nb), 1 << (self.bits - 1), dtype=np.float32)
        elif self.zero_points.dtype == np.uint8:
            zp = _unpack(self.zero_points.reshape(n, -1), self.bits)[:, :nb].astype(np.float32)
        else:
            zp = self.zero_points.astype(np.float32).reshape(n, nb)
        scales = self.scales.astype(np.float32).reshape(n, nb)
        return ((codes - zp[:, :, None]) * scales[:, :, None]).reshape(n, -1)[:, :self.K]


def _pack(codes: np.ndarray, bits: int) -> np.ndarray:
    """[rows, n] codes < 2**bits -> [rows, n * bits / 8] bytes, the first code in the lowest bits."""
    per = 8 // bits
    c = codes.reshape(codes.shape[0], -1, per).astype(np.uint8)
    out = c[:, :, 0].copy()
    for i in range(1, per):
        out |= c[:, :, i] << np.uint8(bits * i)
    return out


def _unpack(packed: np.ndarray, bits: int) -> np.ndarray:
    per = 8 // bits
    shifts = (np.arange(per, dtype=np.uint8) * bits).reshape(1, 1, per)
    return ((packed[:, :, None] >> shifts) & np.uint8((1 << bits) - 1)).reshape(packed.shape[0], -1)


def _pack_zero_points(zp: np.ndarray, bits: int) -> np.ndarray:
    per = 8 // bits
    rows, nb = zp.shape
    padded = np.zeros((rows, -(-nb // per) * per), dtype=np.uint8)
    padded[:, :nb] = zp
    return _pack(padded, bits).reshape(-1)


def pack_matmulnbits(qm: QuantizedMatrix, *, scale_dtype: type = np.float32) -> MatMulNBitsWeights:
    """Pack a [N, K] QuantizedMatrix (bits 2, 4 or 8) for MatMulNBits; scales in `scale_dtype` (A's type).

    A block that is not a power of two (per-channel or per-tensor ternary) becomes one block of the next power of
    two, padded with the zero point's code so the padding multiplies to nothing.
    """
    if qm.bits not in (2, 4, 8):
        raise QuantizationError(f"MatMulNBits takes 2, 4 or 8 bits (got {qm.bits})")
    if np.dtype(scale_dtype) not in (np.float32, np.float16):
        raise QuantizationError(f"scales must be float32 or float16 (got {np.dtype(scale_dtype)})")
    n, k = qm.shape
    codes, block = qm.q, qm.block
    if block < 16 or block & (block - 1):
        if qm.n_blocks != 1:
            raise QuantizationError(f"block size {block} is not a power of two of at least 16")
        block = max(16, 1 << (block - 1).bit_length())
        pad = np.full((n, block - codes.shape[1]), qm.default_zero_point, dtype=np.uint8)
        if qm.zero_points is not None:
            pad[:] = qm.zero_points[:, :1]
        codes = np.concatenate([codes, pad], axis=1)
    nb = codes.shape[1] // block
    b = _pack(codes, qm.bits).reshape(n, nb, block * qm.bits // 8)
    zp = None if qm.zero_points is None else _pack_zero_points(qm.zero_points, qm.bits)
    return MatMulNBitsWeights(B=b, scales=qm.scales.astype(scale_dtype).reshape(-1), zero_points=zp,
                              K=k, N=n, bits=qm.bits, block_size=block)


def _gguf_blocks(raw: np.ndarray, shape: tuple[int, ...], block_bytes: int, type_name: str) -> np.ndarray:
    """The raw bytes of a [N, K] GGUF tensor as [N, K / 32, block_bytes], after checking they fit."""
    if len(shape) != 2 or shape[1] % 32:
        raise GGUFFormatError(f"{type_name} conversion needs a [N, K] matrix with K a multiple of 32, got {shape}")
    n, k = shape
    flat = np.asarray(raw).reshape(-1).view(np.uint8)
    if flat.size != n * k // 32 * block_bytes:
        raise GGUFFormatError(f"{type_name} tensor of shape {shape} needs {n * k // 32 * block_bytes:,} bytes "
                              f"but got {flat.size:,}")
    return flat.reshape(n, k // 32, block_bytes)


def _ggml_nibbles(qs: np.ndarray) -> np.ndarray:
    """ggml 4-bit blocks [..., 16] -> codes [..., 32]: element j is the low nibble of byte j, 16+j the high one."""
    return np.concatenate([qs & np.uint8(0x0F), qs >> np.uint8(4)], axis=-1)


def _f16_field(blocks: np.ndarray, start: int) -> np.ndarray:
    return np.ascontiguousarray(blocks[:, :, start:start + 2]).view(np.float16)[:, :, 0]


def q4_0_to_matmulnbits(raw: np.ndarray, shape: tuple[int, ...], *,
                        scale_dtype: type = np.float32) -> MatMulNBitsWeights:
    """GGUF Q4_0 [N, K] -> 4-bit, block 32, scale d, default zero point 8: w = d * (q - 8) exactly as ggml's."""
    blocks = _gguf_blocks(raw, shape, 18, "Q4_0")
    n, nb, _ = blocks.shape
    codes = _ggml_nibbles(blocks[:, :, 2:]).reshape(n, -1)
    return MatMulNBitsWeights(B=_pack(codes, 4).reshape(n, nb, 16),
                              scales=_f16_field(blocks, 0).astype(scale_dtype).reshape(-1),
                              zero_points=None, K=shape[1], N=n, bits=4, block_size=32)


def q4_1_to_matmulnbits(raw: np.ndarray, shape: tuple[int, ...], *,
                        scale_dtype: type = np.float32) -> MatMulNBitsWeights:
    """GGUF Q4_1 [N, K] (w = d*q + m) -> 4-bit, block 32, scale d and float zero point -m/d in the scales' type.

    onnxruntime's CPU kernel accepts 4-bit zero points of A's float type. (q - (-m/d)) * d equals d*q + m up to
    fp32 rounding of -m/d and of the subtraction (a few ulp of |m|, ~1e-7 relative), so this is not bit-exact;
    blocks with d = 0 (w = m everywhere) are exact: codes 1, zero point 0, scale m.
    """
    blocks = _gguf_blocks(raw, shape, 20, "Q4_1")
    n, nb, _ = blocks.shape
    d = _f16_field(blocks, 0).astype(np.float32)
    m = _f16_field(blocks, 2).astype(np.float32)
    codes = _ggml_nibbles(blocks[:, :, 4:])
    flat_d = d == 0
    if flat_d.any():
        codes = np.where(flat_d[:, :, None], np.uint8(1), codes)
    with np.errstate(divide="ignore", invalid="ignore"):
        zp = np.where(flat_d, np.float32(0), -m / d)
    scales = np.where(flat_d, m, d)
    return MatMulNBitsWeights(B=_pack(codes.reshape(n, -1), 4).reshape(n, nb, 16),
                              scales=scales.astype(scale_dtype).reshape(-1),
                              zero_points=zp.astype(scale_dtype).reshape(-1),
                              K=shape[1], N=n, bits=4, block_size=32)


def q8_0_to_matmulnbits(raw: np.ndarray, shape: tuple[int, ...], *,
                        scale_dtype: type = np.float32) -> MatMulNBitsWeights:
    """GGUF Q8_0 [N, K] -> 8-bit, block 32, scale d, default zero point 128 (code = int8 + 128): exact."""
    blocks = _gguf_blocks(raw, shape, 34, "Q8_0")
    n, nb, _ = blocks.shape
    codes = blocks[:, :, 2:] ^ np.uint8(0x80)  # two's complement int8 + 128
    return MatMulNBitsWeights(B=np.ascontiguousarray(codes),
                              scales=_f16_field(blocks, 0).astype(scale_dtype).reshape(-1), zero_points=None,
                              K=shape[1], N=n, bits=8, block_size=32)


def q5_0_to_matmulnbits(raw: np.ndarray, shape: tuple[int, ...], *,
                        scale_dtype: type = np.float32) -> MatMulNBitsWeights:
    """GGUF Q5_0 [N, K] (w = d*(q - 16), q in 0..31) -> 8-bit codes q + 112 around zero point 128: exact.

    MatMulNBits has no 5-bit form; 8 bits hold the codes exactly at 1.6x the bytes of 5 (34 vs 22 per block).
    """
    blocks = _gguf_blocks(raw, shape, 22, "Q5_0")
    n, nb, _ = blocks.shape
    high = np.unpackbits(np.ascontiguousarray(blocks[:, :, 2:6]), axis=-1, bitorder="little")
    codes = (_ggml_nibbles(blocks[:, :, 6:]) | (high << np.uint8(4))) + np.uint8(112)
    return MatMulNBitsWeights(B=codes, scales=_f16_field(blocks, 0).astype(scale_dtype).reshape(-1),
                              zero_points=None, K=shape[1], N=n, bits=8, block_size=32)


DIRECT_CONVERSIONS = {Q4_0: q4_0_to_matmulnbits, Q4_1: q4_1_to_matmulnbits, Q5_0: q5_0_to_matmulnbits,
                      Q8_0: q8_0_to_matmulnbits}


def matmulnbits_node(weights: MatMulNBitsWeights, input_name: str, output_name: str, *, prefix: str,
                     accuracy_level: int = 0) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    """The MatMulNBits node for output = input @ W (W [K, N], stored transposed in `weights`) and its initializers,
    named `{prefix}.B`, `{prefix}.scales`, `{prefix}.zero_points`.

    accuracy_level 0 keeps fp32 arithmetic; 4 lets the CPU kernel quantize the activations to int8 blockwise, the
    fast path for GEMV, at a small loss of accuracy.
    """
    inits = [numpy_helper.from_array(weights.B, f"{prefix}.B"),
             numpy_helper.from_array(weights.scales, f"{prefix}.scales")]
    inputs = [input_name, f"{prefix}.B", f"{prefix}.scales"]
    if weights.zero_points is not None:
        inits.append(numpy_helper.from_array(weights.zero_points, f"{prefix}.zero_points"))
        inputs.append(f"{prefix}.zero_points")
    node = helper.make_node("MatMulNBits", inputs, [output_name], name=prefix, domain=MS_DOMAIN,
                            K=weights.K, N=weights.N, bits=weights.bits, block_size=weights.block_size,
                            accuracy_level=accuracy_level)
    return node, inits


def matmulnbits_model(weights: MatMulNBitsWeights, *, accuracy_level: int = 0) -> onnx.ModelProto:
    """A one-node model Y[M, N] = X[M, K] @ W, M dynamic: for tests and microbenchmarks."""
    elem = TensorProto.FLOAT16 if weights.scales.dtype == np.float16 else TensorProto.FLOAT
    node, inits = matmulnbits_node(weights, "X", "Y", prefix="w", accuracy_level=accuracy_level)
    graph = helper.make_graph([node], "matmulnbits", [helper.make_tensor_value_info("X", elem, ["M", weights.K])],
                              [helper.make_tensor_value_info("Y", elem, ["M", weights.N])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS_DOMAIN, 1)])
    model.ir_version = 9  # readable by onnxruntime 1.18+, the oldest the project allows
    return model
