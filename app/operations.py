"""The one way app/ runs engine work: in a worker thread, with events, result and error sent back by Qt signals.

Like Anki's CollectionOp/QueryOp: a screen says what to run and which slots get the events, the result or the error;
it never writes its own threading, and never calls the engine on the GUI thread. Two lanes: `run` (store queries and
writes, one at a time, in order), `stream` (generations; the model pool's lock serialises model use) and `external`
(waiting on other programs, such as an MCP server's start: never holds up the store's lane).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from edgemind.core.backends.base import CancelToken  # light: core's package imports lazily
from edgemind.core.errors import EdgeMindError

log = logging.getLogger(__name__)

Emit = Callable[[Any], None]


class _Relay(QObject):
    """Lives on the GUI thread; worker threads emit through it, so every slot runs on the GUI thread."""

    item = Signal(object)  # not `event`: that name is QObject.event(), which Qt calls for every event
    done = Signal(object)
    failed = Signal(object)


class Op:
    """A handle on work in flight: cancel it; `finished` tells whether its done/failed slot already ran."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cancel_token = CancelToken()
        self.finished = False

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled


class _Job(QRunnable):
    def __init__(self, fn: Callable[[Any, Emit], Any], op: Op, relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn, self._op, self._relay = fn, op, relay

    def run(self) -> None:
        try:
            result = self._fn(self._op.cancel_token, self._relay.item.emit)
        except Exception as exc:  # every failure reaches the screen that asked; bugs are logged with a traceback
            if not isinstance(exc, EdgeMindError):
                log.exception("%s failed", self._op.name)
            self._relay.failed.emit(exc)
        else:
            self._relay.done.emit(result)


class Operations(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queries = QThreadPool(self)
        self._queries.setMaxThreadCount(1)  # store work in order, never two writers from the app at once
        self._streams = QThreadPool(self)
        self._streams.setMaxThreadCount(2)  # a chat answer and a quick ask may both be in flight
        self._external = QThreadPool(self)
        self._external.setMaxThreadCount(2)
        self._live: dict[Op, _Relay] = {}
        self._closing = False

    # ---- submitting -------------------------------------------------------------------------------------------
    def run(self, name: str, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[Exception], None] | None = None) -> Op:
        """Run fn() on the serial lane; on_done(result) or on_error(exc) on the GUI thread."""
        return self.submit(name, lambda _cancel, _emit: fn(), lane="query", on_done=on_done, on_error=on_error)

    def stream(self, name: str, make_events: Callable[[Any], Iterable[Any]], on_event: Callable[[Any], None],
               on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[Exception], None] | None = None) -> Op:
        """Iterate make_events(cancel) in a worker; each item reaches on_event on the GUI thread, in order."""
        def work(cancel: Any, emit: Emit) -> None:
            for item in make_events(cancel):
                emit(item)

        return self.submit(name, work, lane="stream", on_event=on_event, on_done=on_done, on_error=on_error)

    def submit(self, name: str, fn: Callable[[Any, Emit], Any], *, lane: str = "query",
               on_event: Callable[[Any], None] | None = None, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[Exception], None] | None = None) -> Op:
        op = Op(name)
        relay = _Relay(self)
        self._live[op] = relay
        if on_event is not None:
            relay.item.connect(lambda item: None if self._closing else on_event(item))

        def finish(callback: Callable[[Any], None] | None, value: Any) -> None:
            op.finished = True
            self._live.pop(op, None)
            relay.deleteLater()
            if callback is not None and not self._closing:
                callback(value)
            elif callback is None and isinstance(value, Exception):
                log.warning("%s failed: %s", name, value)

        relay.done.connect(lambda result: finish(on_done, result))
        relay.failed.connect(lambda exc: finish(on_error, exc))
        pool = {"stream": self._streams, "external": self._external}.get(lane, self._queries)
        pool.start(_Job(fn, op, relay))
        return op

    # ---- the seam for dialogs a worker must wait on (the permission dialog) -------------------------------------
    def call_in_gui(self, fn: Callable[[], Any], timeout_s: float, default: Any) -> Any:
        """From a worker thread: run fn() on the GUI thread and wait for its result (e.g. a modal question to the
        user); `default` when it takes longer than timeout_s or the app is closing. On the GUI thread: fn()."""
        if QThread.currentThread() is self.thread():
            return fn()
        box: dict[str, Any] = {}
        ready = threading.Event()
        relay = _Call(fn, box, ready)
        relay.moveToThread(self.thread())
        relay.call.emit()
        deadline = time.monotonic() + timeout_s
        # waited in slices so a closing app answers `default` at once instead of holding its workers
        while not ready.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            if self._closing or time.monotonic() >= deadline:
                return default
        if self._closing:
            return default
        if "error" in box:
            raise box["error"]
        return box.get("value", default)

    # ---- closing ----------------------------------------------------------------------------------------------
    @property
    def closing(self) -> bool:
        """True once shutdown began: a worker waiting on the GUI gives up and takes its default."""
        return self._closing

    def in_flight(self) -> list[Op]:
        return list(self._live)

    def shutdown(self, wait_ms: int = 10_000) -> None:
        """Cancel everything in flight and wait for the workers (generation stops within one token)."""
        self._closing = True
        for op in list(self._live):
            op.cancel()
        self._streams.waitForDone(wait_ms)
        self._queries.waitForDone(wait_ms)
        self._external.waitForDone(wait_ms)
        QCoreApplication.processEvents()


class _Call(QObject):
    call = Signal()

    def __init__(self, fn: Callable[[], Any], box: dict[str, Any], ready: threading.Event) -> None:
        super().__init__()
        self._fn, self._box, self._ready = fn, box, ready
        self.call.connect(self._run)

    @Slot()
    def _run(self) -> None:
        try:
            self._box["value"] = self._fn()
        except Exception as exc:
            self._box["error"] = exc
        finally:
            self._ready.set()
            self.deleteLater()
