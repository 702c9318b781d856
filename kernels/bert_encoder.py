"""A BERT sentence encoder (embeddings, N post-LN transformer layers, masked mean pooling, L2 norm) two ways:
as an ONNX graph for onnxruntime (float32, or with int8 weight matmuls), and as a plain numpy forward that the graph
is checked against.

Weights use Hugging Face `BertModel` names. Nothing here reads files or knows where weights come from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .bert_io import INPUTS, OUTPUT
from .matmulnbits import matmulnbits_node, pack_matmulnbits
from .quantize import quantize_int8

OPSET = 17  # LayerNormalization is a standard op from 17 on
MS_DOMAIN = "com.microsoft"
# Additive mask value for padded keys: exp(-1e4) is exactly 0 in float32, and unlike finfo.min it cannot overflow.
MASK_FILL = -10000.0
POOL_EPS = 1e-9  # sentence-transformers' clamp on the token count in mean pooling
NORM_EPS = 1e-12  # torch.nn.functional.normalize's default eps
# The inputs of a layer's weight matmuls, as named in Int8Plan and reference_forward's `observe`.
MATMUL_INPUTS = ("qkv", "o", "ffn1", "ffn2")
# Input channels per int8 matmul kept in float32. BERT's residual stream has a few channels 10-30x larger than the
# rest (all-MiniLM-L6-v2: 99, 223, 63, 338, 157...); one of them in a token's int8 scale coarsens every other
# channel. Measured on all-MiniLM-L6-v2 (worst cosine against reference_forward over 40 texts, all other matmuls in
# float32): Q/K/V in int8 0.991 with no channel kept, 0.99989 with 8, 0.99991 with 16; ffn1 0.9957 / 0.9998 (16).
INT8_OUTLIER_CHANNELS = 8
# Weights and activations per int8 scale in ffn2's MatMulNBits. 16 vs 32: worst cosine 0.99948 vs 0.99934 for the
# whole int8 encoder (40 texts), same speed (39.6/s both, 256-piece texts, 4 per run).
FFN2_BLOCK = 16


class BertWeightsError(ValueError):
    """The config or weights do not describe a BERT encoder this module can build; one line says why."""


@dataclass(frozen=True, slots=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_hf(cls, config: Mapping[str, Any]) -> BertConfig:
        """From a Hugging Face `config.json`; rejects variants this encoder does not implement."""
        if config.get("hidden_act", "gelu") != "gelu":
            raise BertWeightsError(f"hidden_act {config.get('hidden_act')!r} is not supported (only exact 'gelu')")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise BertWeightsError("only absolute position embeddings are supported")
        try:
            values: dict[str, Any] = {
                "vocab_size": int(config["vocab_size"]), "hidden_size": int(config["hidden_size"]),
                "num_layers": int(config["num_hidden_layers"]), "num_heads": int(config["num_attention_heads"]),
                "intermediate_size": int(config["intermediate_size"]),
                "max_positions": int(config["max_position_embeddings"]),
                "type_vocab_size": int(config.get("type_vocab_size", 2)),
                "layer_norm_eps": float(config.get("layer_norm_eps", 1e-12)),
            }
        except KeyError as exc:
            raise BertWeightsError(f"config has no {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise BertWeightsError(f"config has a non-numeric size ({exc})") from None
        made = cls(**values)
        if min(values.values()) <= 0 or made.hidden_size % made.num_heads:
            raise BertWeightsError(f"config sizes are inconsistent: {values}")
        return made


@dataclass(frozen=True, slots=True)
class Int8Plan:
    """Which input channels of each int8 weight matmul stay in float32: `outliers[f"{layer}.{input}"]`, input one of
    "qkv", "o", "ffn1" (see build_encoder for which matmuls are int8). Made by plan_int8 from calibration text."""

    outliers: Mapping[str, tuple[int, ...]]
    # Weight codes as uint8 around 128 instead of int8. onnxruntime multiplies u8 activations by s8 weights with
    # VNNI's vpdpbusd where the CPU has it (exact), and otherwise with vpmaddubsw, which adds each pair of products in
    # a saturating 16-bit lane: with 8-bit codes the sum reaches 2 * 255 * 127 > 32767 and the vectors drift (worst
    # cosine 0.984 against the float32 reference on an AVX2-only AMD EPYC, 0.9995 with VNNI). u8 x u8 is widened to
    # 16 bits before multiplying: exact on every CPU, the same integers, a slower kernel where VNNI exists.
    unsigned_weights: bool = False


def expected_shapes(cfg: BertConfig) -> dict[str, tuple[int, ...]]:
    """Every weight the encoder uses, with its shape (HF Linear weights are stored as (out, in))."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (cfg.vocab_size, h),
        "embeddings.position_embeddings.weight": (cfg.max_positions, h),
        "embeddings.token_type_embeddings.weight": (cfg.type_vocab_size, h),
        "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,),
    }
    for n in range(cfg.num_layers):
        p = f"encoder.layer.{n}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[p + name + ".weight"], shapes[p + name + ".bias"] = (h, h), (h,)
        shapes[p + "intermediate.dense.weight"], shapes[p + "intermediate.dense.bias"] = (i, h), (i,)
        shapes[p + "output.dense.weight"], shapes[p + "output.dense.bias"] = (h, i), (h,)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + name + ".weight"], shapes[p + name + ".bias"] = (h,), (h,)
    return shapes


