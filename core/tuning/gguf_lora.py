"""A PEFT LoRA, trained on the transformers copy of a GGUF model, written as a GGUF adapter llama.cpp loads.

The adapter names llama.cpp's tensors (`blk.N.attn_q.weight.lora_a`…), so it only fits the base it was made for:
export checks the base's architecture and every shape first and refuses a mismatch in one line. It never writes a
partial file (the adapter appears under its name only once complete). `compare_logits` is the proof that the file
means the same thing in llama.cpp as the PEFT model does in transformers.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from edgemind.kernels.gguf_header import GGUFFormatError, read_gguf_header

from ..errors import AdapterMismatch, ModelError
from ..models.adapters import check_adapter_fits
from ..models.integrity import check_gguf
from ..training.stack import unavailable

log = logging.getLogger(__name__)

# The GGUF tensor each Hugging Face projection is stored as (llama.cpp's names for Llama-family and Qwen2 blocks).
GGUF_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}

# Whether llama.cpp's converter permuted the q/k rows of an architecture (convert_hf_to_gguf.py `LlamaModel.permute`:
# rotary halves interleaved per head). transformers undoes it on load, so a LoRA trained there must redo it on export.
QK_PERMUTED = {"llama": True, "qwen2": False}

# The same line as the training stack's own check (core/tuning/stack.py): `gguf` ships with the `[tune]` extra only.

GGML_TYPE_F32 = 0  # ggml's type id for float32 (llama.cpp's KV cache type)

_MODULE = re.compile(r"(?:^|\.)layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)$")


@dataclass(frozen=True, slots=True)
class BaseLayout:
    """What an adapter must match in its base GGUF: architecture, head counts, and each weight's (in, out) shape."""

    arch: str
    n_head: int
    n_head_kv: int
    shapes: dict[str, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class LoraPair:
    """One adapted weight: `a` is (rank, in), `b` is (out, rank), as PEFT stores them and as llama.cpp reads them."""

    gguf_name: str
    a: np.ndarray
    b: np.ndarray


@dataclass(frozen=True, slots=True)
class LogitAgreement:
    """llama.cpp + the GGUF adapter against transformers + PEFT on the same tokens (every position, whole vocabulary).

    `correlation`: Pearson r of the adapted logits across the two runtimes. `delta_correlation`: r of the adapter's
    own effect (adapted minus base) across the runtimes, which the quantized base cannot inflate. `max_abs_diff`:
    the largest adapted-logit difference. `base_correlation`: r of the two bases alone (quantized matmuls against
    dequantized float32). `adapter_shift`: 1 - r between base and adapted logits in transformers, i.e. how far the
    adapter moved the logits (0: not at all).
    """

    correlation: float
    delta_correlation: float
    max_abs_diff: float
    base_correlation: float
    adapter_shift: float
    tokens: int


def read_base_layout(base_gguf: Path) -> BaseLayout:
    """The base GGUF's architecture, head counts and weight shapes, read from its header (no weights loaded)."""
    try:
        stat = base_gguf.stat()
    except OSError as exc:
        raise ModelError(f"the base model {base_gguf.name} cannot be read: {exc.strerror}") from exc
    return _layout(str(base_gguf), stat.st_size, stat.st_mtime_ns)


# gguf's reader parses the whole vocabulary (~5 s for a 49k-token model): read each base file once per process.
@functools.lru_cache(maxsize=8)
def _layout(path: str, size: int, mtime_ns: int) -> BaseLayout:
    gguf = import_gguf()

    base_gguf = Path(path)
    try:
        reader = gguf.GGUFReader(base_gguf)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the base model {base_gguf.name} as GGUF: {exc}") from exc
    arch = _field(reader, "general.architecture", base_gguf)
    if not isinstance(arch, str):
        raise ModelError(f"{base_gguf.name} names no architecture in general.architecture")
    n_head = _field(reader, f"{arch}.attention.head_count", base_gguf)
    n_head_kv = reader.fields.get(f"{arch}.attention.head_count_kv")
    shapes = {t.name: (int(t.shape[0]), int(t.shape[1])) for t in reader.tensors if len(t.shape) == 2}
    return BaseLayout(arch=arch, n_head=int(n_head), n_head_kv=int(n_head_kv.contents()) if n_head_kv else int(n_head),
                      shapes=shapes)


def import_gguf() -> ModuleType:
    """The `gguf` package, or one line saying how to install it (it is not part of the default install)."""
    try:
        import gguf
    except ImportError as exc:
        raise unavailable("gguf") from exc
    return gguf


@contextmanager
def gguf_file(out: Path, arch: str) -> Iterator[Any]:
    """A GGUFWriter for `out`: the block adds metadata and tensors; at its end the file is written under a partial
    name and only then renamed to `out`, so a failure half-way never leaves a GGUF that llama.cpp would misread."""
    gguf = import_gguf()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(partial, arch=arch)
    try:
        yield writer
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(partial, out)


def _field(reader: Any, key: str, path: Path) -> Any:
    field = reader.fields.get(key)
    if field is None:
        raise ModelError(f"{path.name} has no {key}: not a model GGUF")
    return field.contents()


def permute_rows(b: np.ndarray, n_head: int) -> np.ndarray:
    """B's output rows in llama.cpp's order for a q/k weight: each head's rotary halves interleaved, exactly as the
    converter permutes the weight itself (so base + B·A stays the permuted base plus the permuted update)."""
    out = b.shape[0]
    if out % (2 * n_head):
        raise AdapterMismatch(f"a q/k LoRA with {out} output rows does not split into {n_head} heads")
    return b.reshape(n_head, 2, out // n_head // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def lora_pairs(peft_model: Any, layout: BaseLayout, *, permute_qk: bool | None = None,
               adapter: str | None = None) -> list[LoraPair]:
    """Every LoRA of `peft_model` as llama.cpp's tensor pair, checked against the base's shapes.

    `permute_qk` defaults to what the architecture needs; passing False writes the unpermuted layout, which is only
    useful to show that the permutation matters.
    """
    permute = QK_PERMUTED[layout.arch] if permute_qk is None else permute_qk
    pairs = []
    for gguf_name, a, b in _peft_loras(peft_model, adapter):
        shape = layout.shapes.get(gguf_name)
        if shape is None:
            raise AdapterMismatch(f"the adapter changes {gguf_name}, which the base model does not have")
        n_in, n_out = shape
        if a.shape[1] != n_in or b.shape[0] != n_out or a.shape[0] != b.shape[1]:
            raise AdapterMismatch(f"the adapter's {gguf_name} is {b.shape[0]}x{a.shape[1]} (rank {a.shape[0]}), "
                                  f"the base model's is {n_out}x{n_in}: it was trained on another model")
        if permute and ".attn_q." in gguf_name:
            b = permute_rows(b, layout.n_head)
        elif permute and ".attn_k." in gguf_name:
            b = permute_rows(b, layout.n_head_kv)
        pairs.append(LoraPair(gguf_name, np.ascontiguousarray(a, dtype=np.float32),
                              np.ascontiguousarray(b, dtype=np.float32)))
    if not pairs:
        raise AdapterMismatch("the model has no LoRA on q/k/v/o/gate/up/down projections: nothing to export")
    return pairs


def _peft_loras(peft_model: Any, adapter: str | None) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(GGUF weight name, A, B) for each LoRA layer, refusing LoRA variants llama.cpp cannot express."""
    for name, module in peft_model.named_modules():
        if not hasattr(module, "lora_A") or not hasattr(module, "lora_B"):
            continue
        which = adapter or _active(module)
        if which not in module.lora_A:
            continue
        found = _MODULE.search(name)
        if found is None:
            raise AdapterMismatch(f"the LoRA on {name} has no llama.cpp tensor (only q/k/v/o/gate/up/down export)")
        layer, part = found.groups()
        a = module.lora_A[which].weight.detach().float().cpu().numpy()
        b = module.lora_B[which].weight.detach().float().cpu().numpy()
        yield f"blk.{layer}.{GGUF_NAMES[part]}.weight", a, b


def _active(module: Any) -> str:
    active = getattr(module, "active_adapters", None) or ["default"]
    return str(active[0])


def check_scaling(peft_model: Any, alpha: float, adapter: str | None = None) -> None:
    """llama.cpp scales each update by alpha / rank: refuse a PEFT model that scales otherwise (rsLoRA, per-layer
    alphas), whose exported file would silently mean something else."""
    for name, module in peft_model.named_modules():
        scaling = getattr(module, "scaling", None)
        if not isinstance(scaling, dict) or not hasattr(module, "lora_A"):
            continue
        which = adapter or _active(module)
        if which not in scaling:
            continue
        rank = module.lora_A[which].weight.shape[0]
        if abs(float(scaling[which]) - alpha / rank) > 1e-6 * max(1.0, alpha / rank):
            raise AdapterMismatch(f"the LoRA on {name} scales by {float(scaling[which]):g}, not alpha/rank = "
                                  f"{alpha / rank:g}: llama.cpp would apply it differently")


def check_arch(peft_model: Any, layout: BaseLayout) -> None:
    """The adapter's model family must be the base GGUF's (a Qwen2 LoRA on a Llama base would load but mean nothing)."""
    if layout.arch not in QK_PERMUTED:
        raise AdapterMismatch(f"adapters can be exported for llama and qwen2 models, not {layout.arch}")
    config = getattr(peft_model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type is not None and model_type != layout.arch:
        raise AdapterMismatch(f"the adapter was trained on a {model_type} model, the base model is {layout.arch}")


def export_lora(peft_model: Any, base_gguf: Path, out: Path, alpha: float, *, permute_qk: bool | None = None,
                adapter: str | None = None) -> None:
    """Write `peft_model`'s LoRA as a GGUF adapter for `base_gguf` at `out` (float32 tensors: a rank-8 adapter of the
    135M model is ~5 MB, and exact). Raises AdapterMismatch before writing anything when it does not fit the base."""
    gguf = import_gguf()

    layout = read_base_layout(base_gguf)
    check_arch(peft_model, layout)
    check_scaling(peft_model, alpha, adapter)
    pairs = lora_pairs(peft_model, layout, permute_qk=permute_qk, adapter=adapter)
    with gguf_file(out, layout.arch) as writer:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
        for pair in pairs:
            writer.add_tensor(pair.gguf_name + ".lora_a", pair.a)
            writer.add_tensor(pair.gguf_name + ".lora_b", pair.b)
    log.info("wrote a %s LoRA adapter (%d weights) to %s", layout.arch, len(pairs), out)


def check_adapter_file(adapter_gguf: Path, base_gguf: Path) -> None:
    """Refuse, in one line, a GGUF LoRA file that does not fit `base_gguf`, before llama.cpp sees it: the registry's
    rules (models.adapters.check_adapter_fits) on the two files' headers."""
    base = check_gguf(base_gguf, base_gguf.name)
    try:
        adapter = read_gguf_header(adapter_gguf)
    except (GGUFFormatError, OSError) as exc:
        raise AdapterMismatch(f"cannot read the adapter {adapter_gguf.name} as GGUF: {exc}") from exc
    check_adapter_fits(adapter, base, adapter_gguf.name)


