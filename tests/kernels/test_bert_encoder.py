"""The BERT encoder graph computes what the plain numpy forward computes, for any batch and sequence length.

A small random BERT keeps these fast; the real all-MiniLM-L6-v2 weights are checked in tests/core/test_embeddings.py.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edgemind.core.hardware import has_vnni
from edgemind.kernels.bert_encoder import (
    INPUTS, OUTPUT, BertConfig, BertWeightsError, Int8Plan, _gelu, build_encoder, expected_shapes, plan_int8,
    reference_forward,
)

CFG = BertConfig(vocab_size=97, hidden_size=48, num_layers=2, num_heads=4, intermediate_size=96, max_positions=40,
                 type_vocab_size=2, layer_norm_eps=1e-12)


def random_weights(cfg: BertConfig, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in expected_shapes(cfg).items():
        if name.endswith("LayerNorm.weight"):
            weights[name] = (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        else:
            weights[name] = (0.2 * rng.standard_normal(shape)).astype(np.float32)
    return weights


WEIGHTS = random_weights(CFG)


def calibration_rows(count: int = 6, seed: int = 9) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.concatenate([[1], rng.integers(3, CFG.vocab_size, n), [2]]) for n in rng.integers(3, 30, count)]


# Signed int8 weight codes are exact only where onnxruntime's u8 x s8 kernel has VNNI (Int8Plan.unsigned_weights).
VNNI = has_vnni()


def int8_model(unsigned_weights: bool = not VNNI) -> bytes:
    plan = plan_int8(CFG, WEIGHTS, calibration_rows(), unsigned_weights=unsigned_weights)
    return build_encoder(CFG, WEIGHTS, int8=plan).SerializeToString()


def load(model: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module", params=["standard", "fused", "int8"], ids=["standard-ops", "fused-ops", "int8"])
def session(request: pytest.FixtureRequest) -> ort.InferenceSession:
    if request.param == "int8":
        return load(int8_model())
    return load(build_encoder(CFG, WEIGHTS, fused=request.param == "fused").SerializeToString())


@pytest.fixture(scope="module")
def float_session() -> ort.InferenceSession:
    return load(build_encoder(CFG, WEIGHTS, fused=True).SerializeToString())


@pytest.fixture(scope="module", params=[False, True], ids=["signed-weights", "unsigned-weights"])
def int8_session(request: pytest.FixtureRequest) -> ort.InferenceSession:
    if not request.param and not VNNI:
        pytest.skip("this CPU has no VNNI: its u8 x s8 kernel saturates, and the app builds unsigned weights here")
    return load(int8_model(request.param))


def batch(lengths: list[int], width: int | None = None, seed: int = 1) -> dict[str, np.ndarray]:
    """Right-padded token ids like a tokenizer makes: [CLS]=1 ... [SEP]=2, then padding 0."""
    rng = np.random.default_rng(seed)
    width = width or max(lengths)
    ids = np.zeros((len(lengths), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, :n] = np.concatenate([[1], rng.integers(3, CFG.vocab_size, n - 2), [2]])
        mask[row, :n] = 1
    types = np.zeros_like(ids)
    types[0, : lengths[0] // 2] = 1  # exercise the token type table too
    return dict(zip(INPUTS, (ids, mask, types)))


def run(session: ort.InferenceSession, feed: dict[str, np.ndarray]) -> np.ndarray:
    return session.run([OUTPUT], feed)[0]


def test_graph_matches_the_numpy_reference_on_mixed_lengths(float_session: ort.InferenceSession) -> None:
    for session in (float_session, load(build_encoder(CFG, WEIGHTS).SerializeToString())):
        feed = batch([2, 5, 17, 40, 9])
        got = run(session, feed)
        want = reference_forward(CFG, WEIGHTS, *feed.values())
        assert got.shape == (5, CFG.hidden_size) and got.dtype == np.float32
        assert np.min(np.sum(got * want, axis=1)) >= 0.9999
        np.testing.assert_allclose(got, want, atol=2e-5)


def test_int8_graph_stays_close_to_the_float_reference(int8_session: ort.InferenceSession) -> None:
    feed = batch([2, 5, 17, 40, 9])
    got = run(int8_session, feed)
    want = reference_forward(CFG, WEIGHTS, *feed.values())
    assert got.shape == (5, CFG.hidden_size) and got.dtype == np.float32
    assert np.min(np.sum(got * want, axis=1)) >= 0.999


def test_int8_graph_runs_its_matmuls_in_int8() -> None:
    model = build_encoder(CFG, WEIGHTS, int8=plan_int8(CFG, WEIGHTS, calibration_rows()))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("MatMulIntegerToFloat") == 3 * CFG.num_layers  # Q/K/V, attention output, ffn1
    assert ops.count("MatMulNBits") == CFG.num_layers  # ffn2
    big = [i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) == 2
           and "embeddings" not in i.name and "word" not in i.name and "position" not in i.name]
    # the only float32 weight matrices left are the outlier channels' rows
    assert all(name.endswith(".outlier_w") for name in big), big


def test_plan_int8_keeps_the_channels_that_stand_out_in_float32() -> None:
    loud = dict(WEIGHTS)
    channel = 17
    for n in range(CFG.num_layers):
        # a large gain on one channel of every layer norm makes it the residual stream's outlier
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            gamma = loud[f"encoder.layer.{n}.{ln}.weight"].copy()
            gamma[channel] = 40.0
            loud[f"encoder.layer.{n}.{ln}.weight"] = gamma
    plan = plan_int8(CFG, loud, calibration_rows(), channels=3)
    assert set(plan.outliers) == {f"{n}.{k}" for n in range(CFG.num_layers) for k in ("qkv", "ffn1")}
    for n in range(1, CFG.num_layers):
        assert channel in plan.outliers[f"{n}.qkv"] and len(plan.outliers[f"{n}.qkv"]) == 3
    assert channel in plan.outliers["0.ffn1"]


def test_plan_int8_needs_calibration_text() -> None:
    with pytest.raises(BertWeightsError, match="calibration"):
        plan_int8(CFG, WEIGHTS, [])


def test_without_vnni_signed_weight_codes_saturate_and_unsigned_ones_do_not() -> None:
    """Why the app builds unsigned codes on such CPUs: without VNNI a pair of u8 x s8 products is summed in a
    saturating 16-bit lane, and 8-bit codes reach 2 * 255 * 127 there."""
    if VNNI:
        pytest.skip("this CPU has VNNI: both codes are exact here (tests/core/test_embeddings.py compares them)")
    feed = batch([2, 5, 17, 40, 9])
    want = reference_forward(CFG, WEIGHTS, *feed.values())
    signed, unsigned = (np.sum(run(load(int8_model(u)), feed) * want, axis=1) for u in (False, True))
    assert unsigned.min() >= 0.999 and signed.min() < unsigned.min()


def test_an_int8_graph_without_outlier_channels_still_builds() -> None:
    got = run(load(build_encoder(CFG, WEIGHTS, int8=Int8Plan({})).SerializeToString()), batch([6, 3]))
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_outputs_are_unit_vectors(session: ort.InferenceSession) -> None:
    norms = np.linalg.norm(run(session, batch([3, 30, 12])), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_padding_never_changes_a_sentence_vector(session: ort.InferenceSession) -> None:
    alone = run(session, batch([7], seed=3))
    feed = batch([7], width=33, seed=3)
    padded = run(session, feed)
    np.testing.assert_allclose(padded, alone, atol=1e-5)


def test_a_sentence_gets_the_same_vector_alone_and_in_a_batch(session: ort.InferenceSession) -> None:
    feed = batch([11, 25, 4], seed=5)
    together = run(session, feed)
    for row in range(3):
        n = int(feed["attention_mask"][row].sum())
        single = {k: v[row:row + 1, :n] for k, v in feed.items()}
        np.testing.assert_allclose(run(session, single)[0], together[row], atol=1e-5)


def test_batch_and_sequence_axes_are_dynamic() -> None:
    model = build_encoder(CFG, WEIGHTS)
    for value in model.graph.input:
        dims = [d.dim_param for d in value.type.tensor_type.shape.dim]
        assert dims == ["batch", "sequence"], value.name
    assert [i.name for i in model.graph.input] == list(INPUTS)


def test_standard_graph_uses_opset_17_and_no_vendor_ops() -> None:
    model = build_encoder(CFG, WEIGHTS, fused=False)
    assert {(o.domain, o.version) for o in model.opset_import} == {("", 17)}
    assert {n.domain for n in model.graph.node} == {""}


def test_reference_gelu_is_the_exact_erf_gelu() -> None:
    x = np.linspace(-8, 8, 4001)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    assert np.max(np.abs(_gelu(x) - exact)) < 1e-6


def test_a_missing_weight_is_named() -> None:
    broken = dict(WEIGHTS)
    del broken["encoder.layer.1.output.dense.bias"]
    with pytest.raises(BertWeightsError, match="encoder.layer.1.output.dense.bias"):
        build_encoder(CFG, broken)


def test_a_weight_of_the_wrong_shape_is_named() -> None:
    broken = dict(WEIGHTS, **{"embeddings.word_embeddings.weight": np.zeros((97, 47), np.float32)})
    with pytest.raises(BertWeightsError, match=r"word_embeddings.*\(97, 47\)"):
        reference_forward(CFG, broken, *batch([3]).values())


def test_weights_under_a_bert_prefix_are_accepted() -> None:
    prefixed = {"bert." + k: v for k, v in WEIGHTS.items()}
    feed = batch([6])
    np.testing.assert_array_equal(reference_forward(CFG, prefixed, *feed.values()),
                                  reference_forward(CFG, WEIGHTS, *feed.values()))


@pytest.mark.parametrize("change, message", [
    ({"hidden_act": "relu"}, "hidden_act"),
    ({"position_embedding_type": "relative_key"}, "absolute"),
    ({"num_attention_heads": 5}, "inconsistent"),
    ({"vocab_size": None}, "non-numeric"),
])
def test_configs_this_encoder_does_not_implement_are_refused(change: dict[str, object], message: str) -> None:
    config = {"vocab_size": 97, "hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
              "intermediate_size": 96, "max_position_embeddings": 40, "hidden_act": "gelu"}
    assert BertConfig.from_hf(config) == CFG
    with pytest.raises(BertWeightsError, match=message):
        BertConfig.from_hf({**config, **change})
