"""The tiny BitNet b1.58 model's pieces: its corpus split, QAT training, the TQ2_0/TQ1_0 export (exact), the
perplexity function, and their refusals of bad input. The trained model itself is tested in
tests/core/test_ternary_model.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgemind.core.bench.perplexity import perplexity
from edgemind.core.errors import TuneDataError, TuneError
from edgemind.core.training.bitnet import MATRICES, TinyLlamaConfig, TrainConfig, random_weights, ternarize
from edgemind.core.training.bpe import Vocabulary, train_bpe, vocabulary
from edgemind.core.training.corpus import corpus_split, split_topics
from edgemind.core.training.ternary_gguf import ternary_weights, write_gguf
from edgemind.kernels import tmac
from edgemind.kernels.gguf_tensors import GGUFTensors
from edgemind.kernels.lut_forward import LutForward

SMALL = TinyLlamaConfig(vocab=300, hidden=256, layers=1, heads=4, kv_heads=2, ffn=256, context=32)


@pytest.fixture(scope="module")
def small_vocab() -> Vocabulary:
    """A 300-token BPE learned from a slice of the training split (256 bytes, the EOT token, 43 merges)."""
    return vocabulary(train_bpe(corpus_split().train[:20000], vocab_size=SMALL.vocab))


def test_corpus_split_is_seeded_disjoint_and_holds_out_about_a_tenth() -> None:
    a, b = corpus_split(0), corpus_split(0)
    assert a == b
    assert a.held_out_topics != corpus_split(1).held_out_topics
    for topic in a.held_out_topics:
        assert topic not in a.train.split("\n\n")[0]  # the held-out topics' names are not the training text's start
    total = len(a.train) + len(a.held_out)
    assert 0.1 <= len(a.held_out) / total < 0.3
    assert a.held_out[:500] not in a.train


def test_split_refuses_a_corpus_it_cannot_split() -> None:
    with pytest.raises(TuneDataError, match="at least two topics"):
        split_topics({"only": "text"})
    with pytest.raises(TuneDataError, match="between 0 and 1"):
        split_topics({"a": "x", "b": "y"}, held_out_fraction=1.5)


def test_shapes_that_ternary_gguf_cannot_hold_are_refused() -> None:
    with pytest.raises(TuneError, match="multiples of 256"):
        TinyLlamaConfig(hidden=200).check()
    with pytest.raises(TuneError, match="divide"):
        TinyLlamaConfig(heads=3).check()


def test_ternarize_is_absmean_with_an_fp16_scale() -> None:
    w = np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32)
    trits, scale = ternarize(w)
    assert scale == np.float16(np.abs(w.astype(np.float64)).mean())
    assert set(np.unique(trits)) == {-1, 0, 1}
    # BitNet's rounding: |w| under half the scale goes to 0, above it to the sign
    assert np.array_equal(trits[np.abs(w) > 0.51 * float(scale)], np.sign(w[np.abs(w) > 0.51 * float(scale)]))
    assert not trits[np.abs(w) < 0.49 * float(scale)].any()


@pytest.mark.parametrize("matrix_type", ["TQ2_0", "TQ1_0"])
def test_export_dequantizes_to_exactly_the_ternary_weights(tmp_path: Path, small_vocab: Vocabulary,
                                                            matrix_type: str) -> None:
    latent = random_weights(SMALL, seed=3)
    latent["blk.0.ffn_up.weight"][:8] = 0.0  # all-zero blocks: their scale must stay 0, not NaN
    latent["blk.0.ffn_down.weight"][:] = 0.0  # an all-zero matrix: its trits all 0
    path = tmp_path / f"m-{matrix_type}.gguf"
    export = write_gguf(path, SMALL, latent, small_vocab, matrix_type=matrix_type)
    expected = ternary_weights(SMALL, latent)
    with GGUFTensors.open(path) as g:
        for name in (f"blk.0.{m}.weight" for m in MATRICES):
            assert g.info(name).type_name == matrix_type
            assert np.array_equal(g.dequantize(name), expected[name]), name
        assert np.array_equal(g.dequantize("token_embd.weight"),
                              expected["token_embd.weight"].astype(np.float16).astype(np.float32))
        assert g.metadata["general.architecture"] == "llama"
    bits = 8 * export.matrix_bytes / export.matrix_params
    assert bits == (66 * 8 / 256 if matrix_type == "TQ2_0" else 54 * 8 / 256)


def test_export_refuses_an_unknown_format_and_a_mismatched_vocabulary(tmp_path: Path, small_vocab: Vocabulary) -> None:
    latent = random_weights(SMALL)
    with pytest.raises(TuneError, match="matrix type must be one of"):
        write_gguf(tmp_path / "m.gguf", SMALL, latent, small_vocab, matrix_type="Q4_K")
    with pytest.raises(TuneError, match="tokens, the model"):
        write_gguf(tmp_path / "m.gguf", TinyLlamaConfig(vocab=512), latent, small_vocab)


def test_perplexity_of_uniform_logits_is_the_vocabulary_size() -> None:
    vocab = 37
    result = perplexity(lambda ids: np.zeros((len(ids), vocab)), list(range(30)) * 10, window=16)
    assert result.windows == 300 // 16
    assert result.scored == result.windows * 15
    assert result.perplexity == pytest.approx(vocab, rel=1e-12)


def test_perplexity_rewards_the_logits_of_the_right_next_token() -> None:
    tokens = [i % 7 for i in range(64)]

    def knows_the_pattern(ids: list[int]) -> np.ndarray:
        out = np.zeros((len(ids), 7))
        out[np.arange(len(ids)), [(t + 1) % 7 for t in ids]] = 20.0
        return out

    assert perplexity(knows_the_pattern, tokens, window=32).perplexity < 1.001
    with pytest.raises(ValueError, match="returned shape"):
        perplexity(lambda ids: np.zeros((len(ids) - 1, 7)), tokens, window=32)
    with pytest.raises(ValueError, match="do not fill one"):
        perplexity(knows_the_pattern, tokens[:10], window=32)


def test_qat_training_learns_and_our_lut_forward_runs_what_it_exported(tmp_path: Path, small_vocab: Vocabulary) -> None:
    pytest.importorskip("torch")
    from edgemind.core.training.bitnet import torch_logits, train

    split = corpus_split()
    tok = train_bpe(split.train[:20000], vocab_size=SMALL.vocab)
    ids = np.asarray(tok.encode(split.train[:20000]).ids)
    held = np.asarray(tok.encode(split.held_out[:4000]).ids)
    result = train(SMALL, ids, held, TrainConfig(steps=16, batch=4, lr=1e-2, warmup=4, eval_every=16))
    assert np.mean(result.losses[-4:]) < result.losses[0] - 0.7  # starts near ln(300) = 5.7
    path = tmp_path / "small.gguf"
    write_gguf(path, SMALL, result.weights, small_vocab)
    expected = ternary_weights(SMALL, result.weights)
    with GGUFTensors.open(path) as g:
        assert all(np.array_equal(g.dequantize(f"blk.0.{m}.weight"), expected[f"blk.0.{m}.weight"]) for m in MATRICES)
    window = [int(t) for t in held[:SMALL.context]]
    ours = LutForward(path)
    assert ("T-MAC" in ours.matrix_path) == tmac.available()
    theirs = torch_logits(SMALL, result.weights, ternary=True)(window)
    mine = ours.logits(window)
    # same ternary weights; activations rounded differently (per-token int8 in torch, int8 tables per 32 here)
    assert np.abs(mine - theirs).max() < 0.05 * np.abs(theirs).max()
    assert (mine.argmax(axis=1) == theirs.argmax(axis=1)).mean() >= 0.9
    with pytest.raises(ValueError, match="outside the vocabulary"):
        ours.logits([SMALL.vocab + 5])
