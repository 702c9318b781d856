"""A watchdog for the GUI thread: a timer that should tick every 20 ms notices when it could not, and logs any block
of the event loop longer than 50 ms (Anki logs 200 ms; a streaming answer must stay smoother than that)."""

from __future__ import annotations

import logging
import time

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

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

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
            log.warning("the GUI thread was blocked for %.0f ms (limit %.0f ms)", late, self.threshold_ms)
