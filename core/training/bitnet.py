"""A tiny Llama trained with BitNet b1.58 quantization-aware training, and its ternary weights for export.

Every linear layer of the decoder (q, k, v, o, gate, up, down) is a BitLinear: in the forward pass its latent fp32
weight W is replaced by AbsMean ternary weights s * clip(round(W / s), -1, 1) with s = mean|W| (rounded to fp16, the
scale the GGUF stores, so the trained model is exactly the exported one), and its input by per-token absmax 8-bit
activations; both through a straight-through estimator, so gradients reach the latent weights as if neither rounding
were there (Ma et al., "The Era of 1-bit LLMs", 2024). The embedding (tied with the LM head) and the RMSNorm weights
stay full precision, as BitNet keeps them. The architecture is plain Llama (RMSNorm, interleaved-pair RoPE as
llama.cpp's `llama` rotates, GQA, SwiGLU) so llama.cpp and our decoders run it with no BitNet-specific code.

torch is imported inside functions (the optional `[tune]` extra).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import TuneError
from .stack import require_torch

MATRICES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")  # GGUF names


@dataclass(frozen=True, slots=True)
class TinyLlamaConfig:
    """Shape of the model. Every matrix's row length (hidden, ffn) is a multiple of 256, the block of llama.cpp's
    TQ1_0/TQ2_0, and every output size a multiple of 64, the 2-bit tile of our T-MAC kernels."""

    vocab: int = 4096
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 768
    context: int = 128
    rope_theta: float = 10000.0
    rms_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def check(self) -> None:
        if self.hidden % 256 or self.ffn % 256:
            raise TuneError(f"hidden ({self.hidden}) and ffn ({self.ffn}) must be multiples of 256 for TQ1_0/TQ2_0")
        if self.hidden % self.heads or self.heads % self.kv_heads or self.head_dim % 2:
            raise TuneError(f"{self.heads} heads / {self.kv_heads} KV heads do not divide hidden size {self.hidden}")
        if self.head_dim * self.kv_heads % 64:
            raise TuneError("k/v projections need a multiple of 64 rows (the 2-bit T-MAC tile)")

    def matrix_shape(self, name: str) -> tuple[int, int]:
        """(rows, columns) of a decoder matrix, numpy order as the GGUF stores it."""
        kv = self.kv_heads * self.head_dim
        return {"attn_q": (self.hidden, self.hidden), "attn_k": (kv, self.hidden), "attn_v": (kv, self.hidden),
                "attn_output": (self.hidden, self.hidden), "ffn_gate": (self.ffn, self.hidden),
                "ffn_up": (self.ffn, self.hidden), "ffn_down": (self.hidden, self.ffn)}[name]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """The QAT run. BitNet trains ternary models with a larger learning rate than float ones."""

    steps: int = 400
    batch: int = 16
    lr: float = 3e-3
    warmup: int = 30
    weight_decay: float = 0.05
    seed: int = 0
    threads: int = 1
    ternary: bool = True  # False: the same model in plain fp32, the baseline
    act_bits: int = 8  # per-token absmax activations of the BitLinear inputs; 0 turns them off
    eval_every: int = 100


@dataclass(slots=True)
class TrainResult:
    """The trained weights (numpy, GGUF names) and how training went."""

    config: TinyLlamaConfig
    train: TrainConfig
    weights: dict[str, np.ndarray]  # latent fp32 matrices, norms, embedding
    seconds: float
    losses: list[float] = field(default_factory=list)  # training loss per step
    held_out_losses: list[tuple[int, float]] = field(default_factory=list)


FP16_TINY = float(2.0 ** -24)  # the smallest positive fp16: an all-zero matrix's scale, so its trits are 0, not NaN


def absmean_scale(w: np.ndarray) -> np.float16:
    """BitNet's per-matrix scale mean|W| (+ eps), as the fp16 value the TQ2_0/TQ1_0 blocks store."""
    return np.float16(max(float(np.abs(w.astype(np.float64)).mean()) + 1e-8, FP16_TINY))


def ternarize(w: np.ndarray) -> tuple[np.ndarray, np.float16]:
    """(trits int8 in -1..1, fp16 scale) of a latent matrix: the exported weight is trits * float(scale). The trits
    are computed in float32 exactly as the torch forward computes them (w / s rounded half to even)."""
    s = absmean_scale(w)
    q = np.clip(np.rint(w.astype(np.float32) / np.float32(s)), -1, 1).astype(np.int8)
    return q, s


