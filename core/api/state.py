"""What every route needs, built once per server: the engine, the configuration, the metrics, the runner."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..engine import Engine
from ..events import Done
from .config import ServerConfig
from .metrics import ServerMetrics
from .runner import Runner

EMBEDDING_MODEL = "all-minilm-l6-v2"


@dataclass(slots=True)
class ApiState:
    engine: Engine
    config: ServerConfig
    metrics: ServerMetrics
    runner: Runner
    embedder: Callable[[], Any]
    started: int = field(default_factory=lambda: int(time.time()))


def finish_reason(done: Done) -> str:
    """The engine's finish reason in the OpenAI/Ollama vocabulary."""
    if done.refused:
        return "content_filter"
    return "length" if done.finish_reason == "length" else "stop"