def check_weights(cfg: BertConfig, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weights the encoder needs, as float32 (a `bert.` prefix is accepted); raise if any is missing or odd."""
    plain = {k.removeprefix("bert."): v for k, v in weights.items()}
    out = {}
    for name, shape in expected_shapes(cfg).items():
        if name not in plain:
            raise BertWeightsError(f"weight {name!r} is missing")
        if tuple(plain[name].shape) != shape:
            raise BertWeightsError(f"weight {name!r} has shape {tuple(plain[name].shape)}, expected {shape}")
        if plain[name].dtype.kind != "f":
            raise BertWeightsError(f"weight {name!r} has dtype {plain[name].dtype}, expected floating point")
        out[name] = np.asarray(plain[name], dtype=np.float32)
    return out


# ---------------------------------------------------------------------------------------------------- ONNX graph

class _GraphBuilder:
    """Collects nodes and initializers with unique names, so the layer code reads like the math."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, domain: str = "", **attrs: Any) -> str:
        self._count += 1
        out = f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=f"n{self._count}_{op_type}",
                                           domain=domain, **attrs))
        return out


def _linear(g: _GraphBuilder, x: str, w: Mapping[str, np.ndarray], name: str) -> str:
    weight = g.const(name + ".weight_t", w[name + ".weight"].T)
    return g.op("Add", g.op("MatMul", x, weight), g.const(name + ".bias", w[name + ".bias"]))


def _layer_norm(g: _GraphBuilder, x: str, w: Mapping[str, np.ndarray], name: str, eps: float) -> str:
    return g.op("LayerNormalization", x, g.const(name + ".weight", w[name + ".weight"]),
                g.const(name + ".bias", w[name + ".bias"]), axis=-1, epsilon=eps)


def _attention_plain(g: _GraphBuilder, x: str, mask_add: str, w: Mapping[str, np.ndarray], p: str,
                     cfg: BertConfig) -> str:
    heads = g.const(p + "heads_shape", np.array([0, 0, cfg.num_heads, cfg.head_size], dtype=np.int64))
    q = g.op("Transpose", g.op("Reshape", _linear(g, x, w, p + "attention.self.query"), heads), perm=[0, 2, 1, 3])
    k = g.op("Transpose", g.op("Reshape", _linear(g, x, w, p + "attention.self.key"), heads), perm=[0, 2, 3, 1])
    v = g.op("Transpose", g.op("Reshape", _linear(g, x, w, p + "attention.self.value"), heads), perm=[0, 2, 1, 3])
    scale = g.const(p + "scale", np.array(1.0 / math.sqrt(cfg.head_size), dtype=np.float32))
    scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), scale), mask_add)
    ctx = g.op("Transpose", g.op("MatMul", g.op("Softmax", scores, axis=-1), v), perm=[0, 2, 1, 3])
    merged = g.op("Reshape", ctx, g.const(p + "merged_shape", np.array([0, 0, cfg.hidden_size], dtype=np.int64)))
    out = _linear(g, merged, w, p + "attention.output.dense")
    return _layer_norm(g, g.op("Add", out, x), w, p + "attention.output.LayerNorm", cfg.layer_norm_eps)


