"""The plugin permission dialog: what a tool wants to do, shown exactly, before anything runs; deny by default.

The broker asks from the generation worker; `PermissionAsker` carries the question to the GUI thread through
`Operations.call_in_gui` and waits. Enter, Esc, closing, a timeout and an app that is closing all mean Deny.
Arguments come from model output and are untrusted: they are shown as plain text, never as HTML, and invisible
control characters are made visible so a value cannot pretend to be something else.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import unicodedata
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QThread, QTimer
from PySide6.QtGui import QCloseEvent, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from edgemind.plugins.builtin.sandbox import IsolationLevel, detect_isolation

if TYPE_CHECKING:
    from edgemind.core.engine import Answer, PermissionRequest

    from .hooks import Hooks
    from .operations import Operations

log = logging.getLogger(__name__)

DIALOG_TIMEOUT_S = 120.0
# The allow buttons accept clicks only after a short pause, so a click or key press meant for the window underneath
# (the dialog opens while the user may be typing) cannot allow a tool by accident. Deny works at once.
ARM_DELAY_MS = 600

SCOPE_MEANINGS = {
    "fs.read": "read files in {target}",
    "fs.write": "create and change files in {target}",
    "net": "connect to {target}",
    "code.exec": "run code in a sandboxed process",
    "system.info": "read system information (OS, CPU, memory, disk, battery)",
    "clipboard": "use the clipboard",
    "docs.read": "search your indexed documents",
    "mcp": "call the MCP server tool(s) {target}",
}


def describe_scope(scope: str, isolation: IsolationLevel | None = None) -> str:
    """One line per scope; code.exec names the isolation this machine gives, so a weaker level is seen before a
    grant (`isolation` None: the level probed here)."""
    kind, _, target = scope.partition(":")
    if kind == "code.exec":
        return f"{scope}  ({(isolation or detect_isolation()).grant_text()})"
    meaning = SCOPE_MEANINGS.get(kind)
    return f"{scope}  ({meaning.format(target=target)})" if meaning else scope


def visible(text: str) -> tuple[str, bool]:
    """The text with control and format characters (bidi overrides, zero-width spaces…) shown as <U+XXXX>;
    newlines and tabs are kept. Returns (shown, whether anything was replaced)."""
    out, changed = [], False
    for ch in text:
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"):
            out.append(ch)
        else:
            out.append(f"<U+{ord(ch):04X}>")
            changed = True
    return "".join(out), changed


def argument_text(value: Any) -> str:
    """How one argument is shown: a string as itself (code stays readable), anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


