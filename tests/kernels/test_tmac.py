"""T-MAC lookup-table kernels (kernels/tmac): the layout is exact against kernels/dequant.py, and every ISA path of
the C extension is bit-exact in integers (and within fp32 rounding in floats) against the numpy reference, on the
bundled models' real shapes read from their GGUF files."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest

from edgemind.kernels import dequant, tmac
from edgemind.kernels.gguf_header import GGUFFormatError
from edgemind.kernels.gguf_tensors import GGUFTensors
from edgemind.kernels.tmac import layout, stale_build
from edgemind.kernels.tmac import reference as ref
from edgemind.kernels.tmac.build_id import SOURCES, source_digest

needs_build = pytest.mark.skipif(not tmac.available(), reason=str(tmac.why_unavailable()))
ISAS = ("scalar", "avx2", "avx512", "neon")
TINY_FILE = "smollm2-135m-instruct-q4_1.gguf"
# one of each distinct matrix shape of a SmolLM2 layer: q/o (576x576), k/v (192x576), gate/up (1536x576), down
TINY_TENSORS = ("blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight")


@pytest.fixture
def isa(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Force one ISA path through EDGEMIND_TMAC_ISA; skip the ones this CPU lacks."""
    name = request.param
    if name not in tmac.isas():
        pytest.skip(f"this CPU has no {name} path")
    monkeypatch.setenv("EDGEMIND_TMAC_ISA", name)
    assert tmac.selected_isa() == name
    yield name


def every_isa(test: Callable[..., None]) -> Callable[..., None]:
    return pytest.mark.parametrize("isa", ISAS, indirect=True)(needs_build(test))


