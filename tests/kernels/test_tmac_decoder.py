"""The C decoder loop (kernels/tmac/_decoder.c) on the bundled models against the numpy reference and llama.cpp.

Tolerance: the C loop quantizes activations (T-MAC: int8 tables of 4-activation sums per 32; int8 blocks: int8 per
32, as llama.cpp's Q8 dot products do), the reference runs float64 on the same exact weights. Measured on SmolLM2
with TOKENS: llama.cpp's own logits are 1.1-8.1% (relative RMS over the vocabulary) from that reference, ours
0.9-8.9% (int8 path) and 1.2-7.9% (T-MAC tables). The bound is 1.5x llama.cpp's worst, 12%: quantization noise
passes, a wrong RoPE, a mis-fused q/k/v or an off-by-one in the cache (30-100%) does not.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgemind.kernels import tmac
from edgemind.kernels.decoder_config import config_from_gguf
from edgemind.kernels.decoder_reference import reference_forward
from edgemind.kernels.decoder_weights import DecoderWeights
from edgemind.kernels.gguf_tensors import GGUFTensors
from edgemind.kernels.tmac.decoder import TmacDecoder, TmacModelError
from edgemind.kernels.tmac.int8_layout import INT8_TYPES, from_gguf_int8

pytestmark = pytest.mark.skipif(not tmac.available(), reason="the T-MAC extension is not built here")

TOKENS = [1, 504, 3458, 314, 253, 1345]
TERNARY = Path(__file__).resolve().parents[1] / "data" / "tiny_ternary_tq2_0.gguf"


@pytest.fixture(scope="module")
def tiny(models_dir: Path) -> Path:
    return models_dir / "smollm2-135m-instruct-q4_1.gguf"


def rel_rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b.astype(np.float64) ** 2)))


def test_int8_layout_is_exact_for_every_type_in_the_bundled_models(tiny: Path, request: pytest.FixtureRequest) -> None:
    files = [tiny, request.getfixturevalue("default_model_installed")]
    seen: set[str] = set()
    for path in files:
        with GGUFTensors.open(path) as f:
            for name in f.names:
                info = f.info(name)
                if info.ggml_type in INT8_TYPES and len(info.shape) == 2 and info.type_name not in seen \
                        and info.shape[0] < 10000:
                    seen.add(info.type_name)
                    w = from_gguf_int8(f.raw(name), info.ggml_type, info.shape)
                    assert np.array_equal(w.dequantize(), f.dequantize(name)), name
    assert {"Q4_1", "Q8_0", "Q5_0", "Q6_K", "Q4_K"} <= seen


def test_each_layout_multiplies_like_numpy(tiny: Path) -> None:
    """One slot at a time (q/k/v fused, gate/up fused, down) in the T-MAC and int8 layouts, against float64."""
    rng = np.random.default_rng(0)
    with GGUFTensors.open(tiny) as f:
        for lut in (True, False):
            dec = TmacDecoder(tiny, n_ctx=8, lut=lut, q4_1_lut=lut, max_layers=1)
            assert (dec.counts.tmac > 0) == lut
            for slot, names, k in ((0, ["attn_q", "attn_k", "attn_v"], 576), (2, ["ffn_gate", "ffn_up"], 576),
                                   (3, ["ffn_down"], 1536)):
                w = np.concatenate([f.dequantize(f"blk.0.{n}.weight") for n in names]).astype(np.float64)
                x = rng.standard_normal(k).astype(np.float32)
                y = np.zeros(w.shape[0], np.float32)
                tmac.native().decoder_matvec(dec._c, 0, slot, x, y)
                assert rel_rms(y, w @ x) < (0.02 if lut else 0.01), (lut, slot)


def test_logits_follow_the_reference_on_smollm2(tiny: Path) -> None:
    weights = DecoderWeights(tiny)
    cfg = config_from_gguf(weights.metadata, weights.names, weights.vocab)
    ref = reference_forward(cfg, weights, TOKENS, original=True).logits
    for lut in (True, False):
        dec = TmacDecoder(tiny, n_ctx=32, lut=lut, q4_1_lut=lut)
        errors, agree = [], 0
        for pos, tok in enumerate(TOKENS):
            got = dec.run([tok], pos)
            errors.append(rel_rms(got, ref[pos]))
            agree += int(np.argmax(got) == np.argmax(ref[pos]))
        assert max(errors) < 0.12, (lut, errors)
        assert agree >= len(TOKENS) - 1, (lut, agree)
        # prefill of several tokens in one call lands on the same logits as one token per call
        again = dec.run(TOKENS, 0).copy()
        assert np.array_equal(again, dec.run([TOKENS[-1]], len(TOKENS) - 1))


class _FirstRows:
    """The reference's weights with only the rows it needs of the two 151936-row matrices (float64 copies of them
    would take 1 GB): the embedding rows of the test's tokens, the first `head_rows` rows of the LM head."""

    def __init__(self, weights: DecoderWeights, tokens: list[int], head_rows: int) -> None:
        self._w, self._tokens, self._rows = weights, tokens, head_rows

    def dense(self, name: str, *, original: bool = False) -> np.ndarray:
        if name == "output.weight":
            with GGUFTensors.open(self._w.path) as f:
                info = f.info(name)
                raw = f.raw(name).reshape(info.shape[0], -1)[:self._rows]
                return from_gguf_int8(raw, info.ggml_type, (self._rows, info.shape[1])).dequantize()
        return self._w.dense(name, original=original)

    def embedding_table(self) -> np.ndarray:
        return np.asarray(self._w.embedding_table()[self._tokens], np.float32)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._w, name)


