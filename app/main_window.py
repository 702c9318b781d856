"""The main window: Chat, Code review, Settings, Audit log, Benchmarks and Documents tabs, the keyboard shortcuts,
and close-to-tray."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QMainWindow, QTabWidget

from .audit_viewer import AuditViewer
from .bench_page import BenchPage
from .chat import ChatPane
from .context import AppContext
from .docs_page import DocumentsPage
from .review_pane import ReviewPane
from .settings_page import SettingsPage
from .status_line import StatusLine


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, tray_available: bool = False) -> None:
        super().__init__()
        self.ctx = ctx
        self.tray_available = tray_available
        self.quitting = False
        self.setWindowTitle("EdgeMind")
        self.resize(1100, 720)
        self.tabs = QTabWidget()
        self.chat = ChatPane(ctx)
        self.review = ReviewPane(ctx)
        self.settings_page = SettingsPage(ctx)
        self.audit_viewer = AuditViewer(ctx)
        self.bench_page = BenchPage(ctx)
        self.documents = DocumentsPage(ctx)
        self.tabs.addTab(self.chat, "Chat")
        self.tabs.addTab(self.review, "Code review")
        self.tabs.addTab(self.settings_page, "Settings")
        self.tabs.addTab(self.audit_viewer, "Audit log")
        self.tabs.addTab(self.bench_page, "Benchmarks")
        self.tabs.addTab(self.documents, "Documents")  # last, so Ctrl+1..5 keep their tabs
        self.setCentralWidget(self.tabs)
        self.engine_status = StatusLine(ctx.hooks)
        self.statusBar().addWidget(self.engine_status, 1)
        ctx.hooks.chat_will_ask.connect(self.ask_in_new_chat)
        ctx.hooks.conversation_will_open.connect(lambda _cid: self.tabs.setCurrentWidget(self.chat))
        ctx.hooks.main_window_will_show.connect(self.bring_up)
        for keys, slot in (("Ctrl+N", self.new_chat), ("Ctrl+K", self.focus_search), ("Esc", self.stop),
                           ("Ctrl+1", lambda: self.tabs.setCurrentIndex(0)),
                           ("Ctrl+2", lambda: self.tabs.setCurrentIndex(1)),
                           ("Ctrl+3", lambda: self.tabs.setCurrentIndex(2)),
                           ("Ctrl+4", lambda: self.tabs.setCurrentIndex(3)),
                           ("Ctrl+5", lambda: self.tabs.setCurrentIndex(4)),
                           ("Ctrl+6", lambda: self.tabs.setCurrentIndex(5))):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(slot)

    def new_chat(self) -> None:
        self.tabs.setCurrentWidget(self.chat)
        self.chat.new_chat()

    def focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.chat)
        self.chat.search.setFocus()
        self.chat.search.selectAll()

    def stop(self) -> None:
        if self.tabs.currentWidget() is self.review:
            self.review.stop()
        else:
            self.chat.stop()

    def ask_in_new_chat(self, prompt: str) -> None:
        self.new_chat()
        self.chat.ask(prompt)

    def bring_up(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.tray_available and self.ctx.settings.close_to_tray and not self.quitting:
            self.hide()  # answers in flight go on; the tray's Quit ends EdgeMind
            event.ignore()
            return
        event.accept()
        QApplication.quit()

    def surfaces(self) -> dict[str, Any]:
        return {"chat": self.chat, "review": self.review, "settings": self.settings_page,
                "grants": self.settings_page.grants, "audit": self.audit_viewer,
                "bench": self.bench_page, "documents": self.documents}
