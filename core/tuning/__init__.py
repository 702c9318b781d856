"""Personalization: LoRA tuning on the user's data, distillation from their own answers, personalization packs."""