def _torch_modules() -> tuple[Any, Any]:
    """(torch, the model class), imported and defined only when training runs."""
    require_torch()
    import torch
    from torch import nn
    from torch.nn import functional

    def ste_weight(w: Any) -> Any:
        s = w.abs().mean().add(1e-8).clamp(min=FP16_TINY).half().float().detach()  # the fp16 scale exported
        q = torch.clamp(torch.round(w / s), -1, 1) * s
        return w + (q - w).detach()

    def ste_act(x: Any, bits: int) -> Any:
        top = float(2 ** (bits - 1) - 1)
        scale = top / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
        q = torch.clamp(torch.round(x * scale), -top - 1, top) / scale
        return x + (q - x).detach()

    class BitLinear(nn.Module):
        def __init__(self, rows: int, cols: int, ternary: bool, act_bits: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(rows, cols) * (cols ** -0.5))
            self.ternary, self.act_bits = ternary, act_bits

        def forward(self, x: Any) -> Any:
            if not self.ternary:
                return functional.linear(x, self.weight)
            if self.act_bits:
                x = ste_act(x, self.act_bits)
            return functional.linear(x, ste_weight(self.weight))

    class RMSNorm(nn.Module):
        def __init__(self, dim: int, eps: float) -> None:
            super().__init__()
            self.weight, self.eps = nn.Parameter(torch.ones(dim)), eps

        def forward(self, x: Any) -> Any:
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    class TinyLlama(nn.Module):
        def __init__(self, cfg: TinyLlamaConfig, ternary: bool, act_bits: int) -> None:
            super().__init__()
            self.cfg = cfg
            self.embed = nn.Parameter(torch.randn(cfg.vocab, cfg.hidden) * 0.02)
            self.blocks = nn.ModuleList()
            for _ in range(cfg.layers):
                blk = nn.Module()
                blk.attn_norm, blk.ffn_norm = RMSNorm(cfg.hidden, cfg.rms_eps), RMSNorm(cfg.hidden, cfg.rms_eps)
                for name in MATRICES:
                    setattr(blk, name, BitLinear(*cfg.matrix_shape(name), ternary, act_bits))
                self.blocks.append(blk)
            self.norm = RMSNorm(cfg.hidden, cfg.rms_eps)
            half = cfg.head_dim // 2
            inv = cfg.rope_theta ** (-torch.arange(half, dtype=torch.float64) * 2 / cfg.head_dim)
            ang = torch.arange(cfg.context, dtype=torch.float64)[:, None] * inv[None, :]
            self.register_buffer("cos", torch.cos(ang).float(), persistent=False)
            self.register_buffer("sin", torch.sin(ang).float(), persistent=False)

        def rope(self, x: Any) -> Any:  # x (batch, heads, seq, dim): rotate pairs (2i, 2i+1), llama.cpp's "normal"
            seq = x.shape[2]
            cos, sin = self.cos[:seq], self.sin[:seq]
            a, b = x[..., 0::2], x[..., 1::2]
            return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)

        def forward(self, ids: Any) -> Any:
            cfg = self.cfg
            bsz, seq = ids.shape
            x = self.embed[ids]
            group = cfg.heads // cfg.kv_heads
            for blk in self.blocks:
                h = blk.attn_norm(x)
                q = blk.attn_q(h).view(bsz, seq, cfg.heads, cfg.head_dim).transpose(1, 2)
                k = blk.attn_k(h).view(bsz, seq, cfg.kv_heads, cfg.head_dim).transpose(1, 2)
                v = blk.attn_v(h).view(bsz, seq, cfg.kv_heads, cfg.head_dim).transpose(1, 2)
                q, k = self.rope(q), self.rope(k)
                k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
                a = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
                x = x + blk.attn_output(a.transpose(1, 2).reshape(bsz, seq, cfg.hidden))
                h = blk.ffn_norm(x)
                x = x + blk.ffn_down(functional.silu(blk.ffn_gate(h)) * blk.ffn_up(h))
            return self.norm(x) @ self.embed.T

    return torch, TinyLlama


def _numpy_weights(model: Any, cfg: TinyLlamaConfig) -> dict[str, np.ndarray]:
    out = {"token_embd.weight": model.embed.detach().numpy().copy(),
           "output_norm.weight": model.norm.weight.detach().numpy().copy()}
    for i, blk in enumerate(model.blocks):
        out[f"blk.{i}.attn_norm.weight"] = blk.attn_norm.weight.detach().numpy().copy()
        out[f"blk.{i}.ffn_norm.weight"] = blk.ffn_norm.weight.detach().numpy().copy()
        for name in MATRICES:
            out[f"blk.{i}.{name}.weight"] = getattr(blk, name).weight.detach().numpy().copy()
    return out


def _load_weights(model: Any, weights: dict[str, np.ndarray], torch: Any) -> None:
    with torch.no_grad():
        model.embed.copy_(torch.from_numpy(weights["token_embd.weight"]))
        model.norm.weight.copy_(torch.from_numpy(weights["output_norm.weight"]))
        for i, blk in enumerate(model.blocks):
            blk.attn_norm.weight.copy_(torch.from_numpy(weights[f"blk.{i}.attn_norm.weight"]))
            blk.ffn_norm.weight.copy_(torch.from_numpy(weights[f"blk.{i}.ffn_norm.weight"]))
            for name in MATRICES:
                getattr(blk, name).weight.copy_(torch.from_numpy(weights[f"blk.{i}.{name}.weight"]))


