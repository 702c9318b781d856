"""The Benchmarks page: runs `edgemind bench --quick` in a child process, streams its progress into a bar and a
log, then shows the headline figures and the report's charts; Cancel ends the child. Opens on the last report.

A child process, not the app's engine: the bench loads its own model copies and measures a cold start, and none
of that may stall or share state with the chat the user has open. The GUI thread only reads lines and draws.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from edgemind.core.bench.child_env import child_env
from edgemind.core.bench.html_report import charts, headline
from edgemind.core.bench.report import load_report

from .context import AppContext

log = logging.getLogger(__name__)
PROGRESS = re.compile(r"^edgemind bench: \[(\d+)/(\d+)\] (.*)$")
LAST_ERROR = re.compile(r"^edgemind: (?:internal )?error: (.*)$")

try:  # QtSvgWidgets ships in PySide6-Essentials; without it the charts are left out and the figures still show
    from PySide6.QtSvgWidgets import QSvgWidget
    CHARTS_RENDERABLE = True
except ImportError:  # pragma: no cover - depends on the Qt build
    CHARTS_RENDERABLE = False


def _own_group() -> dict[str, Any]:
    """The child leads its own process group, so ending it also ends what it started (a cold-start `ask`)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _end(process: subprocess.Popen[str]) -> None:
    """Terminate the child's whole group if it still runs, then reap it (in a worker thread, never the GUI's)."""
    if process.poll() is None:
        try:
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.terminate()
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait()


def _end_when_cancelled(process: subprocess.Popen[str], cancel: Any) -> None:
    while process.poll() is None:
        if cancel.cancelled:
            _end(process)
            return
        time.sleep(0.05)


def bench_command(out_dir: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "edgemind.core.cli", "bench", "--quick", "--out", str(out_dir), *extra]


