"""Packed trits round-trip exactly, ternary AbsMean quantization as BitNet b1.58 defines it, and VSA gradient
compression's ratio and reconstruction error as measured (numpy only: no training stack needed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgemind.core.errors import TuneError
from edgemind.core.training import PackedTrits, dequantize_ternary, pack_trits, quantize_ternary, unpack_trits
from edgemind.core.training.vsa import compression_curve, decode, encode, relative_error


@given(st.lists(st.sampled_from([-1, 0, 1]), max_size=64))
def test_trits_round_trip_exactly(values: list[int]) -> None:
    packed = pack_trits(np.array(values, dtype=np.int8))
    assert len(packed.data) == -(-len(values) // 5)
    assert unpack_trits(packed).tolist() == values


def test_trits_pack_five_to_a_byte_base_three() -> None:
    assert pack_trits(np.array([1, 1, 1, 1, 1])).data == bytes([242])
    assert pack_trits(np.array([-1, -1, -1, -1, -1])).data == bytes([0])
    # the last byte is padded with digit 0; the length, not the padding, says where the trits end
    assert pack_trits(np.array([0, -1, -1, -1, -1, 1])).data == bytes([1, 2])
    assert pack_trits(np.zeros(10, dtype=np.int8)).bits_per_trit == 1.6


def test_bad_trits_are_refused_with_the_index() -> None:
    with pytest.raises(TuneError, match="value 2 at index 3"):
        pack_trits(np.array([0, 1, -1, 2]))
    with pytest.raises(TuneError, match="byte 243"):
        unpack_trits(PackedTrits(bytes([243]), 5))
    with pytest.raises(TuneError, match="at most 5"):
        unpack_trits(PackedTrits(bytes([0]), 6))


def test_ternary_quantization_is_absmean() -> None:
    weight = np.array([[0.1, -2.0], [0.5, 0.0]])
    trits, scale = quantize_ternary(weight)
    assert scale == pytest.approx(0.65, abs=1e-6)  # mean |w|
    assert trits.tolist() == [[0, -1], [1, 0]]  # round(w / 0.65) clipped to [-1, 1]
    assert dequantize_ternary(trits, scale).reshape(-1).tolist() == pytest.approx([0.0, -0.65, 0.65, 0.0])
    assert quantize_ternary(np.zeros(4))[0].tolist() == [0, 0, 0, 0]


def test_ternary_quantization_refuses_empty_and_nan() -> None:
    with pytest.raises(TuneError, match="empty"):
        quantize_ternary(np.array([]))
    with pytest.raises(TuneError, match="NaN"):
        quantize_ternary(np.array([1.0, np.nan]))


def test_vsa_one_float_chunk_is_exact_and_bundling_costs_accuracy() -> None:
    gradient = np.random.default_rng(1).normal(size=1000)
    whole = encode(gradient, 1000)
    assert whole.compression_ratio == 1.0
    assert relative_error(gradient, decode(whole)) < 1e-6
    errors = []
    for dim in (500, 250, 125):
        hv = encode(gradient, dim, seed=3)
        assert hv.compression_ratio == pytest.approx(1000 / dim)
        errors.append(relative_error(gradient, decode(hv)))
    # k bundled chunks: each comes back with the crosstalk of the k-1 others, error ~ sqrt(k - 1)
    assert errors == sorted(errors)
    assert errors[0] == pytest.approx(1.0, abs=0.15)
    assert errors[2] == pytest.approx(np.sqrt(7), rel=0.15)


def test_vsa_ternary_hypervector_is_packed_trits() -> None:
    gradient = np.random.default_rng(2).normal(size=1000)
    hv = encode(gradient, 1000, ternary=True)
    assert hv.trits is not None and len(hv.trits.data) == 200
    assert hv.compression_ratio == pytest.approx(32 * 1000 / (8 * 200 + 32))
    assert 0.2 < relative_error(gradient, decode(hv)) < 0.8
    curve = compression_curve(gradient, [1000, 250])
    assert {p.method for p in curve} == {"vsa-float", "vsa-ternary", "ternary-only"}
    with pytest.raises(TuneError, match="at least 1"):
        encode(gradient, 0)
