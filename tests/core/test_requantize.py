"""Qwen at 4-bit and 8-bit for the tmac table (core/bench/requantize.py): llama.cpp's own quantizer makes the files,
tmac runs them, and its greedy text is llama.cpp's on the same file."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemind.core.backends.base import Message
from edgemind.core.backends.llama_cpp_backend import load_llama
from edgemind.core.backends.llama_native import NativeGuard
from edgemind.core.backends.tmac_backend import load_tmac
from edgemind.core.bench.greedy_loop import greedy_ids
from edgemind.core.bench.requantize import RequantizeError, requantize, requantized_path
from edgemind.core.bench.tmac_decode import llama_on, tmac_side
from edgemind.core.models.manifest import ModelSpec
from edgemind.kernels import tmac
from edgemind.kernels.gguf_tensors import GGUFTensors
from tests.support.llama_variant import skip_unless_llama_runs_avx2_code

PROMPTS = ("Write a Python function that reverses a string.", "What does HTTP stand for?")


def test_an_unknown_type_or_a_missing_file_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "m.gguf"
    with pytest.raises(RequantizeError, match=r"no requantization to 'q3_k' \(choose from q4_0, q4_1, q8_0\)"):
        requantize(source, "q3_k", tmp_path)
    with pytest.raises(RequantizeError, match="no model file at"):
        requantize(source, "q8_0", tmp_path)


def test_a_file_llama_cpp_cannot_read_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "broken.gguf"
    source.write_bytes(b"GGUF" + b"\0" * 60)
    with pytest.raises(RequantizeError, match="llama.cpp could not requantize broken.gguf to q8_0") as err:
        requantize(source, "q8_0", tmp_path / "work")
    assert "\n" not in str(err.value)
    assert not requantized_path(source, "q8_0", tmp_path / "work").exists()
    assert not list((tmp_path / "work").glob("*.partial"))


@pytest.mark.slow
@pytest.mark.default_model
@pytest.mark.skipif(not tmac.available(), reason="the T-MAC extension is not built here")
@pytest.mark.parametrize("kind", ["q4_1", "q8_0"])
def test_requantized_qwen_runs_in_tmac_with_llama_cpps_greedy_text(kind: str, tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
    source = request.getfixturevalue("default_model_installed")
    path = requantize(source, kind, tmp_path / "work", threads=2)
    with GGUFTensors.open(path) as f:  # the block matrices took the requested type (llama.cpp may pick others)
        assert f.info("blk.0.ffn_gate.weight").type_name == kind.upper()
        assert f.info("blk.0.ffn_down.weight").type_name == kind.upper()  # Q6_K/Q4_K in the shipped file
    assert requantize(source, kind, tmp_path / "work") == path  # made once
    spec = ModelSpec(id=path.stem, backend="tmac", path=path)
    native = NativeGuard(tmp_path / "native", threads=2)
    llama = load_llama(spec, path, threads=2, context_cap=512, native=native)
    ours = load_tmac(spec, path, threads=2, context_cap=512, native=native)
    try:
        assert ours.decoder.counts.tmac == 0 and ours.decoder.counts.int8 == 4 * ours.decoder.config.layers + 2
        skip_unless_llama_runs_avx2_code()  # on an Intel Xeon (session 35) the Q4_1 copy's greedy text parted
        for text in PROMPTS:
            chat = llama.tokenize(llama.template.render([Message("user", text)]))
            want = greedy_ids(*llama_on(llama.llm)(chat), 24)
            got = greedy_ids(*tmac_side(ours)(chat), 24)
            assert got == want, (kind, text)
            assert len(set(want)) > 3  # a real answer, not one token repeated
    finally:
        llama.close()
        ours.close()