def _ffn_plain(g: _GraphBuilder, x: str, w: Mapping[str, np.ndarray], p: str, cfg: BertConfig) -> str:
    h = _linear(g, x, w, p + "intermediate.dense")
    # Exact GELU from Erf (ONNX Gelu is opset 20); onnxruntime fuses this pattern into one Gelu kernel.
    erf = g.op("Erf", g.op("Mul", h, g.const(p + "inv_sqrt2", np.array(1 / math.sqrt(2), dtype=np.float32))))
    one, half = g.const(p + "one", np.array(1.0, np.float32)), g.const(p + "half", np.array(0.5, np.float32))
    gelu = g.op("Mul", g.op("Mul", h, g.op("Add", erf, one)), half)
    out = _linear(g, gelu, w, p + "output.dense")
    return _layer_norm(g, g.op("Add", out, x), w, p + "output.LayerNorm", cfg.layer_norm_eps)


def _skip_layer_norm(g: _GraphBuilder, x: str, skip: str, bias: str, w: Mapping[str, np.ndarray], name: str,
                     eps: float) -> str:
    return g.op("SkipLayerNormalization", x, skip, g.const(name + ".weight", w[name + ".weight"]),
                g.const(name + ".bias", w[name + ".bias"]), bias, domain=MS_DOMAIN, epsilon=eps)


def _layer_fused(g: _GraphBuilder, x: str, mask_i32: str, w: Mapping[str, np.ndarray], p: str,
                 cfg: BertConfig) -> str:
    names = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
    qkv_w = g.const(p + "qkv.weight_t", np.concatenate([w[n + ".weight"].T for n in names], axis=1))
    qkv_b = g.const(p + "qkv.bias", np.concatenate([w[n + ".bias"] for n in names]))
    ctx = g.op("Attention", x, qkv_w, qkv_b, mask_i32, domain=MS_DOMAIN, num_heads=cfg.num_heads,
               mask_filter_value=MASK_FILL)
    o = p + "attention.output.dense"
    attn = g.op("MatMul", ctx, g.const(o + ".weight_t", w[o + ".weight"].T))
    x = _skip_layer_norm(g, attn, x, g.const(o + ".bias", w[o + ".bias"]), w, p + "attention.output.LayerNorm",
                         cfg.layer_norm_eps)
    i = p + "intermediate.dense"
    h = g.op("BiasGelu", g.op("MatMul", x, g.const(i + ".weight_t", w[i + ".weight"].T)),
             g.const(i + ".bias", w[i + ".bias"]), domain=MS_DOMAIN)
    d = p + "output.dense"
    out = g.op("MatMul", h, g.const(d + ".weight_t", w[d + ".weight"].T))
    return _skip_layer_norm(g, out, x, g.const(d + ".bias", w[d + ".bias"]), w, p + "output.LayerNorm",
                            cfg.layer_norm_eps)


