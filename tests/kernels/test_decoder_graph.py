"""The ONNX INT4 decoder graph against the numpy reference on the same weights, layer by layer, and against llama.cpp.

Bounds: with accuracy_level 0 the graph and the reference multiply the very same dequantized weights in fp32 (the
reference in fp64), so the only differences are summation order and fp32 rounding through 30 layers: relative error
~1e-6 measured, bounded at 1e-4 (a wrong rotary pair, a missed bias or a transposed weight gives errors of order 1).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import numpy as np
import onnxruntime as ort
import pytest

from edgemind.kernels.decoder_config import UnsupportedModel, config_from_gguf
from edgemind.kernels.decoder_graph import BuildOptions, build_decoder, kv_names, save_model
from edgemind.kernels.decoder_reference import apply_rope, reference_forward
from edgemind.kernels.decoder_weights import DecoderWeights, QuantPolicy, fit_int4

TINY_FILE = "smollm2-135m-instruct-q4_1.gguf"
IDS = [1, 504, 3458, 282, 4649, 314, 3, 2000, 17, 90, 1234, 567]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


class Runner:
    def __init__(self, path: Path, weights: DecoderWeights, options: BuildOptions) -> None:
        self.cfg = config_from_gguf(weights.metadata, weights.names, weights.vocab, max_positions=256)
        save_model(build_decoder(self.cfg, weights, options), path)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.names = [o.name for o in self.session.get_outputs()]

    def empty(self) -> list[np.ndarray]:
        return [np.zeros((1, self.cfg.kv_heads, 0, self.cfg.head_dim), np.float32)] * (2 * self.cfg.layers)

    def run(self, ids: list[int], cache: list[np.ndarray], total: int) -> dict[str, Any]:
        feed: dict[str, Any] = {"input_ids": np.array([ids], np.int64),
                                "seqlens_k": np.array([total - 1], np.int32),
                                "total_sequence_length": np.array(total, np.int32)}
        for i in range(self.cfg.layers):
            past_k, past_v, _, _ = kv_names(i)
            feed[past_k], feed[past_v] = cache[2 * i], cache[2 * i + 1]
        return dict(zip(self.names, self.session.run(None, feed)))

    def presents(self, out: dict[str, Any]) -> list[np.ndarray]:
        return [out[kv_names(i)[j]] for i in range(self.cfg.layers) for j in (2, 3)]


@pytest.fixture(scope="module")
def weights(models_dir: Path) -> Iterator[DecoderWeights]:
    w = DecoderWeights(models_dir / TINY_FILE)
    yield w
    w.close()


@pytest.fixture(scope="module")
def exact(weights: DecoderWeights, tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """All logits and every layer's residual stream, fp32 activations (accuracy_level 0)."""
    path = tmp_path_factory.mktemp("exact") / "model.onnx"
    return Runner(path, weights, BuildOptions(all_logits=True, expose_hidden=True, accuracy_level=0))


@pytest.fixture(scope="module")
def reference(exact: Runner, weights: DecoderWeights) -> Any:
    return reference_forward(exact.cfg, weights, IDS)


def test_every_layer_matches_the_numpy_reference_on_the_same_weights(exact: Runner, reference: Any) -> None:
    out = exact.run(IDS, exact.empty(), len(IDS))
    for i, ref in enumerate(reference.hidden):
        got = out[f"hidden.{i}"][0]
        assert rel_err(got, ref) < 1e-4, f"layer {i}"
        assert cosine(got, ref) > 0.999999, f"layer {i}"
    assert rel_err(out["logits"][0], reference.logits) < 1e-4
    assert (out["logits"][0].argmax(-1) == reference.logits.argmax(-1)).all()


def test_decoding_with_the_kv_cache_gives_the_full_sequence_logits(exact: Runner, reference: Any) -> None:
    split = 7
    first = exact.run(IDS[:split], exact.empty(), split)
    cache = exact.presents(first)
    for pos in range(split, len(IDS)):
        out = exact.run([IDS[pos]], cache, pos + 1)
        cache = exact.presents(out)
        assert cache[0].shape[2] == pos + 1
        assert rel_err(out["logits"][0, -1], reference.logits[pos]) < 1e-4, f"position {pos}"


