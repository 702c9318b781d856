"""MatMulNBits packing: a one-node model run by the real onnxruntime multiplies by exactly the matrix we quantized,
and GGUF Q4_0/Q4_1/Q5_0/Q8_0 tensors converted directly multiply by what the `gguf` package dequantizes them to."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edgemind.kernels.gguf_header import GGUFFormatError
from edgemind.kernels.gguf_tensors import GGUFTensors
from edgemind.kernels.matmulnbits import (
    MatMulNBitsWeights,
    matmulnbits_model,
    pack_matmulnbits,
    q4_0_to_matmulnbits,
    q4_1_to_matmulnbits,
    q5_0_to_matmulnbits,
    q8_0_to_matmulnbits,
)
from edgemind.kernels.quantize import QuantizationError, quantize_blockwise, quantize_ternary

U = 2.0 ** -24  # fp32 unit roundoff


def run(weights: MatMulNBitsWeights, x: np.ndarray, accuracy_level: int = 0) -> np.ndarray:
    model = matmulnbits_model(weights, accuracy_level=accuracy_level)
    onnx.checker.check_model(model)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return session.run(None, {"X": x})[0]


def assert_matches_fp32(y: np.ndarray, x: np.ndarray, w_nk: np.ndarray) -> None:
    """y equals x @ w.T up to fp32 summation order. With accuracy_level 0 the kernel dequantizes to fp32 and
    accumulates in fp32, so each output differs from the exact dot product by at most ~K*u*sum|x||w| (the
    standard bound for a length-K sum) and so does numpy's; twice that bounds their difference."""
    x64, w64 = x.astype(np.float64), w_nk.astype(np.float64)
    bound = 2 * x.shape[1] * U * (np.abs(x64) @ np.abs(w64).T) + 1e-30
    err = np.abs(y.astype(np.float64) - x64 @ w64.T)
    assert np.all(err <= bound), f"max error {err.max():.3g}, worst ratio to bound {(err / bound).max():.3g}"