def _int8_linear(g: _GraphBuilder, x: str, w_kn: np.ndarray, name: str, outliers: Sequence[int], zero: str,
                 unsigned_weights: bool) -> str:
    """x [tokens, K] @ w_kn [K, N], without bias: each token's activations quantized to int8 on the fly (one scale per
    token, from its largest channel outside `outliers`), weights int8 with one scale per output column, and the
    `outliers` channels multiplied in float32 and added. `zero` is the per-token zero point vector (all 128).
    unsigned_weights stores the same codes shifted to uint8 (Int8Plan.unsigned_weights says why).

    Per-token scales keep a text's vector independent of the batch it is in (a per-batch scale would not), and they
    let onnxruntime's u8s8 GEMM (MatMulIntegerToFloat, VNNI) do the work: 2.4-3x float32 MatMul here (2 Zen 4 cores,
    K=384, N=1536, 416-4096 tokens).
    """
    k, n = w_kn.shape
    idx = np.array(sorted({int(i) for i in outliers}), dtype=np.int64)
    keep = np.ones(k, dtype=bool)
    keep[idx] = False
    kept = np.where(keep[:, None], w_kn, np.float32(0))
    w_scale = (np.abs(kept).max(axis=0) / 127).astype(np.float32)
    w_scale[w_scale == 0] = 1
    w_q = np.clip(np.rint(kept / w_scale), -127, 127).astype(np.int8)
    peak_of = g.op("Abs", x)
    if len(idx):
        peak_of = g.op("Mul", peak_of, g.const(name + ".kept_channels", keep.astype(np.float32)))
    # An all-zero token gets a tiny scale instead of 0 (QuantizeLinear divides by it); its codes are then all 128.
    scale = g.op("Max", g.op("Mul", g.op("ReduceMax", peak_of, axes=[1], keepdims=0),
                             g.const(name + ".inv127", np.array(1 / 127, np.float32))),
                 g.const(name + ".min_scale", np.array(1e-12, np.float32)))
    codes = g.op("QuantizeLinear", x, scale, zero, axis=0)
    if unsigned_weights:
        w_codes = [g.const(name + ".w_uint8", (w_q.astype(np.int16) + 128).astype(np.uint8))]
        w_zero = [g.const(name + ".w_zero", np.array(128, np.uint8))]
    else:
        w_codes, w_zero = [g.const(name + ".w_int8", w_q)], []
    y = g.op("MatMulIntegerToFloat", codes, *w_codes,
             g.const(name + ".unit_scale", np.array(1.0, np.float32)), g.const(name + ".w_scale", w_scale),
             g.const(name + ".a_zero", np.array(128, np.uint8)), *w_zero, domain=MS_DOMAIN)
    y = g.op("Mul", y, g.op("Unsqueeze", scale, g.const(name + ".col_axis", np.array([1], np.int64))))
    if len(idx):
        # Gemm adds into y (one op where MatMul + Add are two): 2% faster at 256 pieces, 8% on one short sentence.
        y = g.op("Gemm", g.op("Gather", x, g.const(name + ".outlier_idx", idx), axis=1),
                 g.const(name + ".outlier_w", np.ascontiguousarray(w_kn[idx])), y, alpha=1.0, beta=1.0)
    return y


