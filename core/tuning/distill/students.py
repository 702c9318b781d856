"""Answers from the student in-process (transformers), with or without its LoRA weights, for the evaluation: the
base and the tuned student run on the same numerics, so the paired comparison measures the tune alone.

The tuned weights are saved by `save_peft` (an exporter for the trainer's `export` hook, called while the LoRA
layers are still on the model); the GGUF adapter for llama.cpp is written by the same hook when an exporter for it is
given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..stack import Base
from ..trainer import Exporter
from .verifiers import Generate

PEFT_DIR = "peft"


def save_peft(folder: Path, then: Exporter | None = None) -> Exporter:
    """An exporter that saves the LoRA weights (PEFT format) to `folder`, then runs `then` (the GGUF export)."""
    def export(peft_model: Any, base_gguf: Path, out: Path, alpha: float) -> None:
        peft_model.save_pretrained(str(folder))
        if then is not None:
            then(peft_model, base_gguf, out, alpha)

    return export


class StudentPair:
    """The base student and the same model with its LoRA weights, for a paired comparison on one set of numerics.

    One PEFT wrapper serves both: the base answers with the adapter switched off (loading a second wrapper would put
    LoRA layers into the shared base model and contaminate the base side)."""

    def __init__(self, base: Base, lora: Path) -> None:
        from peft import PeftModel

        self._tokenizer = base.tokenizer
        self._model: Any = PeftModel.from_pretrained(base.model, str(lora))
        self._model.eval()

    def generator(self, *, adapter: bool, max_new_tokens: int = 96) -> Generate:
        """Greedy answers (the seed is unused: greedy decoding has no randomness)."""
        import contextlib

        import torch

        def generate(messages: list[tuple[str, str]], seed: int) -> str:
            chat = [{"role": r, "content": c} for r, c in messages]
            text = self._tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
            ids = self._tokenizer(text, return_tensors="pt", add_special_tokens=False)
            switch = contextlib.nullcontext() if adapter else self._model.disable_adapter()
            with torch.no_grad(), switch:
                out = self._model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                           pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id)
            return str(self._tokenizer.decode(out[0][ids["input_ids"].shape[1]:], skip_special_tokens=True)).strip()

        return generate

    def close(self) -> None:
        """Take the LoRA layers out of the shared base model again."""
        self._model.unload()
