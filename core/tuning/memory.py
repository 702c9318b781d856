"""How much memory a tune needs, worked out from the GGUF file before anything is loaded, and the refusal if over.

A tune that runs the laptop out of memory takes the user's other programs down with it: the bound is stated
before it starts and a tune that cannot fit is refused with one line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from ..errors import TuneError
from .stack import require_stack

FLOAT32 = 4
# GGUF names of the linear layers LoRA adapts (stack.TARGET_MODULES in transformers' names)
LORA_TENSORS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
# torch, transformers and the tokenizer themselves, measured as the resident size before the model loads
RUNTIME_BYTES = 600 * 2**20
# transformers dequantizes the GGUF into a state dict and then copies it into the model: two float32 copies at peak
LOAD_COPIES = 2


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    """The memory bound of a tune: parameters x bytes, and the estimated peak against what is free now."""

    parameters: int
    lora_parameters: int
    weights_bytes: int
    training_bytes: int
    peak_bytes: int
    available_bytes: int

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.available_bytes

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (f"{self.parameters / 1e6:,.0f}M parameters x {FLOAT32} bytes = {_gb(self.weights_bytes)}, "
                f"LoRA {self.lora_parameters / 1e6:,.1f}M parameters; estimated peak {_gb(self.peak_bytes)} "
                f"of {_gb(self.available_bytes)} free")


def plan_memory(gguf_path: Path, rank: int, max_tokens: int, available: int | None = None) -> MemoryPlan:
    """The bound for tuning this GGUF at this LoRA rank on examples of up to max_tokens tokens."""
    require_stack()
    from gguf import GGUFReader

    reader = GGUFReader(gguf_path)
    parameters = lora = vocab = hidden = layers = ffn = 0
    for tensor in reader.tensors:
        shape = [int(x) for x in tensor.shape]
        parameters += int(tensor.n_elements)
        kind = tensor.name.split(".")[-2] if tensor.name.count(".") >= 2 else tensor.name
        if tensor.name.startswith("blk.") and kind in LORA_TENSORS and len(shape) == 2:
            lora += rank * (shape[0] + shape[1])
            if kind == "ffn_up":
                ffn = max(ffn, *shape)
        if tensor.name == "token_embd.weight" and len(shape) == 2:
            hidden, vocab = min(shape), max(shape)
        if tensor.name.startswith("blk."):
            layers = max(layers, int(tensor.name.split(".")[1]) + 1)
    weights = parameters * FLOAT32
    # LoRA weights, their gradients and Adam's two moments; activations kept for the backward pass (per token:
    # about 16 hidden-sized and 4 ffn-sized float32 vectors a layer) and the logits with their softmax and gradient
    activations = max_tokens * (layers * (16 * hidden + 4 * ffn) + 3 * vocab) * FLOAT32
    training = lora * FLOAT32 * 4 + activations
    peak = RUNTIME_BYTES + max(weights * LOAD_COPIES, weights + training)
    free = psutil.virtual_memory().available if available is None else available
    return MemoryPlan(parameters, lora, weights, training, peak, free)


def check_fits(plan: MemoryPlan) -> None:
    """Refuse, in one line, a tune whose estimated peak is over the memory free now."""
    if not plan.fits:
        raise TuneError(f"not enough free memory to tune: estimated peak {_gb(plan.peak_bytes)}, "
                        f"{_gb(plan.available_bytes)} free (close other programs, or lower --rank)")


def _gb(size: int) -> str:
    return f"{size / 2**30:.2f} GB"
