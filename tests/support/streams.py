"""Reading a backend's stream in tests: the text it wrote and the BackendDone it must end with."""

from __future__ import annotations

from typing import Iterator

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