def test_the_first_layers_of_qwen_follow_the_reference(request: pytest.FixtureRequest) -> None:
    """Qwen2: NEOX RoPE, q/k/v bias, GQA 14/2, untied head; its Q5_0/Q8_0/Q6_K/Q4_K matrices all take the int8 path."""
    path = request.getfixturevalue("default_model_installed")
    tokens, head_rows, layers = [9707, 11, 1879, 0, 358], 4096, 2
    weights = DecoderWeights(path)
    cfg = replace(config_from_gguf(weights.metadata, weights.names, weights.vocab), layers=layers, vocab=head_rows)
    ref = reference_forward(cfg, _FirstRows(weights, tokens, head_rows), list(range(len(tokens))),
                            original=True).logits
    dec = TmacDecoder(path, n_ctx=16, max_layers=layers)
    assert dec.counts.tmac == 0 and dec.counts.int8 == 4 * layers + 2
    for pos, tok in enumerate(tokens):
        got = dec.run([tok], pos)[:head_rows]
        assert rel_rms(got, ref[pos]) < 0.12, pos


def _gguf(path: Path, arch: str, tensors: dict[str, np.ndarray]) -> Path:
    """A minimal GGUF v3 (metadata of a 1-layer model; F16 tensors where the array is float16, else F32)."""
    def s(text: str) -> bytes:
        return struct.pack("<Q", len(text)) + text.encode()

    kv: list[tuple[str, int, bytes]] = [("general.architecture", 8, s(arch))]
    for key, value in (("block_count", 1), ("embedding_length", 64), ("feed_forward_length", 64),
                       ("attention.head_count", 2), ("attention.head_count_kv", 1), ("context_length", 64)):
        kv.append((f"{arch}.{key}", 4, struct.pack("<I", value)))
    kv.append((f"{arch}.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5)))
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))
    for key, kind, payload in kv:
        out += s(key) + struct.pack("<I", kind) + payload
    offset, blobs = 0, []
    for name, arr in tensors.items():
        out += s(name) + struct.pack("<I", arr.ndim) + b"".join(struct.pack("<Q", d) for d in arr.shape[::-1])
        half = arr.dtype == np.float16  # GGML type 1 (F16), else 0 (F32)
        out += struct.pack("<IQ", 1 if half else 0, offset)
        blob = np.ascontiguousarray(arr, np.float16 if half else np.float32).tobytes()
        blobs.append(blob + b"\0" * (-len(blob) % 32))
        offset += len(blobs[-1])
    out += b"\0" * (-len(out) % 32)
    path.write_bytes(bytes(out) + b"".join(blobs))
    return path


