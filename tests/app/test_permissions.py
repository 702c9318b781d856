"""The permission dialog in front of a real broker, the grants page and the audit viewer, on Qt's offscreen platform.

The dialog tests drive a real ToolRunner (core.tool_session.open_tool_runner) whose ask callback is the app's
PermissionAsker, called from a worker thread exactly as the tool loop calls it during an answer.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from sqlalchemy.orm import sessionmaker

from edgemind.app import theme
from edgemind.app.hooks import Hooks
from edgemind.app.message_view import MessageWidget
from edgemind.app.operations import Operations
from edgemind.app.permission_dialog import PermissionAsker, describe_scope
from edgemind.core.storage.db import open_database
from edgemind.core.events import ToolCall, ToolResult
from edgemind.core.tools.permissions import Answer
from edgemind.core.settings import Settings
from edgemind.core.tools.session import open_tool_runner
from edgemind.plugins.builtin.sandbox import IsolationLevel

SECRET_TEXT = "the notes say: meet at noon\n"


class Harness:
    """A worker-side runner asking through the app's dialog; `call` starts a tool call, `dialog` waits for the ask."""

    def __init__(self, qtbot: Any, settings: Settings, timeout_s: float = 120.0) -> None:
        self.qtbot = qtbot
        self.window = QWidget()  # the dialog's parent, as the main window is in the app
        qtbot.addWidget(self.window)
        self.ops = Operations()
        self.hooks = Hooks()
        self.asker = PermissionAsker(self.ops, self.hooks, timeout_s)
        self.asker.arm_delay_ms = 50
        self.dialogs: list[Any] = []
        self.hooks.permission_will_ask.connect(self.dialogs.append)
        self.runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), ask=self.asker)
        self.outcomes: list[Any] = []

    def call(self, tool: str, arguments: dict[str, Any]) -> None:
        self.ops.run("tool call", lambda: self.runner.call(tool, arguments), self.outcomes.append,
                     self.outcomes.append)

    def dialog(self, n: int = 1) -> Any:
        """The n-th dialog shown, once it is up."""
        self.qtbot.waitUntil(lambda: len(self.dialogs) >= n and self.dialogs[n - 1].isVisible(), timeout=10_000)
        return self.dialogs[n - 1]

    def outcome(self, n: int = 1) -> Any:
        self.qtbot.waitUntil(lambda: len(self.outcomes) >= n, timeout=20_000)
        return self.outcomes[n - 1]

    def close(self) -> None:
        self.asker.deny_all()
        self.ops.shutdown()


@pytest.fixture
def harness(qtbot, settings):  # type: ignore[no-untyped-def]
    h = Harness(qtbot, settings)
    yield h
    h.close()


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "docs" / "notes.txt"
    path.parent.mkdir()
    path.write_text(SECRET_TEXT, encoding="utf-8")
    return path


@pytest.mark.parametrize("button, answer, decision", [
    ("allow_once_button", Answer.ONCE, "allowed:once"),
    ("allow_session_button", Answer.SESSION, "allowed:session"),
    ("always_button", Answer.ALWAYS, "allowed:always"),
    ("deny_button", Answer.DENY, "denied:denied"),
])
def test_each_answer_of_the_dialog_reaches_the_broker(qtbot, harness, notes, button, answer, decision) -> None:
    answered: list[Any] = []
    harness.hooks.permission_did_answer.connect(lambda request, a: answered.append(a))
    harness.call("files_read", {"path": str(notes)})
    dialog = harness.dialog()
    assert dialog.request.tool == "files_read" and dialog.request.plugin == "files"
    qtbot.waitUntil(lambda: getattr(dialog, button).isEnabled(), timeout=5_000)
    qtbot.mouseClick(getattr(dialog, button), Qt.MouseButton.LeftButton)
    outcome = harness.outcome()
    assert answered == [answer]
    assert outcome.decision == decision
    assert ("meet at noon" in outcome.content) is (answer is not Answer.DENY)
    stored = harness.runner.broker.grants()
    if answer is Answer.ALWAYS:
        assert [(g.tool, g.scope) for g in stored] == [("files_read", f"fs.read:{notes.resolve()}")]
    else:
        assert stored == []
    # a second call: asked again only after "once"; session and always remember, deny is remembered for the session
    harness.call("files_read", {"path": str(notes)})
    if answer is Answer.ONCE:
        qtbot.mouseClick(harness.dialog(2).deny_button, Qt.MouseButton.LeftButton)
        assert len(harness.dialogs) == 2 and harness.outcome(2).decision == "denied:denied"
    else:
        expected = {Answer.SESSION: "allowed:session", Answer.ALWAYS: "allowed:always",
                    Answer.DENY: "denied:denied_earlier"}[answer]
        assert harness.outcome(2).decision == expected and len(harness.dialogs) == 1


def test_deny_is_the_default_button_and_enter_denies(qtbot, harness, notes) -> None:
    harness.call("files_read", {"path": str(notes)})
    dialog = harness.dialog()
    assert dialog.deny_button.isDefault()
    assert not any(b.isDefault() or b.autoDefault() for b in dialog.allow_buttons)
    qtbot.waitUntil(lambda: dialog.always_button.isEnabled(), timeout=5_000)
    dialog.always_button.setFocus()  # even with an allow button focused, Enter denies
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert harness.outcome().decision == "denied:denied"


