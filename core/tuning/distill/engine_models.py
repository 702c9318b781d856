"""A `Generate` for any model in the registry (local GGUF, Ollama, OpenAI-compatible) through the engine's own
backends: the teacher, and the judge."""

from __future__ import annotations

from ...backends.base import CancelToken
from ...engine import Engine
from .teacher import backend_generator
from .verifiers import Generate


def engine_generator(engine: Engine, model_id: str, *, temperature: float, max_tokens: int,
                     cancel: CancelToken | None = None) -> Generate:
    """Samples from `model_id` as the engine would run it (its backend, its verified file)."""
    spec = engine.runnable_spec(engine.models.get(model_id))
    return backend_generator(engine.backend_for(spec), temperature=temperature, max_tokens=max_tokens,
                             cancel=cancel)
