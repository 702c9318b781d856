"""Python's garbage collector runs on the GUI thread only, while the app is up.

The automatic collector runs in whichever thread happens to allocate when a threshold is crossed: in the app that
is often the worker building the engine or streaming an answer. A collected cycle that holds a Qt object then
deletes it off its thread, which PySide6 6.12 does not survive (a segfault "Garbage-collecting" in app/context.py's
worker was seen). Anki and calibre hit the same and do what this does: turn automatic collection off and collect
from a GUI-thread timer, by the same generation thresholds the automatic collector would have used.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_MS = 1000  # a second between checks: cheap (get_count only), and a young generation rarely fills faster


class GuiThreadCollector(QObject):
    """Owns gc while started; `stop` gives automatic collection back as it found it (tests build many apps in one
    process)."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._was_enabled = gc.isenabled()
        self.collections = 0

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.check()
        if self._was_enabled:
            gc.enable()

    def check(self) -> None:
        """Collect the oldest generation whose count passed its threshold, as the automatic collector would."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                gc.collect(generation)
                self.collections += 1
                return
