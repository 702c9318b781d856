"""The Qt bindings keep Python's reference counts right: PySide6 6.12.0 dropped one reference to None on every Qt
call that returns nothing, and Python 3.11 aborts ("Fatal Python error: none_dealloc") once None's count reaches 0.
The self-test died that way after ~417 s; the app leaked the same way, slower."""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel

from edgemind.app.self_test import wait_until

CALLS = 1000  # the leaky release loses 1000 references here; None starts with a few thousand, so it still lives
SLACK = 100  # objects created or freed meanwhile may hold None too: a leak is a steady loss, far beyond this


def test_qt_calls_that_return_nothing_keep_none_alive(qtbot) -> None:  # type: ignore[no-untyped-def]
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for i in range(CALLS):
        QCoreApplication.processEvents()
        label.setText(str(i))
    lost = before - sys.getrefcount(None)
    assert lost < SLACK, f"{lost} references to None lost over {CALLS} Qt calls: these bindings leak"


def test_the_self_tests_wait_keeps_none_alive_in_the_running_app(qtbot, gui) -> None:  # type: ignore[no-untyped-def]
    """The real path: the app is up (engine started, an answer streamed, the watchdog and collector ticking) and the
    self-test's wait drives its event loop for two seconds, as it does between checks. The old wait spun
    processEvents() ~450 times a second, each call losing a reference on the leaky release."""
    chat = gui.window.chat
    finished: list[object] = []
    chat.answer_did_finish.connect(finished.append)
    chat.ask("Write two sentences about rivers.")
    assert wait_until(gui, lambda: bool(finished) and not chat.is_answering(), 120)
    assert getattr(finished[0], "type", "") == "done", finished[0]
    wait_until(gui, lambda: False, 0.3)  # what the answer left queued (ids, sidebar) settles first
    before = sys.getrefcount(None)
    assert wait_until(gui, lambda: False, 2.0) is False
    lost = before - sys.getrefcount(None)
    assert lost < SLACK, f"{lost} references to None lost in two seconds of waiting"