class PermissionDialog(QDialog):
    """One question. `answer` is Deny until a button says otherwise."""

    def __init__(self, request: PermissionRequest, timeout_s: float = DIALOG_TIMEOUT_S,
                 parent: QWidget | None = None, arm_delay_ms: int = ARM_DELAY_MS) -> None:
        super().__init__(parent)
        from edgemind.core.engine import Answer  # lazy: the window shows before the engine (~1 s) loads

        self._answers = Answer
        self.request = request
        self.answer: Answer = Answer.DENY
        self.timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s
        self.argument_boxes: dict[str, QPlainTextEdit] = {}
        self.has_hidden_characters = False
        self.setWindowTitle(f"Allow {request.tool}?")
        self.setModal(True)
        self.setMinimumWidth(560)
        self._build()
        self._tick = QTimer(self, interval=250)
        self._tick.timeout.connect(self._count_down)
        self._tick.start()
        self._count_down()
        for b in self.allow_buttons:
            b.setEnabled(False)
        QTimer.singleShot(arm_delay_ms, self._arm)

    # ---- layout -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        r = self.request
        layout = QVBoxLayout(self)
        title = QLabel(f"The {r.plugin} plugin wants to run the tool “{r.tool}”.")
        title.setObjectName("who")
        title.setTextFormat(Qt.TextFormat.PlainText)
        title.setWordWrap(True)
        description = QLabel(r.description)
        description.setTextFormat(Qt.TextFormat.PlainText)
        description.setWordWrap(True)
        layout.addWidget(title)
        layout.addWidget(description)
        # an MCP server's own claims (read-only...) and what changed in its definition: shown, never deciding
        shown_notes, hidden_notes = visible("\n".join(r.notes))
        self.has_hidden_characters |= hidden_notes
        self.notes_label = QLabel(shown_notes)
        self.notes_label.setObjectName("notes")
        self.notes_label.setTextFormat(Qt.TextFormat.PlainText)
        self.notes_label.setWordWrap(True)
        self.notes_label.setVisible(bool(r.notes))
        layout.addWidget(self.notes_label)

        layout.addWidget(self._heading("It needs permission to"))
        self.scopes_label = QLabel("\n".join(f"• {describe_scope(s)}" for s in r.scopes) or "• nothing (no scope)")
        self.scopes_label.setTextFormat(Qt.TextFormat.PlainText)
        self.scopes_label.setWordWrap(True)
        self.scopes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.scopes_label)

        layout.addWidget(self._heading("With exactly these arguments"))
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        mono.setFixedPitch(True)
        args = QWidget()
        args_layout = QVBoxLayout(args)
        args_layout.setContentsMargins(0, 0, 0, 0)
        for name, value in r.arguments.items():
            shown, hidden = visible(argument_text(value))
            self.has_hidden_characters |= hidden
            label = QLabel(name)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setObjectName("argName")
            box = QPlainTextEdit(shown)
            box.setReadOnly(True)
            box.setFont(mono)
            box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            box.setTabChangesFocus(True)
            lines = shown.count("\n") + 1
            box.setFixedHeight(min(260, box.fontMetrics().lineSpacing() * lines + 18
                                   + (box.horizontalScrollBar().sizeHint().height()
                                      if max(map(len, shown.split("\n"))) > 70 else 0)))
            self.argument_boxes[name] = box
            args_layout.addWidget(label)
            args_layout.addWidget(box)
        if r.arguments:
            args_layout.addStretch()
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(args)
            scroll.setMaximumHeight(420)
            scroll.setMinimumHeight(min(420, args.sizeHint().height() + 4))
            layout.addWidget(scroll)
        else:
            layout.addWidget(QLabel("(none)"))
        self.hidden_note = QLabel("Some arguments contain invisible characters, shown as <U+XXXX>. Be careful.")
        self.hidden_note.setObjectName("errorText")
        self.hidden_note.setVisible(self.has_hidden_characters)
        layout.addWidget(self.hidden_note)

        self.countdown = QLabel()
        self.countdown.setObjectName("hint")
        layout.addWidget(self.countdown)

        buttons = QHBoxLayout()
        self.allow_once_button = QPushButton("Allow once")
        self.allow_session_button = QPushButton("Allow for this session")
        self.always_button = QPushButton("Always allow")
        self.deny_button = QPushButton("Deny")
        self.allow_once_button.setToolTip("Run this call; ask again next time")
        self.allow_session_button.setToolTip("Allow these scopes for this tool until EdgeMind closes")
        self.always_button.setToolTip("Store a grant for these scopes (Settings ▸ Tool grants revokes it); "
                                      "a changed tool asks again")
        self.deny_button.setToolTip("Do not run it (Enter, Esc)")
        self.allow_buttons = (self.allow_once_button, self.allow_session_button, self.always_button)
        for button, answer in zip(self.allow_buttons, (self._answers.ONCE, self._answers.SESSION,
                                                       self._answers.ALWAYS)):
            button.setAutoDefault(False)  # Enter never allows, even on a focused allow button
            button.clicked.connect(lambda _c=False, a=answer: self._finish(a))
            buttons.addWidget(button)
        buttons.addStretch()
        self.deny_button.setDefault(True)
        self.deny_button.clicked.connect(self.reject)
        buttons.addWidget(self.deny_button)
        layout.addLayout(buttons)
        self.deny_button.setFocus()

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("who")
        return label

    def _arm(self) -> None:
        for b in self.allow_buttons:
            b.setEnabled(True)

    def _count_down(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            self.countdown.setText("No answer in time: denied.")
            self.reject()
            return
        self.countdown.setText(f"Denied automatically in {int(left + 0.999)} s unless you choose.")

    # ---- answers ----------------------------------------------------------------------------------------------
    def _finish(self, answer: Answer) -> None:
        self.answer = answer
        self.accept()

    def reject(self) -> None:  # Deny, Esc, the timeout and closing all come here
        self.answer = self._answers.DENY
        super().reject()

    def done(self, result: int) -> None:
        self._tick.stop()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.answer = self._answers.DENY
        super().closeEvent(event)

    def argument_text(self, name: str) -> str:
        return self.argument_boxes[name].toPlainText()


class PermissionAsker:
    """The broker's ask callback for the app: called in a worker, it shows the dialog on the GUI thread (through
    Operations.call_in_gui) and waits for the answer; the GUI thread never sits in a nested event loop meanwhile.

    Anything but a clear answer (timeout, the app closing, an error showing the dialog) is Deny.
    """

    # A plain object, not a QObject: the engine (plain Python) holds it as the broker's callback and may outlive Qt.
    def __init__(self, ops: Operations, hooks: Hooks, timeout_s: float = DIALOG_TIMEOUT_S) -> None:
        self.ops, self.hooks, self.timeout_s = ops, hooks, timeout_s
        self.arm_delay_ms = ARM_DELAY_MS
        self.open_dialogs: list[PermissionDialog] = []

    def __call__(self, request: PermissionRequest) -> Answer:
        from edgemind.core.engine import Answer  # lazy: the window shows before the engine (~1 s) loads

        if QThread.currentThread() is self.ops.thread():  # asked on the GUI thread itself: a plain modal dialog
            dialog = self.show(request)
            dialog.exec()
            return dialog.answer
        if "code.exec" in request.scopes:
            detect_isolation()  # probed here in the worker (it starts a short child), so the dialog opens at once
        answered = threading.Event()
        box: dict[str, Answer] = {}

        def show() -> bool:
            dialog = self.show(request)
            def finished(_result: int) -> None:
                box.setdefault("answer", dialog.answer)
                answered.set()

            dialog.finished.connect(finished)
            return True

        if not self.ops.call_in_gui(show, 30, False):
            return Answer.DENY
        # a little longer than the dialog's own countdown, which is what the user sees and what normally ends it
        deadline = time.monotonic() + self.timeout_s + 15
        while not answered.wait(0.1):
            if self.ops.closing or time.monotonic() > deadline:
                return Answer.DENY
        return box.get("answer", Answer.DENY)

    def show(self, request: PermissionRequest) -> PermissionDialog:
        """On the GUI thread: open the dialog (application-modal) and return it; its `finished` says when answered."""
        dialog = PermissionDialog(request, self.timeout_s, QApplication.activeWindow(), self.arm_delay_ms)
        dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
        self.open_dialogs.append(dialog)

        def finished(_result: int) -> None:
            self.open_dialogs.remove(dialog)
            log.info("permission for %s (%s): %s", request.tool, ", ".join(request.scopes), dialog.answer.value)
            self.hooks.permission_did_answer.emit(request, dialog.answer)
            dialog.deleteLater()

        dialog.finished.connect(finished)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        self.hooks.permission_will_ask.emit(dialog)
        return dialog

    def deny_all(self) -> None:
        """The app is closing: every open question is answered Deny."""
        for dialog in list(self.open_dialogs):
            dialog.reject()
