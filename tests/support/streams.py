"""Reading a backend's stream in tests: the text it wrote and the BackendDone it must end with."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from edgemind.core.backends.base import CancelToken, GenerationParams, Message
from edgemind.core.events import BackendDone


def run(stream: Iterator[object]) -> tuple[str, BackendDone]:
    text, done = [], None
    for chunk in stream:
        if isinstance(chunk, BackendDone):
            done = chunk
        else:
            text.append(chunk)
    assert done is not None, "a backend stream must end with BackendDone"
    return "".join(text), done


# The stream contract our own decoders (onnx_int4, tmac) share with llama_cpp: one question, greedy, checked alike.
QUESTION = [Message("system", "You are a helpful assistant."),
            Message("user", "Tell me about the sea in a few sentences.")]


def greedy(max_tokens: int = 40, stop: tuple[str, ...] = ()) -> GenerationParams:
    return GenerationParams(max_tokens=max_tokens, temperature=0.0, repeat_penalty=1.0, seed=1, stop=stop)


def check_max_tokens_ends_with_length(backend: Any) -> None:
    _, done = run(backend.stream(QUESTION, greedy(5), CancelToken()))
    assert (done.tokens, done.finish_reason) == (5, "length")


def check_stop_sequence_ends_before_it(backend: Any) -> None:
    full, _ = run(backend.stream(QUESTION, greedy(40), CancelToken()))
    words = full.split()
    assert len(words) > 4, full
    stop = words[3]
    text, done = run(backend.stream(QUESTION, greedy(40, stop=(stop,)), CancelToken()))
    assert stop not in text
    assert full.startswith(text)
    assert done.finish_reason == "stop"


def check_cancel_within_one_token(backend: Any) -> None:
    cancel = CancelToken()
    pieces = []
    done = None
    for chunk in backend.stream(QUESTION, greedy(100), cancel):
        if isinstance(chunk, BackendDone):
            done = chunk
            break
        pieces.append(chunk)
        cancel.cancel()
    assert done is not None and done.finish_reason == "cancelled"
    assert done.tokens <= 2 and len(pieces) == 1  # a first token may be half a UTF-8 character and print nothing