def _tiny_model(drop: str = "") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    shapes = {"token_embd.weight": (100, 64), "output_norm.weight": (64,), "blk.0.attn_norm.weight": (64,),
              "blk.0.ffn_norm.weight": (64,), "blk.0.attn_q.weight": (64, 64), "blk.0.attn_k.weight": (32, 64),
              "blk.0.attn_v.weight": (32, 64), "blk.0.attn_output.weight": (64, 64),
              "blk.0.ffn_gate.weight": (64, 64), "blk.0.ffn_up.weight": (64, 64), "blk.0.ffn_down.weight": (64, 64)}
    return {n: rng.standard_normal(s).astype(np.float32) * 0.1 for n, s in shapes.items() if n != drop}


def test_a_tiny_f32_model_runs_on_the_dense_path(tmp_path: Path) -> None:
    path = _gguf(tmp_path / "ok.gguf", "llama", _tiny_model())
    dec = TmacDecoder(path, n_ctx=8)
    assert dec.counts.dense == 6 and dec.counts.int8 == 0
    weights = DecoderWeights(path)
    cfg = config_from_gguf(weights.metadata, weights.names, weights.vocab)
    ref = reference_forward(cfg, weights, [3, 7, 9], original=True).logits
    got = np.stack([dec.run([t], i).copy() for i, t in enumerate([3, 7, 9])])
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)  # no quantization on this path: fp32 rounding only
    with pytest.raises(ValueError, match="outside the vocabulary"):
        dec.run([100], 3)
    with pytest.raises(ValueError, match="do not fit"):
        dec.run([1], 8)


def test_f16_matrices_give_the_logits_of_their_exact_fp32_copy(tmp_path: Path) -> None:
    """F16 weights stay fp16 in memory (half the bytes) and are widened as read: the same products in the same order
    as the fp32 copy of the same values, so the logits are identical to the bit."""
    halves = {n: a.astype(np.float16) if a.ndim == 2 else a for n, a in _tiny_model().items()}
    as_f32 = TmacDecoder(_gguf(tmp_path / "f32.gguf", "llama", {n: a.astype(np.float32) for n, a in halves.items()}),
                         n_ctx=8)
    as_f16 = TmacDecoder(_gguf(tmp_path / "f16.gguf", "llama", halves), n_ctx=8)
    assert as_f16.counts.dense == as_f32.counts.dense == 6
    for i, t in enumerate([3, 7, 9, 3]):
        assert as_f16.run([t], i).tobytes() == as_f32.run([t], i).tobytes(), i


@pytest.mark.parametrize("model", ["ternary", "smollm2"])
def test_logits_are_the_same_whatever_the_threads(model: str, request: pytest.FixtureRequest) -> None:
    """Every unit of a product (a tile, a row, a head) is computed whole by one thread, whichever claims it, and
    back-to-back steps keep the workers spinning while a pause puts them to sleep: neither may change a bit."""
    import time

    path = TERNARY if model == "ternary" else request.getfixturevalue("tiny")
    prompt = [1, 45, 300, 12, 77, 5, 901, 64]
    runs = []
    for threads in (1, 2, 3):
        dec = TmacDecoder(path, n_ctx=64, threads=threads, max_layers=None if model == "ternary" else 4)
        logits = [dec.run(prompt, 0).copy()]
        for i, t in enumerate([5, 9, 400, 33, 2, 18]):
            if i == 3:
                time.sleep(0.05)  # longer than the workers spin: they sleep and are woken
            logits.append(dec.run([t], len(prompt) + i).copy())
        runs.append(np.stack(logits))
    assert runs[0].tobytes() == runs[1].tobytes() == runs[2].tobytes()
    assert np.isfinite(runs[0]).all() and runs[0].std() > 0