def test_the_allow_buttons_wait_a_moment_so_a_stray_click_cannot_allow(qtbot, settings, notes) -> None:
    harness = Harness(qtbot, settings)  # the app's own arming delay
    try:
        harness.call("files_read", {"path": str(notes)})
        dialog = harness.dialog()
        assert dialog.deny_button.isEnabled() and not dialog.always_button.isEnabled()
        qtbot.mouseClick(dialog.always_button, Qt.MouseButton.LeftButton)  # ignored: not armed yet
        assert dialog.isVisible()
        qtbot.waitUntil(dialog.always_button.isEnabled, timeout=5_000)
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        assert harness.outcome().decision == "denied:denied"
    finally:
        harness.close()


@pytest.mark.parametrize("how", ["escape", "close"])
def test_escape_or_closing_the_dialog_denies(qtbot, harness, notes, how) -> None:
    harness.call("files_read", {"path": str(notes)})
    dialog = harness.dialog()
    if how == "escape":
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    else:
        dialog.close()
    outcome = harness.outcome()
    assert outcome.decision == "denied:denied" and "meet at noon" not in outcome.content


def test_no_answer_in_time_denies_with_a_visible_countdown(qtbot, settings, notes) -> None:
    harness = Harness(qtbot, settings, timeout_s=1.5)
    try:
        harness.call("files_read", {"path": str(notes)})
        dialog = harness.dialog()
        assert "Denied automatically in 2 s" in dialog.countdown.text()
        outcome = harness.outcome()
        assert outcome.decision == "denied:denied" and harness.asker.open_dialogs == []  # closed by itself
    finally:
        harness.close()


CODE = '''import os

def main():
    # "quotes", tabs\tand unicode: café ✓
    print(os.getcwd())   # trailing spaces kept   

main()
'''


def test_the_dialog_shows_the_exact_arguments(qtbot, harness, shot) -> None:
    harness.call("python_run", {"code": CODE, "stdin": "line one\nline two"})
    dialog = harness.dialog()
    assert dialog.request.arguments == {"code": CODE, "stdin": "line one\nline two"}
    assert dialog.argument_text("code") == CODE
    assert dialog.argument_text("stdin") == "line one\nline two"
    assert dialog.argument_boxes["code"].isReadOnly() and QFontInfo(dialog.argument_boxes["code"].font()).fixedPitch()
    assert "code.exec" in dialog.scopes_label.text() and "sandboxed" in dialog.scopes_label.text()
    assert not dialog.hidden_note.isVisible()
    theme.apply(QApplication.instance())  # the app's look, as build() applies it
    qtbot.waitUntil(dialog.always_button.isEnabled, timeout=5_000)
    shot(dialog, "permission-dialog")
    qtbot.mouseClick(dialog.deny_button, Qt.MouseButton.LeftButton)
    assert harness.outcome().decision == "denied:denied"


def test_invisible_characters_in_arguments_are_shown_not_hidden(qtbot, harness, tmp_path) -> None:
    """A bidi override could make `txt.exe` look like `exe.txt`: the dialog names it instead of obeying it."""
    folder = tmp_path / "a\u202eb"
    folder.mkdir()
    harness.call("files_list", {"path": str(folder)})
    dialog = harness.dialog()
    assert "<U+202E>" in dialog.argument_text("path") and "\u202e" not in dialog.argument_text("path")
    assert dialog.has_hidden_characters and not dialog.hidden_note.isHidden()
    qtbot.mouseClick(dialog.deny_button, Qt.MouseButton.LeftButton)
    assert harness.outcome().decision == "denied:denied"


def test_tool_calls_and_results_show_in_the_answer(qtbot, shot) -> None:
    theme.apply(QApplication.instance())
    answer = MessageWidget("assistant", "The notes say to meet at noon.")
    qtbot.addWidget(answer)
    answer.add_tool_call(ToolCall("files_read", {"path": "/home/u/notes.txt"}, 1))
    assert answer.tool_texts() == ["⚙ files_read(path=/home/u/notes.txt) …"]
    answer.set_tool_result(ToolResult("files_read", "allowed:once", True, "1  meet at noon", 1))
    answer.add_tool_call(ToolCall("python_run", {"code": "print(1)\nprint(2)"}, 2))
    answer.set_tool_result(ToolResult("python_run", "denied:denied", False, "error: permission denied", 2))
    assert answer.tool_texts() == ["⚙ files_read(path=/home/u/notes.txt) — allowed once",
                                   "⚙ python_run(code=print(1) print(2)) — denied"]
    answer.resize(560, answer.sizeHint().height())
    shot(answer, "chat-tool-lines")


# ---- with the app's engine: the wiring, the grants page and the audit viewer -------------------------------------

