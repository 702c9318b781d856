"""The trained tiny BitNet b1.58 model committed under tests/data (made by benchmarks/ternary_model.py
--save-model): llama.cpp loads its TQ2_0 file and it has learned English, and our T-MAC forward pass agrees with
llama.cpp on its held-out perplexity. No training here: the file is checked against its SHA-256."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from edgemind.core.bench.perplexity import perplexity
from edgemind.core.bench.ternary_model import llama_logits
from edgemind.core.training.bitnet import TinyLlamaConfig, random_weights
from edgemind.core.training.corpus import corpus_split
from edgemind.kernels import tmac
from edgemind.kernels.gguf_tensors import GGUFTensors
from edgemind.kernels.lut_forward import LutForward

MODEL = Path(__file__).resolve().parents[1] / "data" / "tiny_ternary_tq2_0.gguf"
SHA256 = "a5ef743126f00c5b205a8ecb83645859cc06cee63bf4b6a7a493aa3a0a14fa7f"
WINDOWS = 12  # of 128 held-out tokens: ~1,500 scored tokens, a second or two on each path


@pytest.fixture(scope="module")
def llama(llama_cpp_for: Callable[[Path], ModuleType]) -> ModuleType:
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == SHA256, "tests/data/tiny_ternary_tq2_0.gguf changed"
    return llama_cpp_for(MODEL)


@pytest.fixture(scope="module")
def held_out(llama: ModuleType) -> list[int]:
    """The held-out split, tokenized by llama.cpp with the model's own vocabulary."""
    vocab = llama.Llama(model_path=str(MODEL), vocab_only=True, verbose=False)
    ids = vocab.tokenize(corpus_split().held_out.encode(), add_bos=False, special=False)
    vocab.close()
    return [int(i) for i in ids]


@pytest.fixture(scope="module")
def llama_ppl(llama: ModuleType, held_out: list[int]) -> float:
    fn, llm = llama_logits(llama, MODEL, window=128, threads=1)
    try:
        return perplexity(fn, held_out, window=128, max_windows=WINDOWS).perplexity
    finally:
        llm.close()


def test_the_committed_model_is_ternary_tq2_0() -> None:
    with GGUFTensors.open(MODEL) as g:
        assert g.info("blk.0.ffn_up.weight").type_name == "TQ2_0"
        w = g.dequantize("blk.0.ffn_up.weight")
    scale = np.abs(w).max()
    assert set(np.unique(w / scale)) == {-1.0, 0.0, 1.0}


def test_llama_cpp_perplexity_is_far_below_uniform_and_an_untrained_model(
        llama: ModuleType, held_out: list[int], llama_ppl: float, tmp_path: Path) -> None:
    from edgemind.core.training.bpe import Vocabulary
    from edgemind.core.training.ternary_gguf import write_gguf

    with GGUFTensors.open(MODEL, keep_arrays=True) as g:
        meta: dict[str, Any] = g.metadata
        cfg = TinyLlamaConfig(vocab=g.info("token_embd.weight").shape[0])
        vocab = Vocabulary(tokens=tuple(meta["tokenizer.ggml.tokens"]), merges=tuple(meta["tokenizer.ggml.merges"]),
                           eot_id=int(meta["tokenizer.ggml.eos_token_id"]))
    untrained = tmp_path / "untrained.gguf"
    write_gguf(untrained, cfg, random_weights(cfg), vocab)
    fn, llm = llama_logits(llama, untrained, window=128, threads=1)
    try:
        untrained_ppl = perplexity(fn, held_out, window=128, max_windows=4).perplexity
    finally:
        llm.close()
    assert llama_ppl < cfg.vocab / 20
    assert llama_ppl < untrained_ppl / 10


def test_our_tmac_forward_matches_llama_cpp_perplexity_within_one_percent(held_out: list[int],
                                                                          llama_ppl: float) -> None:
    ours = LutForward(MODEL)
    assert ("T-MAC" in ours.matrix_path) == tmac.available()
    mine = perplexity(ours.logits, held_out, window=128, max_windows=WINDOWS).perplexity
    assert abs(mine / llama_ppl - 1) < 0.01


def test_greedy_text_on_a_held_out_prompt_is_made_of_corpus_words(llama: ModuleType) -> None:
    split = corpus_split()
    llm = llama.Llama(model_path=str(MODEL), n_ctx=128, n_threads=1, verbose=False)
    try:
        prompt = split.held_out[:120].rsplit(" ", 1)[0] + " "
        text = llm(prompt, max_tokens=40, temperature=0.0)["choices"][0]["text"]
    finally:
        llm.close()
    known = set(re.findall(r"[A-Za-z]+", split.train.lower()))
    words = re.findall(r"[A-Za-z]+", text.lower())
    assert len(words) >= 10, text
    assert sum(w in known for w in words) / len(words) >= 0.9, text  # words, not BPE fragments glued together
    assert len(set(words)) >= 6, text  # not one word repeated (what a barely trained model says)
