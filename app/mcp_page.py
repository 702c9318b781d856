"""The MCP servers page: list the configured servers (secrets masked), add one by command or URL, remove, import
another app's config file. The same core service as `edgemind mcp`; its file and keyring work runs in a worker."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from edgemind.core.mcp.service import (
    Change,
    McpConfigError,
    McpServerConfig,
    McpServers,
    ServerTools,
    server_from_fields,
)

from .context import AppContext


def split_command(line: str) -> list[str]:
    """A command line as typed into the form, split as the user's shell would (Windows: its own quoting)."""
    try:
        return shlex.split(line, posix=os.name != "nt")
    except ValueError as exc:  # an unclosed quote
        raise McpConfigError(f"command line: {exc}") from None


def parse_lines(text: str, what: str) -> dict[str, str]:
    """`NAME=VALUE` lines (blank lines skipped) into a mapping; a line without `=` is one error naming it."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise McpConfigError(f"{what} line {number}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


class McpServerDialog(QDialog):
    """The form for one server: by command (stdio) or by URL (streamable HTTP). Secret values are typed into
    password fields; the rest of the environment is plain `NAME=VALUE` lines."""

    def __init__(self, http: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.http = http
        self.setWindowTitle("Add an MCP server by URL" if http else "Add an MCP server by command")
        form = QFormLayout(self)
        self.name = QLineEdit(placeholderText="e.g. time (a-z, 0-9 and _; other characters become _)")
        form.addRow("Name", self.name)
        self.command = QLineEdit(placeholderText="e.g. uvx mcp-server-time --local-timezone=UTC")
        self.cwd = QLineEdit(placeholderText="optional")
        self.env = QPlainTextEdit(placeholderText="NAME=VALUE, one a line (optional)")
        self.env.setFixedHeight(70)
        self.url = QLineEdit(placeholderText="https://host/mcp")
        self.secret_name = QLineEdit("Authorization" if http else "")
        self.secret_name.setPlaceholderText("optional, e.g. GITHUB_TOKEN")
        self.secret_value = QLineEdit(placeholderText="kept in the OS keyring, never in a plain file")
        self.secret_value.setEchoMode(QLineEdit.EchoMode.Password)
        if http:
            form.addRow("URL", self.url)
            form.addRow("Header", self.secret_name)
            form.addRow("Header value", self.secret_value)
        else:
            form.addRow("Command", self.command)
            form.addRow("Working folder", self.cwd)
            form.addRow("Environment", self.env)
            form.addRow("Secret variable", self.secret_name)
            form.addRow("Secret value", self.secret_value)
        self.replace = QCheckBox("Replace a server of the same name")
        form.addRow(self.replace)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def server(self) -> McpServerConfig:
        """The server the form describes, validated as the CLI validates it (McpConfigError otherwise)."""
        secret = ({self.secret_name.text().strip(): self.secret_value.text()}
                  if self.secret_name.text().strip() and self.secret_value.text() else {})
        if self.http:
            return server_from_fields(self.name.text(), url=self.url.text().strip(), headers=secret)
        words = split_command(self.command.text())
        return server_from_fields(self.name.text(), command=words[0] if words else "", args=words[1:],
                                  env={**parse_lines(self.env.toPlainText(), "environment"), **secret},
                                  cwd=self.cwd.text().strip() or None)


class McpPage(QWidget):
    servers_did_load = Signal(object)  # the rows shown (or the error): tests wait on it
    tools_did_list = Signal(object)  # the ServerTools of servers just added or imported, listed in a worker

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.rows: list[dict[str, Any]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Name", "Transport", "Command or URL", "Environment or headers"])
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        # the last title was cut to "onment or hea" at the default width
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(120)
        self.table.itemSelectionChanged.connect(self._sync_buttons)
        buttons = QHBoxLayout()
        self.add_command_button = QPushButton("Add by command…")
        self.add_command_button.clicked.connect(lambda: self.add(http=False))
        self.add_url_button = QPushButton("Add by URL…")
        self.add_url_button.clicked.connect(lambda: self.add(http=True))
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("claude_desktop_config.json, LM Studio's mcp.json, Jan's mcp_config.json or "
                                      "anythingllm_mcp_servers.json")
        self.import_button.clicked.connect(lambda: self.import_file())
        self.import_replace = QCheckBox("replace same names")
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.switch_button = QPushButton("Switch on/off")
        self.switch_button.setToolTip("A disabled server is never started and its tools are not offered")
        self.switch_button.clicked.connect(self.switch_selected)
        for w in (self.add_command_button, self.add_url_button, self.import_button, self.import_replace,
                  self.switch_button, self.remove_button):
            buttons.addWidget(w)
        buttons.addStretch()
        self.note = QLabel("")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        self._just_done = ""
        self._sync_buttons()
        ctx.hooks.mcp_servers_did_change.connect(self.refresh)
        self.refresh()

    @property
    def servers(self) -> McpServers:
        return McpServers.of(self.ctx.settings)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh()  # `edgemind mcp add` may have run since the last look

    def refresh(self) -> None:
        servers = self.servers
        self.ctx.ops.run("list MCP servers", servers.shown, self._fill, self._failed)

    def _fill(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for row, r in enumerate(rows):
            if r["transport"] == "http":
                target, extra = r["url"], ", ".join(f"{k}: {v}" for k, v in r["headers"].items())
            else:
                target = shlex.join([r["command"], *r["args"]])
                extra = ", ".join(f"{k}={v}" for k, v in r["env"].items())
            name = r["name"] + (" (disabled)" if r["disabled"] else "")
            for col, text in enumerate((name, r["transport"], target, extra)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnToContents(0)
        listed = (f"{len(rows)} MCP server{'s' if len(rows) != 1 else ''}. Their tools ask before they act, like "
                  "EdgeMind's own." if rows else "No MCP servers: add one, or import another app's config file.")
        self.note.setText(f"{self._just_done} {listed}".strip())
        self._just_done = ""
        self._sync_buttons()
        self.servers_did_load.emit(rows)

    def _failed(self, exc: Exception) -> None:
        self.note.setText(f"Not done: {exc}")
        self.servers_did_load.emit(exc)

    def _changed(self, what: str) -> None:
        self._just_done = what
        self.ctx.hooks.mcp_servers_did_change.emit()  # this page refreshes too

    def _saved(self, change: Change) -> None:
        """Show what was saved, then list the new servers' tools in a worker (a server's start may take a while, so
        not on the store's lane); the configuration change is announced once they are listed, so the app's tools
        reopen knowing them."""
        names = [*change.added, *change.replaced]
        if not names:
            self._changed(_summary(change))
            return
        saved = _summary(change)
        self._just_done = f"{saved} Listing their tools…" if len(names) > 1 else f"{saved} Listing its tools…"
        self.refresh()
        servers = self.servers
        self.ctx.ops.submit("list MCP tools", lambda _cancel, _emit: servers.list_tools(names), lane="external",
                            on_done=lambda listed: self._listed(saved, listed),
                            on_error=lambda exc: self._listed(saved, exc))

    def _listed(self, saved: str, listed: list[ServerTools] | Exception) -> None:
        lines = [str(listed)] if isinstance(listed, Exception) else [t.line() for t in listed]
        self._changed(" ".join([saved, *(f"{line}." for line in lines)]))
        self.tools_did_list.emit(listed)

    def _sync_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.selected_names()))
        self.switch_button.setEnabled(bool(self.selected_names()))

    def selected_names(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.rows[r]["name"] for r in rows if r < len(self.rows)]

    def add(self, http: bool, dialog: McpServerDialog | None = None) -> None:
        """Ask for a server (or take a filled `dialog`, as tests do) and add it in a worker."""
        if dialog is None:
            dialog = McpServerDialog(http, self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
        try:
            server = dialog.server()
        except McpConfigError as exc:
            self._failed(exc)
            return
        servers, replace = self.servers, dialog.replace.isChecked()
        self.ctx.ops.run("add MCP server", lambda: servers.add(server, replace_existing=replace),
                         self._saved, self._failed)

    def import_file(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Import MCP servers", "", "MCP config files (*.json)")
        if path:
            servers, replace = self.servers, self.import_replace.isChecked()
            self.ctx.ops.run("import MCP servers",
                             lambda: servers.import_file(Path(path), replace_existing=replace),
                             self._saved, self._failed)

    def switch_selected(self) -> None:
        """Each selected server off if it was on, on if it was off."""
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        wanted = [(self.rows[r]["name"], not self.rows[r]["disabled"]) for r in rows if r < len(self.rows)]
        servers = self.servers
        if wanted:
            def switch() -> str:
                done = [servers.set_disabled(name, off) for name, off in wanted]
                return "; ".join(f"{'disabled' if s.disabled else 'enabled'} {s.name}" for s in done) + "."
            self.ctx.ops.run("switch MCP server", switch, self._changed, self._failed)

    def remove_selected(self) -> None:
        names = self.selected_names()
        servers = self.servers
        if names:
            self.ctx.ops.run("remove MCP server", lambda: [servers.remove(n).name for n in names],
                             lambda gone: self._changed(f"Removed {', '.join(gone)}."), self._failed)


def _summary(change: Change) -> str:
    lines = change.lines()
    return ("; ".join(lines) + ".") if lines else "The file names no server."
