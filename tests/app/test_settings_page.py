"""The settings page edits exactly the settings declared for the GUI, with the declaration's ranges and help."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QSpinBox

from edgemind.app.context import AppContext
from edgemind.app.settings_page import KEYS, SettingsPage
from edgemind.core.settings import SETTINGS, Settings


def test_the_page_edits_the_gui_settings_within_their_declared_ranges(qtbot, settings: Settings) -> None:
    ctx = AppContext(settings)
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    assert set(KEYS) == {name for name, spec in SETTINGS.items() if spec.gui} == set(page.values())
    for key in KEYS:
        widget, spec = getattr(page, key), SETTINGS[key]
        assert widget.toolTip() == spec.help, key
        if isinstance(widget, QAbstractSpinBox):
            assert widget.minimum() == spec.minimum, key
            if spec.maximum is not None:
                assert widget.maximum() == spec.maximum, key
    threads = page.threads
    assert isinstance(threads, QSpinBox) and (threads.minimum(), threads.maximum()) == (0, 512)
    ctx.shutdown()


def wheel(widget, steps: int) -> None:  # type: ignore[no-untyped-def]
    """A real wheel event, `steps` notches down, over the middle of `widget`."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_mouse_wheel_scrolls_the_page_instead_of_changing_an_unfocused_value(qtbot, settings: Settings) -> None:
    ctx = AppContext(settings)
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    page.resize(700, 400)  # shorter than the form: the page has something to scroll
    page.show()
    qtbot.waitExposed(page)
    page.threads.setValue(0)  # "physical cores"
    page.default_model.addItem("other-model")
    model = page.default_model.currentText()
    scrollbar = page.scroll_area.verticalScrollBar()
    assert scrollbar.maximum() > 0
    for widget in (page.threads, page.context_length, page.default_model):
        page.scroll_area.ensureWidgetVisible(widget)
        before = scrollbar.value()
        wheel(widget, -1 if before == scrollbar.maximum() else 1)
        assert scrollbar.value() != before, "the page did not scroll"
    assert page.threads.value() == 0 and page.default_model.currentText() == model
    assert page.context_length.value() == settings.context_length
    # clicked into, a spin box takes the wheel as usual
    page.threads.setFocus()
    qtbot.waitUntil(page.threads.hasFocus, timeout=2000)
    wheel(page.threads, -1)
    assert page.threads.value() == 1
    ctx.shutdown()
