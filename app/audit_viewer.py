"""The audit log, newest first, filtered by kind and tool, with the result of verifying its hash chain and seal.

Reading and verifying run in a worker. Rows hold digests and short summaries written by the engine; their text is
still shown as plain text only (tool names and details may come from model output).
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import theme
from .context import AppContext
from .empty_state import EmptyState

ROW_LIMIT = 1000
ALL_KINDS, ALL_TOOLS = "All kinds", "All tools"
NO_ROWS = ("The audit log is empty. Every tool call, grant, denial and routing decision will be recorded here, "
           "each row chained to the one before so that tampering shows.")
NO_MATCH = "No rows match this filter. Choose “All kinds” and “All tools” to see the whole log."


class AuditViewer(QWidget):
    rows_did_load = Signal(object)  # the AuditEntry list shown (or the error)
    verify_did_finish = Signal(object)  # the VerifyResult (or the error)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.entries: list[Any] = []
        self.verified: Any = None
        self._build()
        ctx.hooks.engine_did_start.connect(self._on_engine)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        filters = QHBoxLayout()
        self.kind_filter = QComboBox()
        self.kind_filter.addItem(ALL_KINDS, None)
        self.kind_filter.setToolTip("Show only one kind of event")
        self.tool_filter = QComboBox()
        self.tool_filter.addItem(ALL_TOOLS, None)
        self.tool_filter.setToolTip("Show only one tool's events")
        self.kind_filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.tool_filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        filters.addWidget(QLabel("Kind:"))
        filters.addWidget(self.kind_filter)
        filters.addWidget(QLabel("Tool:"))
        filters.addWidget(self.tool_filter)
        filters.addStretch()
        filters.addWidget(self.refresh_button)

        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["#", "Time (UTC)", "Kind", "Tool", "Conversation", "Detail"])
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)

        verify_row = QHBoxLayout()
        self.verify_button = QPushButton("Verify")
        self.verify_button.clicked.connect(self.verify)
        self.verify_button.setToolTip("Check every row's hash chain, the keyed seal and the anchored head "
                                      "(edgemind audit verify)")
        self.verify_label = QLabel("Not verified yet.")
        self.verify_label.setTextFormat(Qt.TextFormat.PlainText)
        self.verify_label.setWordWrap(True)
        verify_row.addWidget(self.verify_button)
        verify_row.addWidget(self.verify_label, 1)
        self.count_label = QLabel("")
        self.count_label.setObjectName("hint")

        layout.addLayout(filters)
        self.empty = EmptyState(self.table, "Reading the audit log…")
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.count_label)
        layout.addLayout(verify_row)

    def _on_engine(self, engine: Any) -> None:
        for kind in engine.audit_log.kinds:
            self.kind_filter.addItem(kind, kind)
        self.kind_filter.blockSignals(True)
        self.tool_filter.blockSignals(True)
        runner = self.ctx.tool_runner  # set before the engine's start is announced
        for tool in sorted(t.name for t in runner.registry.all()) if runner is not None else ():
            self.tool_filter.addItem(tool, tool)
        self.kind_filter.blockSignals(False)
        self.tool_filter.blockSignals(False)
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self.ctx.engine is not None:
            self.refresh()

    # ---- rows -------------------------------------------------------------------------------------------------
    def set_filter(self, kind: str | None = None, tool: str | None = None) -> None:
        for combo, value in ((self.kind_filter, kind), (self.tool_filter, tool)):
            combo.blockSignals(True)
            index = combo.findData(value)
            if index < 0 and value is not None:  # a kind or tool the log has not shown yet (None is the "all" item)
                combo.addItem(value, value)
                index = combo.count() - 1
            combo.setCurrentIndex(index)
            combo.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        kind, tool = self.kind_filter.currentData(), self.tool_filter.currentData()

        def read() -> tuple[list[Any], Any]:
            audit = self.ctx.engine_in_worker().audit_log
            return audit.entries(kind=kind, tool=tool, limit=ROW_LIMIT, newest_first=True), audit.verify()

        self.ctx.ops.run("read audit log", read, lambda got: self._fill(kind, tool, got), self._failed)

    def _fill(self, kind: str | None, tool: str | None, got: tuple[list[Any], Any]) -> None:
        if (kind, tool) != (self.kind_filter.currentData(), self.tool_filter.currentData()):
            return  # the filter changed while this read ran; the newer read fills the table
        entries, verified = got
        self.entries = entries
        self.table.setRowCount(len(entries))
        for row, e in enumerate(entries):
            detail = json.dumps(e.detail, ensure_ascii=False, sort_keys=True)
            cells = (str(e.id), e.ts[:19].replace("T", " "), e.kind, e.tool or "", e.conversation_id or "", detail)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, e.id)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if col == 5:
                    item.setToolTip(json.dumps(e.detail, ensure_ascii=False, sort_keys=True, indent=1)[:2000])
                self.table.setItem(row, col, item)
        for col in range(5):
            self.table.resizeColumnToContents(col)
        if entries:
            self.empty.show_view()
        else:
            self.empty.show_empty(NO_MATCH if kind or tool else NO_ROWS)
        shown = f"{len(entries)} row{'s' if len(entries) != 1 else ''}"
        limited = f" (the newest {ROW_LIMIT})" if len(entries) >= ROW_LIMIT else ""
        filtered = " matching the filter" if kind or tool else ""
        self.count_label.setText(f"{shown}{filtered}{limited}, newest first.")
        self.rows_did_load.emit(entries)
        self._show_verify(verified)

    def _failed(self, exc: Exception) -> None:
        self.count_label.setText(f"Could not read the audit log: {exc}")
        self.empty.show_empty(f"Could not read the audit log: {exc}")
        self.rows_did_load.emit(exc)
        self._show_verify(exc)

    # ---- verify -----------------------------------------------------------------------------------------------
    def verify(self) -> None:
        """Re-read the rows and verify them together, so the table shows what was checked."""
        self.verify_label.setText("Verifying…")
        self.verify_label.setStyleSheet("")
        self.refresh()

    def _show_verify(self, result: Any) -> None:
        self.verified = result
        t = theme.current()
        if isinstance(result, Exception):
            text, color = f"Could not verify: {result}", t.error
        elif result.ok:
            text, color = (f"✔ Intact: {result.rows} row{'s' if result.rows != 1 else ''}; every row links to the "
                           "one before, the keyed seal matches and the head is the one anchored outside the "
                           "database." + (f" Note: {result.note}" if result.note else "")), t.success
        elif result.first_bad_id is None:
            text, color = f"✘ Tampered: {result.problem}", t.error
        else:
            text, color = f"✘ Tampered: first bad row {result.first_bad_id}: {result.problem}", t.error
        self.verify_label.setText(text)
        self.verify_label.setStyleSheet(f"color: {color};")
        self._mark_bad(None if isinstance(result, Exception) or result.ok else result.first_bad_id)
        self.verify_did_finish.emit(result)

    def _mark_bad(self, bad_id: int | None) -> None:
        mark = QBrush(QColor(theme.current().error).lighter(170 if not theme.current().dark else 60))
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            is_bad = bad_id is not None and item is not None and item.data(Qt.ItemDataRole.UserRole) == bad_id
            for col in range(self.table.columnCount()):
                cell = self.table.item(row, col)
                if cell is not None:
                    cell.setBackground(mark if is_bad else QBrush())
            if is_bad and item is not None:
                self.table.scrollToItem(item)

    def row_ids(self) -> list[int]:
        return [e.id for e in self.entries]