def compare_logits(base_gguf: Path, adapter_gguf: Path, peft_model: Any, prompt: str, *,
                   llama: ModuleType | None = None, threads: int = 2, kv_float32: bool = False) -> LogitAgreement:
    """Run `prompt` through llama.cpp (base, then base + adapter) and through transformers (adapter disabled, then
    enabled) on the same token ids, and say how closely the two runtimes agree.

    `llama` is the `llama_cpp` module to use (one whose CPU code was checked for this machine); by default the one
    already loaded in this process, if any. `kv_float32` keeps llama.cpp's keys and values in float32 instead of its
    default float16: a strong adapter on Qwen2 (whose q/k/v carry biases) pushes them past float16's range, and the
    runtimes then part for a reason that is not the export (measured r 0.967 in float16, 0.9999999 in float32).
    """
    import torch

    check_adapter_file(adapter_gguf, base_gguf)
    module = llama if llama is not None else _llama_module()
    tokens, base_cpp = _llama_logits(module, base_gguf, None, prompt, threads, kv_float32)
    _, adapted_cpp = _llama_logits(module, base_gguf, adapter_gguf, prompt, threads, kv_float32)
    ids = torch.tensor([tokens], dtype=torch.long)
    peft_model.eval()
    with torch.no_grad():
        adapted_hf = peft_model(input_ids=ids).logits[0].float().numpy()
        with peft_model.disable_adapter():
            base_hf = peft_model(input_ids=ids).logits[0].float().numpy()
    return LogitAgreement(
        correlation=_pearson(adapted_cpp, adapted_hf),
        delta_correlation=_pearson(adapted_cpp - base_cpp, adapted_hf - base_hf),
        max_abs_diff=float(np.max(np.abs(adapted_cpp - adapted_hf))),
        base_correlation=_pearson(base_cpp, base_hf),
        adapter_shift=1.0 - _pearson(base_hf, adapted_hf),
        tokens=len(tokens),
    )


