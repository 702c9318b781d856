"""A plain numpy forward pass of the Qwen2/Llama decoder, the yardstick the ONNX graph is tested against.

Written for clarity, not speed: float64 accumulation, no cache, one full sequence at a time. Never used to serve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .decoder_graph import DecoderConfig, WeightSource


@dataclass(frozen=True, slots=True)
class ReferenceOutput:
    logits: np.ndarray  # [seq, vocab]
    hidden: tuple[np.ndarray, ...]  # residual stream after each layer, [seq, hidden]


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def apply_rope(x: np.ndarray, positions: np.ndarray, theta: float, interleaved: bool) -> np.ndarray:
    """Rotate [seq, heads, dim] by position. Interleaved pairs (2i, 2i+1) as llama.cpp's normal rope reads GGUF llama
    weights; otherwise the NEOX halves (i, i + dim/2) as qwen2 uses."""
    dim = x.shape[-1]
    inv = theta ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    ang = positions[:, None].astype(np.float64) * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out
    a, b = x[..., : dim // 2], x[..., dim // 2:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def reference_forward(cfg: DecoderConfig, weights: WeightSource, token_ids: list[int], *,
                      original: bool = False) -> ReferenceOutput:
    """Logits for every position of `token_ids` from position 0. `original`: the GGUF's own dequantized weights
    rather than the values the graph's packed matrices hold."""

    def w(name: str) -> np.ndarray:
        return weights.dense(name, original=original).astype(np.float64)

    seq = len(token_ids)
    x = weights.embedding_table().astype(np.float64)[np.asarray(token_ids)]
    pos = np.arange(seq)
    mask = np.triu(np.full((seq, seq), -np.inf), k=1)
    group = cfg.heads // cfg.kv_heads
    hidden = []
    for i in range(cfg.layers):
        p = f"blk.{i}"
        h = rms_norm(x, w(f"{p}.attn_norm.weight"), cfg.rms_eps)
        q, k, v = (h @ w(f"{p}.attn_{n}.weight").T for n in "qkv")
        if cfg.qkv_bias:
            q, k, v = (t + w(f"{p}.attn_{n}.bias") for t, n in zip((q, k, v), "qkv"))
        q = apply_rope(q.reshape(seq, cfg.heads, cfg.head_dim), pos, cfg.rope_theta, cfg.rope_interleaved)
        k = apply_rope(k.reshape(seq, cfg.kv_heads, cfg.head_dim), pos, cfg.rope_theta, cfg.rope_interleaved)
        v = v.reshape(seq, cfg.kv_heads, cfg.head_dim)
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(cfg.head_dim) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        attn = np.einsum("hqk,khd->qhd", scores, v).reshape(seq, cfg.hidden)
        x = x + attn @ w(f"{p}.attn_output.weight").T
        h = rms_norm(x, w(f"{p}.ffn_norm.weight"), cfg.rms_eps)
        gate = h @ w(f"{p}.ffn_gate.weight").T
        up = h @ w(f"{p}.ffn_up.weight").T
        x = x + (gate / (1.0 + np.exp(-gate)) * up) @ w(f"{p}.ffn_down.weight").T
        hidden.append(x.astype(np.float32))
    h = rms_norm(x, w("output_norm.weight"), cfg.rms_eps)
    head = "token_embd.weight" if cfg.tied_embeddings else "output.weight"
    logits = h @ w(head).T
    return ReferenceOutput(logits.astype(np.float32), tuple(hidden))
