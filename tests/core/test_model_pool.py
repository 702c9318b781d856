"""The model pool: one warm instance per model, idle and memory-pressure unloading, no second copies."""

from __future__ import annotations

import threading
import time

import pytest

from edgemind.core.backends.model_pool import FairLock, ModelPool
from edgemind.core.errors import ModelBusy


class Model:
    """A stand-in for a loaded model that records being closed (real models are covered in test_llama_backend)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_model_is_loaded_lazily_once_and_reused() -> None:
    pool: ModelPool[Model] = ModelPool()
    loads = []

    def load() -> Model:
        loads.append(1)
        return Model("a")

    assert pool.loaded() == []
    with pool.lease("a", load) as (first, load_ms):
        assert load_ms >= 0
    with pool.lease("a", load) as (second, load_ms):
        assert load_ms == 0.0
    assert first is second and len(loads) == 1


def test_the_least_recently_used_model_is_unloaded_past_the_limit() -> None:
    clock = Clock()
    pool: ModelPool[Model] = ModelPool(max_loaded=2, clock=clock)
    models = {}
    for i, key in enumerate(["a", "b", "c"]):
        clock.now = float(i)
        with pool.lease(key, lambda k=key: models.setdefault(k, Model(k))):
            pass
    assert sorted(pool.loaded()) == ["b", "c"]
    assert models["a"].closed and not models["b"].closed


def test_idle_models_are_unloaded_after_the_timeout() -> None:
    clock = Clock()
    pool: ModelPool[Model] = ModelPool(idle_seconds=60, clock=clock)
    m = Model("a")
    with pool.lease("a", lambda: m):
        pass
    clock.now = 59
    assert pool.unload_idle() == []
    clock.now = 61
    assert pool.unload_idle() == ["a"]
    assert m.closed and pool.loaded() == []


def test_zero_idle_timeout_keeps_models_loaded() -> None:
    clock = Clock()
    pool: ModelPool[Model] = ModelPool(idle_seconds=0, clock=clock)
    with pool.lease("a", lambda: Model("a")):
        pass
    clock.now = 10**9
    assert pool.unload_idle() == [] and pool.loaded() == ["a"]


def test_memory_pressure_unloads_other_models_before_loading() -> None:
    free = {"bytes": 10 * 2**30}
    pool: ModelPool[Model] = ModelPool(max_loaded=8, memory_available=lambda: free["bytes"])
    a = Model("a")
    with pool.lease("a", lambda: a, size_bytes=2**30):
        pass
    free["bytes"] = 2**30  # now too little for a 1 GiB model plus headroom
    with pool.lease("b", lambda: Model("b"), size_bytes=2**30):
        pass
    assert a.closed and pool.loaded() == ["b"]


def test_a_model_in_use_is_never_unloaded() -> None:
    clock = Clock()
    pool: ModelPool[Model] = ModelPool(idle_seconds=1, clock=clock)
    m = Model("a")
    with pool.lease("a", lambda: m):
        clock.now = 100
        assert pool.unload_idle() == []
        assert not m.closed


def test_concurrent_requests_share_one_instance_and_take_turns() -> None:
    pool: ModelPool[Model] = ModelPool()
    loads, active, overlap = [], [0], [False]
    lock = threading.Lock()

    def load() -> Model:
        loads.append(1)
        time.sleep(0.05)
        return Model("a")

    def request() -> None:
        with pool.lease("a", load):
            with lock:
                active[0] += 1
                overlap[0] |= active[0] > 1
            time.sleep(0.01)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and not overlap[0]


def test_a_request_that_waits_too_long_gets_a_busy_error() -> None:
    pool: ModelPool[Model] = ModelPool(wait_seconds=0.05)
    with pool.lease("a", lambda: Model("a")):
        failure: list[Exception] = []

        def second() -> None:
            try:
                with pool.lease("a", lambda: Model("a")):
                    pass
            except ModelBusy as exc:
                failure.append(exc)

        t = threading.Thread(target=second)
        t.start()
        t.join()
    assert failure and "busy" in str(failure[0])


def test_requests_waiting_for_a_busy_model_get_it_in_the_order_they_asked() -> None:
    pool: ModelPool[Model] = ModelPool()
    order: list[int] = []

    def request(i: int) -> None:
        with pool.lease("a", lambda: Model("a")):
            order.append(i)
            time.sleep(0.005)

    threads = []
    with pool.lease("a", lambda: Model("a")):
        for i in range(12):
            threads.append(threading.Thread(target=request, args=(i,)))
            threads[-1].start()
            while pool.waiting().get("a", 0) < i + 1:  # the next one asks only once this one is queued
                time.sleep(0.001)
    for t in threads:
        t.join()
    assert order == list(range(12))


def test_a_new_request_does_not_jump_ahead_of_one_already_waiting() -> None:
    """The unfairness a plain lock has: released and at once re-requested, it goes to the newcomer, not the waiter."""
    pool: ModelPool[Model] = ModelPool()
    order: list[str] = []

    def waiter() -> None:
        with pool.lease("a", lambda: Model("a")):
            order.append("waiter")

    t = threading.Thread(target=waiter)
    with pool.lease("a", lambda: Model("a")):
        t.start()
        while pool.waiting().get("a", 0) < 1:
            time.sleep(0.001)
    with pool.lease("a", lambda: Model("a")):
        order.append("newcomer")
    t.join()
    assert order == ["waiter", "newcomer"]


def test_a_waiter_that_times_out_leaves_the_queue_to_the_next() -> None:
    lock = FairLock()
    lock.acquire()
    assert not lock.acquire(timeout=0.02)
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(lock.acquire(timeout=5)))
    t.start()
    time.sleep(0.02)
    lock.release()
    t.join()
    assert got == [True]
    assert not lock.acquire(blocking=False)
    lock.release()
    assert lock.acquire(blocking=False)


def test_close_unloads_everything() -> None:
    pool: ModelPool[Model] = ModelPool()
    ms = [Model("a"), Model("b")]
    for m in ms:
        with pool.lease(m.name, lambda m=m: m):
            pass
    pool.close()
    assert all(m.closed for m in ms) and pool.loaded() == []
