"""Personalization: LoRA tuning, distillation and the packs that carry adapters between users (issue 20).

Never imports Qt or the shells; the training stack (torch, transformers, peft) only inside functions.
"""
