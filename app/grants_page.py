"""The stored tool grants ("Always allow" answers): list them, revoke one or all. Store work runs in a worker."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .context import AppContext
from .empty_state import EmptyState

NO_GRANTS = ("No stored grants. When a tool asks before it acts and you answer “Always allow”, the grant is "
             "listed here until you revoke it.")


class GrantsPage(QWidget):
    grants_did_load = Signal(object)  # the GrantInfo list shown (or the error): tests and the self-test wait on it

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.grants: list[Any] = []
        self.loaded = False
        self._just_done = ""  # "Revoked 1 grant." shown with the refreshed list
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Tool", "Scope", "Since", "Tool version"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(130)
        self.table.itemSelectionChanged.connect(self._sync_buttons)
        buttons = QHBoxLayout()
        self.revoke_button = QPushButton("Revoke selected")
        self.revoke_button.clicked.connect(lambda: self.revoke_selected())
        self.revoke_all_button = QPushButton("Revoke all")
        self.revoke_all_button.clicked.connect(lambda: self.revoke_all())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        for b in (self.revoke_button, self.revoke_all_button, self.refresh_button):
            buttons.addWidget(b)
        buttons.addStretch()
        self.note = QLabel("Tools ask before they act. “Always allow” answers are kept here until revoked; "
                           "a tool whose code or scopes changed asks again.")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        self.empty = EmptyState(self.table, "Loading the stored grants…")
        self.empty.setMinimumHeight(130)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        self._sync_buttons()
        ctx.hooks.engine_did_start.connect(lambda _e: self.refresh())
        ctx.hooks.grants_did_change.connect(self.refresh)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self.ctx.engine is not None:
            self.refresh()  # an "Always allow" answered in a chat since the last look

    def refresh(self) -> None:
        self.ctx.ops.run("list grants", lambda: self.ctx.grants_in_worker().list(), self._fill,
                         self._failed)

    def _fill(self, grants: list[Any]) -> None:
        self.grants = grants
        self.loaded = True
        self.table.setRowCount(len(grants))
        for row, g in enumerate(grants):
            since = g.created_at[:16].replace("T", " ")
            for col, text in enumerate((g.tool, g.scope, since, g.manifest_sha[:12])):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, g.id)
                if col == 3:
                    item.setToolTip(f"manifest SHA-256 {g.manifest_sha}")
                self.table.setItem(row, col, item)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(2)
        if grants:
            self.empty.show_view()
        else:
            self.empty.show_empty(NO_GRANTS)
        # no grants: the empty state says so in the table's place
        listed = f"{len(grants)} stored grant{'s' if len(grants) != 1 else ''}." if grants else ""
        self.note.setText(f"{self._just_done} {listed}".strip())
        self._just_done = ""
        self._sync_buttons()
        self.grants_did_load.emit(grants)

    def _failed(self, exc: Exception) -> None:
        self.loaded = True
        self.note.setText(f"Could not read the grants: {exc}")
        self.empty.show_empty(f"Could not read the grants: {exc}")
        self.grants_did_load.emit(exc)

    def _sync_buttons(self) -> None:
        self.revoke_button.setEnabled(bool(self.selected_ids()))
        self.revoke_all_button.setEnabled(bool(self.grants))

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.grants[r].id for r in rows if r < len(self.grants)]

    def revoke_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self._revoke(lambda grants: sum(grants.revoke(grant_id=i) for i in ids))

    def revoke_all(self, confirm: bool = True) -> None:
        if confirm and QMessageBox.question(
                self, "Revoke all grants", "Revoke every stored grant? Tools will ask again before they act.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No) != QMessageBox.StandardButton.Yes:
            return
        self._revoke(lambda grants: grants.revoke())

    def _revoke(self, how: Any) -> None:
        self.revoke_button.setEnabled(False)
        self.revoke_all_button.setEnabled(False)

        def done(removed: int) -> None:
            self._just_done = f"Revoked {removed} grant{'s' if removed != 1 else ''}."
            self.ctx.hooks.grants_did_change.emit()  # this page refreshes too

        self.ctx.ops.run("revoke grants", lambda: how(self.ctx.grants_in_worker()), done, self._failed)
