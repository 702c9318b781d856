"""Backends behind one protocol (`base.py`), found by name through the `edgemind.backends` entry points
(`registry.py`): llama.cpp (default), onnx_int4, Ollama and any OpenAI-compatible server, plus any a package adds."""

from .base import Backend, CancelToken, GenerationParams, Message
from .registry import ENTRY_POINT_GROUP, MODEL_SOURCES_GROUP, backend_factories, load_backends, model_sources

__all__ = ["Backend", "CancelToken", "ENTRY_POINT_GROUP", "GenerationParams", "MODEL_SOURCES_GROUP", "Message",
           "backend_factories", "load_backends", "model_sources"]
