"""The one protocol every backend speaks and the plain data it takes. Imports no backend: they are found by name
through entry points (`registry.py`).

A backend streams text pieces for a list of chat messages; it checks the cancel token before every token, so a
cancel stops generation within one token. It raises EdgeMind errors, never library-specific ones.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..events import BackendDone


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.1
    seed: int | None = None
    stop: tuple[str, ...] = field(default=())
    # Constrain the output to JSON valid against this JSON Schema (a plain dict). Generic on purpose: the API's
    # response_format, client-side function calling and the tool-calling loop all build their schema and set it here.
    # Remote backends pass it on; llama_cpp and onnx_int4 enforce it with llama.cpp's grammar engine.
    json_schema: dict[str, Any] | None = None


class CancelToken:
    """Set from any thread (Ctrl-C handler, GUI Stop button, API disconnect); backends poll it per token."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


Chunk = str | BackendDone
# What `Backend.stream` returns: a generator, so a caller that stops reading early closes it (`contextlib.closing`)
# and the backend lets go of its model.
ChunkStream = Generator[Chunk, None, None]


class Backend(Protocol):
    name: str

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> ChunkStream:
        """Yield text pieces, then exactly one BackendDone."""
        ...

    def count_tokens(self, messages: list[Message]) -> int | None:
        """Tokens the rendered prompt takes with the model's own tokenizer, or None when unknown (remote)."""
        ...

    def context_window(self) -> int | None:
        """The context size in tokens the model runs with (None when a remote server does not say)."""
        ...

    def take_load_ms(self) -> float:
        """Milliseconds spent loading the model since the last call (0 when it was warm)."""
        ...


class StopScanner:
    """Holds back just enough text to tell whether a stop sequence is starting, so none is ever printed."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._hold = max((len(s) for s in self._stops), default=1) - 1
        self._buf = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Return (text safe to emit, whether a stop sequence was hit)."""
        self._buf += text
        if not self._stops:
            out, self._buf = self._buf, ""
            return out, False
        hits = [i for i in (self._buf.find(s) for s in self._stops) if i >= 0]
        if hits:
            out, self._buf = self._buf[: min(hits)], ""
            return out, True
        cut = max(0, len(self._buf) - self._hold)
        out, self._buf = self._buf[:cut], self._buf[cut:]
        return out, False

    def flush(self) -> str:
        out, self._buf = self._buf, ""
        return out
