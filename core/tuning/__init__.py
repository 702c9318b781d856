"""Personalization: LoRA tuning on the user's data, its GGUF export, distillation and packs (optional `[tune]` stack).

Nothing here imports torch, transformers or peft at module level: `edgemind` must work without them; a missing
stack is one line (TuneUnavailable) naming the extra to install.
"""
