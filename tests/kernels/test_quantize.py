"""The quantizers: every value comes back within half a step of its block, the edge cases (zero, constant, ragged K)
are exact or padded, and bad input is a one-line QuantizationError."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgemind.kernels.quantize import (
    QuantizationError,
    QuantizedMatrix,
    quantize_blockwise,
    quantize_int4,
    quantize_int8,
    quantize_ternary,
)

# fp32 rounding in w*inv and (code - zp)*scale may push an error a hair past the exact half step
SLACK = 1 + 1e-5


def per_block_max_error(w: np.ndarray, qm: QuantizedMatrix) -> np.ndarray:
    rows, k = w.shape
    err = np.abs(w - qm.dequantize())
    err = np.pad(err, ((0, 0), (0, qm.n_blocks * qm.block - k)))
    return err.reshape(rows, qm.n_blocks, qm.block).max(axis=2)


def weights(rows: int = 48, k: int = 256, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # rows of very different magnitudes and a few outliers, as real weight matrices have
    w = rng.standard_normal((rows, k)) * rng.uniform(1e-3, 2, (rows, 1))
    w[rng.integers(0, rows, 5), rng.integers(0, k, 5)] *= 20
    return w.astype(np.float32)


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("block", [32, 64, 128, None])
@pytest.mark.parametrize("symmetric", [True, False])
def test_every_value_is_within_half_a_step_of_its_block(bits: int, block: int | None, symmetric: bool) -> None:
    w = weights()
    qm = quantize_blockwise(w, bits, block, symmetric=symmetric)
    assert qm.q.dtype == np.uint8 and int(qm.q.max()) < (1 << bits)
    assert qm.shape == w.shape and qm.scales.dtype == np.float32
    assert (qm.zero_points is None) == symmetric
    assert np.all(per_block_max_error(w, qm) <= qm.scales / 2 * SLACK)


def test_asymmetric_is_tighter_than_symmetric_on_one_sided_weights() -> None:
    w = np.abs(weights())  # all >= 0: symmetric wastes half its codes
    sym = np.abs(w - quantize_int4(w).dequantize()).mean()
    asym = np.abs(w - quantize_int4(w, symmetric=False).dequantize()).mean()
    assert asym < sym * 0.6


def test_int8_is_much_finer_than_int4() -> None:
    w = weights()
    e4 = np.abs(w - quantize_int4(w).dequantize()).max()
    e8 = np.abs(w - quantize_int8(w).dequantize()).max()
    assert e8 < e4 / 10


@pytest.mark.parametrize("symmetric", [True, False])
def test_an_all_zero_block_is_exactly_zero(symmetric: bool) -> None:
    w = weights(4, 64)
    w[1, :32] = 0.0
    qm = quantize_int4(w, 32, symmetric=symmetric)
    assert qm.scales[1, 0] == 0
    assert np.all(qm.dequantize()[1, :32] == 0)
    assert np.isfinite(qm.dequantize()).all()


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("value", [0.37, -1.5])
def test_a_constant_block_comes_back_to_within_rounding(symmetric: bool, value: float) -> None:
    w = np.full((2, 32), value, dtype=np.float32)
    np.testing.assert_allclose(quantize_int4(w, symmetric=symmetric).dequantize(), w, rtol=1e-6)


@pytest.mark.parametrize("symmetric", [True, False])
def test_k_not_a_multiple_of_the_block_is_zero_padded(symmetric: bool) -> None:
    w = weights(8, 100)
    qm = quantize_int4(w, 32, symmetric=symmetric)
    assert qm.q.shape == (8, 128) and qm.n_blocks == 4
    assert qm.dequantize().shape == (8, 100)
    # the padding carries the code of zero, so it adds nothing to a dot product
    zp = 8 if qm.zero_points is None else qm.zero_points[:, 3:4]
    assert np.all(qm.q[:, 100:] == zp)
    assert np.all(per_block_max_error(w, qm) <= qm.scales / 2 * SLACK)


def test_per_channel_has_one_scale_per_row() -> None:
    w = weights(8, 100)
    qm = quantize_int8(w, None)
    assert qm.scales.shape == (8, 1) and qm.block == 100
    np.testing.assert_allclose(qm.scales[:, 0], np.abs(w).max(axis=1) / 127, rtol=1e-6)


def test_quantized_matrix_is_frozen() -> None:
    qm = quantize_int4(weights(2, 32))
    with pytest.raises(dataclasses.FrozenInstanceError):
        qm.bits = 8  # type: ignore[misc]


def test_ternary_absmean_codes_are_minus_one_zero_one_times_the_mean() -> None:
    w = weights(16, 96)
    qm = quantize_ternary(w)
    gamma = np.abs(w).mean()
    assert qm.bits == 2 and set(np.unique(qm.q)) <= {1, 2, 3}
    np.testing.assert_allclose(qm.scales, gamma, rtol=1e-6)
    deq = qm.dequantize()
    np.testing.assert_allclose(np.unique(np.abs(deq)), [0, gamma], rtol=1e-6)
    # round(w / gamma) clipped: zero exactly where |w| < gamma / 2, sign kept elsewhere
    small = np.abs(w) < gamma / 2 * 0.999
    assert np.all(deq[small] == 0)
    big = np.abs(w) > gamma / 2 * 1.001
    assert np.all(np.sign(deq[big]) == np.sign(w[big]))


def test_ternary_per_block_averages_only_real_values_in_a_padded_block() -> None:
    w = np.ones((2, 40), dtype=np.float32)
    qm = quantize_ternary(w, 32)
    np.testing.assert_allclose(qm.scales, 1.0)
    np.testing.assert_allclose(qm.dequantize(), w)


@pytest.mark.parametrize(("w", "kwargs", "message"), [
    (np.ones((4, 32), np.float32), {"bits": 3}, "bits must be 4 or 8"),
    (np.ones((4, 32), np.float32), {"block": 48}, "power of two"),
    (np.ones((4, 32), np.float32), {"block": 8}, "power of two"),
    (np.ones(32, np.float32), {}, "2-D weight matrix"),
    (np.ones((0, 32), np.float32), {}, "empty matrix"),
    (np.ones((4, 32), np.int32), {}, "floating-point"),
    (np.full((4, 32), np.nan, np.float32), {}, "NaN or infinity"),
])
def test_bad_input_is_one_clear_error(w: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(QuantizationError, match=message):
        quantize_blockwise(w, **kwargs)
