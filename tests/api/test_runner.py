"""The runner on its own: answers sent whole are handed over once; request threads are reused."""

from __future__ import annotations

import asyncio
import threading
import time

from edgemind.core.api.metrics import ServerMetrics
from edgemind.core.api.runner import Runner
from edgemind.core.engine.facade import AskOptions
from edgemind.core.events import Done, Metrics, Route, Token


class StubEngine:
    def __init__(self) -> None:
        self.threads: list[int] = []

    def stream(self, prompt, options, cancel):
        self.threads.append(threading.get_ident())
        yield Route("chat", "m", "llama_cpp", "test")
        for piece in ("a", "b", "c"):
            yield Token(piece)
        yield Done(Metrics(tokens=3), "length")


def events(runner: Runner, stream: bool) -> list[object]:
    async def go() -> list[object]:
        gen = runner.start("hi", AskOptions(), stream=stream)
        await gen.first()
        return [e async for e in gen.events()]

    return asyncio.run(go())


def test_whole_answers_are_handed_over_once_streams_per_token() -> None:
    runner = Runner(StubEngine(), ServerMetrics(), max_in_flight=4, retry_after=1)  # type: ignore[arg-type]
    whole = events(runner, stream=False)
    assert [e.text for e in whole if isinstance(e, Token)] == ["abc"]
    assert isinstance(whole[-1], Done)
    streamed = events(runner, stream=True)
    assert [e.text for e in streamed if isinstance(e, Token)] == ["a", "b", "c"]


def test_request_threads_are_reused() -> None:
    engine = StubEngine()
    runner = Runner(engine, ServerMetrics(), max_in_flight=4, retry_after=1)  # type: ignore[arg-type]
    for _ in range(5):
        events(runner, stream=False)
        deadline = time.monotonic() + 5
        while runner._workers._idle == 0 and time.monotonic() < deadline:  # the worker marks itself idle just after
            time.sleep(0.001)
    assert len(engine.threads) == 5
    assert len(set(engine.threads)) == 1  # one request at a time: the same worker thread every time
