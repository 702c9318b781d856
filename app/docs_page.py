"""The Documents page: the folders EdgeMind answers from, added with a visible read grant, indexed in a worker with
progress and cancel, and watched for changes (a stat poll re-indexes a folder whose files changed).

It never widens a grant: adding asks through the permission dialog; a watched folder is re-indexed only while a
grant for it is held (stored, or for this session), and a Re-index click asks again. Removing a folder only makes
the index forget it: no file is ever deleted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from edgemind.core.errors import EdgeMindError

from .context import AppContext
from .empty_state import EmptyState
from .operations import Op

if TYPE_CHECKING:
    from edgemind.plugins.builtin.docs import DocsIndex, FolderInfo, IndexProgress, IndexReport

# Why a poll and not QFileSystemWatcher: the watcher sees one directory level (every nested folder must be added and
# re-added as folders come and go), on Linux each one costs an inotify watch from a small per-user budget, and an
# editor's save-by-rename drops the watch on the file. A stat walk of a 2,000-file folder is tens of ms, in a worker.
WATCH_INTERVAL_MS = 5_000
NO_FOLDERS = ("No folders yet. Add a folder of notes, papers or code (.md, .txt, .rst, .py, .pdf): EdgeMind indexes "
              "it on this computer and answers questions from it, citing the file and lines. Your files are only "
              "read, never changed.")
MAX_ERROR_LINES = 200


def open_library(ctx: AppContext) -> DocsIndex:
    """For code running in a worker: the data folder's docs index, the one the docs tools search."""
    from edgemind.plugins.builtin.docs import library  # lazy: the index's modules load once the engine is up

    ctx.engine_in_worker()  # the data folder is set up (and migrated) by the engine's start
    return library(ctx.settings)


def document_folders(ctx: AppContext) -> list[str]:
    """For code running in a worker: the folders listed in Documents, each added through a read grant."""
    return [f.path for f in open_library(ctx).folders()]


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at)) if at else "not yet"


