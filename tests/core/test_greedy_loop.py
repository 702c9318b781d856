"""The greedy loop the decode comparisons (onnx_speed, tmac_decode) time: llama.cpp's side on the real tiny model
answers as llama.cpp's own greedy sampler does (it once read `llm.scores`, all zeros without logits_all, and picked
token 0 every step), and the sides run in ABBA order after a warm-up."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np

from edgemind.core.backends.llama_cpp_backend import load_llama
from edgemind.core.backends.llama_native import NativeGuard
from edgemind.core.bench.greedy_loop import First, Step, greedy_ids, llama_side, time_abba
from edgemind.core.models.manifest import ModelSpec
from tests.conftest import TINY

TINY_FILE = "smollm2-135m-instruct-q4_1.gguf"


def test_llama_cpps_side_picks_the_tokens_llama_cpps_own_greedy_sampler_picks(models_dir: Path,
                                                                               native: NativeGuard) -> None:
    path = models_dir / TINY_FILE
    loaded = load_llama(ModelSpec(id=TINY, backend="llama_cpp", path=path), path, threads=2, context_cap=256,
                        native=native)
    try:
        prompt = loaded.tokenize("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                                 "<|im_start|>assistant\n")
        ours = greedy_ids(*llama_side(loaded.llm, prompt), 12)
        assert "Paris" in loaded.llm.detokenize(ours).decode("utf-8", "replace")
        own = list(islice(loaded.llm.generate(prompt, temp=0.0, repeat_penalty=1.0), 12))
        assert ours == own
    finally:
        loaded.close()


def test_the_sides_are_warmed_up_once_then_timed_in_abba_order() -> None:
    calls: list[str] = []

    def side(name: str) -> tuple[First, Step]:
        def first() -> np.ndarray:
            calls.append(name)
            return np.zeros(4)

        return first, lambda token: np.eye(4)[(token + 1) % 4]

    runs = time_abba({"a": lambda: side("a"), "b": lambda: side("b")}, 5, 3, lambda _m: None)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert [len(runs["a"]), len(runs["b"])] == [3, 3]
    assert all(len(r.step_ms) == 4 and r.decode_tok_s > 0 for r in runs["a"] + runs["b"])
