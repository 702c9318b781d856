"""Builds an onnxruntime decoder graph (Qwen2/Llama family) with INT4 MatMulNBits weights and a KV cache.

Fused com.microsoft ops carry the work on CPU: GroupQueryAttention (rotary inside, cos/sin caches), the
(Skip)SimplifiedLayerNormalization pair for RMSNorm and the residual adds, MatMulNBits for every projection and the LM
head. Imports only numpy and onnx; it never runs a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .decoder_config import DecoderConfig, UnsupportedModel, rope_caches
from .decoder_names import kv_names
from .matmulnbits import MatMulNBitsWeights

MS = "com.microsoft"


class WeightSource(Protocol):
    def packed(self, name: str) -> MatMulNBitsWeights: ...
    def offsets(self, name: str) -> np.ndarray | None: ...
    def dense(self, name: str, *, original: bool = False) -> np.ndarray: ...
    def embedding_table(self) -> np.ndarray: ...
    def embedding_codes(self) -> MatMulNBitsWeights | None: ...
    def release(self, name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class BuildOptions:
    # Logits for every position (perplexity) instead of the last one only (generation: saves vocab x seq work).
    all_logits: bool = False
    # MatMulNBits accuracy_level: 4 quantizes activations to int8 and uses the int8 dot-product kernels on CPU.
    accuracy_level: int = 4
    # Extra outputs `hidden.{i}`: the residual stream after layer i, for per-layer parity tests.
    expose_hidden: bool = False
    # One MatMulNBits for q/k/v and one for gate/up where their packing agrees (fewer thread-pool round trips).
    fuse: bool = True


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: int | list[str] = 1, domain: str = "",
             **attrs: Any) -> list[str]:
        outs = [self.name(op) for _ in range(outputs)] if isinstance(outputs, int) else outputs
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name(op + "_node"), domain=domain, **attrs))
        return outs

    def matmuls(self, x: str, weights: WeightSource, names: list[str], prefix: str, accuracy: int,
                fuse: bool, biases: list[np.ndarray] | None = None, split: bool = True) -> list[str]:
        """x @ W.T (+ bias) for each GGUF matrix in `names`; one MatMulNBits over the rows stacked (then Split, or
        one packed output when `split` is False) when their packing agrees: each op costs a thread-pool round trip,
        and a decode step runs a few hundred of them. Biases ride in MatMulNBits' own bias input, not an Add."""
        bias_of: list[np.ndarray | None] = [*biases] if biases else [None] * len(names)
        parts = [weights.packed(n) for n in names]
        offsets = [weights.offsets(n) for n in names]
        first = parts[0]
        same = all(p.bits == first.bits and p.block_size == first.block_size and p.K == first.K
                   and (p.zero_points is None) == (first.zero_points is None)
                   and (p.zero_points is None or p.zero_points.dtype == np.uint8) for p in parts)
        same = same and (all(o is None for o in offsets) or all(o is not None for o in offsets))
        if not fuse or len(names) == 1 or not same:
            return [self.matmul(x, weights, n, f"{prefix}.{n.rsplit('.', 2)[-2]}", accuracy, bias=b)
                    for n, b in zip(names, bias_of)]
        # `same` holds: every part has zero points if the first has, and offsets if the first has
        zero = None if first.zero_points is None else np.concatenate(
            [p.zero_points.reshape(p.N, -1) for p in parts if p.zero_points is not None])
        stacked = MatMulNBitsWeights(B=np.concatenate([p.B for p in parts]),
                                     scales=np.concatenate([p.scales for p in parts]),
                                     zero_points=None if zero is None else zero.reshape(-1),
                                     K=first.K, N=sum(p.N for p in parts), bits=first.bits,
                                     block_size=first.block_size)
        stacked_offsets = None if offsets[0] is None else np.concatenate([o for o in offsets if o is not None])
        for n in names:
            weights.release(n)
        stacked_bias = np.concatenate(biases).astype(np.float32) if biases else None
        y = self._matmul(x, stacked, stacked_offsets, prefix, accuracy, None, stacked_bias)
        if not split:
            return [y]
        sizes = self.const(prefix + ".split", np.array([p.N for p in parts], np.int64))
        return self.node("Split", [y, sizes], len(names), axis=-1)

    def matmul(self, x: str, weights: WeightSource, name: str, prefix: str, accuracy: int,
               out: str | None = None, bias: np.ndarray | None = None) -> str:
        """x @ W.T (+ bias) for GGUF matrix `name` [N, K]; with block offsets (Q4_1), plus blocksum(x) @ offsets.T."""
        y = self._matmul(x, weights.packed(name), weights.offsets(name), prefix, accuracy, out, bias)
        weights.release(name)
        return y

    def _matmul(self, x: str, weight: MatMulNBitsWeights, offsets: np.ndarray | None, prefix: str, accuracy: int,
                out: str | None, bias: np.ndarray | None = None) -> str:
        inputs = [x, self.const(prefix + ".qweight", weight.B), self.const(prefix + ".scales", weight.scales)]
        if weight.zero_points is not None or bias is not None:
            inputs.append("" if weight.zero_points is None else self.const(prefix + ".qzeros", weight.zero_points))
        if bias is not None:
            inputs += ["", self.const(prefix + ".bias", bias.astype(np.float32))]  # "" = no g_idx
        y = self.node("MatMulNBits", inputs, [out] if out and offsets is None else 1, MS, K=weight.K, N=weight.N,
                      bits=weight.bits, block_size=weight.block_size, accuracy_level=accuracy)[0]
        if offsets is not None:
            blocks = np.array([0, 0, weight.K // weight.block_size, weight.block_size], np.int64)
            shaped = self.node("Reshape", [x, self.const(prefix + ".block_shape", blocks)])[0]
            sums = self.node("ReduceSum", [shaped, self.const(prefix + ".sum_axis", np.array([-1], np.int64))],
                             keepdims=0)[0]
            shift = self.node("MatMul", [sums, self.const(prefix + ".offsets", offsets.T.copy())])[0]
            y = self.node("Add", [y, shift], [out] if out else 1)[0]
        return y


def build_decoder(cfg: DecoderConfig, weights: WeightSource, options: BuildOptions = BuildOptions()) -> onnx.ModelProto:
    """The decoder as an ONNX model: input_ids [1, seq], seqlens_k [1] (total length - 1), total_sequence_length
    (scalar), past key/values [1, kv_heads, past, head_dim] per layer -> logits and present key/values."""
    g = _Graph()
    acc = options.accuracy_level
    f32 = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "seq"]),
              helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, [1]),
              helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, [])]
    outputs = [helper.make_tensor_value_info("logits", f32, [1, "seq" if options.all_logits else 1, cfg.vocab])]
    cos, sin = rope_caches(cfg)
    g.const("cos_cache", cos)
    g.const("sin_cache", sin)
    codes = weights.embedding_codes()
    if codes is not None:
        rows, blocks = codes.N, codes.k_blocks
        zero = np.full((rows, blocks), 128, np.uint8) if codes.zero_points is None else codes.zero_points
        x = g.node("GatherBlockQuantized", [g.const("embed_tokens.codes", codes.B.reshape(rows, -1)), "input_ids",
                                            g.const("embed_tokens.scales", codes.scales.reshape(rows, blocks)),
                                            g.const("embed_tokens.zero_points", zero.reshape(rows, blocks))],
                   1, MS, gather_axis=0, quantize_axis=1, block_size=codes.block_size, bits=8)[0]
        del codes
    else:
        table = g.const("embed_tokens", weights.embedding_table())
        x = g.node("Cast", [g.node("Gather", [table, "input_ids"])[0]], to=f32)[0]
    residual = x
    pending: str | None = None  # the last sub-layer's output, still to be added to the residual stream
    for i in range(cfg.layers):
        past_k, past_v, present_k, present_v = kv_names(i)
        kv_shape: list[int | str] = [1, cfg.kv_heads, "past_seq", cfg.head_dim]
        inputs += [helper.make_tensor_value_info(past_k, f32, kv_shape),
                   helper.make_tensor_value_info(past_v, f32, kv_shape)]
        present_shape: list[int | str] = [1, cfg.kv_heads, "total_seq", cfg.head_dim]
        outputs += [helper.make_tensor_value_info(present_k, f32, present_shape),
                    helper.make_tensor_value_info(present_v, f32, present_shape)]
        p = f"blk.{i}"
        norm = g.const(f"{p}.attn_norm", weights.dense(f"{p}.attn_norm.weight"))
        if pending is None:
            h = g.node("SimplifiedLayerNormalization", [residual, norm], epsilon=cfg.rms_eps, axis=-1)[0]
        else:
            sum_name = f"hidden.{i - 1}" if options.expose_hidden else g.name("residual")
            h, _, _, residual = g.node("SkipSimplifiedLayerNormalization", [pending, residual, norm],
                                       [g.name("norm"), "", "", sum_name], MS, epsilon=cfg.rms_eps)
        biases = [weights.dense(f"{p}.attn_{proj}.bias") for proj in "qkv"] if cfg.qkv_bias else None
        # fused, q/k/v come back as one packed [1, seq, (heads + 2 kv_heads) * head_dim] tensor, which
        # GroupQueryAttention reads as is when key and value are left empty: no Split
        qkv = g.matmuls(h, weights, [f"{p}.attn_{proj}.weight" for proj in "qkv"], f"{p}.attn_qkv", acc,
                        options.fuse, biases, split=False)
        qkv = qkv if len(qkv) == 3 else [qkv[0], "", ""]
        attn = g.node("GroupQueryAttention", [*qkv, past_k, past_v, "seqlens_k", "total_sequence_length",
                                              "cos_cache", "sin_cache"],
                      [g.name("attn"), present_k, present_v], MS, num_heads=cfg.heads, kv_num_heads=cfg.kv_heads,
                      do_rotary=1, rotary_interleaved=int(cfg.rope_interleaved),
                      scale=float(1.0 / np.sqrt(cfg.head_dim)))[0]
        o = g.matmul(attn, weights, f"{p}.attn_output.weight", f"{p}.attn_output", acc)
        norm = g.const(f"{p}.ffn_norm", weights.dense(f"{p}.ffn_norm.weight"))
        h, _, _, residual = g.node("SkipSimplifiedLayerNormalization", [o, residual, norm],
                                   [g.name("norm"), "", "", g.name("residual")], MS, epsilon=cfg.rms_eps)
        gate, up = g.matmuls(h, weights, [f"{p}.ffn_gate.weight", f"{p}.ffn_up.weight"], f"{p}.ffn_gate_up", acc,
                             options.fuse)
        act = g.node("Mul", [g.node("Mul", [gate, g.node("Sigmoid", [gate])[0]])[0], up])[0]
        pending = g.matmul(act, weights, f"{p}.ffn_down.weight", f"{p}.ffn_down", acc)
    if pending is None:
        raise UnsupportedModel("the model has no layers")
    norm = g.const("output_norm", weights.dense("output_norm.weight"))
    last_sum = f"hidden.{cfg.layers - 1}" if options.expose_hidden else g.name("residual")
    h = g.node("SkipSimplifiedLayerNormalization", [pending, residual, norm], [g.name("norm"), "", "", last_sum], MS,
               epsilon=cfg.rms_eps)[0]
    if options.expose_hidden:
        outputs += [helper.make_tensor_value_info(f"hidden.{i}", f32, [1, "seq", cfg.hidden])
                    for i in range(cfg.layers)]
    if not options.all_logits:
        starts, ends, axes = (g.const(n, np.array([v], np.int64)) for n, v in
                              (("last_start", -1), ("last_end", np.iinfo(np.int64).max), ("seq_axis", 1)))
        h = g.node("Slice", [h, starts, ends, axes])[0]
    head = "output.weight" if not cfg.tied_embeddings else "token_embd.weight"
    g.matmul(h, weights, head, "lm_head", acc, out="logits")
    graph = helper.make_graph(g.nodes, f"edgemind_{cfg.arch}_int4", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)],
                              producer_name="edgemind")
    model.ir_version = 9
    return model


def save_model(model: onnx.ModelProto, path: str | Path) -> None:
    """Write the model with its weights in one external data file beside it (protobuf caps a file at 2 GB)."""
    path = Path(path)
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)
