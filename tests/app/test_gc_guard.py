"""While the app is up, Python's collector runs on the GUI thread only: a cycle dropped in a worker is freed on the
GUI thread (PySide6 does not survive a Qt object deleted off its thread)."""

from __future__ import annotations

import gc
import threading

from edgemind.app.gc_guard import GuiThreadCollector


class Cycle:
    freed_on: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        Cycle.freed_on.append(threading.current_thread().name)


def drop_cycles(n: int) -> None:
    for _ in range(n):
        Cycle()


def test_cycles_dropped_in_a_worker_are_freed_on_the_gui_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    gc.collect()
    Cycle.freed_on = []
    collector = GuiThreadCollector(interval_ms=20)
    collector.start()
    try:
        worker = threading.Thread(target=drop_cycles, args=(20 * gc.get_threshold()[0],), name="worker")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: len(Cycle.freed_on) >= 10 * gc.get_threshold()[0], timeout=5000)
    finally:
        collector.stop()
    assert collector.collections > 0
    assert set(Cycle.freed_on) == {threading.main_thread().name}


def test_stopping_gives_automatic_collection_back() -> None:
    collector = GuiThreadCollector()
    collector.start()
    assert not gc.isenabled()
    collector.stop()
    assert gc.isenabled()
