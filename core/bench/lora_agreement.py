"""How closely llama.cpp + our exported GGUF LoRA reproduces transformers + PEFT, per model architecture.

A seeded LoRA with random non-zero B (so the adapter moves the logits far) is exported twice: in the layout the
architecture needs, and in the other one (q/k rows permuted or not), which must disagree. Each is compared on the
shipped quantized base and on its float32 copy (the weights transformers computes with). Needs the optional `[tune]`
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


def random_lora(model: Any, *, rank: int, alpha: float, b_std: float, seed: int) -> Any:
    """`model` wrapped in a LoRA on all seven projections, A from PEFT's own init and B ~ N(0, b_std), both seeded.

    A trained adapter starts from B = 0; a random B makes every weight's update count, so an export error anywhere
    shows in the logits."""
    import peft
    import torch

    torch.manual_seed(seed)
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=rank, lora_alpha=alpha, target_modules=TARGETS,
                                                         lora_dropout=0.0))
    gen = torch.Generator().manual_seed(seed)
    for module in wrapped.modules():
        if hasattr(module, "lora_B") and "default" in module.lora_B:
            weight = module.lora_B["default"].weight
            weight.data = torch.randn(weight.shape, generator=gen) * b_std
    return wrapped.eval()


def measure(base: Path, llama: ModuleType, *, rank: int = 8, alpha: float = 16.0, b_std: float = 0.1, seed: int = 0,
            prompt: str = PROMPT, workdir: Path | None = None,
            progress: Callable[[str], None] = log.info) -> dict[str, Any]:
    """Agreement figures for one base GGUF: {layout: {base kind: LogitAgreement as a dict}} plus what was run."""
    import torch
    from transformers import AutoModelForCausalLM

    arch = read_base_layout(base).arch
    progress(f"{base.name}: loading it into transformers")
    model = AutoModelForCausalLM.from_pretrained(base.parent, gguf_file=base.name, dtype=torch.float32).eval()
    lora = random_lora(model, rank=rank, alpha=alpha, b_std=b_std, seed=seed)
    needed = QK_PERMUTED[arch]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp)
        progress(f"{base.name}: writing its float32 copy")
        bases = {"shipped": base, "float32": float_copy(base, folder / "float32.gguf")}
        layouts = {}
        for name, permute in (("exported", needed), ("other_qk_layout", not needed)):
            adapter = folder / f"{name}.gguf"
            export_lora(lora, base, adapter, alpha, permute_qk=permute)
            layouts[name] = {"qk_permuted": permute}
            for kind, path in bases.items():
                progress(f"{base.name}: {name} adapter on the {kind} base")
                layouts[name][kind] = asdict(compare_logits(path, adapter, lora, prompt, llama=llama))
    return {"file": base.name, "arch": arch, "qk_permuted_by_llama_cpp": needed, "layouts": layouts}


def settings(*, rank: int, alpha: float, b_std: float, seed: int, prompt: str) -> dict[str, Any]:
    return {"rank": rank, "alpha": alpha, "b_std": b_std, "seed": seed, "prompt": prompt}
