"""Runs one engine request in a worker thread and hands its events to the event loop; cancels it when the client
goes away. The engine is synchronous (llama.cpp holds the thread per token); the server must never block on it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any

from ..backends.base import CancelToken
from ..engine import AskOptions, Engine
from ..events import Done, Error, Event, Route, Token
from .errors import ApiError
from .metrics import ServerMetrics

log = logging.getLogger(__name__)
_END = object()


@dataclass(slots=True)
class Answer:
    """A whole answer, collected from the events."""

    text: str
    route: Route
    done: Done


@dataclass(slots=True)
class Generation:
    """One engine request in flight. Iterate `events()` once; `first()` waits for the first token (or the end)
    so that errors before any output can still become a proper HTTP status."""

    queue: asyncio.Queue[Any]
    cancel: CancelToken
    route: Route | None = None
    _pending: list[Event] = field(default_factory=list)

    async def first(self) -> None:
        """Read up to the first Token or Done; raise ApiError for an Error that comes before any output."""
        while True:
            event = await self.queue.get()
            if event is _END:
                raise ApiError(500, "the request ended without an answer", "internal")
            if isinstance(event, Route):
                self.route = event
                continue
            if isinstance(event, Error):
                raise ApiError.from_engine(event.kind, event.message)
            self._pending.append(event)
            return

    async def events(self) -> AsyncIterator[Event]:
        try:
            for event in self._pending:
                yield event
            self._pending.clear()
            while True:
                event = await self.queue.get()
                if event is _END:
                    return
                yield event
        finally:
            # Reached when the answer is complete, or when the client went away and the response task was cancelled.
            self.cancel.cancel()

    async def collect(self) -> Answer:
        await self.first()
        pieces: list[str] = []
        async for event in self.events():
            if isinstance(event, Token):
                pieces.append(event.text)
            elif isinstance(event, Error):
                raise ApiError.from_engine(event.kind, event.message)
            elif isinstance(event, Done):
                assert self.route is not None
                return Answer("".join(pieces), self.route, event)
        raise ApiError(500, "the request ended without an answer", "internal")


class _Workers:
    """Long-lived daemon threads that run the engine requests, started as needed and reused after.

    A thread per request would also mean a fresh OpenMP team inside llama.cpp per request (libgomp keeps one per
    calling thread); reused threads keep theirs, as llama_cpp.server's thread pool does."""

    def __init__(self) -> None:
        self._jobs: SimpleQueue[Callable[[], None]] = SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)
        with self._lock:
            if self._idle:
                self._idle -= 1  # an idle worker is (or is about to be) waiting on the queue: it takes the job
                return
        threading.Thread(target=self._work, name="edgemind-api-request", daemon=True).start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except BaseException:  # run() handles its own errors; never let one kill the worker silently
                log.exception("request worker failed")
            with self._lock:
                self._idle += 1


class Runner:
    def __init__(self, engine: Engine, metrics: ServerMetrics, max_in_flight: int, retry_after: int) -> None:
        self.engine = engine
        self.metrics = metrics
        self._max = max_in_flight
        self._retry_after = retry_after
        self._running = 0
        self._lock = threading.Lock()
        self._workers = _Workers()

    def start(self, prompt: str, options: AskOptions, *, stream: bool = True) -> Generation:
        """stream=False (an answer sent whole): the tokens are joined in the worker thread and handed over once, with
        the end, instead of waking the event loop once per token.

        The API never grants tool use, whoever hosts it: a request that somehow carries a tool capability is a bug
        of ours, refused here before the engine sees it."""
        if options.tools is not None:
            raise ApiError(500, "internal error: an API request carried a tool capability", "internal")
        with self._lock:
            if self._running >= self._max:
                self.metrics.rejected("server_full")
                raise ApiError(503, f"the server is handling {self._running} requests, its limit; try again shortly",
                               "busy", retry_after=str(self._retry_after))
            self._running += 1
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = CancelToken()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone (server shutting down): stop generating
                cancel.cancel()

        def run() -> None:
            held: list[str] = []
            try:
                with closing(self.engine.stream(prompt, options, cancel)) as events:
                    for event in events:
                        if not stream:
                            if isinstance(event, Token):
                                held.append(event.text)
                                continue
                            if held:
                                put(Token("".join(held)))
                                held.clear()
                        if isinstance(event, Error) and event.kind == "busy":
                            self.metrics.rejected("model_queue_full")
                        elif isinstance(event, Done):
                            m = event.metrics
                            self.metrics.generation(route_model[0], m.prompt_tokens, m.tokens, m.ttft_ms / 1000,
                                                    event.cache, event.finish_reason)
                        elif isinstance(event, Route):
                            route_model[0] = event.model
                        put(event)
            except Exception as exc:  # a bug of ours: the client gets a 500 in its API's format, the log the trace
                log.exception("request failed")
                if held:
                    put(Token("".join(held)))
                put(Error(f"internal error: {exc.__class__.__name__}", "internal"))
            finally:
                with self._lock:
                    self._running -= 1
                put(_END)

        route_model = [""]
        self._workers.submit(run)
        return Generation(queue, cancel)


async def cancel_on_disconnect(receive: Callable[[], Any], cancel: CancelToken) -> None:
    """For answers sent whole: watch the connection while the model works, and stop it if the client leaves.
    (Streaming answers are stopped by the response task being cancelled; see Generation.events.)"""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            cancel.cancel()
            return


async def start_generation(runner: Runner, receive: Callable[[], Any], prompt: str, options: Any,
                           stream: bool = True) -> Generation:
    """Start the generation and wait for its first token, stopping it if the client leaves meanwhile."""
    gen = runner.start(prompt, options, stream=stream)
    watcher = asyncio.create_task(cancel_on_disconnect(receive, gen.cancel))
    try:
        await gen.first()
    except BaseException:
        gen.cancel.cancel()
        raise
    finally:
        watcher.cancel()
    return gen


async def collect_watching(gen: Generation, receive: Callable[[], Any]) -> Answer:
    """The whole answer (non-streamed responses), stopping the generation if the client leaves meanwhile."""
    watcher = asyncio.create_task(cancel_on_disconnect(receive, gen.cancel))
    try:
        return await gen.collect()
    finally:
        watcher.cancel()