def windows(tokens: np.ndarray, context: int) -> np.ndarray:
    """Non-overlapping (n, context) windows of a token stream, the last partial one dropped."""
    n = len(tokens) // context
    if n < 1:
        raise TuneError(f"the text is {len(tokens)} tokens, shorter than one {context}-token window")
    return np.asarray(tokens[:n * context], dtype=np.int64).reshape(n, context)


def train(cfg: TinyLlamaConfig, train_tokens: np.ndarray, held_out_tokens: np.ndarray, tc: TrainConfig, *,
          progress: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train from scratch on random `context + 1`-token slices of `train_tokens` (seeded), AdamW with warmup and
    cosine decay; every `eval_every` steps the held-out loss (first 32 windows) is recorded."""
    cfg.check()
    torch, tiny_llama = _torch_modules()
    torch.set_num_threads(max(1, tc.threads))
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    data = np.asarray(train_tokens, dtype=np.int64)
    if len(data) <= cfg.context + 1:
        raise TuneError(f"{len(data)} training tokens are too few for {cfg.context}-token windows")
    if int(data.max()) >= cfg.vocab:
        raise TuneError(f"token id {int(data.max())} is past the vocabulary of {cfg.vocab}")
    held = torch.from_numpy(windows(np.asarray(held_out_tokens), cfg.context)[:32])
    model = tiny_llama(cfg, tc.ternary, tc.act_bits)
    decay = [p for n, p in model.named_parameters() if p.ndim == 2]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=tc.lr, betas=(0.9, 0.95))

    def lr_at(step: int) -> float:
        if step < tc.warmup:
            return tc.lr * (step + 1) / tc.warmup
        frac = (step - tc.warmup) / max(1, tc.steps - tc.warmup)
        return tc.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

    result = TrainResult(config=cfg, train=tc, weights={}, seconds=0.0)
    started = time.perf_counter()
    for step in range(tc.steps):
        starts = rng.integers(0, len(data) - cfg.context - 1, size=tc.batch)
        batch = torch.from_numpy(np.stack([data[s:s + cfg.context + 1] for s in starts]))
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        logits = model(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        value = float(loss.detach())
        result.losses.append(value)
        if progress is not None:
            progress(step, value)
        if (step + 1) % tc.eval_every == 0 or step + 1 == tc.steps:
            result.held_out_losses.append((step + 1, _loss(model, held, cfg, torch)))
    result.seconds = time.perf_counter() - started
    result.weights = _numpy_weights(model, cfg)
    return result


def _loss(model: Any, held: Any, cfg: TinyLlamaConfig, torch: Any) -> float:
    with torch.no_grad():
        logits = model(held[:, :-1])
        return float(torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab), held[:, 1:].reshape(-1)))


def torch_logits(cfg: TinyLlamaConfig, weights: dict[str, np.ndarray], *, ternary: bool, act_bits: int = 8,
                 threads: int = 1) -> Callable[[list[int]], np.ndarray]:
    """A "logits for this token sequence" function over the model in torch (the trained forward, STE rounding
    included): what the perplexity of the float and the QAT model is measured with."""
    torch, tiny_llama = _torch_modules()
    torch.set_num_threads(max(1, threads))
    model = tiny_llama(cfg, ternary, act_bits)
    _load_weights(model, weights, torch)
    model.eval()

    def logits(ids: list[int]) -> np.ndarray:
        if len(ids) > cfg.context:
            raise TuneError(f"{len(ids)} tokens exceed the model's context of {cfg.context}")
        with torch.no_grad():
            return np.asarray(model(torch.tensor([list(ids)], dtype=torch.int64))[0].numpy(), dtype=np.float32)

    return logits


def random_weights(cfg: TinyLlamaConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """An untrained model (the initialisation training starts from, drawn with numpy): the baseline a trained
    model's perplexity must beat, and weights for export tests that need no torch."""
    rng = np.random.default_rng(seed)
    out = {"token_embd.weight": (rng.standard_normal((cfg.vocab, cfg.hidden)) * 0.02).astype(np.float32),
           "output_norm.weight": np.ones(cfg.hidden, np.float32)}
    for i in range(cfg.layers):
        out[f"blk.{i}.attn_norm.weight"] = np.ones(cfg.hidden, np.float32)
        out[f"blk.{i}.ffn_norm.weight"] = np.ones(cfg.hidden, np.float32)
        for name in MATRICES:
            rows, cols = cfg.matrix_shape(name)
            out[f"blk.{i}.{name}.weight"] = (rng.standard_normal((rows, cols)) * cols ** -0.5).astype(np.float32)
    return out