def check_against_reference(w: layout.TmacWeights, x: np.ndarray, threads: int = 2) -> None:
    from edgemind.kernels.tmac import ops

    t = ops.build_tables(x)
    t_ref = ref.tables(x)
    np.testing.assert_array_equal(t.tq, t_ref.tq)
    np.testing.assert_array_equal(t.scales, t_ref.scales)
    np.testing.assert_array_equal(t.c15, t_ref.c15)
    np.testing.assert_array_equal(ops.chunk_ints(w, t, threads=threads), ref.chunk_ints(w, t_ref))
    y = ops.gemm(w, t, threads=threads)
    # fp32 rounding: a few ulps of the sum of the magnitudes of the terms (one rounding per term and per add)
    bound = ref.gemm_magnitude(w, t_ref) * (w.k // layout.CHUNK + 4) * np.finfo(np.float32).eps
    err = np.abs(y.astype(np.float64) - ref.gemm(w, t_ref))
    assert (err <= bound).all(), f"worst error {err.max():.3g}, bound there {bound.flat[err.argmax()]:.3g}"


def synthetic(n: int, k: int, bits: int, block: int, *, zero: int = 0, mins: bool = False,
              seed: int = 0) -> layout.TmacWeights:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 1 << bits, (n, k)).astype(np.uint8)
    d = rng.uniform(0.005, 0.02, (n, k // block)).astype(np.float16)
    m = rng.uniform(-0.05, 0.05, (n, k // block)).astype(np.float16) if mins else None
    return layout.pack(codes, d, m, bits=bits, block=block, zero=zero)


# ----------------------------------------------------------------------------------------------- layout

def test_q4_1_tensors_of_the_tiny_model_convert_exactly(models_dir: Path) -> None:
    with GGUFTensors.open(models_dir / TINY_FILE) as g:
        for name in TINY_TENSORS:
            info = g.info(name)
            assert info.type_name == "Q4_1"
            w = layout.from_gguf(g.raw(name), info.ggml_type, info.shape)
            np.testing.assert_array_equal(layout.dequantize(w), g.dequantize(name), err_msg=name)


def test_q4_0_blocks_convert_exactly() -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((40, 256)) * rng.uniform(0.01, 3, (40, 1))).astype(np.float32)
    x[5] = 0.0  # scale 0
    raw = gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q4_0)
    w = layout.from_gguf(raw, dequant.Q4_0, (40, 256))
    assert (w.n, w.n_padded, w.zero) == (40, 64, 8)  # padded to a whole 32-row tile
    np.testing.assert_array_equal(layout.dequantize(w), dequant.dequantize(raw, dequant.Q4_0, (40, 256)))


@pytest.mark.parametrize("type_name", ["TQ2_0", "TQ1_0"])
def test_ternary_blocks_convert_exactly(type_name: str) -> None:
    qtype = gguf.GGMLQuantizationType[type_name]
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((40, 512)) * rng.uniform(0.01, 3, (40, 1))).astype(np.float32)
    x[2] = 0.0
    raw = gguf.quants.quantize(x, qtype)
    w = layout.from_gguf(raw, int(qtype), (40, 512))
    assert (w.bits, w.zero, w.block, w.n_padded) == (2, 1, 256, 64)
    np.testing.assert_array_equal(layout.dequantize(w), dequant.dequantize(raw, int(qtype), (40, 512)))
    np.testing.assert_array_equal(layout.dequantize(w), gguf.quants.dequantize(raw, qtype))


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_pack_and_unpack_round_trip_with_padding(bits: int) -> None:
    rng = np.random.default_rng(bits)
    codes = rng.integers(0, 1 << bits, (37, 64)).astype(np.uint8)  # 37 rows: not a whole tile for any width
    d, m = (rng.standard_normal((37, 2)).astype(np.float16) for _ in range(2))
    w = layout.pack(codes, d, m, bits=bits, block=32)
    back, d2, m2 = layout.unpack(w)
    np.testing.assert_array_equal(back, codes)
    assert d2.tobytes() == d.tobytes() and m2 is not None and m2.tobytes() == m.tobytes()
    assert w.nbytes == w.n_padded // layout.tile_rows(bits) * 2 * w.record_bytes


def test_layout_refuses_what_it_cannot_hold_exactly() -> None:
    with pytest.raises(GGUFFormatError, match=r"no exact T-MAC layout for Q8_0 tensors \(supported: Q4_0, Q4_1, TQ1_0"):
        layout.from_gguf(np.zeros(34, np.uint8), dequant.Q8_0, (1, 32))
    with pytest.raises(ValueError, match="past the 2-bit range"):
        layout.pack(np.full((8, 32), 4, np.uint8), np.ones((8, 1), np.float16), bits=2, block=32)
    with pytest.raises(ValueError, match="scale block 256 must be a multiple of 32 that divides the row length 896"):
        layout.pack(np.zeros((8, 896), np.uint8), np.ones((8, 3), np.float16), bits=2, block=256)


# ----------------------------------------------------------------------------------------------- kernels

@every_isa
def test_kernels_match_the_reference_on_the_tiny_models_matrices(isa: str, models_dir: Path) -> None:
    rng = np.random.default_rng(1)
    with GGUFTensors.open(models_dir / TINY_FILE) as g:
        for name in TINY_TENSORS:
            info = g.info(name)
            w = layout.from_gguf(g.raw(name), info.ggml_type, info.shape)
            for m in (1, 3):  # GEMV (decode) and a small-batch GEMM
                check_against_reference(w, rng.standard_normal((m, w.k)).astype(np.float32))


@every_isa
@pytest.mark.default_model
def test_every_width_matches_the_reference_on_the_default_models_shapes(isa: str,
                                                                      default_model_installed: Path) -> None:
    with GGUFTensors.open(default_model_installed) as g:
        shapes = sorted({g.info(name).shape for name in g.names if name.startswith("blk.0.")
                         and name.endswith(".weight") and len(g.info(name).shape) == 2})
    assert (4864, 896) in shapes and (896, 4864) in shapes  # Qwen2.5-0.5B: hidden 896, ffn 4864
    rng = np.random.default_rng(2)
    widths = ((4, 8, False), (2, 1, False), (4, 0, True), (1, 0, True))  # one per shape, in turn: seconds, not minutes
    for i, (n, k) in enumerate(shapes):
        bits, zero, mins = widths[i % len(widths)]
        w = synthetic(n, k, bits, 32, zero=zero, mins=mins, seed=n + k + bits)
        check_against_reference(w, rng.standard_normal((1, k)).astype(np.float32))


@every_isa
@pytest.mark.parametrize(("bits", "block", "zero", "mins"), [
    (4, 32, 8, False),  # Q4_0
    (4, 32, 0, True),  # Q4_1
    (2, 256, 1, False),  # ternary in TQ2_0's blocks: w = d * (q - 1), q in 0..2
    (2, 64, 2, True),
    (1, 32, 0, True),  # binary with a min: +-a as d = 2a, m = -a
    (1, 128, 0, False),
])
def test_every_width_and_zero_point_matches_the_reference(isa: str, bits: int, block: int, zero: int,
                                                         mins: bool) -> None:
    w = synthetic(150, 512, bits, block, zero=zero, mins=mins)  # 150 rows: more than one tile, padded
    x = np.random.default_rng(4).standard_normal((2, 512)).astype(np.float32)
    x[1, :64] = 0.0  # a chunk of zeros: table scale 0
    check_against_reference(w, x, threads=3)


@needs_build
def test_ternary_codes_are_exactly_the_ternary_weights() -> None:
    from edgemind.kernels.tmac import ops

    rng = np.random.default_rng(5)
    codes = rng.integers(0, 3, (64, 256)).astype(np.uint8)
    w = layout.pack(codes, np.full((64, 1), 0.25, np.float16), bits=2, block=256, zero=1)
    np.testing.assert_array_equal(layout.dequantize(w), (codes.astype(np.float32) - 1) * 0.25)
    x = rng.standard_normal(256).astype(np.float32)
    # the tables' int8 quantization is the only approximation: within a few table steps of the exact product
    exact = layout.dequantize(w) @ x
    step = np.abs(ref.tables(x[None]).scales).max() * 0.25
    assert np.abs(ops.gemv(w, x) - exact).max() <= 64 * step


@needs_build
def test_threads_split_rows_without_changing_a_bit() -> None:
    from edgemind.kernels.tmac import ops

    w = synthetic(896, 896, 4, 32, zero=8)
    x = np.random.default_rng(6).standard_normal((1, 896)).astype(np.float32)
    one = ops.gemm(w, x, threads=1)
    for threads in (2, 3, 8, 200):  # more threads than tiles is fine
        assert ops.gemm(w, x, threads=threads).tobytes() == one.tobytes()
    # back to back (the workers spin between jobs), then after a pause (they sleep and must be woken)
    for _ in range(50):
        assert ops.gemm(w, x, threads=2).tobytes() == one.tobytes()
    time.sleep(0.05)
    assert ops.gemm(w, x, threads=2).tobytes() == one.tobytes()


@needs_build
def test_bad_calls_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgemind.kernels.tmac import ops

    w = synthetic(16, 64, 4, 32)
    with pytest.raises(ValueError, match="activations of length 96 do not match weights with rows of 64"):
        ops.gemv(w, np.zeros(96, np.float32))
    with pytest.raises(ValueError, match="multiple of 32"):
        ops.build_tables(np.zeros(40, np.float32))
    with pytest.raises(ValueError, match="out must be a contiguous float32 array of shape"):
        ops.gemm(w, np.zeros((1, 64), np.float32), out=np.zeros((1, 3), np.float32))
    monkeypatch.setenv("EDGEMIND_TMAC_ISA", "sse9")
    with pytest.raises(ValueError, match="EDGEMIND_TMAC_ISA=sse9 is not one of scalar, avx2, avx512, neon"):
        ops.gemv(w, np.zeros(64, np.float32))
    missing = next((name for name in ISAS if name not in tmac.isas()), None)
    if missing:
        monkeypatch.setenv("EDGEMIND_TMAC_ISA", missing)
        with pytest.raises(ValueError, match=f"has no {missing} path"):
            ops.gemv(w, np.zeros(64, np.float32))


def test_the_extension_is_built_where_a_compiler_is() -> None:
    """CI on Linux has a C compiler: there the kernels must be built, so a broken build cannot pass as skips."""
    if not sys.platform.startswith("linux") or not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here: the extension is optional")
    assert tmac.available(), tmac.why_unavailable()
    assert "scalar" in tmac.isas()
    if os.uname().machine == "x86_64":
        assert tmac.isas()[0] == "scalar" and set(tmac.isas()) <= {"scalar", "avx2", "avx512"}


def test_the_built_module_is_from_the_sources_beside_it() -> None:
    if not tmac.available():
        pytest.skip(str(tmac.why_unavailable()))
    assert tmac.native().source_digest == source_digest(Path(tmac.__file__).resolve().parent)


def test_a_module_built_from_other_sources_is_refused_in_one_line(tmp_path: Path) -> None:
    for name in SOURCES:
        (tmp_path / name).write_text("int x;\n", encoding="utf-8")
    now = source_digest(tmp_path)
    assert now is not None and stale_build(now, now) is None
    (tmp_path / SOURCES[-1]).write_text("int x = 1;\n", encoding="utf-8")  # a pull changed one file
    line = stale_build(now, source_digest(tmp_path))
    assert line is not None and "\n" not in line and "rebuild" in line and now in line
    assert "before digests" in str(stale_build(None, now))  # a module from before this check
    (tmp_path / SOURCES[0]).unlink()
    assert source_digest(tmp_path) is None and stale_build(now, None) is None  # a wheel: nothing to compare


def test_doctor_line_says_which_path_runs_or_why_none() -> None:
    assert tmac.status_line({"available": False, "isas": [], "selected": None, "error": "no compiler"}) == \
        "NOT BUILT: no compiler"
    line = tmac.status_line({"available": True, "isas": ["scalar", "avx2"], "selected": "avx2"})
    assert line == "avx2 (this CPU: scalar, avx2)"
    s = tmac.status()
    assert s["available"] == tmac.available() and (s["selected"] in s["isas"] if s["available"] else s["error"])


FORK_THEN_RUN = r"""
import os, sys
import numpy as np
from edgemind.kernels.tmac import layout, ops
rng = np.random.default_rng(0)
w = layout.pack(rng.integers(0, 16, (256, 64)).astype(np.uint8), np.ones((256, 2), np.float16), bits=4, block=32)
x = rng.standard_normal(64).astype(np.float32)
before = ops.gemv(w, x, threads=2)  # starts the worker pool in the parent
pid = os.fork()
if pid == 0:  # the child has none of the parent's threads: the pool must start afresh, not wait for ghosts
    os._exit(0 if ops.gemv(w, x, threads=2).tobytes() == before.tobytes() else 3)
import signal, time
for _ in range(300):  # a child stuck waiting for ghost workers is killed, not left behind
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(os.waitstatus_to_exitcode(status))
    time.sleep(0.1)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
sys.exit("the forked child hung in the kernels' thread pool")
"""


@needs_build
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this OS")
def test_a_forked_child_runs_the_threaded_kernels() -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-c", FORK_THEN_RUN], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