def test_the_app_asks_through_the_dialog_and_lists_and_revokes_stored_grants(qtbot, gui, notes, shot,
                                                                            monkeypatch) -> None:
    runner = gui.ctx.tool_runner  # the app's tool capability, opened when the engine started; the engine keeps none
    assert runner is not None and runner.broker._ask is gui.ctx.permissions
    assert not hasattr(gui.ctx.engine, "tool_runner")
    gui.ctx.permissions.arm_delay_ms = 50
    dialogs: list[Any] = []
    gui.ctx.hooks.permission_will_ask.connect(dialogs.append)
    outcomes: list[Any] = []
    gui.ctx.ops.submit("tool", lambda _c, _e: runner.call("files_read", {"path": str(notes)}), lane="stream",
                       on_done=outcomes.append, on_error=outcomes.append)
    qtbot.waitUntil(lambda: bool(dialogs) and dialogs[0].isVisible(), timeout=10_000)
    qtbot.waitUntil(dialogs[0].always_button.isEnabled, timeout=5_000)
    qtbot.mouseClick(dialogs[0].always_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(outcomes), timeout=10_000)
    assert outcomes[0].decision == "allowed:always"
    runner.broker.grant_always(runner.registry.get("system_info"), ["system.info"])

    window, page = gui.window, gui.window.settings_page.grants
    window.tabs.setCurrentWidget(window.settings_page)
    page.refresh()
    qtbot.waitUntil(lambda: page.table.rowCount() == 2, timeout=10_000)
    cells = [(page.table.item(r, 0).text(), page.table.item(r, 1).text()) for r in range(2)]
    assert cells == [("files_read", f"fs.read:{notes.resolve()}"), ("system_info", "system.info")]
    page.resize(760, 260)
    shot(page, "grants-page")

    page.table.selectRow(0)
    qtbot.mouseClick(page.revoke_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=10_000)
    assert [g.tool for g in runner.broker.grants()] == ["system_info"]
    assert "Revoked 1 grant" in page.note.text()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(page.revoke_all_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.table.rowCount() == 0, timeout=10_000)
    assert runner.broker.grants() == []


def _tamper(db_path: Path, row_id: int) -> None:
    """What someone with the file can do: drop the append-only triggers and edit a row (as tests/core does)."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    conn.execute("UPDATE audit_log SET detail='{\"how\":\"forged\"}' WHERE id=?", (row_id,))
    conn.close()


def test_the_audit_viewer_lists_filters_and_shows_a_verify_failure_after_tampering(qtbot, gui, settings,
                                                                                  shot) -> None:
    audit = gui.ctx.engine.audit
    for i in range(3):
        audit.record("tool_call", {"n": i, "arguments_sha": "a" * 64}, tool="files_read", conversation_id="c1")
    audit.record("denied", {"how": "denied", "scopes": ["code.exec"]}, tool="python_run")
    audit.record("route", {"intent": "chat"})
    viewer = gui.window.audit_viewer
    verified: list[Any] = []
    viewer.verify_did_finish.connect(verified.append)
    gui.window.tabs.setCurrentWidget(viewer)
    qtbot.waitUntil(lambda: bool(verified), timeout=10_000)
    ids = viewer.row_ids()
    assert len(ids) >= 5 and ids == sorted(ids, reverse=True)  # newest first
    assert verified[-1].ok and "Intact" in viewer.verify_label.text()

    viewer.set_filter(kind="tool_call")
    qtbot.waitUntil(lambda: {e.kind for e in viewer.entries} == {"tool_call"}, timeout=10_000)
    assert len(viewer.entries) == 3
    viewer.set_filter(kind=None, tool="python_run")
    qtbot.waitUntil(lambda: [e.kind for e in viewer.entries] == ["denied"], timeout=10_000)
    assert viewer.table.item(0, 3).text() == "python_run" and "code.exec" in viewer.table.item(0, 5).text()
    viewer.set_filter(kind=None, tool=None)
    qtbot.waitUntil(lambda: len(viewer.entries) == len(ids), timeout=10_000)

    bad = ids[-1] + 1  # the second-oldest row
    _tamper(settings.db_path, bad)
    verified.clear()
    qtbot.mouseClick(viewer.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(verified), timeout=10_000)
    assert not verified[0].ok and verified[0].first_bad_id == bad
    assert f"first bad row {bad}" in viewer.verify_label.text() and "edited" in viewer.verify_label.text()
    row = viewer.row_ids().index(bad)
    assert "forged" in viewer.table.item(row, 5).text()  # the table shows the rows as verified, edit included
    shot(gui.window, "audit-viewer")


@pytest.mark.parametrize(("level", "says"), [
    (IsolationLevel("namespaces", True, "all of them"), "(isolation: namespaces)"),
    (IsolationLevel("process only", False, "no namespaces"), "WEAKER isolation (process only)"),
    (IsolationLevel("job object", False, "Windows"), "WEAKER isolation (job object)"),
])
def test_a_code_exec_grant_names_the_isolation_level_and_a_weaker_one_says_so(level: IsolationLevel,
                                                                              says: str) -> None:
    text = describe_scope("code.exec", level)
    assert text.startswith("code.exec  (run code in a sandboxed process") and says in text
    assert ("data folder" in text) == level.weaker