def _layer_int8(g: _GraphBuilder, x: str, seq_shape: str, mask_i32: str, zero: str, w: Mapping[str, np.ndarray],
                n: int, cfg: BertConfig, plan: Int8Plan) -> str:
    """One layer on a [tokens, hidden] residual stream: Q/K/V, attention output and ffn1 as _int8_linear, ffn2 as
    MatMulNBits 8-bit (see build_encoder), the rest in float32 com.microsoft kernels."""
    p, h = f"encoder.layer.{n}.", cfg.hidden_size
    names = [p + f"attention.self.{k}" for k in ("query", "key", "value")]
    qkv_w = np.concatenate([w[k + ".weight"].T for k in names], axis=1)
    unsigned = plan.unsigned_weights
    qkv = _int8_linear(g, x, qkv_w, p + "qkv", plan.outliers.get(f"{n}.qkv", ()), zero, unsigned)
    qkv = g.op("Reshape", qkv, g.op("Concat", seq_shape, g.const(p + "qkv_width", np.array([3 * h], np.int64)),
                                    axis=0))
    q, k, v = (p + "q", p + "k", p + "v")
    g.nodes.append(helper.make_node("Split", [qkv, g.const(p + "qkv_split", np.array([h, h, h], np.int64))],
                                    [q, k, v], axis=-1, name=p + "qkv_split"))
    qkv_b = g.const(p + "qkv.bias", np.concatenate([w[k + ".bias"] for k in names]))
    # Always with the mask: dropping it for unpadded batches (an If) let onnxruntime take its unmasked path, 5% faster
    # at batch 1, but a text's vector then differed alone and padded by 1e-4 (int8 rounding amplifies any change).
    ctx = g.op("MultiHeadAttention", q, k, v, qkv_b, mask_i32, domain=MS_DOMAIN, num_heads=cfg.num_heads,
               mask_filter_value=MASK_FILL)
    ctx = g.op("Reshape", ctx, g.const(p + "flat", np.array([-1, h], np.int64)))
    o = p + "attention.output.dense"
    attn = _int8_linear(g, ctx, w[o + ".weight"].T, o, plan.outliers.get(f"{n}.o", ()), zero, unsigned)
    x = _skip_layer_norm(g, attn, x, g.const(o + ".bias", w[o + ".bias"]), w, p + "attention.output.LayerNorm",
                         cfg.layer_norm_eps)
    i = p + "intermediate.dense"
    ffn1 = _int8_linear(g, x, w[i + ".weight"].T, i, plan.outliers.get(f"{n}.ffn1", ()), zero, unsigned)
    hidden = g.op("BiasGelu", ffn1, g.const(i + ".bias", w[i + ".bias"]), domain=MS_DOMAIN)
    d = p + "output.dense"
    # ffn2 reads the GELU output, whose outlier channels differ per layer: blockwise int8 (activations in blocks of
    # FFN2_BLOCK per token, weights in such blocks with zero points) keeps it accurate where per-token scales do not.
    # This matmul alone in int8, worst cosine on all-MiniLM-L6-v2: 0.99986 blockwise (16), 0.99979 (32); 0.9958
    # per-token; 0.9994 per-token with the GELU output shifted to unsigned and 16 channels in float32. MatMulNBits
    # costs ~2.4x MatMulIntegerToFloat per multiply-add here, but the per-token form leaves too little of the 0.999.
    packed = pack_matmulnbits(quantize_int8(np.ascontiguousarray(w[d + ".weight"]), FFN2_BLOCK, symmetric=False))
    node, inits = matmulnbits_node(packed, hidden, d + ".out", prefix=d + ".int8", accuracy_level=4)
    g.nodes.append(node)
    g.initializers.extend(inits)
    return _skip_layer_norm(g, d + ".out", x, g.const(d + ".bias", w[d + ".bias"]), w, p + "output.LayerNorm",
                            cfg.layer_norm_eps)


def build_encoder(cfg: BertConfig, weights: Mapping[str, np.ndarray], *, fused: bool = False,
                  int8: Int8Plan | None = None) -> onnx.ModelProto:
    """The encoder graph: int64 (batch, sequence) inputs -> float32 (batch, hidden) unit vectors.

    fused=True uses onnxruntime's com.microsoft Attention / SkipLayerNormalization / BiasGelu kernels instead of
    standard ops; both compute the same function. int8 (which implies com.microsoft kernels) runs the weight
    matmuls in int8: Q/K/V, attention output and ffn1 with per-token activation scales (_int8_linear, the plan's
    outlier channels in float32), ffn2 as MatMulNBits 8-bit; attention, layer norms and pooling stay float32.
    It approximates the same function: on all-MiniLM-L6-v2, worst cosine 0.9995 against reference_forward over 40
    varied texts (the empty text is the worst; typical 0.9998).
    """
    w = check_weights(cfg, weights)
    if int8 is not None:
        return _build_int8(cfg, w, int8)
    g = _GraphBuilder()
    mask = INPUTS[1]
    x = _embeddings(g, w, cfg)
    mask_f = g.op("Cast", mask, to=TensorProto.FLOAT)
    if fused:
        mask_i32 = g.op("Cast", mask, to=TensorProto.INT32)
        for n in range(cfg.num_layers):
            x = _layer_fused(g, x, mask_i32, w, f"encoder.layer.{n}.", cfg)
    else:
        inverted = g.op("Sub", g.const("one_f32", np.array(1.0, np.float32)), mask_f)
        mask_add = g.op("Unsqueeze", g.op("Mul", inverted, g.const("fill", np.array(MASK_FILL, np.float32))),
                        g.const("mask_axes", np.array([1, 2], np.int64)))
        for n in range(cfg.num_layers):
            p = f"encoder.layer.{n}."
            x = _ffn_plain(g, _attention_plain(g, x, mask_add, w, p, cfg), w, p, cfg)

    _pool_and_normalise(g, x, mask_f)
    return _finish(g, cfg, vendor_ops=fused)