def _llama_module() -> ModuleType:
    from ..backends.llama_native import import_llama  # lazy: llama.cpp's CPU code is chosen only when it is needed

    return import_llama(None)


def _llama_logits(llama: ModuleType, base: Path, adapter: Path | None, prompt: str, threads: int,
                  kv_float32: bool) -> tuple[list[int], np.ndarray]:
    """Token ids of `prompt` (llama.cpp's tokenizer, with BOS as the model wants it) and the logits at every one."""
    kwargs: dict[str, Any] = {"lora_path": str(adapter)} if adapter is not None else {}
    if kv_float32:
        kwargs.update(type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
    try:
        llm = llama.Llama(model_path=str(base), n_ctx=512, logits_all=True, verbose=False, n_threads=threads,
                          **kwargs)
    except (ValueError, RuntimeError) as exc:
        raise AdapterMismatch(f"llama.cpp refused {adapter.name if adapter else base.name}: {exc}") from exc
    try:
        tokens = llm.tokenize(prompt.encode("utf-8"))
        if not tokens or len(tokens) > 512:
            raise ModelError(f"the prompt is {len(tokens)} tokens: compare with 1 to 512")
        llm.eval(tokens)
        return list(tokens), np.array(llm.scores[: len(tokens)], dtype=np.float64)
    finally:
        llm.close()


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b / denom) if denom else 0.0
