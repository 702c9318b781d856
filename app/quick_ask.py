"""The quick-ask popup: a small frameless window that streams a short answer, with "Continue in chat" (inside the
app), or alone as `edgemind quick` (standalone: a normal top-level window the desktop gives focus, no main window to
continue in; the answer is kept in the history)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QVBoxLayout, QWidget

from .context import AppContext
from .message_view import MessageWidget
from .operations import Op

QUICK_MAX_TOKENS = 200  # a glance, not an essay: "Continue in chat" is there for more
SURFACE = "quick ask"  # how the status line names this surface


class QuickAsk(QWidget):
    answer_did_finish = Signal(object)
    dismissed = Signal()  # closed by the user (Esc, ×): `edgemind quick` ends its process on it

    def __init__(self, ctx: AppContext, *, standalone: bool = False) -> None:
        # a Tool window belongs to the app's main window; alone, a window manager may never give one focus
        kind = Qt.WindowType.Window if standalone else Qt.WindowType.Tool
        super().__init__(None, kind | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        self.ctx = ctx
        self.standalone = standalone
        self.setWindowTitle("EdgeMind quick ask")
        self.current: Op | None = None
        self.conversation_id: str | None = None
        self._tokens = 0  # tokens of the answer in flight, for the status line
        self._outcome: Any = None  # the answer's Done or Error event, told to the status line when it ends
        frame = QFrame(self)
        frame.setObjectName("quickAsk")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        layout = QVBoxLayout(frame)
        head = QHBoxLayout()
        title = QLabel("Quick ask")
        title.setObjectName("who")
        close = QPushButton("×")
        close.setObjectName("closeButton")
        close.setFlat(True)
        close.setFixedWidth(28)
        close.setToolTip("Close (Esc)")
        close.clicked.connect(self.dismiss)
        head.addWidget(title)
        head.addStretch()
        head.addWidget(close)
        self.input = QLineEdit(placeholderText="Ask EdgeMind… (Enter)")
        self.input.returnPressed.connect(self.ask)
        self.answer = MessageWidget("assistant")
        if self.answer.regenerate_button is not None:
            self.answer.regenerate_button.hide()
        self.answer.hide()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(0, 0, 0, 0)
        holder_layout.addWidget(self.answer)
        holder_layout.addStretch()
        scroll.setWidget(holder)
        self.continue_button = QPushButton("Continue in chat")
        self.continue_button.setEnabled(False)
        self.continue_button.clicked.connect(self.continue_in_chat)
        if standalone:
            self.continue_button.hide()
        self.hint = QLabel(self.idle_hint())
        self.hint.setObjectName("hint")
        foot = QHBoxLayout()
        foot.addWidget(self.hint, 1)
        foot.addWidget(self.continue_button)
        layout.addLayout(head)
        layout.addWidget(self.input)
        layout.addWidget(scroll, 1)
        layout.addLayout(foot)
        ctx.hooks.quick_ask_will_open.connect(self.open_with)
        self.resize(440, 300)

    def idle_hint(self) -> str:
        return "Kept in your history · Esc closes" if self.standalone else "Esc closes"

    def open_with(self, prompt: str) -> None:
        """Show the popup with a prompt typed in, for the user to send (or edit) with Enter."""
        self.popup()
        self.input.setText(prompt)

    def popup(self) -> None:
        """Show near the bottom-right corner of the screen (where the tray usually is), ready to type."""
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            self.move(area.right() - self.width() - 16, area.bottom() - self.height() - 16)
        self.show()
        self.raise_()
        self.activateWindow()
        self.input.setFocus()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.dismiss()
            return
        super().keyPressEvent(event)

    def dismiss(self) -> None:
        if self.current is not None:
            self.current.cancel()
        self.hide()
        self.dismissed.emit()

    def ask(self, prompt: str | None = None) -> None:
        prompt = (prompt if prompt is not None else self.input.text()).strip()
        if not prompt or self.current is not None:
            return
        self.input.setText(prompt)
        self.answer.show()
        self.answer._pending = ""  # a fresh answer in the same widget
        self.answer.flush()
        self.continue_button.setEnabled(False)
        self.conversation_id = None
        if self.ctx.paused:
            self.answer.append(self.ctx.paused_message())
            self.answer.flush()
            return
        self.hint.setText("Answering… Esc stops")

        def events(cancel: Any) -> Any:
            from edgemind.core.engine import AskOptions  # lazy: the window shows before the engine (~1 s) loads

            # no tool capability: a one-line answer from the tray never reads files or runs code (the chat window does)
            yield from self.ctx.engine_in_worker().stream(prompt, AskOptions(max_tokens=QUICK_MAX_TOKENS), cancel)

        self._tokens, self._outcome = 0, None
        self.current = self.ctx.ops.stream("quick ask", events, self._on_event, lambda _r: self._finished(None),
                                           self._finished)
        self.ctx.hooks.answer_did_progress.emit(SURFACE, 0)

    def _on_event(self, event: Any) -> None:
        if event.type == "route":
            self.answer.set_route(event)
        elif event.type == "token":
            self.answer.append(event.text)
            self._tokens += 1
            self.ctx.hooks.answer_did_progress.emit(SURFACE, self._tokens)
        elif event.type == "tool_call":
            self.answer.add_tool_call(event)
        elif event.type == "tool_result":
            self.answer.set_tool_result(event)
        elif event.type == "done":
            self.answer.set_done(event)
            self._outcome = event
            self.conversation_id = event.conversation_id
            self.answer_did_finish.emit(event)
        elif event.type == "error":
            self.answer.append(f"\n\n**Error:** {event.message}")
            self._outcome = event
            self.answer_did_finish.emit(event)

    def _finished(self, exc: Exception | None) -> None:
        self.current = None
        self.answer.flush()
        if exc is not None:
            self.answer.append(f"\n\n**Error:** {exc}")
            self.answer.flush()
            self.answer_did_finish.emit(exc)
        self.ctx.hooks.answer_did_end.emit(SURFACE, exc if exc is not None else self._outcome)
        self.hint.setText(self.idle_hint())
        self.continue_button.setEnabled(self.conversation_id is not None)
        self.ctx.hooks.conversations_did_change.emit()

    def continue_in_chat(self) -> None:
        if self.conversation_id:
            self.ctx.hooks.main_window_will_show.emit()
            self.ctx.hooks.conversation_will_open.emit(self.conversation_id)
            self.hide()