def test_the_shipped_graph_keeps_llama_cpp_top_tokens(weights: DecoderWeights, models_dir: Path,
                                                      tmp_path: Path,
                                                      llama_cpp_for: Callable[[Path], ModuleType]) -> None:
    """The served graph (last-token logits, int8 activations, one token per step) against llama.cpp's logits for the
    same tokens: close at every step and mostly the same top token. llama.cpp itself rounds activations to 8 bits
    and keys/values to fp16, so cosine is bounded at 0.99 (measured >= 0.997)."""
    llama_cpp = llama_cpp_for(models_dir / TINY_FILE)
    runner = Runner(tmp_path / "model.onnx", weights, BuildOptions())
    llm = llama_cpp.Llama(model_path=str(models_dir / TINY_FILE), n_ctx=256, logits_all=True, verbose=False,
                          n_threads=2)
    try:
        llm.eval(IDS)
        expected = np.array(llm.scores[:len(IDS)])
    finally:
        llm.close()
    cache = runner.empty()
    same = 0
    for pos, token in enumerate(IDS):
        out = runner.run([token], cache, pos + 1)
        cache = runner.presents(out)
        assert out["logits"].shape == (1, 1, runner.cfg.vocab)
        got = out["logits"][0, -1]
        assert cosine(got, expected[pos]) > 0.99, f"position {pos}"
        # Arbitrary token ids give near-ties that fp rounding may flip; the pick must still be a contender.
        assert got.argmax() in np.argsort(-expected[pos])[:5], f"position {pos}"
        same += int(got.argmax() == expected[pos].argmax())
    assert same >= len(IDS) - 3


def test_llama_rope_is_interleaved_and_qwen2_rope_is_neox() -> None:
    # One head of dim 4 at position 1: interleaved rotates (x0, x1) and (x2, x3); NEOX rotates (x0, x2), (x1, x3).
    x = np.array([[[1.0, 0.0, 0.0, 0.0]]])
    inter = apply_rope(x, np.array([1]), 10000.0, interleaved=True)[0, 0]
    neox = apply_rope(x, np.array([1]), 10000.0, interleaved=False)[0, 0]
    assert np.allclose(inter, [np.cos(1), np.sin(1), 0, 0])
    assert np.allclose(neox, [np.cos(1), 0, np.sin(1), 0])


def test_config_reads_the_tiny_models_shape(weights: DecoderWeights) -> None:
    cfg = config_from_gguf(weights.metadata, weights.names, weights.vocab)
    assert (cfg.arch, cfg.layers, cfg.hidden, cfg.heads, cfg.kv_heads, cfg.ffn, cfg.vocab) == \
        ("llama", 30, 576, 9, 3, 1536, 49152)
    assert cfg.tied_embeddings and cfg.rope_interleaved and not cfg.qkv_bias


def test_an_unsupported_architecture_is_named_in_one_line(weights: DecoderWeights) -> None:
    meta = dict(weights.metadata, **{"general.architecture": "mamba"})
    with pytest.raises(UnsupportedModel) as err:
        config_from_gguf(meta, weights.names, weights.vocab)
    assert "'mamba'" in str(err.value) and "\n" not in str(err.value)


def test_missing_shape_metadata_is_named(weights: DecoderWeights) -> None:
    meta = {k: v for k, v in weights.metadata.items() if k != "llama.block_count"}
    with pytest.raises(UnsupportedModel, match="llama.block_count"):
        config_from_gguf(meta, weights.names, weights.vocab)


def test_q4_1_weights_stay_four_bit_and_exact(weights: DecoderWeights) -> None:
    name = "blk.0.ffn_gate.weight"
    assert weights.kind(name) == "Q4_1"
    original = weights.dense(name, original=True)
    packed = weights.packed(name)
    assert packed.bits == 4 and packed.zero_points is None  # no float zero points: onnxruntime's slow path
    assert weights.offsets(name) is not None
    assert np.abs(weights.dense(name) - original).max() <= 1e-6 * np.abs(original).max()


def test_int4_fit_is_no_worse_than_plain_min_max_and_often_better() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_t(3, size=(64, 256)).astype(np.float32)  # heavy tails: outliers make min/max wasteful
    fitted = ((fit_int4(w).dequantize() - w) ** 2).sum()
    from edgemind.kernels.quantize import quantize_int4

    plain = ((quantize_int4(w, 32, symmetric=False).dequantize() - w) ** 2).sum()
    assert fitted < 0.98 * plain


def test_q8_0_is_exact_at_eight_bits_and_re_quantized_at_four(models_dir: Path) -> None:
    eight = DecoderWeights(models_dir / TINY_FILE, QuantPolicy(int8_types=("Q8_0",)))
    four = DecoderWeights(models_dir / TINY_FILE, QuantPolicy(int8_types=()))
    try:
        name = "token_embd.weight"
        original = eight.dense(name, original=True)[:512]
        assert eight.packed(name).bits == 8 and four.packed(name).bits == 4
        assert np.array_equal(eight.dense(name)[:512], original)
        err4 = np.abs(four.dense(name)[:512] - original).max()
        assert 0 < err4 < 0.1 * np.abs(original).max()
    finally:
        eight.close()
        four.close()
