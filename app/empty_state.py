"""A list or table that says so when it has nothing to show, and what will appear there, instead of an empty grid."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget


class EmptyState(QStackedWidget):
    """Holds a view and a message; `show_empty(text)` shows the message in the view's place, `show_view` the view."""

    def __init__(self, view: QWidget, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.message = QLabel(text)
        self.message.setObjectName("emptyState")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # texts may quote a filter or a search term
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.addWidget(view)
        self.addWidget(self.message)
        self.setCurrentWidget(self.message)

    def show_empty(self, text: str | None = None) -> None:
        if text is not None:
            self.message.setText(text)
        self.setCurrentWidget(self.message)

    def show_view(self) -> None:
        self.setCurrentWidget(self.view)

    def is_empty(self) -> bool:
        return self.currentWidget() is self.message