def _embeddings(g: _GraphBuilder, w: Mapping[str, np.ndarray], cfg: BertConfig) -> str:
    ids, _, types = INPUTS
    e = "embeddings."
    x = g.op("Add", g.op("Gather", g.const(e + "word", w[e + "word_embeddings.weight"]), ids),
             g.op("Gather", g.const(e + "type", w[e + "token_type_embeddings.weight"]), types))
    seq_len = g.op("Slice", g.op("Shape", ids), g.const("one_i64", np.array([1], np.int64)),
                   g.const("two_i64", np.array([2], np.int64)))
    positions = g.op("Slice", g.const(e + "position", w[e + "position_embeddings.weight"]),
                     g.const("zero_i64", np.array([0], np.int64)), seq_len)
    return _layer_norm(g, g.op("Add", x, positions), w, e + "LayerNorm", cfg.layer_norm_eps)


def _pool_and_normalise(g: _GraphBuilder, x: str, mask_f: str) -> None:
    mask_3d = g.op("Unsqueeze", mask_f, g.const("last_axis", np.array([-1], np.int64)))
    axis1 = g.const("seq_axis", np.array([1], np.int64))
    summed = g.op("ReduceSum", g.op("Mul", x, mask_3d), axis1, keepdims=0)
    counts = g.op("Max", g.op("ReduceSum", mask_3d, axis1, keepdims=0),
                  g.const("pool_eps", np.array(POOL_EPS, np.float32)))
    pooled = g.op("Div", summed, counts)
    # ReduceL2 still takes its axes as an attribute at opset 17 (ReduceSum moved them to an input at 13).
    norm = g.op("Max", g.op("ReduceL2", pooled, axes=[-1], keepdims=1),
                g.const("norm_eps", np.array(NORM_EPS, np.float32)))
    g.nodes.append(helper.make_node("Div", [pooled, norm], [OUTPUT], name="l2_normalise"))


def _finish(g: _GraphBuilder, cfg: BertConfig, vendor_ops: bool) -> onnx.ModelProto:
    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes, "bert_sentence_encoder",
        [helper.make_tensor_value_info(name, TensorProto.INT64, dims) for name in INPUTS],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", cfg.hidden_size])],
        g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid(MS_DOMAIN, 1)] if vendor_ops else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="edgemind.kernels.bert_encoder")
    model.ir_version = 8  # readable by onnxruntime >= 1.10 (DirectML builds lag behind the CPU ones)
    onnx.checker.check_model(model, full_check=not vendor_ops)
    return model


def _build_int8(cfg: BertConfig, w: Mapping[str, np.ndarray], plan: Int8Plan) -> onnx.ModelProto:
    g = _GraphBuilder()
    ids, mask, _ = INPUTS
    h = cfg.hidden_size
    seq_shape = g.op("Shape", ids)
    # The residual stream is kept as [tokens, hidden]: per-token quantization needs 2-D, and the layer norms,
    # BiasGelu and matmuls do not care; only attention and pooling see (batch, sequence).
    x = g.op("Reshape", _embeddings(g, w, cfg), g.const("flat", np.array([-1, h], np.int64)))
    mask_i32 = g.op("Cast", mask, to=TensorProto.INT32)
    # Symmetric int8 codes stored as uint8 around 128 (onnxruntime's u8s8 kernel); per-token quantization takes a
    # zero point per token, the same vector for every matmul.
    tokens = g.op("Slice", g.op("Shape", x), g.const("tokens_from", np.array([0], np.int64)),
                  g.const("tokens_to", np.array([1], np.int64)))
    zero = g.op("Expand", g.const("zero_u8", np.array([128], np.uint8)), tokens)
    for n in range(cfg.num_layers):
        x = _layer_int8(g, x, seq_shape, mask_i32, zero, w, n, cfg, plan)
    x = g.op("Reshape", x, g.op("Concat", seq_shape, g.const("hidden_width", np.array([h], np.int64)), axis=0))
    _pool_and_normalise(g, x, g.op("Cast", mask, to=TensorProto.FLOAT))
    return _finish(g, cfg, vendor_ops=True)


