"""The shape of a Qwen2/Llama decoder as its GGUF describes it, and its rotary tables.

Shared by the onnx_int4 graph builder and the C decoder of the `tmac` backend; kept apart from the graph builder so
that reading a model's shape never imports onnx (seconds of GIL on a start path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ARCHS = ("llama", "qwen2")


class UnsupportedModel(ValueError):
    """The GGUF describes a model this builder cannot express; the message says which property, in one line."""


@dataclass(frozen=True, slots=True)
class DecoderConfig:
    arch: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    rope_theta: float
    rms_eps: float
    qkv_bias: bool
    tied_embeddings: bool
    # GGUF llama q/k rows are permuted for llama.cpp's "normal" rope, which rotates adjacent pairs (interleaved);
    # qwen2 keeps the HF layout and rotates the two halves (NEOX).
    rope_interleaved: bool
    max_positions: int = 4096


def config_from_gguf(metadata: dict[str, Any], names: set[str], vocab: int, *,
                     max_positions: int = 4096) -> DecoderConfig:
    """Read the decoder's shape from GGUF metadata; raise UnsupportedModel naming what does not fit.

    `vocab` comes from the embedding's row count: qwen2 GGUFs carry no vocab_size key."""
    arch = metadata.get("general.architecture")
    if arch not in ARCHS:
        raise UnsupportedModel(f"architecture {arch!r} is not supported by EdgeMind's own decoders "
                               f"(supported: {', '.join(ARCHS)})")

    def get(key: str, default: Any = None) -> Any:
        value = metadata.get(f"{arch}.{key}", default)
        if value is None:
            raise UnsupportedModel(f"GGUF metadata lacks {arch}.{key}")
        return value

    hidden = int(get("embedding_length"))
    heads = int(get("attention.head_count"))
    kv_heads = int(get("attention.head_count_kv", heads))
    head_dim = hidden // heads
    if head_dim * heads != hidden or heads % kv_heads:
        raise UnsupportedModel(f"{heads} heads / {kv_heads} KV heads do not divide hidden size {hidden}")
    rope_dim = int(metadata.get(f"{arch}.rope.dimension_count", head_dim))
    if rope_dim != head_dim:
        raise UnsupportedModel(f"partial rotary ({rope_dim} of {head_dim} dims) is not supported")
    if metadata.get(f"{arch}.rope.scaling.type") not in (None, "none"):
        raise UnsupportedModel("rope scaling is not supported")
    missing = [n for n in ("token_embd.weight", "output_norm.weight", "blk.0.attn_q.weight") if n not in names]
    if missing:
        raise UnsupportedModel(f"GGUF lacks tensor {missing[0]}")
    ctx = int(metadata.get(f"{arch}.context_length", max_positions))
    return DecoderConfig(
        arch=arch, layers=int(get("block_count")), hidden=hidden, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
        ffn=int(get("feed_forward_length")), vocab=int(vocab), rope_theta=float(get("rope.freq_base", 10000.0)),
        rms_eps=float(get("attention.layer_norm_rms_epsilon")), qkv_bias="blk.0.attn_q.bias" in names,
        tied_embeddings="output.weight" not in names, rope_interleaved=arch == "llama",
        max_positions=min(ctx, max_positions),
    )


def rope_caches(cfg: DecoderConfig) -> tuple[np.ndarray, np.ndarray]:
    inv = cfg.rope_theta ** (-np.arange(0, cfg.head_dim, 2, dtype=np.float64) / cfg.head_dim)
    angles = np.outer(np.arange(cfg.max_positions, dtype=np.float64), inv)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
