"""A numpy forward pass of a Llama/Qwen2 GGUF whose low-bit matrices go through our T-MAC kernels.

It is "our own path" for the ternary model's perplexity until the C decoder loop (`tmac` backend) lands: every
TQ1_0/TQ2_0/Q4_0/Q4_1 matrix is converted exactly to the T-MAC layout (kernels/tmac/layout.py) and multiplied by the
compiled LUT GEMM (int8 activation tables, as the kernels always quantize them); other matrices (F16, F32, Q8_0, the
embedding) are dequantized and multiplied in fp32. Norms, RoPE, attention and SwiGLU are fp32 numpy, one full
sequence at a time with no KV cache: a yardstick, not a server. Without the compiled kernels it falls back to
dequantized fp32 matrices and says so in `matrix_path`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import tmac
from .decoder_config import DecoderConfig, config_from_gguf
from .decoder_reference import apply_rope, rms_norm
from .dequant import Q4_0, Q4_1, TQ1_0, TQ2_0
from .gguf_tensors import GGUFTensors
from .tmac import layout

LUT_TYPES = (Q4_0, Q4_1, TQ1_0, TQ2_0)
MATRICES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


@dataclass(frozen=True, slots=True)
class _Matrix:
    lut: layout.TmacWeights | None
    dense: np.ndarray | None  # float32 (n, k) when not on the LUT path


class LutForward:
    """`logits(ids)` -> float32 (len(ids), vocab) for a GGUF's decoder; `matrix_path` says which path ran."""

    def __init__(self, path: str | Path, *, threads: int = 1, use_lut: bool = True,
                 transform: Callable[[str, np.ndarray], np.ndarray] | None = None) -> None:
        """`transform(name, fp32 matrix)`, when given, replaces every decoder matrix (then all run dequantized):
        how a post-training quantization is tried on a model without writing a file."""
        self.threads = threads
        with GGUFTensors.open(path) as t:
            vocab = t.info("token_embd.weight").shape[0]
            self.cfg: DecoderConfig = config_from_gguf(t.metadata, set(t.names), vocab)
            if self.cfg.qkv_bias:
                self._bias = {n: t.dequantize(n) for n in t.names if n.endswith(".bias")}
            else:
                self._bias = {}
            self._embed = t.dequantize("token_embd.weight")
            self._head = self._embed if self.cfg.tied_embeddings else t.dequantize("output.weight")
            self._norms = {n: t.dequantize(n) for n in t.names if n.endswith("norm.weight")}
            lut = use_lut and transform is None and tmac.available()
            self._mats: dict[str, _Matrix] = {}
            on_lut = 0
            for i in range(self.cfg.layers):
                for m in MATRICES:
                    name = f"blk.{i}.{m}.weight"
                    info = t.info(name)
                    if lut and info.ggml_type in LUT_TYPES:
                        self._mats[name] = _Matrix(layout.from_gguf(np.array(t.raw(name)), info.ggml_type,
                                                                    info.shape), None)
                        on_lut += 1
                    else:
                        dense = t.dequantize(name)
                        self._mats[name] = _Matrix(None, transform(name, dense) if transform else dense)
        total = len(self._mats)
        self.matrix_path = (f"T-MAC LUT kernels ({tmac.selected_isa()}) for {on_lut} of {total} matrices"
                            if on_lut else "dequantized fp32 matrices")

    def _mm(self, name: str, x: np.ndarray) -> np.ndarray:
        m = self._mats[name]
        if m.lut is not None:
            from .tmac import ops  # lazy: the compiled module, loaded only when a LUT matrix exists
            return np.array(ops.gemm(m.lut, x, threads=self.threads))
        assert m.dense is not None
        return x @ m.dense.T

    def logits(self, ids: list[int]) -> np.ndarray:
        """Logits at every position of `ids`, starting from position 0."""
        cfg = self.cfg
        seq = len(ids)
        if seq < 1 or seq > cfg.max_positions:
            raise ValueError(f"a sequence of {seq} tokens is outside 1..{cfg.max_positions}")
        tokens = np.asarray(ids)
        if tokens.min() < 0 or tokens.max() >= cfg.vocab:
            raise ValueError(f"a token id is outside the vocabulary of {cfg.vocab}")
        x = self._embed[tokens].astype(np.float32)
        pos = np.arange(seq)
        mask = np.triu(np.full((seq, seq), -np.inf, dtype=np.float32), k=1)
        group = cfg.heads // cfg.kv_heads
        for i in range(cfg.layers):
            p = f"blk.{i}"
            h = rms_norm(x, self._norms[f"{p}.attn_norm.weight"], cfg.rms_eps).astype(np.float32)
            q, k, v = (self._mm(f"{p}.attn_{n}.weight", h) for n in "qkv")
            if self._bias:
                q, k, v = (a + self._bias[f"{p}.attn_{n}.bias"] for a, n in zip((q, k, v), "qkv"))
            q = apply_rope(q.reshape(seq, cfg.heads, cfg.head_dim), pos, cfg.rope_theta, cfg.rope_interleaved)
            k = apply_rope(k.reshape(seq, cfg.kv_heads, cfg.head_dim), pos, cfg.rope_theta, cfg.rope_interleaved)
            k = np.repeat(k.astype(np.float32), group, axis=1)
            v = np.repeat(v.reshape(seq, cfg.kv_heads, cfg.head_dim), group, axis=1)
            scores = np.einsum("qhd,khd->hqk", q.astype(np.float32), k) / np.float32(np.sqrt(cfg.head_dim)) + mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            attn = np.einsum("hqk,khd->qhd", scores, v).reshape(seq, cfg.hidden).astype(np.float32)
            x = x + self._mm(f"{p}.attn_output.weight", attn)
            h = rms_norm(x, self._norms[f"{p}.ffn_norm.weight"], cfg.rms_eps).astype(np.float32)
            gate, up = self._mm(f"{p}.ffn_gate.weight", h), self._mm(f"{p}.ffn_up.weight", h)
            x = x + self._mm(f"{p}.ffn_down.weight", (gate / (1.0 + np.exp(-gate)) * up).astype(np.float32))
        h = rms_norm(x, self._norms["output_norm.weight"], cfg.rms_eps).astype(np.float32)
        return (h @ self._head.T).astype(np.float32)