def inputs(m: int, k: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((m, k)).astype(np.float32)


@pytest.mark.parametrize(("n", "k"), [(16, 64), (40, 96), (128, 896), (7, 100)])
@pytest.mark.parametrize("block", [32, 64, 128])
@pytest.mark.parametrize("symmetric", [True, False])
def test_int4_node_multiplies_by_the_dequantized_matrix(n: int, k: int, block: int, symmetric: bool) -> None:
    w = np.random.default_rng(n * k).standard_normal((n, k)).astype(np.float32)
    qm = quantize_blockwise(w, 4, block, symmetric=symmetric)
    packed = pack_matmulnbits(qm)
    np.testing.assert_array_equal(packed.dequantize(), qm.dequantize())  # the packing loses nothing
    assert packed.B.shape == (n, -(-k // block), block // 2)
    for m in (1, 5):
        x = inputs(m, k)
        assert_matches_fp32(run(packed, x), x, qm.dequantize())


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("block", [32, 128, None])
def test_int8_node_multiplies_by_the_dequantized_matrix(symmetric: bool, block: int | None) -> None:
    w = np.random.default_rng(3).standard_normal((48, 160)).astype(np.float32)
    qm = quantize_blockwise(w, 8, block, symmetric=symmetric)
    packed = pack_matmulnbits(qm)
    x = inputs(3, 160)
    assert_matches_fp32(run(packed, x), x, qm.dequantize())


@pytest.mark.parametrize("symmetric", [True, False])
def test_per_channel_int4_is_one_padded_power_of_two_block(symmetric: bool) -> None:
    w = np.random.default_rng(4).standard_normal((24, 100)).astype(np.float32)
    qm = quantize_blockwise(w, 4, None, symmetric=symmetric)
    packed = pack_matmulnbits(qm)
    assert packed.block_size == 128 and packed.k_blocks == 1
    x = inputs(2, 100)
    assert_matches_fp32(run(packed, x), x, qm.dequantize())


def test_ternary_runs_as_two_bit_matmulnbits() -> None:
    w = np.random.default_rng(5).standard_normal((32, 64)).astype(np.float32)
    qm = quantize_ternary(w)
    packed = pack_matmulnbits(qm)
    assert packed.bits == 2 and packed.B.shape == (32, 1, 16)
    x = inputs(2, 64)
    assert_matches_fp32(run(packed, x), x, qm.dequantize())


def test_accuracy_level_4_stays_within_the_int8_activation_error() -> None:
    # Level 4 quantizes each block of X to int8 (scale max|x|/127): every x moves by at most half a step, so an
    # output moves by at most sum over blocks of (max|x_blk| / 254) * sum|w_blk|; we allow twice that.
    n, k, block = 64, 256, 32
    w = np.random.default_rng(6).standard_normal((n, k)).astype(np.float32)
    packed = pack_matmulnbits(quantize_blockwise(w, 4, block))
    wd = packed.dequantize()
    x = inputs(1, k)
    y = run(packed, x, accuracy_level=4)
    xb = np.abs(x).reshape(1, -1, block).max(axis=2) / 254  # [1, k_blocks]
    wb = np.abs(wd).reshape(n, -1, block).sum(axis=2)  # [n, k_blocks]
    bound = 2 * (xb @ wb.T)
    assert np.all(np.abs(y - x @ wd.T) <= bound)


def test_fp16_scales_run_with_fp16_activations() -> None:
    w = np.random.default_rng(8).standard_normal((32, 64)).astype(np.float32)
    packed = pack_matmulnbits(quantize_blockwise(w, 4, 32), scale_dtype=np.float16)
    x = inputs(2, 64).astype(np.float16)
    y = run(packed, x)
    assert y.dtype == np.float16
    # fp16 output: ~3 significant digits
    np.testing.assert_allclose(y.astype(np.float32), x.astype(np.float32) @ packed.dequantize().T,
                               rtol=2e-2, atol=2e-2)


def test_bad_packing_options_are_named() -> None:
    qm = quantize_blockwise(np.ones((4, 32), np.float32), 4, 32)
    with pytest.raises(QuantizationError, match="float32 or float16"):
        pack_matmulnbits(qm, scale_dtype=np.float64)


# ---- direct GGUF conversions ---------------------------------------------------------------------------------------

def gguf_blocks(type_name: str, n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw bytes of an [n, k] tensor quantized by the reference package, and its reference dequantization."""
    qtype = gguf.GGMLQuantizationType[type_name]
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((n, k)) * rng.uniform(0.01, 1, (n, 1)) + rng.uniform(-0.2, 0.2, (n, 1)))
    w = w.astype(np.float32)
    w[0, :32] = 0.0  # a block with d = 0
    w[1, 32:64] = 0.25  # a constant block: Q4_1 has d = 0, m = 0.25
    raw = gguf.quants.quantize(w, qtype)
    return raw.reshape(-1), gguf.quants.dequantize(raw, qtype)


@pytest.mark.parametrize(("type_name", "convert", "bits"), [
    ("Q4_0", q4_0_to_matmulnbits, 4), ("Q8_0", q8_0_to_matmulnbits, 8), ("Q5_0", q5_0_to_matmulnbits, 8),
])
def test_exact_direct_conversions_equal_the_reference_dequantization(type_name: str, convert, bits: int) -> None:
    n, k = 24, 256
    raw, ref = gguf_blocks(type_name, n, k, seed=bits)
    packed = convert(raw, (n, k))
    assert (packed.bits, packed.block_size, packed.zero_points) == (bits, 32, None)
    np.testing.assert_array_equal(packed.dequantize(), ref)  # bit for bit: no float round trip
    x = inputs(4, k)
    assert_matches_fp32(run(packed, x), x, ref)


def test_q4_1_conversion_uses_float_zero_points_and_is_exact_to_fp32_rounding() -> None:
    n, k = 24, 256
    raw, ref = gguf_blocks("Q4_1", n, k, seed=11)
    packed = q4_1_to_matmulnbits(raw, (n, k))
    assert packed.zero_points is not None and packed.zero_points.dtype == np.float32
    deq = packed.dequantize()
    # ggml rounds d*q + m once; we round -m/d, q - zp and the product: each within u of a value no larger than
    # |d*q| + 2|m|, so the two differ by at most ~4u times that
    m = np.repeat(raw.reshape(n, -1, 20)[:, :, 2:4].copy().view(np.float16).astype(np.float32), 32, axis=2)
    m = m.reshape(n, k)
    assert np.all(np.abs(deq - ref) <= 4 * U * (np.abs(ref - m) + 2 * np.abs(m)))
    assert np.all(deq[1, 32:64] == 0.25)  # the d = 0 block is exact
    x = inputs(4, k)
    assert_matches_fp32(run(packed, x), x, deq)
    np.testing.assert_allclose(run(packed, x), x @ ref.T, rtol=1e-5, atol=1e-4)


def test_real_tensors_of_the_tiny_model_convert_directly(models_dir: Path) -> None:
    with GGUFTensors.open(models_dir / "smollm2-135m-instruct-q4_1.gguf") as g:
        info = g.info("blk.0.attn_k.weight")  # Q4_1 [192, 576]
        assert info.type_name == "Q4_1"
        ref = g.dequantize(info.name)
        packed = q4_1_to_matmulnbits(g.raw(info.name), info.shape)
        x = inputs(2, info.shape[1])
        np.testing.assert_allclose(run(packed, x), x @ ref.T, rtol=1e-5, atol=1e-4)


@pytest.mark.default_model
def test_real_q5_0_and_q8_0_tensors_of_the_default_model_convert_exactly(default_model_installed: Path) -> None:
    with GGUFTensors.open(default_model_installed) as g:
        pairs = (("blk.0.attn_q.weight", q5_0_to_matmulnbits), ("blk.0.attn_v.weight", q8_0_to_matmulnbits))
        for name, convert in pairs:
            info = g.info(name)
            packed = convert(g.raw(name), info.shape)
            np.testing.assert_array_equal(packed.dequantize(), g.dequantize(name))


def test_a_direct_conversion_checks_the_byte_count() -> None:
    with pytest.raises(GGUFFormatError, match="Q4_0 tensor of shape"):
        q4_0_to_matmulnbits(np.zeros(17, np.uint8), (1, 32))
    with pytest.raises(GGUFFormatError, match="multiple of 32"):
        q4_0_to_matmulnbits(np.zeros(18, np.uint8), (1, 40))