class BenchPage(QWidget):
    report_did_show = Signal(object)  # the report dict now on screen
    run_did_finish = Signal(str)  # "done", "cancelled" or "failed: why"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.extra_args: tuple[str, ...] = ()  # e.g. ("--sections", "generation"): tests and power users
        self.report: dict[str, Any] | None = None
        self.process: subprocess.Popen[str] | None = None
        self.current: Any = None  # the Op while a run is in flight
        self._cancelled = False
        self._last_error = ""
        self._build()
        self.show_last_report()

    @property
    def out_dir(self) -> Path:
        return self.ctx.settings.home / "bench"  # what `edgemind bench` writes to without --out

    # ---- layout -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run quick benchmark")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.status = QLabel("No benchmark has run yet.")
        self.status.setObjectName("hint")
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.status, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumHeight(110)
        self.log_view.setPlaceholderText("Progress lines of `edgemind bench --quick` appear here. Close other "
                                         "programs for steadier figures: the bench measures this computer.")
        self.figures = QTableWidget(0, 2)
        self.figures.setHorizontalHeaderLabels(["Figure", "Value"])
        self.figures.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.figures.verticalHeader().hide()
        self.figures.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.figures.setMaximumHeight(230)
        self.charts_holder = QWidget()
        self.charts_layout = QVBoxLayout(self.charts_holder)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.charts_holder)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.log_view)
        layout.addWidget(self.figures)
        layout.addWidget(scroll, 1)

    # ---- running ----------------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.current is not None

    def run(self) -> None:
        if self.current is not None:
            return
        self._cancelled = False
        self._last_error = ""
        self.log_view.clear()
        self.progress.setRange(0, 0)  # busy until the first numbered step arrives
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Running `edgemind bench --quick`…")
        command = bench_command(self.out_dir, self.extra_args)
        settings = self.ctx.settings

        def lines(cancel: Any) -> Iterator[str]:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True, env=child_env(settings), bufsize=1,
                                       **_own_group())
            self.process = process
            # Cancel (the button, or the app closing) ends the child at once, even mid-line: a watcher polls.
            threading.Thread(target=_end_when_cancelled, args=(process, cancel), daemon=True,
                             name="bench-cancel").start()
            assert process.stderr is not None
            try:
                for line in process.stderr:
                    yield line.rstrip("\n")
            finally:
                _end(process)
            yield f"__exit__ {process.returncode}"

        self.current = self.ctx.ops.stream("benchmark", lines, self._on_line, self._on_done, self._on_failed)

    def cancel(self) -> None:
        """Stop the child now (it gets SIGTERM; the worker reaps it and reports "cancelled")."""
        if self.current is None:
            return
        self._cancelled = True
        self.current.cancel()  # the worker's watcher ends the child; the GUI thread never waits for it
        self.status.setText("Cancelling…")

    def _on_line(self, line: str) -> None:
        if line.startswith("__exit__ "):
            self._exit_code = line.split()[1]
            return
        self.log_view.appendPlainText(line)
        match = PROGRESS.match(line)
        if match:
            step, total = int(match.group(1)), int(match.group(2))
            self.progress.setRange(0, total)
            self.progress.setValue(step - 1)
            self.status.setText(match.group(3)[:120])
        error = LAST_ERROR.match(line)
        if error:
            self._last_error = error.group(1)

    def _finish(self, outcome: str) -> None:
        self.current = None
        self.process = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if outcome == "done" else 0)
        self.run_did_finish.emit(outcome)

    def _on_done(self, _result: Any) -> None:
        code = getattr(self, "_exit_code", "?")
        if self._cancelled:
            self.status.setText("Cancelled.")
            self._finish("cancelled")
        elif code == "0":
            self.status.setText("Done.")
            self._finish("done")
            self.show_last_report()
        else:
            why = self._last_error or f"the benchmark exited with status {code}"
            self.status.setText(f"Failed: {why}")
            self._finish(f"failed: {why}")

    def _on_failed(self, exc: Exception) -> None:
        self.status.setText(f"Failed: {exc}")
        self._finish(f"failed: {exc}")

    # ---- showing a report -------------------------------------------------------------------------------------
    def show_last_report(self) -> None:
        """Read and check the last report in a worker; show it when there is one."""
        path = self.out_dir / "report.json"

        def load() -> tuple[dict[str, Any], list[tuple[str, str]], list[tuple[str, str]]] | None:
            if not path.exists():
                return None
            report = load_report(path)
            return report, headline(report), charts(report)

        self.ctx.ops.run("read bench report", load, self._show,
                         lambda exc: self.status.setText(f"The last report cannot be shown: {exc}"))

    def _show(self, loaded: tuple[dict[str, Any], list[tuple[str, str]], list[tuple[str, str]]] | None) -> None:
        if loaded is None:
            return
        report, rows, svgs = loaded
        self.report = report
        self.figures.setRowCount(0)
        for label, value in rows:
            row = self.figures.rowCount()
            self.figures.insertRow(row)
            self.figures.setItem(row, 0, QTableWidgetItem(label))
            self.figures.setItem(row, 1, QTableWidgetItem(value))
        while self.charts_layout.count():
            item = self.charts_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for title, svg in svgs:
            if not CHARTS_RENDERABLE:
                break
            widget = QSvgWidget()
            widget.load(QByteArray(svg.encode("utf-8")))
            size = widget.renderer().defaultSize()
            widget.setFixedSize(size)
            widget.setToolTip(title)
            widget.setObjectName(f"chart:{title}")
            self.charts_layout.addWidget(widget)
            widget.show()  # a child added to a page already on screen stays hidden until shown
        self.charts_layout.addStretch()
        if self.current is None:
            self.status.setText(f"Last report: {report.get('created_at', '?')}, "
                                f"{'quick' if report.get('settings', {}).get('quick') else 'full'} run "
                                f"({self.out_dir / 'report.html'})")
        self.report_did_show.emit(report)

    def chart_titles(self) -> list[str]:
        items = (self.charts_layout.itemAt(i) for i in range(self.charts_layout.count()))
        widgets = (item.widget() for item in items if item is not None)
        return [widget.toolTip() for widget in widgets if widget is not None]

    def shown_figures(self) -> dict[str, str]:
        def text(row: int, column: int) -> str:
            item = self.figures.item(row, column)
            return item.text() if item is not None else ""

        return {text(r, 0): text(r, 1) for r in range(self.figures.rowCount())}
