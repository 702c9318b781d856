"""Personalization: LoRA tuning, its GGUF export, distillation and the packs that carry adapters between users
(issue 20).

Never imports Qt or the shells; the training stack (torch, transformers, peft, gguf) only inside functions.
"""
