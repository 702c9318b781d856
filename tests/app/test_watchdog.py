"""The stall watchdog notices a blocked GUI thread and, when tracing, names what another thread ran meanwhile."""

from __future__ import annotations

import re
import threading
import time

from edgemind.app.watchdog import StallWatchdog


def hold_the_gil_for_a_while() -> None:
    for _ in range(5):
        time.sleep(0.02)  # some ordinary work first, as a real loader does before its long call
    # catastrophic backtracking runs inside the C regex engine, which never releases the GIL (~0.3 s here)
    re.match(r"(a+)+$", "a" * 23 + "b")


def test_a_thread_holding_the_gil_is_seen_as_a_stall_and_named_in_the_trace(qtbot) -> None:
    watchdog = StallWatchdog(threshold_ms=50)
    watchdog.start()
    watchdog.trace_stalls()
    qtbot.wait(100)  # the timer ticks freely first
    watchdog.reset()
    culprit = threading.Thread(target=hold_the_gil_for_a_while)
    culprit.start()
    deadline = time.monotonic() + 10
    while culprit.is_alive() and time.monotonic() < deadline:
        qtbot.wait(10)
    culprit.join()
    qtbot.wait(100)
    watchdog.stop()
    assert watchdog.stalls and watchdog.longest_ms > 50
    assert any("hold_the_gil_for_a_while" in trace for trace in watchdog.traces), watchdog.traces


def test_without_tracing_nothing_is_sampled(qtbot) -> None:
    watchdog = StallWatchdog(threshold_ms=50)
    watchdog.start()
    culprit = threading.Thread(target=hold_the_gil_for_a_while)
    culprit.start()
    while culprit.is_alive():
        qtbot.wait(10)
    qtbot.wait(50)
    watchdog.stop()
    assert watchdog.stalls and watchdog.traces == []
