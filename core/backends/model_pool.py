"""Keeps one loaded instance per model: loaded lazily, kept warm, unloaded when idle or when memory runs short.

A request leases a model under that model's lock, so two requests never drive one llama.cpp context at once and a
second copy of a model is never loaded. Waiters get the model in the order they asked for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psutil

from ..errors import ModelBusy

log = logging.getLogger(__name__)
T = TypeVar("T")
HEADROOM_BYTES = 512 * 1024 * 1024


class FairLock:
    """A lock handed to its waiters in arrival order. threading.Lock wakes whichever waiter the OS picks, so behind a
    busy model an API client could be overtaken by later ones again and again until its wait times out."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._queue: deque[object] = deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._cond:
            if not self._held and not self._queue:
                self._held = True
                return True
            if not blocking:
                return False  # free for an instant between a release and the next waiter waking: not ours to take
            ticket = object()
            self._queue.append(ticket)
            deadline = None if timeout < 0 else time.monotonic() + timeout
            try:
                while self._held or self._queue[0] is not ticket:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                self._held = True
                return True
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()  # the next in line re-checks whether it is now first

    def release(self) -> None:
        with self._cond:
            if not self._held:
                raise RuntimeError("release of an unheld FairLock")
            self._held = False
            self._cond.notify_all()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


@dataclass(slots=True)
class _Slot(Generic[T]):
    lock: FairLock
    instance: T | None = None
    waiting: int = 0
    last_used: float = 0.0
    size_bytes: int = 0
    loads: int = 0


class ModelPool(Generic[T]):
    def __init__(
        self,
        *,
        max_loaded: int = 2,
        idle_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        memory_available: Callable[[], int] = lambda: psutil.virtual_memory().available,
        close: Callable[[Any], None] = lambda inst: getattr(inst, "close", lambda: None)(),
        wait_seconds: float = 300.0,
        max_waiting: int = 0,
    ) -> None:
        """max_waiting: how many requests may wait for one model while another uses it (0: no bound); one more is
        refused at once with ModelBusy, so a flood of requests gets a quick "busy" instead of a long queue."""
        self._slots: dict[str, _Slot[T]] = {}
        self._guard = threading.Lock()
        self._max_loaded = max_loaded
        self._idle_seconds = idle_seconds
        self._clock = clock
        self._memory_available = memory_available
        self._close = close
        self._wait_seconds = wait_seconds
        self._max_waiting = max_waiting
        self._reaper: threading.Thread | None = None
        self._stop = threading.Event()

    def _slot(self, key: str) -> _Slot[T]:
        with self._guard:
            return self._slots.setdefault(key, _Slot(lock=FairLock()))

    @contextmanager
    def lease(self, key: str, load: Callable[[], T], size_bytes: int = 0) -> Iterator[tuple[T, float]]:
        """Yield (instance, ms spent loading it now); loads on first use, waits while another request holds it."""
        slot = self._slot(key)
        if not slot.lock.acquire(blocking=False):
            with self._guard:
                if self._max_waiting and slot.waiting >= self._max_waiting:
                    raise ModelBusy(f"model {key!r} is busy and {slot.waiting} requests are already waiting for it; "
                                    "try again shortly")
                slot.waiting += 1
            try:
                acquired = slot.lock.acquire(timeout=self._wait_seconds)
            finally:
                with self._guard:
                    slot.waiting -= 1
            if not acquired:
                raise ModelBusy(f"model {key!r} is busy with another request; try again shortly")
        try:
            load_ms = 0.0
            if slot.instance is None:
                self._make_room(key, size_bytes)
                t0 = time.perf_counter()
                slot.instance = load()
                load_ms = (time.perf_counter() - t0) * 1000
                slot.size_bytes = size_bytes
                slot.loads += 1
                log.info("loaded %s in %.0f ms", key, load_ms)
            slot.last_used = self._clock()
            yield slot.instance, load_ms
            slot.last_used = self._clock()
        finally:
            slot.lock.release()

    def _make_room(self, key: str, size_bytes: int) -> None:
        """Unload least-recently-used idle models while over the count limit or short of memory."""
        while True:
            with self._guard:
                others = [(k, s) for k, s in self._slots.items() if k != key and s.instance is not None]
            over_count = len(others) >= self._max_loaded
            short = self._memory_available() < size_bytes + HEADROOM_BYTES
            if not others or not (over_count or short):
                return
            for k, s in sorted(others, key=lambda kv: kv[1].last_used):
                if s.lock.acquire(blocking=False):
                    try:
                        log.info("unloading %s to make room for %s", k, key)
                        self._unload_slot(s)
                    finally:
                        s.lock.release()
                    break
            else:
                return  # every other model is mid-answer; load anyway rather than stall

    def _unload_slot(self, slot: _Slot[T]) -> None:
        inst, slot.instance = slot.instance, None
        if inst is not None:
            try:
                self._close(inst)
            except Exception:  # a failing close must not keep the memory pinned by our reference
                log.exception("error while unloading a model")

    def unload_idle(self) -> list[str]:
        """Unload models unused for idle_seconds (0 disables idle unloading)."""
        if self._idle_seconds <= 0:
            return []
        now = self._clock()
        unloaded = []
        with self._guard:
            items = list(self._slots.items())
        for key, slot in items:
            idle = slot.instance is not None and now - slot.last_used >= self._idle_seconds
            if idle and slot.lock.acquire(blocking=False):
                try:
                    self._unload_slot(slot)
                    unloaded.append(key)
                finally:
                    slot.lock.release()
        return unloaded

    def unload_all(self) -> None:
        with self._guard:
            items = list(self._slots.values())
        for slot in items:
            with slot.lock:
                self._unload_slot(slot)

    def loaded(self) -> list[str]:
        with self._guard:
            return [k for k, s in self._slots.items() if s.instance is not None]

    def waiting(self) -> dict[str, int]:
        """Requests waiting per model right now (the API server's queue-depth metric)."""
        with self._guard:
            return {k: s.waiting for k, s in self._slots.items()}

    def load_count(self, key: str) -> int:
        return self._slot(key).loads

    def start_reaper(self, interval: float = 30.0) -> None:
        """A daemon thread that unloads idle models, so a warm model is not held forever after the last request."""
        if self._reaper is not None or self._idle_seconds <= 0:
            return

        def run() -> None:
            while not self._stop.wait(interval):
                self.unload_idle()

        self._reaper = threading.Thread(target=run, name="edgemind-model-reaper", daemon=True)
        self._reaper.start()

    def close(self) -> None:
        self._stop.set()
        self.unload_all()
