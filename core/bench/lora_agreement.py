"""How closely llama.cpp + our exported GGUF LoRA reproduces transformers + PEFT, per model architecture.

A seeded LoRA with random non-zero B (so the adapter moves the logits far) is exported twice: in the layout the
architecture needs, and in the other one (q/k rows permuted or not), which must disagree. Each is compared on the
float32 copy of the base (the weights transformers computes with) with a float32 KV cache, where only the export's
error is left, and on the shipped quantized file as llama.cpp serves it. Needs the optional `[tune]`
stack; writes nothing but the result file and a temporary folder.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

from ..tuning.gguf_float import float_copy
from ..tuning.gguf_lora import QK_PERMUTED, compare_logits, export_lora, read_base_layout

log = logging.getLogger(__name__)

PROMPT = "The capital of France is Paris. The capital of Japan is"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GOAL = {"correlation": 0.999}
# A moderate and a strong random adapter: on Qwen2-0.5B the strong one moves the logits most of the way to noise.
B_STDS = (0.05, 0.1)


def random_lora(model: Any, *, rank: int, alpha: int, seed: int) -> Any:
    """`model` wrapped in a LoRA on all seven projections, A from PEFT's own (seeded) init; B is set by `set_random_b`.
    """
    import peft
    import torch

    torch.manual_seed(seed)
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=rank, lora_alpha=alpha, target_modules=TARGETS,
                                                         lora_dropout=0.0))
    return wrapped.eval()


def set_random_b(lora: Any, *, b_std: float, seed: int) -> None:
    """Every B ~ N(0, b_std), seeded. A trained adapter starts from B = 0; a random B makes every weight's update
    count, so an export error anywhere shows in the logits."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    for module in lora.modules():
        if hasattr(module, "lora_B") and "default" in module.lora_B:
            weight = module.lora_B["default"].weight
            weight.data = torch.randn(weight.shape, generator=gen) * b_std


def measure(base: Path, llama: ModuleType, *, rank: int = 8, alpha: int = 16, b_stds: tuple[float, ...] = B_STDS,
            seed: int = 0, prompt: str = PROMPT, workdir: Path | None = None,
            progress: Callable[[str], None] = log.info) -> dict[str, Any]:
    """Agreement figures for one base GGUF: per B strength, per q/k layout, on the float32 copy with a float32 KV
    cache (the export's error alone) and on the shipped file as llama.cpp serves it (float16 KV cache)."""
    import torch
    from transformers import AutoModelForCausalLM

    arch = read_base_layout(base).arch
    progress(f"{base.name}: loading it into transformers")
    model = AutoModelForCausalLM.from_pretrained(base.parent, gguf_file=base.name, dtype=torch.float32).eval()
    lora = random_lora(model, rank=rank, alpha=alpha, seed=seed)
    needed = QK_PERMUTED[arch]
    strengths = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp)
        progress(f"{base.name}: writing its float32 copy")
        bases = {"float32": (float_copy(base, folder / "float32.gguf"), True), "shipped": (base, False)}
        for b_std in b_stds:
            set_random_b(lora, b_std=b_std, seed=seed)
            layouts: dict[str, Any] = {}
            for name, permute in (("exported", needed), ("other_qk_layout", not needed)):
                adapter = folder / f"{name}.gguf"
                export_lora(lora, base, adapter, alpha, permute_qk=permute)
                layouts[name] = {"qk_permuted": permute}
                for kind, (path, exact) in bases.items():
                    progress(f"{base.name}: B std {b_std}, {name} adapter on the {kind} base")
                    layouts[name][kind] = asdict(compare_logits(path, adapter, lora, prompt, llama=llama,
                                                                kv_float32=exact))
            strengths.append({"b_std": b_std, "layouts": layouts})
    return {"file": base.name, "arch": arch, "qk_permuted_by_llama_cpp": needed, "strengths": strengths}


def settings(*, rank: int, alpha: int, b_stds: tuple[float, ...], seed: int, prompt: str) -> dict[str, Any]:
    return {"rank": rank, "alpha": alpha, "b_std": list(b_stds), "seed": seed, "prompt": prompt}
