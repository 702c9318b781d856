"""Mouse-wheel scrolling over a long form scrolls the form: a spin box or combo box the user has not clicked into
never takes the wheel (scrolling the Settings page once set Threads to 1 without anyone noticing)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QComboBox, QWidget


class WheelGuard(QObject):
    """An event filter for the form's value widgets: an unfocused one hands the wheel to the scroll area."""

    def __init__(self, scroll: QAbstractScrollArea, parent: QObject | None = None) -> None:
        super().__init__(parent or scroll)
        self._scroll = scroll

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return super().eventFilter(watched, event)
        # Forwarded, not only ignored: Qt propagates an ignored wheel event to the parent only when it came from the
        # window system, and the scroll area must scroll either way.
        QCoreApplication.sendEvent(self._scroll.viewport(), event)
        return True


def guard_wheel(form: QWidget, scroll: QAbstractScrollArea) -> WheelGuard:
    """Give every spin box and combo box in `form` the wheel only once focused (clicked or tabbed into)."""
    guard = WheelGuard(scroll)
    for widget in (*form.findChildren(QAbstractSpinBox), *form.findChildren(QComboBox)):
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel no longer focuses it (WheelFocus did)
        widget.installEventFilter(guard)
    return guard
