"""Reading a backend's stream in tests: the text it wrote and the BackendDone it must end with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from edgemind.core.backends.base import CancelToken, GenerationParams, Message
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.events import BackendDone, Done, Route


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


def check_the_engine_streams_an_answer_through(engine: Engine, backend: str) -> None:
    """The engine routes a question to `backend` and streams a greedy answer that knows it, within max_tokens."""
    events = list(engine.stream("What is the capital of France?",
                                AskOptions(max_tokens=16, temperature=0.0, store=False)))
    route = next(e for e in events if isinstance(e, Route))
    done = next(e for e in events if isinstance(e, Done))
    text = "".join(e.text for e in events if getattr(e, "type", "") == "token")
    assert route.backend == backend
    assert "Paris" in text
    assert 0 < done.metrics.tokens <= 16


def check_token_counts_are_exact(backend: Any) -> None:
    text, done = run(backend.stream(QUESTION, greedy(30), CancelToken()))
    assert text.strip()
    assert 0 < done.tokens <= 30
    assert done.prompt_tokens == backend.count_tokens(QUESTION)


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


# No tiny model writes this by itself: an answer to "invent a person" is prose, not a JSON object with a short
# name, an integer age and a mood from the list. (llama.cpp's schema converter does not enforce numeric ranges,
# so the schema has none.)
PERSON = {"type": "object", "additionalProperties": False, "required": ["name", "age", "mood"],
          "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"},
                         "mood": {"enum": ["calm", "cheerful", "grumpy"]}}}
INVENT = [Message("user", "Invent a person.")]


def check_a_json_schema_makes_the_answer_that_json(backend: Any, temperature: float = 0.0) -> None:
    import jsonschema

    params = GenerationParams(max_tokens=60, temperature=temperature, top_p=0.95, top_k=40, seed=5, json_schema=PERSON)
    text, done = run(backend.stream(INVENT, params, CancelToken()))
    jsonschema.validate(json.loads(text), PERSON)
    assert done.finish_reason == "stop"


def check_without_a_schema_the_answer_is_not_that_json(backend: Any) -> None:
    """The control for the check above: the constraint, not the prompt, makes the JSON."""
    import jsonschema

    text, _ = run(backend.stream(INVENT, greedy(60), CancelToken()))
    with pytest.raises((ValueError, jsonschema.ValidationError)):
        jsonschema.validate(json.loads(text), PERSON)