class DocumentsPage(QWidget):
    folders_did_load = Signal(object)  # the FolderInfo list shown, or the error: tests wait on it
    indexing_did_finish = Signal(object)  # an IndexReport, or the error that stopped the indexing

    def __init__(self, ctx: AppContext, poll_ms: int = WATCH_INTERVAL_MS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.folders: list[FolderInfo] = []
        self.current: Op | None = None
        self.current_folder: str | None = None
        self.queue: list[tuple[str, bool]] = []  # (folder, ask for the grant) waiting for the indexer
        self.paused: set[str] = set()  # cancelled or without a grant: not re-indexed by the watcher until asked
        self.errors: list[str] = []
        self._library: DocsIndex | None = None
        self._build()
        self.watch_timer = QTimer(self, interval=poll_ms)
        self.watch_timer.timeout.connect(self.poll)
        ctx.hooks.engine_did_start.connect(self._on_engine)
        ctx.hooks.app_will_close.connect(self.watch_timer.stop)

    # ---- layout -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        title = QLabel("Documents")
        title.setObjectName("welcomeTitle")
        hint = QLabel("EdgeMind answers from these folders, on this computer only. Ask in a chat, e.g. “What do my "
                      "notes say about…?”: the answer links the files and lines it used.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add folder…")
        self.add_button.setToolTip("Choose a folder to index; EdgeMind asks for permission to read it")
        self.add_button.clicked.connect(lambda: self.add_folder())
        self.reindex_button = QPushButton("Re-index")
        self.reindex_button.setToolTip("Read the selected folder again now (asks for permission if none is held)")
        self.reindex_button.clicked.connect(self.reindex_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Forget the selected folder: its chunks leave the index, its files stay")
        self.remove_button.clicked.connect(lambda: self.remove_selected())
        for b in (self.add_button, self.reindex_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch()
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Folder", "Files", "Chunks", "Last indexed", "Watching"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._sync_buttons)
        self.empty = EmptyState(self.table, "Loading your documents…")
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m files")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing; what was indexed so far stays searchable")
        self.cancel_button.clicked.connect(self.cancel)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.current_label = QLabel("")
        self.current_label.setObjectName("hint")
        self.current_label.setTextFormat(Qt.TextFormat.PlainText)  # file names are the user's, shown as text
        self.progress_box = QWidget()
        box = QVBoxLayout(self.progress_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(progress_row)
        box.addWidget(self.current_label)
        self.progress_box.hide()
        self.errors_title = QLabel("Left out of the index (the rest was indexed):")
        self.errors_title.setObjectName("hint")
        self.errors_title.hide()
        self.error_list = QListWidget()
        self.error_list.setMaximumHeight(110)
        self.error_list.setToolTip("Files left out of the index, one line each; the rest was indexed")
        self.error_list.hide()
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.progress_box)
        layout.addWidget(self.errors_title)
        layout.addWidget(self.error_list)
        layout.addWidget(self.status)
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        selected = self.selected_folder() is not None
        self.remove_button.setEnabled(selected and self.current is None)
        self.reindex_button.setEnabled(selected and self.current is None)

    # ---- the library (the docs plugin's index; opened in a worker) --------------------------------------------
    def library(self) -> DocsIndex:
        """For code running in a worker: the data folder's docs index (the one the docs tools use)."""
        if self._library is None:
            self._library = open_library(self.ctx)
        return self._library

    def _on_engine(self, _engine: Any) -> None:
        self.refresh()
        self.watch_timer.start()

    def refresh(self) -> None:
        self.ctx.ops.run("list document folders", lambda: self.library().folders(), self._fill, self._failed)

    def _fill(self, folders: list[FolderInfo]) -> None:
        chosen = self.selected_folder()
        self.folders = folders
        self.table.setRowCount(len(folders))
        for row, f in enumerate(folders):
            watching = "paused (Re-index to resume)" if f.path in self.paused else "yes"
            for col, text in enumerate((f.path, str(f.files), str(f.chunks), _when(f.indexed_at), watching)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, f.path)
                if col in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
            if f.path == chosen:
                self.table.selectRow(row)
        for col in range(1, 5):
            self.table.resizeColumnToContents(col)
        if folders:
            self.empty.show_view()
        else:
            self.empty.show_empty(NO_FOLDERS)
        self._sync_buttons()
        self.folders_did_load.emit(folders)

    def _failed(self, exc: Exception) -> None:
        self.empty.show_empty(f"Could not read the document index: {exc}")
        self.status.setText(f"Could not read the document index: {exc}")
        self.folders_did_load.emit(exc)

    def selected_folder(self) -> str | None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return self.folders[rows[0]].path if rows and rows[0] < len(self.folders) else None

    def select(self, folder: str) -> None:
        for row, f in enumerate(self.folders):
            if f.path == folder:
                self.table.selectRow(row)

    # ---- adding, re-indexing, removing ------------------------------------------------------------------------
    def add_folder(self, folder: str | None = None) -> None:
        """Index a new folder: the permission dialog asks to read it (once, visibly), then it is indexed."""
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Add a folder to Documents", str(Path.home()))
            if not folder:
                return
        self._enqueue(folder, ask=True)

    def reindex_selected(self) -> None:
        folder = self.selected_folder()
        if folder is not None:
            self._enqueue(folder, ask=True)

    def remove_selected(self, confirm: bool = True) -> None:
        folder = self.selected_folder()
        if folder is None or self.current is not None:
            return
        if confirm and QMessageBox.question(
                self, "Remove folder", f"Remove {folder} from Documents? The index forgets it; its files are not "
                "touched.", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No) != QMessageBox.StandardButton.Yes:
            return
        self.paused.discard(folder)

        def removed(files: int) -> None:
            self.status.setText(f"Removed {folder} from Documents ({files} file{'s' if files != 1 else ''} left the "
                                "index; nothing was deleted). A stored read grant stays until you revoke it in "
                                "Settings ▸ Tool grants.")
            self.refresh()

        self.ctx.ops.run("remove document folder", lambda: self.library().remove(folder), removed, self._show_error)

    def _enqueue(self, folder: str, ask: bool) -> None:
        if folder == self.current_folder or any(f == folder for f, _ in self.queue):
            return
        self.queue.append((folder, ask))
        self._next()

    def _next(self) -> None:
        if self.current is not None or not self.queue:
            return
        folder, ask = self.queue.pop(0)
        self.current_folder = folder
        self.errors = []
        self.error_list.clear()
        self.error_list.hide()
        self.errors_title.hide()
        self.progress.setRange(0, 0)  # busy until the first file is counted (and while the dialog asks)
        self.current_label.setText(f"Asking to read {folder}…" if ask else f"Re-indexing {folder}…")
        self.progress_box.show()
        self.current = self.ctx.ops.submit(
            "index documents", lambda cancel, emit: self._index(folder, ask, cancel, emit), lane="external",
            on_event=self._on_progress, on_done=self._done, on_error=self._index_failed)
        self._sync_buttons()

    def _index(self, folder: str, ask: bool, cancel: Any, emit: Any) -> IndexReport:
        """In a worker: the grant (asked through the dialog when `ask`, else only looked up), then the indexing."""
        if not Path(folder).is_dir():  # said before any question: nothing to grant
            raise EdgeMindError(f"Not indexed: {folder} is not a folder (or no longer exists).")
        tools = self.ctx.tools_in_worker()
        decision, checked = tools.authorize("docs_index", {"folder": folder}, ask=ask)
        if not decision.allowed:
            raise PermissionRefused(folder, decision.how)
        path = Path(checked["folder"])
        if not path.is_dir():
            raise EdgeMindError(f"Not indexed: {path} is not a folder.")
        emit(("granted", str(path), decision.how))
        return self.library().index(path, progress=emit, cancelled=lambda: bool(cancel.cancelled))

    def _on_progress(self, item: Any) -> None:
        if isinstance(item, tuple):  # ("granted", folder, how)
            self.current_label.setText(f"Indexing {item[1]}…")
            if item[2] == "once":
                self.paused.add(item[1])  # allowed once: this indexing only, the watcher will not read it again
            else:
                self.paused.discard(item[1])  # a grant is held (stored, or for this session): watched again
            return
        progress: IndexProgress = item
        self.progress.setRange(0, max(progress.total, 1))
        self.progress.setValue(min(progress.done, progress.total))
        self.current_label.setText(f"{progress.done} / {progress.total}: {progress.current}")
        if progress.error:
            self._add_error(progress.error)

    def _add_error(self, line: str) -> None:
        self.errors.append(line)
        if self.error_list.count() < MAX_ERROR_LINES:
            self.error_list.addItem(" ".join(line.split()))
        self.error_list.show()
        self.errors_title.show()

    def _done(self, report: IndexReport) -> None:
        self._end()
        if report.cancelled:
            self.paused.add(report.folder)
            self.status.setText(f"Indexing {report.folder} was cancelled; what was indexed stays searchable. "
                                "Re-index to finish it.")
        else:
            errors = f", {len(report.errors)} left out (listed above)" if report.errors else ""
            self.status.setText(f"{report.folder}: {report.indexed} indexed, {report.unchanged} unchanged, "
                                f"{report.removed} removed{errors}.")
        self.refresh()
        self.indexing_did_finish.emit(report)
        self._next()

    def _index_failed(self, exc: Exception) -> None:
        folder = self.current_folder
        self._end()
        if isinstance(exc, PermissionRefused) and folder is not None:
            self.paused.add(folder)
        self._show_error(exc)
        self.refresh()
        self.indexing_did_finish.emit(exc)
        self._next()

    def _end(self) -> None:
        self.current = None
        self.current_folder = None
        self.progress_box.hide()
        self._sync_buttons()

    def _show_error(self, exc: Exception) -> None:
        self.status.setText(str(exc) or exc.__class__.__name__)

    def cancel(self) -> None:
        if self.current is not None:
            self.current.cancel()
            self.current_label.setText("Cancelling…")

    def is_indexing(self) -> bool:
        return self.current is not None

    # ---- watching ---------------------------------------------------------------------------------------------
    def poll(self) -> None:
        """Look for folders whose files changed (in a worker, stat only) and re-index those the user still lets
        EdgeMind read; a paused folder waits for a Re-index click."""
        if self.current is not None or self.queue or self.ctx.ops.closing:
            return

        def found(stale: list[str]) -> None:
            for folder in stale:
                if folder not in self.paused:
                    self._enqueue(folder, ask=False)

        self.ctx.ops.submit("watch documents", lambda _cancel, _emit: self.library().stale(), lane="external",
                            on_done=found, on_error=lambda exc: self.status.setText(f"Watching stopped: {exc}"))


class PermissionRefused(EdgeMindError):
    """Reading a folder was not allowed (denied now or earlier, or no grant held for a watched folder)."""

    kind = "permission_denied"

    def __init__(self, folder: str, how: str) -> None:
        why = {"denied": "you denied reading it",
               "denied_earlier": "you denied reading it earlier in this session (restart EdgeMind to be asked again)",
               "no_one_to_ask": "there was no one to ask",
               "not_granted": "EdgeMind no longer holds a grant to read it (it was allowed once, or revoked); "
                              "Re-index asks again"}.get(how, how)
        super().__init__(f"Not indexed: {folder}: {why}.")
