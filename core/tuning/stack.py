"""The optional training stack: check that it is there, load a GGUF base model into transformers, the LoRA shape.

torch, transformers and peft are imported inside functions only: EdgeMind without the `[tune]` extra must import
this module and answer with one line (TuneUnavailable) instead of an ImportError.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TuneError
from ..training.stack import unavailable

log = logging.getLogger(__name__)

STACK_MODULES = ("torch", "transformers", "peft", "gguf")
# Every linear layer of a Llama/Qwen2 block: attention and MLP both, so a new fact has room to land.
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True, slots=True)
class Base:
    """A base model loaded for training: the transformers model (float32, eval mode), its tokenizer, its arch."""

    model: Any
    tokenizer: Any
    arch: str


def require_stack() -> None:
    """Raise TuneUnavailable, with the install line, when a package of the training stack is missing."""
    missing = [name for name in STACK_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise unavailable(*missing)


def _unshadow_kernels() -> None:
    """Import Hugging Face's `kernels` (a transformers dependency) before transformers looks for it.

    Run from a clone (pytest, `python -m edgemind...`), the clone's root is on sys.path and its `kernels/` folder
    (our edgemind.kernels) answers to the top-level name `kernels`: transformers then fails on import. Importing
    the real package first, with the clone's root out of the path for that one import, settles the name."""
    if "kernels" in sys.modules:
        return
    spec = importlib.util.find_spec("kernels")
    if spec is None or spec.origin is None:
        return
    ours = Path(__file__).resolve().parents[2] / "kernels"
    if not Path(spec.origin).resolve().is_relative_to(ours):
        return
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if Path(p or ".").resolve() != ours.parent]
    try:
        importlib.import_module("kernels")
    except ImportError:  # no real package either: transformers will then treat hub kernels as absent
        sys.modules.pop("kernels", None)
    finally:
        sys.path[:] = saved


def load_base(gguf_path: Path) -> Base:
    """The GGUF file dequantized into a float32 transformers model: LoRA trains against the weights llama.cpp runs."""
    require_stack()
    _unshadow_kernels()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # transformers' own progress bars and warnings would break the CLI's one-line-per-step progress on stderr
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        # the GGUF dequantizer draws its own tqdm bar on stderr, which the settings above do not reach
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (ValueError, OSError, KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise TuneError(f"cannot load {gguf_path.name} for tuning: {first}") from None
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Base(model=model, tokenizer=tokenizer, arch=str(model.config.model_type))


def lora_config(rank: int = 8, alpha: float = 16) -> Any:
    """The LoRA shape every EdgeMind adapter uses (the GGUF exporter relies on these module names)."""
    require_stack()
    _unshadow_kernels()
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                      target_modules=list(TARGET_MODULES))
