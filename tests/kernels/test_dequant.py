"""Our vectorized dequantization is bit-exact with the reference `gguf` package: on real tensors of every type the
bundled models hold, and on made-up blocks of the types they lack."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import gguf
import numpy as np
import pytest

from edgemind.kernels import dequant
from edgemind.kernels.gguf_header import GGUFFormatError
from edgemind.kernels.gguf_tensors import GGUFTensors

PER_TYPE = 2  # tensors sampled per type and model: the first and the last, so both ends of the file are read
MAX_SAMPLE_BYTES = 8 * 1024 * 1024  # skips the two big embeddings; their types are sampled in smaller tensors


def reference(raw: np.ndarray, ggml_type: int, shape: tuple[int, ...]) -> np.ndarray:
    qtype = gguf.GGMLQuantizationType(ggml_type)
    if qtype == gguf.GGMLQuantizationType.F32:
        return raw.view(np.float32).reshape(shape)
    if qtype == gguf.GGMLQuantizationType.F16:
        return raw.view(np.float16).astype(np.float32).reshape(shape)
    return gguf.quants.dequantize(raw.reshape(shape[:-1] + (-1,)), qtype)


def sample(path: Path) -> dict[str, list[str]]:
    """Up to PER_TYPE tensor names of each type in the file."""
    by_type: dict[str, list[str]] = defaultdict(list)
    with GGUFTensors.open(path) as g:
        for name in g.names:
            info = g.info(name)
            if info.nbytes <= MAX_SAMPLE_BYTES:
                by_type[info.type_name].append(name)
    return {t: [names[0], names[-1]][:PER_TYPE] if len(names) > 1 else names for t, names in by_type.items()}


def check_file(path: Path, expected_types: set[str]) -> None:
    picked = sample(path)
    assert set(picked) == expected_types
    with GGUFTensors.open(path) as g:
        for names in picked.values():
            for name in names:
                info = g.info(name)
                ours = g.dequantize(name)
                ref = reference(g.raw(name), info.ggml_type, info.shape)
                assert ours.dtype == np.float32 and ours.shape == info.shape
                np.testing.assert_array_equal(ours, ref, err_msg=f"{name} ({info.type_name})")


def test_every_type_of_the_tiny_model_is_bit_exact(models_dir: Path) -> None:
    # its only Q8_0 tensor is the 28 MB token embedding, checked in slabs below
    check_file(models_dir / "smollm2-135m-instruct-q4_1.gguf", {"F32", "Q4_1"})


@pytest.mark.default_model
def test_every_type_of_the_default_model_is_bit_exact(default_model_installed: Path) -> None:
    check_file(default_model_installed, {"F32", "Q5_0", "Q8_0", "Q4_K", "Q6_K"})


def test_the_big_token_embedding_is_decoded_in_slabs_exactly(models_dir: Path) -> None:
    with GGUFTensors.open(models_dir / "smollm2-135m-instruct-q4_1.gguf") as g:
        info = g.info("token_embd.weight")  # 49152 x 576 Q8_0: 28M values, many slabs
        ours = g.dequantize(info.name)
        rows = slice(40_000, 40_100)
        ref = reference(g.raw(info.name).reshape(info.shape[0], -1)[rows].reshape(-1), info.ggml_type, (100, 576))
        np.testing.assert_array_equal(ours[rows], ref)


@pytest.mark.parametrize("type_name", ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "BF16", "TQ1_0", "TQ2_0"])
def test_blocks_made_by_the_reference_quantizer_are_bit_exact(type_name: str) -> None:
    qtype = gguf.GGMLQuantizationType[type_name]
    rng = np.random.default_rng(7)
    w = (rng.standard_normal((16, 256)) * rng.uniform(0.01, 3, (16, 1))).astype(np.float32)
    w[3] = 0.0  # an all-zero row: scale 0
    w[4] = 0.5  # a constant row
    raw = gguf.quants.quantize(w, qtype)
    ref = gguf.quants.dequantize(raw, qtype)
    np.testing.assert_array_equal(dequant.dequantize(raw, int(qtype), w.shape), ref)


def test_f16_is_exact() -> None:
    w = np.random.default_rng(1).standard_normal((8, 32)).astype(np.float16)
    np.testing.assert_array_equal(dequant.dequantize(w.view(np.uint8), 1, w.shape), w.astype(np.float32))


def random_k_blocks(type_name: str, n_blocks: int, seed: int) -> np.ndarray:
    """Random super-blocks with sane float16 scales (small, positive, finite) and random codes elsewhere."""
    rng = np.random.default_rng(seed)
    block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[type_name]][1]
    blocks = rng.integers(0, 256, (n_blocks, block_bytes), dtype=np.uint8)
    scales = rng.uniform(1e-4, 1e-2, (n_blocks, 2)).astype(np.float16).view(np.uint8)
    if type_name == "Q6_K":
        blocks[:, -2:] = scales[:, :2]  # d is the last field
    else:
        blocks[:, :4] = scales  # d, dmin first
    return blocks


@pytest.mark.parametrize("type_name", ["Q4_K", "Q5_K", "Q6_K"])
def test_random_k_quant_blocks_are_bit_exact(type_name: str) -> None:
    # Q5_K is in neither bundled model and the reference package cannot quantize K types: random blocks cover it,
    # and Q4_K/Q6_K here check code paths the models' scales might never reach (every 6-bit scale/min value).
    qtype = gguf.GGMLQuantizationType[type_name]
    blocks = random_k_blocks(type_name, 64, seed=int(qtype))
    shape = (4, 16 * 256)
    ours = dequant.dequantize(blocks.reshape(-1), int(qtype), shape)
    ref = gguf.quants.dequantize(blocks.reshape(4, -1), qtype)
    np.testing.assert_array_equal(ours, ref)


def test_unsupported_type_is_named() -> None:
    with pytest.raises(GGUFFormatError, match="cannot dequantize IQ2_XXS"):
        dequant.dequantize(np.zeros(66, np.uint8), 16, (256,))


def test_wrong_byte_count_is_named() -> None:
    with pytest.raises(GGUFFormatError, match=r"Q4_0 tensor of shape \(2, 32\) needs 36 bytes but got 18"):
        dequant.dequantize(np.zeros(18, np.uint8), 2, (2, 32))


def test_row_not_a_whole_number_of_blocks_is_named() -> None:
    with pytest.raises(GGUFFormatError, match="row of 40 values"):
        dequant.dequantize(np.zeros(40, np.uint8), 8, (40,))
