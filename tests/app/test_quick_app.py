"""`edgemind quick`: the quick-ask popup alone over a real engine (tiny model), offscreen; and the one line each
desktop gets about the global shortcut."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer

from edgemind.app.hotkey import hotkey_note
from edgemind.app.quick_app import build_quick

LONG = 120_000


def test_quick_answers_a_prompt_alone_and_the_process_loop_ends_when_it_closes(qtbot, qapp, settings, shot) -> None:
    app = build_quick(qapp, settings, "What is 2 + 2?")
    try:
        events: list = []
        app.quick.answer_did_finish.connect(events.append)
        assert app.quick.isVisible() and app.quick.standalone and not app.quick.continue_button.isVisible()
        qtbot.waitUntil(lambda: bool(events) and app.quick.current is None, timeout=LONG)
        assert events[0].type == "done" and app.quick.answer.text.strip()
        assert events[0].tool_calls == ()  # no tool capability, as from the tray
        shot(app.quick, "quick-alone")
        # Esc closes the popup, and that ends the event loop `edgemind quick` runs (exec returns)
        QTimer.singleShot(0, lambda: qtbot.keyClick(app.quick.input, Qt.Key.Key_Escape))
        ended = QTimer(singleShot=True, interval=10_000)
        ended.timeout.connect(lambda: qapp.exit(99))  # a popup that did not end the loop fails, never hangs
        ended.start()
        assert qapp.exec() == 0 and not app.quick.isVisible()
        ended.stop()
    finally:
        app.close()


@pytest.mark.parametrize(("platform", "environ", "says"), [
    ("win32", {}, None),  # RegisterHotKey
    ("darwin", {}, None),  # an AppKit key monitor
    ("linux", {"DISPLAY": ":0"}, None),  # XGrabKey
    ("linux", {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"},
     "Wayland lets no app take a global shortcut: bind `edgemind quick` to Ctrl+Alt+Space in your desktop's keyboard "
     "settings"),
    ("linux", {}, "no desktop session: for a quick-ask shortcut, bind `edgemind quick` to a key in your desktop's "
     "settings"),
])
def test_each_desktop_is_told_in_one_line_where_the_shortcut_comes_from(platform: str, environ: dict[str, str],
                                                                         says: str | None) -> None:
    note = hotkey_note(platform, environ)
    assert note == says
    assert note is None or "\n" not in note
