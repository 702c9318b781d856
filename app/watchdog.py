"""A watchdog for the GUI thread: a timer that should tick every 20 ms notices when it could not, and logs any block
of the event loop longer than 50 ms (Anki logs 200 ms; a streaming answer must stay smoother than that)."""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections import deque

from PySide6.QtCore import QObject, Qt, QTimer

log = logging.getLogger(__name__)
THRESHOLD_MS = 50.0
TICK_MS = 20


class StallWatchdog(QObject):
    def __init__(self, threshold_ms: float = THRESHOLD_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold_ms = threshold_ms
        self.longest_ms = 0.0
        self.stalls: list[float] = []  # every block above the threshold, in ms, since the last reset
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.traces: list[str] = []  # with trace_stalls(): what the other threads ran while the GUI thread waited
        self._tracer: threading.Thread | None = None
        self._samples: deque[tuple[float, str]] = deque(maxlen=200)  # (when, stacks of the other threads)
        self._tracing = False

    def trace_stalls(self) -> None:
        """Diagnose stalls: a side thread samples the other threads' stacks every 10 ms and keeps the samples taken
        around each stall.

        A stall in a Qt app written in Python is nearly always another thread holding the GIL (an import, a C call
        that does not release it). The sampler cannot run during such a call either, so what names the culprit is
        the last sample before the stall (and the first after it). Off by default: sampling takes the GIL.
        """
        if self._tracer is not None:
            return
        self._tracing = True
        gui_ident = threading.get_ident()

        def stacks() -> str:
            return "\n".join(f"thread {ident}:\n" + "".join(traceback.format_stack(frame)[-8:])
                             for ident, frame in sys._current_frames().items()
                             if ident not in (gui_ident, threading.get_ident()))

        def sample() -> None:
            while self._tracing:
                self._samples.append((time.perf_counter(), stacks()))
                time.sleep(0.01)

        self._tracer = threading.Thread(target=sample, name="stall-tracer", daemon=True)
        self._tracer.start()

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._tracing = False

    def reset(self) -> None:
        """Forget what was seen so far (a measurement starts here)."""
        self.longest_ms = 0.0
        self.stalls = []
        self._last = time.perf_counter()

    def _tick(self) -> None:
        now = time.perf_counter()
        late = (now - self._last) * 1000 - TICK_MS
        self._last = now
        if late > self.longest_ms:
            self.longest_ms = late
        if late > self.threshold_ms:
            self.stalls.append(late)
            if self._tracing:
                self.traces.append(self._trace(began=now - late / 1000, late=late))
            log.warning("the GUI thread was blocked for %.0f ms (limit %.0f ms)", late, self.threshold_ms)

    def _trace(self, *, began: float, late: float) -> str:
        samples = list(self._samples)
        before = [text for at, text in samples if at <= began]
        after = [text for at, text in samples if at > began]
        return (f"GUI thread blocked {late:.0f} ms\n-- last sample before:\n{before[-1] if before else '(none)'}\n"
                f"-- first sample after:\n{after[0] if after else '(none)'}")
