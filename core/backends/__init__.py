"""Backends behind one protocol: llama.cpp (default), Ollama and any OpenAI-compatible server."""

from .base import Backend, CancelToken, GenerationParams, Message, backend_factories, register_backend

__all__ = ["Backend", "CancelToken", "GenerationParams", "Message", "backend_factories", "register_backend"]
