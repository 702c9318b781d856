"""A Qwen2/Llama GGUF decoder run by the C loop in _decoder.c: weights converted once, then one call per token.

Each matrix goes to the most compact layout that holds its GGUF values exactly: T-MAC bit planes for Q4_0, Q4_1,
TQ1_0 and TQ2_0 (layout.py), int8 blocks with fp32 scales for Q8_0, Q5_x and the K-quants (int8_layout.py), Q4_1's
own nibbles unless `q4_1_lut` (faster than its T-MAC planes on AVX2 and llama.cpp's bits: see __init__), dense
fp16 for F16 (the file's own values, widened as read) and fp32 for F32/BF16. q/k/v and gate/up are fused into one
matrix where their layouts agree (one thread-pool round trip instead of three). The C object keeps a reference to
every buffer it reads, so nothing here must outlive it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..decoder_config import DecoderConfig, UnsupportedModel, config_from_gguf
from ..dequant import BF16, F16, F32, Q4_0, Q4_1, TQ1_0, TQ2_0, type_name
from ..gguf_header import GGUFFormatError
from ..gguf_tensors import GGUFTensors
from . import native
from .int8_layout import INT8_TYPES, Int8Weights, from_gguf_int8, from_gguf_q4_1_packed
from .layout import TmacWeights, from_gguf, tile_rows

TMAC_TYPES = frozenset({Q4_0, Q4_1, TQ1_0, TQ2_0})
DENSE_TYPES = frozenset({F32, F16, BF16})
MAT_TMAC, MAT_Q8, MAT_F32, MAT_F16 = 0, 1, 2, 3
SLOT_QKV, SLOT_O, SLOT_GU, SLOT_DOWN = 0, 1, 2, 3
VEC_ATTN_NORM, VEC_FFN_NORM, VEC_QKV_BIAS = 0, 1, 2

Matrix = TmacWeights | Int8Weights | np.ndarray  # ndarray: dense float16 or float32 (n, k)


class TmacModelError(ValueError):
    """The GGUF cannot run on the tmac decoder; the message names the file and the problem in one line."""


@dataclass(frozen=True, slots=True)
class LayoutCounts:
    """How many matrices went to each layout (what `edgemind bench` and the tests report)."""

    tmac: int = 0
    int8: int = 0
    dense: int = 0


def _rows(m: Matrix) -> int:
    return int(m.shape[0]) if isinstance(m, np.ndarray) else m.n


def _concat(parts: list[Matrix]) -> Matrix | None:
    """One matrix of the stacked rows, when the parts share a layout that stacks by concatenation; else None."""
    first = parts[0]
    if isinstance(first, TmacWeights):
        ok = all(isinstance(p, TmacWeights) and (p.bits, p.block, p.zero, p.has_min, p.k) ==
                 (first.bits, first.block, first.zero, first.has_min, first.k) and p.n == p.n_padded for p in parts)
        if not ok:
            return None
        tw = [p for p in parts if isinstance(p, TmacWeights)]
        return TmacWeights(bits=first.bits, block=first.block, zero=first.zero, has_min=first.has_min,
                           n=sum(p.n for p in tw), k=first.k, data=np.concatenate([p.data for p in tw]))
    if isinstance(first, Int8Weights):
        iw = [p for p in parts if isinstance(p, Int8Weights)]
        if len(iw) != len(parts) or any(p.block != first.block or (p.mins is None) != (first.mins is None)
                                        or p.fp16_act != first.fp16_act or p.packed != first.packed for p in iw):
            return None
        mins = None if first.mins is None else np.concatenate([p.mins for p in iw if p.mins is not None])
        return Int8Weights(q=np.concatenate([p.q for p in iw]), scales=np.concatenate([p.scales for p in iw]),
                           mins=mins, block=first.block, fp16_act=first.fp16_act, packed=first.packed)
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate([np.asarray(p) for p in parts])
    return None


class TmacDecoder:
    """One loaded model: `run(tokens, pos)` feeds tokens at positions pos.. and returns the last one's logits
    (a view of one preallocated float32 vector, overwritten by the next call)."""

    def __init__(self, path: str | Path, *, n_ctx: int = 2048, threads: int = 1, lut: bool = True,
                 max_layers: int | None = None, kv_f16: bool = False, q4_1_lut: bool = False) -> None:
        """`lut` False: the 4-bit types go to the int8 path too (activations rounded as llama.cpp rounds them; Q4_1
        as the GGUF's own nibbles, Q4_0 as int8 codes at twice its bytes); `max_layers`: only the first layers
        (tests compare them with the numpy reference); `kv_f16`: the KV cache rounded to fp16 as llama.cpp's default
        cache holds it (still fp32 storage); `q4_1_lut`: Q4_1 on T-MAC planes too. Off by default: its nibbles on
        the int8 path (repacked in groups of four rows by the C side) give llama.cpp's logits bit for bit, and
        faster than the planes (SmolLM2, 1 thread, AVX2: 6.9 against 8.5 ms a token; benchmarks/tmac_decode.py
        with and without --q4-1-lut)."""
        self._kv_f16 = kv_f16
        self._q4_1_lut = q4_1_lut
        self.path = Path(path)
        self._use_lut = lut
        self._max_layers = max_layers
        self.counts = LayoutCounts()
        try:
            self._file = GGUFTensors.open(self.path)
        except (GGUFFormatError, OSError) as exc:
            raise TmacModelError(f"{self.path.name} is not a readable GGUF file: {exc}") from None
        try:
            self._build(n_ctx, threads)
        except (UnsupportedModel, GGUFFormatError) as exc:
            raise TmacModelError(f"{self.path.name}: {exc}") from None
        except ValueError as exc:  # the C side's shape checks
            raise TmacModelError(f"{self.path.name}: {str(exc).splitlines()[0]}") from None
        finally:
            self._file.close()

    def _build(self, n_ctx: int, threads: int) -> None:
        f = self._file
        names = set(f.names)
        if "token_embd.weight" not in names:
            raise UnsupportedModel("GGUF lacks tensor token_embd.weight")
        vocab = int(f.info("token_embd.weight").shape[0])
        cfg = config_from_gguf(f.metadata, names, vocab, max_positions=n_ctx)
        if self._max_layers is not None:
            cfg = replace(cfg, layers=max(1, min(cfg.layers, self._max_layers)))
        for i in range(cfg.layers):
            for part in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate",
                         "ffn_up", "ffn_down"):
                if f"blk.{i}.{part}.weight" not in names:
                    raise UnsupportedModel(f"GGUF lacks tensor blk.{i}.{part}.weight")
        self.config: DecoderConfig = cfg
        self.n_ctx = cfg.max_positions
        lut = native()
        # rope_theta: the C side builds its RoPE tables as llama.cpp does (fp32 angles, cosf/sinf)
        self._c: Any = lut.decoder_new(cfg.layers, cfg.hidden, cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.ffn,
                                       cfg.vocab, self.n_ctx, cfg.rms_eps, cfg.rope_interleaved, int(threads),
                                       float(cfg.rope_theta), self._kv_f16)
        self.logits = np.zeros(cfg.vocab, np.float32)
        self._one = np.zeros(1, np.int32)
        # one converted matrix alive at a time: the C side repacks most into its own records, and the vocabulary's
        # two (151936 x 896 on Qwen) are the largest temporaries of a load
        embed = self._matrix("token_embd.weight", allow_tmac=False)
        self._set(-1, 0, 0, 0, embed)
        if not cfg.tied_embeddings:
            del embed
            embed = self._matrix("output.weight", allow_tmac=False)
        self._set(-1, 1, 0, 0, embed)
        del embed
        lut.decoder_set_vector(self._c, -1, 0, self._vector("output_norm.weight"))
        for i in range(cfg.layers):
            p = f"blk.{i}"
            lut.decoder_set_vector(self._c, i, VEC_ATTN_NORM, self._vector(f"{p}.attn_norm.weight"))
            lut.decoder_set_vector(self._c, i, VEC_FFN_NORM, self._vector(f"{p}.ffn_norm.weight"))
            if cfg.qkv_bias:
                bias = np.concatenate([self._vector(f"{p}.attn_{n}.bias") for n in "qkv"])
                lut.decoder_set_vector(self._c, i, VEC_QKV_BIAS, bias)
            self._slot(i, SLOT_QKV, [f"{p}.attn_{n}.weight" for n in "qkv"])
            self._slot(i, SLOT_O, [f"{p}.attn_output.weight"])
            self._slot(i, SLOT_GU, [f"{p}.ffn_gate.weight", f"{p}.ffn_up.weight"])
            self._slot(i, SLOT_DOWN, [f"{p}.ffn_down.weight"])

    def _vector(self, name: str) -> np.ndarray:
        if name not in self._file:
            raise UnsupportedModel(f"GGUF lacks tensor {name}")
        return np.ascontiguousarray(self._file.dequantize(name), dtype=np.float32).reshape(-1)

    def _matrix(self, name: str, *, allow_tmac: bool = True) -> Matrix:
        info = self._file.info(name)
        if len(info.shape) != 2:
            raise UnsupportedModel(f"tensor {name} of shape {info.shape} is not a matrix")
        t = info.ggml_type
        rows = tile_rows(4 if t in (Q4_0, Q4_1) else 2)
        if allow_tmac and self._use_lut and t in TMAC_TYPES and (t != Q4_1 or self._q4_1_lut) \
                and info.shape[0] % rows == 0:
            return from_gguf(self._file.raw(name), t, info.shape)
        if t == Q4_1:
            return from_gguf_q4_1_packed(self._file.raw(name), info.shape)
        if t in INT8_TYPES:
            return from_gguf_int8(self._file.raw(name), t, info.shape)
        if t == F16:  # a copy: the file's mapping closes after the build
            return np.array(self._file.raw(name)).view(np.float16).reshape(info.shape)
        if t in DENSE_TYPES:
            return np.ascontiguousarray(self._file.dequantize(name), dtype=np.float32)
        raise UnsupportedModel(f"tensor {name} is {type_name(t)}, which the tmac decoder has no exact layout for")

    def _slot(self, layer: int, slot: int, names: list[str]) -> None:
        parts = [self._matrix(n) for n in names]
        fused = _concat(parts) if len(parts) > 1 else parts[0]
        if fused is not None:
            self._set(layer, slot, 0, 0, fused)
            return
        offset = 0
        for j, m in enumerate(parts):
            self._set(layer, slot, j, offset, m)
            offset += _rows(m)

    def _set(self, layer: int, slot: int, part: int, out_off: int, m: Matrix) -> None:
        lut = native()
        if isinstance(m, TmacWeights):
            lut.decoder_set_matrix(self._c, layer, slot, part, out_off, MAT_TMAC, m.n_padded, m.k, m.bits, m.block,
                                   m.zero, m.has_min, m.data, None, None)
            self.counts = LayoutCounts(self.counts.tmac + 1, self.counts.int8, self.counts.dense)
        elif isinstance(m, Int8Weights):
            lut.decoder_set_matrix(self._c, layer, slot, part, out_off, MAT_Q8, m.n, m.k, 8, m.block, 0,
                                   m.mins is not None, m.q, m.scales, m.mins, m.fp16_act, m.packed)
            self.counts = LayoutCounts(self.counts.tmac, self.counts.int8 + 1, self.counts.dense)
        else:
            kind, dtype = (MAT_F16, np.float16) if m.dtype == np.float16 else (MAT_F32, np.float32)
            lut.decoder_set_matrix(self._c, layer, slot, part, out_off, kind, m.shape[0], m.shape[1], 32, 32, 0,
                                   False, np.ascontiguousarray(m, dtype=dtype), None, None)
            self.counts = LayoutCounts(self.counts.tmac, self.counts.int8, self.counts.dense + 1)

    def run(self, tokens: list[int], pos: int, *, batch: bool = False) -> np.ndarray:
        """Feed `tokens` at positions pos, pos+1, ... (the cache keeps what came before pos) and return the logits
        after the last one. `batch`: attention summed as llama.cpp sums a batch of tokens (a prompt it evaluates in
        one call); else as its one-token steps, so any split of the tokens gives the same logits. ValueError (one
        line) when they do not fit the cache or the vocabulary."""
        if not tokens:
            raise ValueError("no tokens to run")
        if len(tokens) == 1:  # a decode step: no array built per token
            self._one[0] = tokens[0]
            native().decoder_run(self._c, self._one, int(pos), self.logits, batch)
        else:
            native().decoder_run(self._c, np.asarray(tokens, dtype=np.int32), int(pos), self.logits, batch)
        return self.logits
