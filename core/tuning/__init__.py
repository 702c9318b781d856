"""Personalization: LoRA tuning of a local GGUF model on the user's data, its export and its adapters.

The training stack (torch, transformers, peft, gguf) is the optional `[tune]` extra: modules here import it only
inside functions, so EdgeMind without it still imports this package and says in one line what to install.
"""
