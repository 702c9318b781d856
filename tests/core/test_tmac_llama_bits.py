"""The tmac decoder's int8 path against llama.cpp bit for bit, on SmolLM2 Q4_1 (Q4_1 and Q8_0 matrices: the types whose
dot products _decoder.c follows step for step).

Both settings llama.cpp can be compared in: its fp32 KV cache with the prompt fed one token at a time, and its
defaults as the app loads it (f16 cache, the prompt as one batch) against tmac's kv_f16 and batch prompt. Equality
holds only where llama.cpp runs the AVX2 code those steps were copied from (its `haswell` CPU variant; AVX-512
variants sum in other orders), so elsewhere the test is skipped. The control: the T-MAC path, whose tables round the
activations differently, does not give the same bits -- so equality here is not a comparison that cannot fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgemind.core.backends.base import Message
from edgemind.core.backends.llama_cpp_backend import load_llama
from edgemind.core.backends.llama_native import NativeGuard
from edgemind.core.backends.tmac_backend import load_tmac
from edgemind.core.bench.greedy_loop import greedy_ids
from edgemind.core.bench.tmac_decode import llama_on, tmac_side
from edgemind.core.models.manifest import ModelSpec
from edgemind.kernels import tmac
from edgemind.kernels.dequant import Q4_1
from edgemind.kernels.gguf_tensors import GGUFTensors
from edgemind.kernels.tmac.decoder import TmacDecoder
from edgemind.kernels.tmac.int8_layout import from_gguf_q4_1_packed
from tests.support.llama_variant import skip_unless_llama_runs_avx2_code

pytestmark = pytest.mark.skipif(not tmac.available(), reason="the T-MAC extension is not built here")

STEPS = 4  # greedy decode steps compared after the prompt


@pytest.fixture(scope="module")
def tiny(models_dir: Path) -> Path:
    return models_dir / "smollm2-135m-instruct-q4_1.gguf"


def test_packed_q4_1_holds_the_gguf_values(tiny: Path) -> None:
    with GGUFTensors.open(tiny) as f:
        name = "blk.0.ffn_down.weight"
        info = f.info(name)
        assert info.ggml_type == Q4_1
        packed = from_gguf_q4_1_packed(f.raw(name), info.shape)
        assert packed.k == info.shape[1] and packed.q.nbytes * 2 == info.shape[0] * info.shape[1]
        assert np.array_equal(packed.dequantize(), f.dequantize(name))


@pytest.mark.parametrize(("kv_f32", "batch"), [(True, False), (False, True)], ids=["f32-cache", "llama-defaults"])
def test_the_int8_path_gives_llama_cpps_logits_bit_for_bit(tiny: Path, tmp_path: Path, kv_f32: bool,
                                                           batch: bool) -> None:
    spec = ModelSpec(id="smollm2-135m-instruct", backend="tmac", path=tiny)
    llama = load_llama(spec, tiny, threads=2, context_cap=256, native=NativeGuard(tmp_path / "native", threads=2),
                       kv_f32=kv_f32)
    try:
        skip_unless_llama_runs_avx2_code()
        llm = llama.llm
        prompt = llama.tokenize(llama.template.render([Message("user", "What does HTTP stand for?")]))

        def logits() -> np.ndarray:
            return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()

        def follow(dec: TmacDecoder) -> list[bool]:
            """Per step (the prompt, then greedy tokens): whether our logits equal llama.cpp's bit for bit."""
            llm.reset()
            if batch:
                llm.eval(prompt)
                same = [np.array_equal(dec.run(prompt, 0, batch=True), logits())]
            else:
                same = []
                for pos, token in enumerate(prompt):
                    llm.eval([token])
                    same.append(np.array_equal(dec.run([token], pos), logits()))
            for pos in range(len(prompt), len(prompt) + STEPS):
                token = int(np.argmax(logits()))
                llm.eval([token])
                same.append(np.array_equal(dec.run([token], pos), logits()))
            return same

        exact = follow(TmacDecoder(tiny, n_ctx=256, threads=2, kv_f16=not kv_f32))  # Q4_1 packed by default
        assert all(exact), exact
        control = follow(TmacDecoder(tiny, n_ctx=256, threads=2, q4_1_lut=True, kv_f16=not kv_f32))
        assert not any(control[1:]), control
    finally:
        llama.close()


@pytest.mark.default_model
def test_qwens_k_quant_model_gives_llama_cpps_greedy_text(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The shipped Qwen2.5-Coder file: Q5_0/Q8_0 matrices, and Q4_K/Q6_K ffn_down, whose dot products llama.cpp
    takes with block_q8_K activations (one scale per 256). With the legacy per-32 activations there, this prompt's
    greedy answer parted from llama.cpp's at its fourth token (benchmarks/results/tmac_decode.json before the
    change: 7 of 10 prompts identical); with Q8_K's, all 32 tokens are llama.cpp's. Only where llama.cpp runs the
    AVX2 code (its `haswell` variant): its AVX-512 variants sum the K-quant products in other orders, and on an Intel
    Xeon with AVX-512 (session 35) the greedy text parted at the fourth token there, as the module docstring says of
    the bit-for-bit test. The product's exact K-quant arithmetic is tests/kernels/test_tmac_decoder.py's, on any CPU."""
    path = request.getfixturevalue("default_model_installed")
    spec = ModelSpec(id="qwen2.5-coder-0.5b-instruct", backend="tmac", path=path)
    native = NativeGuard(tmp_path / "native", threads=2)
    llama = load_llama(spec, path, threads=2, context_cap=256, native=native)
    ours = load_tmac(spec, path, threads=2, context_cap=256, native=native)
    try:
        skip_unless_llama_runs_avx2_code()
        prompt = "Write a Python function that reverses a string."
        chat = llama.tokenize(llama.template.render([Message("user", prompt)]))
        want = greedy_ids(*llama_on(llama.llm)(chat), 32)
        got = greedy_ids(*tmac_side(ours)(chat), 32)
        assert got == want
    finally:
        llama.close()
        ours.close()