@pytest.mark.parametrize(("arch", "drop", "message"), [
    ("llama", "blk.0.ffn_up.weight", "lacks tensor blk.0.ffn_up.weight"),
    ("gpt2", "", "architecture 'gpt2' is not supported"),
    ("llama", "output_norm.weight", "lacks tensor output_norm.weight"),
])
def test_a_hostile_gguf_is_one_line(tmp_path: Path, arch: str, drop: str, message: str) -> None:
    path = _gguf(tmp_path / "bad.gguf", arch, _tiny_model(drop))
    with pytest.raises(TmacModelError, match=message) as info:
        TmacDecoder(path)
    assert "\n" not in str(info.value) and "bad.gguf" in str(info.value)


def test_a_file_that_is_not_gguf_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "junk.gguf"
    path.write_bytes(b"not a model at all" * 10)
    with pytest.raises(TmacModelError, match="junk.gguf is not a readable GGUF"):
        TmacDecoder(path)



@pytest.mark.parametrize("lut", [True, False])
def test_every_isa_path_gives_the_same_logits(tiny: Path, lut: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The decoder's scalar fallback (what a CPU without AVX2 runs) against the default SIMD path, both layouts."""
    if tmac.isas() == ["scalar"]:
        pytest.skip("this CPU has only the scalar path")
    logits = {}
    for isa in ("scalar", tmac.isas()[-1]):
        monkeypatch.setenv("EDGEMIND_TMAC_ISA", isa)
        dec = TmacDecoder(tiny, n_ctx=8, lut=lut, q4_1_lut=lut, max_layers=3)
        logits[isa] = dec.run(TOKENS[:3], 0).copy()
    a, b = logits.values()
    # The same integer kernels; the fp32 sums differ in order (FMA vs not), which flips the rounding of a few int8
    # activations or table entries that later layers carry: measured 0.2-0.8% over 3 layers (2e-7 after one layer
    # on the int8 path). A wrong scalar kernel is off by 30% or more.
    assert rel_rms(a, b) < 0.03
    assert np.argmax(a) == np.argmax(b)


# (packed Q4_1 nibbles, fp16 activations as llama.cpp's legacy types, block, mins, code range)
GROUP_KINDS = {"q4_1-nibbles": (True, True, 32, True, 16), "q8_0-codes": (False, True, 32, False, 127),
               "q5_0-codes": (False, True, 32, False, 16), "q4_k-codes": (False, False, 32, True, 127),
               "q6_k-codes": (False, False, 16, False, 32)}


def _group_matvec(kind: str, isa: str, k: int, rng: np.random.Generator, x_spread: float,
                  monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8 random rows of `kind` in one slot twice -- all 8 (groups of four rows), then the first 7 alone (the row
    layout) -- times a random x: (y of 15 rows, the 8 rows' exact float64 weights, x)."""
    packed, fp16_act, block, has_min, span = GROUP_KINDS[kind]
    monkeypatch.setenv("EDGEMIND_TMAC_ISA", tmac.isas()[-1] if isa == "best" else "scalar")
    n = 8
    lut = tmac.native()
    dec = lut.decoder_new(1, k, 3, 1, 32, k, 8, 4, 1e-5, False, 1)
    # legacy types: fp16 scales and mins, as a GGUF holds them; K-quants: fp32 products d * sc
    scales = rng.uniform(0.001, 0.02, (n, k // block)).astype(np.float16 if fp16_act else np.float32)
    scales = scales.astype(np.float32)
    mins = -rng.uniform(0.01, 0.1, (n, k // block)).astype(np.float16).astype(np.float32) if has_min else None
    if packed:
        q = rng.integers(0, 256, (n, k // 2), dtype=np.uint8)
        codes = np.concatenate([q.reshape(n, -1, 16) & 15, q.reshape(n, -1, 16) >> 4], axis=2).reshape(n, k)
    else:
        q = rng.integers(-span, span, (n, k), dtype=np.int8)  # Q5_0's -16..15: 5 bits a code in the groups
        codes = q.astype(np.int64)
    w = (scales.repeat(block, axis=1) * codes + (0 if mins is None else mins.repeat(block, axis=1)))
    for part, rows, off in ((0, n, 0), (1, n - 1, n)):
        lut.decoder_set_matrix(dec, 0, 0, part, off, 1, rows, k, 8, block, 0, has_min,
                               np.ascontiguousarray(q[:rows]), np.ascontiguousarray(scales[:rows]),
                               None if mins is None else np.ascontiguousarray(mins[:rows]), fp16_act, packed)
    x = (rng.standard_normal(k) * (rng.uniform(1 / x_spread, x_spread, k) if x_spread > 1 else 1)).astype(np.float32)
    y = np.zeros(2 * n - 1, np.float32)
    lut.decoder_matvec(dec, 0, 0, x, y)
    return y, w.astype(np.float64), x


@pytest.mark.parametrize("kind", list(GROUP_KINDS))
@pytest.mark.parametrize("isa", ["scalar", "best"])
def test_rows_in_groups_of_four_give_the_row_layouts_bits(kind: str, isa: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An int8-path matrix whose rows are a multiple of 4 is repacked in groups of four rows (_decoder.c g4_repack;
    Q5_0's codes then at 5 bits); any other keeps the row layout. The same 7 rows both ways (8 rows, then the first 7
    alone) must give the same bits: the group kernels promise the row kernels' float operations row for row
    (llama.cpp's, for the legacy types), not only close values."""
    y, w, x = _group_matvec(kind, isa, 96, np.random.default_rng(7), 1.0, monkeypatch)
    assert np.array_equal(y[:7], y[8:])
    assert rel_rms(y[:8], w @ x) < 0.02  # int8 activations


def _q8_k(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """llama.cpp's quantize_row_q8_K in numpy (float32 steps): per 256, the signed value of largest magnitude (the
    first such), iscale = -127 / max, codes iscale * x rounded to nearest even and capped at 127, d = 1 / iscale."""
    codes, scales = [], []
    for block in x.reshape(-1, 256):
        top = block[int(np.argmax(np.abs(block)))]
        iscale = np.float32(-127.0) / top
        codes.append(np.minimum(np.rint(iscale * block), 127).astype(np.int64))
        scales.append(float(np.float32(1.0) / iscale))
    return np.concatenate(codes), np.repeat(scales, 256)


def _q8_per_32(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The legacy types' activations (quantize_row_q8_0): one scale per 32."""
    blocks = x.reshape(-1, 32)
    d = np.abs(blocks).max(axis=1) / np.float32(127)
    codes = np.rint(blocks * (np.float32(127) / np.abs(blocks).max(axis=1))[:, None]).astype(np.int64)
    return codes.reshape(-1), np.repeat(d.astype(np.float64), 32)


@pytest.mark.parametrize("kind", ["q4_k-codes", "q6_k-codes"])
@pytest.mark.parametrize("isa", ["scalar", "best"])
def test_k_quant_matrices_multiply_llama_cpps_q8_k_activations(kind: str, isa: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """ggml_vec_dot_q4_K_q8_K / q6_K_q8_K multiply the K-quants' codes with block_q8_K activations (one scale per
    256), not the per-32 ones of the legacy types: the integer sums differ, and with them the logits (Qwen2.5-Coder's
    Q4_K/Q6_K ffn_down parted 3 of 10 greedy answers from llama.cpp's). The C result must be the Q8_K product up to
    fp32 summation order; the per-32 product is the control, which it must not be."""
    y, w, x = _group_matvec(kind, isa, 512, np.random.default_rng(11), 3.0, monkeypatch)
    assert np.array_equal(y[:7], y[8:])
    want, per_32 = w @ np.prod(_q8_k(x), axis=0), w @ np.prod(_q8_per_32(x), axis=0)  # codes x scale
    assert rel_rms(y[:8], want) < 2e-6
    assert rel_rms(per_32, want) > 1e-4  # the other rounding is far outside that bound