def plan_int8(cfg: BertConfig, weights: Mapping[str, np.ndarray], calibration: Sequence[Sequence[int] | np.ndarray], *,
              channels: int = INT8_OUTLIER_CHANNELS, unsigned_weights: bool = False) -> Int8Plan:
    """The int8 plan: for the Q/K/V and ffn1 inputs of every layer, the `channels` input channels with the largest
    magnitude over `calibration` (token id rows of single texts, as a tokenizer makes them: [CLS] ... [SEP]).

    The attention output's input needs none (worst cosine 0.99992 with per-token scales alone) and ffn2 is
    quantized blockwise instead."""
    if not calibration:
        raise BertWeightsError("plan_int8 needs at least one calibration text")
    peaks: dict[str, np.ndarray] = {}

    def observe(layer: int, name: str, x: np.ndarray) -> None:
        key = f"{layer}.{name}"
        peak = np.abs(x.reshape(-1, x.shape[-1])).max(axis=0)
        peaks[key] = peak if key not in peaks else np.maximum(peaks[key], peak)

    for ids in calibration:
        row = np.asarray(ids, dtype=np.int64).reshape(1, -1)
        reference_forward(cfg, weights, row, np.ones_like(row), np.zeros_like(row), observe=observe)
    outliers = {key: tuple(sorted(int(i) for i in np.argsort(-peak, kind="stable")[:channels]))
                for key, peak in peaks.items() if key.endswith((".qkv", ".ffn1"))}
    return Int8Plan(outliers, unsigned_weights)


# --------------------------------------------------------------------------------------------- numpy reference

def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf and this layer may not import scipy.
    s, a = np.sign(x), np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return s * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))


def _ln(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def reference_forward(cfg: BertConfig, weights: Mapping[str, np.ndarray], input_ids: np.ndarray,
                      attention_mask: np.ndarray, token_type_ids: np.ndarray, *,
                      observe: Callable[[int, str, np.ndarray], None] | None = None) -> np.ndarray:
    """The same network in plain numpy, written for reading, not speed: the ground truth for the graph.

    observe(layer, input, x), if given, sees the input x of each layer's weight matmuls (MATMUL_INPUTS)."""
    w = check_weights(cfg, weights)
    seen = observe or (lambda layer, name, x: None)

    def lin(v: np.ndarray, name: str) -> np.ndarray:
        return v @ w[name + ".weight"].T + w[name + ".bias"]

    def ln(v: np.ndarray, name: str) -> np.ndarray:
        return _ln(v, w[name + ".weight"], w[name + ".bias"], cfg.layer_norm_eps)

    batch, seq = input_ids.shape
    if seq > cfg.max_positions:
        raise BertWeightsError(f"sequence of {seq} tokens is longer than the model's {cfg.max_positions}")
    e = "embeddings."
    x = (w[e + "word_embeddings.weight"][input_ids] + w[e + "token_type_embeddings.weight"][token_type_ids]
         + w[e + "position_embeddings.weight"][:seq])
    x = ln(x, e + "LayerNorm")
    mask = attention_mask.astype(np.float32)
    mask_add = ((1.0 - mask) * np.float32(MASK_FILL))[:, None, None, :]

    def split(v: np.ndarray) -> np.ndarray:
        return v.reshape(batch, seq, cfg.num_heads, cfg.head_size).transpose(0, 2, 1, 3)

    for n in range(cfg.num_layers):
        p = f"encoder.layer.{n}."
        seen(n, "qkv", x)
        q, k, v = (split(lin(x, p + f"attention.self.{name}")) for name in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(cfg.head_size)) + mask_add
        ctx = (_softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, seq, cfg.hidden_size)
        seen(n, "o", ctx)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        seen(n, "ffn1", x)
        hidden = _gelu(lin(x, p + "intermediate.dense"))
        seen(n, "ffn2", hidden)
        x = ln(lin(hidden, p + "output.dense") + x, p + "output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), POOL_EPS)
    norms = np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), NORM_EPS)
    return (pooled / norms).astype(np.float32)
