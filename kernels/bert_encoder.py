"""A BERT sentence encoder (embeddings, N post-LN transformer layers, masked mean pooling, L2 norm) two ways:
as an ONNX graph for onnxruntime, and as a plain numpy forward that the graph is checked against.

Weights use Hugging Face `BertModel` names. Nothing here reads files or knows where weights come from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization is a standard op from 17 on
MS_DOMAIN = "com.microsoft"
# Additive mask value for padded keys: exp(-1e4) is exactly 0 in float32, and unlike finfo.min it cannot overflow.
MASK_FILL = -10000.0
POOL_EPS = 1e-9  # sentence-transformers' clamp on the token count in mean pooling
NORM_EPS = 1e-12  # torch.nn.functional.normalize's default eps
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "sentence_embedding"


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
            values = {
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


def build_encoder(cfg: BertConfig, weights: Mapping[str, np.ndarray], *, fused: bool = False) -> onnx.ModelProto:
    """The encoder graph: int64 (batch, sequence) inputs -> float32 (batch, hidden) unit vectors.

    fused=True uses onnxruntime's com.microsoft Attention / SkipLayerNormalization / BiasGelu kernels instead of
    standard ops; both compute the same function.
    """
    w = check_weights(cfg, weights)
    g = _GraphBuilder()
    ids, mask, types = INPUTS
    e = "embeddings."
    x = g.op("Add", g.op("Gather", g.const(e + "word", w[e + "word_embeddings.weight"]), ids),
             g.op("Gather", g.const(e + "type", w[e + "token_type_embeddings.weight"]), types))
    seq_len = g.op("Slice", g.op("Shape", ids), g.const("one_i64", np.array([1], np.int64)),
                   g.const("two_i64", np.array([2], np.int64)))
    positions = g.op("Slice", g.const(e + "position", w[e + "position_embeddings.weight"]),
                     g.const("zero_i64", np.array([0], np.int64)), seq_len)
    x = _layer_norm(g, g.op("Add", x, positions), w, e + "LayerNorm", cfg.layer_norm_eps)

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

    mask_3d = g.op("Unsqueeze", mask_f, g.const("last_axis", np.array([-1], np.int64)))
    axis1 = g.const("seq_axis", np.array([1], np.int64))
    summed = g.op("ReduceSum", g.op("Mul", x, mask_3d), axis1, keepdims=0)
    counts = g.op("Max", g.op("ReduceSum", mask_3d, axis1, keepdims=0),
                  g.const("pool_eps", np.array(POOL_EPS, np.float32)))
    pooled = g.op("Div", summed, counts)
    # ReduceL2 still takes its axes as an attribute at opset 17 (ReduceSum moved them to an input at 13).
    norm = g.op("Max", g.op("ReduceL2", pooled, axes=[-1], keepdims=1), g.const("norm_eps", np.array(NORM_EPS, np.float32)))
    g.nodes.append(helper.make_node("Div", [pooled, norm], [OUTPUT], name="l2_normalise"))

    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes, "bert_sentence_encoder",
        [helper.make_tensor_value_info(name, TensorProto.INT64, dims) for name in INPUTS],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", cfg.hidden_size])],
        g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid(MS_DOMAIN, 1)] if fused else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="edgemind.kernels.bert_encoder")
    model.ir_version = 8  # readable by onnxruntime >= 1.10 (DirectML builds lag behind the CPU ones)
    onnx.checker.check_model(model, full_check=not fused)
    return model


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
                      attention_mask: np.ndarray, token_type_ids: np.ndarray) -> np.ndarray:
    """The same network in plain numpy, written for reading, not speed: the ground truth for the graph."""
    w = check_weights(cfg, weights)

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
        q, k, v = (split(lin(x, p + f"attention.self.{name}")) for name in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(cfg.head_size)) + mask_add
        ctx = (_softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, seq, cfg.hidden_size)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        x = ln(lin(_gelu(lin(x, p + "intermediate.dense")), p + "output.dense") + x, p + "output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), POOL_EPS)
    norms = np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), NORM_EPS)
    return (pooled / norms).astype(np.float32)
