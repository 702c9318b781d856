"""The code-review pane: open a file or paste code or a diff, review it (`core.engine.review`: the analyzers, then the
code model), see the findings fill in next to the highlighted source as they are found, and ask about one in the chat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pygments.lexers import TextLexer, get_lexer_for_filename, guess_lexer
from pygments.styles import get_style_by_name
from pygments.util import ClassNotFound
from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPainter, QSyntaxHighlighter, QTextCharFormat, QTextFormat
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from edgemind.core.errors import EdgeMindError

from . import theme
from .context import AppContext
from .operations import Op


class PygmentsHighlighter(QSyntaxHighlighter):
    """Line-by-line highlighting with Pygments (multi-line strings may be coloured as code: a measured trade for
    never re-lexing the whole file on each keystroke)."""

    def __init__(self, document: Any) -> None:
        super().__init__(document)
        self.lexer: Any = TextLexer()
        self._formats: dict[Any, QTextCharFormat] = {}

    def set_lexer_for(self, name: str | None, text: str) -> None:
        try:
            self.lexer = get_lexer_for_filename(name) if name else guess_lexer(text)
        except ClassNotFound:
            self.lexer = TextLexer()
        self._formats = {}
        self.rehighlight()

    def _format(self, token: Any) -> QTextCharFormat:
        if token not in self._formats:
            style = get_style_by_name(theme.current().pygments_style).style_for_token(token)
            fmt = QTextCharFormat()
            if style["color"]:
                fmt.setForeground(QColor("#" + style["color"]))
            if style["bold"]:
                fmt.setFontWeight(QFont.Weight.Bold)
            if style["italic"]:
                fmt.setFontItalic(True)
            self._formats[token] = fmt
        return self._formats[token]

    def restyle(self) -> None:
        """The theme changed: drop the cached formats (they hold the old theme's colours) and colour again."""
        self._formats = {}
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802
        position = 0
        for token, value in self.lexer.get_tokens(text):
            length = len(value.rstrip("\n")) if value.endswith("\n") else len(value)
            if length:
                self.setFormat(position, length, self._format(token))
            position += len(value)


class SourceView(QPlainTextEdit):
    """The reviewed code with line numbers in a gutter and the selected finding's line marked."""

    def __init__(self) -> None:
        super().__init__()
        self._style = theme.current().pygments_style  # the Pygments style the highlighter's formats come from
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self.setPlaceholderText("Open a file, or paste code or a diff here, then Review (Ctrl+Enter).")
        self.gutter = _Gutter(self)
        self.blockCountChanged.connect(lambda _n: self.setViewportMargins(self.gutter_width(), 0, 0, 0))
        self.updateRequest.connect(self._scroll_gutter)
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)
        self.highlighter = PygmentsHighlighter(self.document())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.StyleChange and self._style != theme.current().pygments_style:
            self._style = theme.current().pygments_style
            self.highlighter.restyle()

    def gutter_width(self) -> int:
        return 12 + self.fontMetrics().horizontalAdvance("9") * max(3, len(str(self.blockCount())))

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        r = self.contentsRect()
        self.gutter.setGeometry(QRect(r.left(), r.top(), self.gutter_width(), r.height()))

    def paint_gutter(self, event: Any) -> None:
        painter = QPainter(self.gutter)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.alternateBase())
        painter.setPen(QColor(theme.current().muted))
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        while block.isValid() and top <= event.rect().bottom():
            bottom = top + round(self.blockBoundingRect(block).height())
            if block.isVisible():
                painter.drawText(0, top, self.gutter.width() - 6, self.fontMetrics().height(),
                                 Qt.AlignmentFlag.AlignRight, str(block.blockNumber() + 1))
            block, top = block.next(), bottom

    def mark_line(self, line: int, severity: str) -> None:
        block = self.document().findBlockByNumber(line - 1)
        if not block.isValid():
            return
        cursor = self.textCursor()
        cursor.setPosition(block.position())
        self.setTextCursor(cursor)
        self.centerCursor()
        selection = QTextEdit.ExtraSelection()
        color = QColor(theme.current().severity_color(severity))
        color.setAlpha(70)
        selection.format.setBackground(color)
        selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        selection.cursor = cursor
        self.setExtraSelections([selection])

    def marked_line(self) -> int | None:
        selections = self.extraSelections()
        return selections[0].cursor.blockNumber() + 1 if selections else None


class _Gutter(QWidget):
    def __init__(self, view: SourceView) -> None:
        super().__init__(view)
        self.view = view

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.view.gutter_width(), 0)

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        self.view.paint_gutter(event)


class ReviewPane(QWidget):
    review_did_finish = Signal(object)  # the ReviewResult, or the exception
    finding_did_arrive = Signal(object)  # each Finding as the review streams it (analyzers' first, then the model's)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.path: str | None = None
        self.current: Op | None = None
        self.findings: list[Any] = []
        self._reviewed_text = ""
        self._build()

    def _build(self) -> None:
        bar = QHBoxLayout()
        self.open_button = QPushButton("Open file…")
        self.open_button.clicked.connect(self.choose_file)
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Replace the code with the clipboard (code or a diff)")
        self.paste_button.clicked.connect(lambda: self.set_code(QGuiApplication.clipboard().text(), None))
        self.review_button = QPushButton("Review")
        self.review_button.setToolTip("Review with the analyzers (Python: ruff and AST checks), then the code model "
                                      "(Ctrl+Enter)")
        self.review_button.setShortcut("Ctrl+Return")
        self.review_button.clicked.connect(self.review)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.where = QLabel("No file: paste code or open one.")
        self.where.setObjectName("hint")
        for w in (self.open_button, self.paste_button, self.review_button, self.stop_button):
            bar.addWidget(w)
        bar.addWidget(self.where, 1)
        self.source = SourceView()
        self.findings_list = QListWidget()
        self.findings_list.setWordWrap(True)  # a finding's whole message, wrapped, never cut at the list's edge
        self.findings_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.findings_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.findings_list.currentRowChanged.connect(self.show_finding)
        self.detail = QLabel("Findings appear here after a review.")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ask_button = QPushButton("Ask about this finding")
        self.ask_button.setToolTip("Continue in the chat with this finding and its code")
        self.ask_button.setEnabled(False)
        self.ask_button.clicked.connect(self.ask_about_finding)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 0, 0, 0)
        self.summary = QLabel("Findings")
        self.summary.setObjectName("who")
        self.analyzers = QLabel("")
        self.analyzers.setObjectName("hint")
        self.analyzers.setWordWrap(True)
        right_layout.addWidget(self.summary)
        right_layout.addWidget(self.analyzers)
        right_layout.addWidget(self.findings_list, 1)
        right_layout.addWidget(self.detail)
        right_layout.addWidget(self.ask_button)
        splitter = QSplitter()
        splitter.addWidget(self.source)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        """Severity colours are set per item: give them the new theme's when it changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.StyleChange:
            for row, f in enumerate(self.findings[:self.findings_list.count()]):
                item = self.findings_list.item(row)
                if item is not None:
                    item.setForeground(QColor(theme.current().severity_color(f.severity)))

    # ---- input ------------------------------------------------------------------------------------------------
    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open a file to review")
        if name:
            self.open_file(Path(name))

    def open_file(self, path: Path) -> None:
        def read() -> str:
            try:
                return path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise EdgeMindError(f"{path.name} is not UTF-8 text") from None
            except OSError as exc:
                raise EdgeMindError(f"cannot read {path}: {exc.strerror or exc}") from None

        self.ctx.ops.run("read file", read, lambda text: self.set_code(text, str(path)),
                         lambda exc: self.where.setText(str(exc)))

    def set_code(self, text: str, path: str | None) -> None:
        self.path = path
        self.source.setPlainText(text)
        self.source.highlighter.set_lexer_for(Path(path).name if path else None, text)
        self.where.setText(path or "Pasted code")
        self._clear_findings()

    def _clear_findings(self) -> None:
        self.findings = []
        self.findings_list.clear()
        self.analyzers.setText("")
        self.source.setExtraSelections([])
        self.detail.setText("Findings appear here after a review.")
        self.ask_button.setEnabled(False)

    # ---- review -----------------------------------------------------------------------------------------------
    def review(self) -> None:
        code = self.source.toPlainText()
        if self.current is not None or not code.strip():
            return
        if self.ctx.paused:
            self.summary.setText(self.ctx.paused_message())
            return
        self._clear_findings()
        self._reviewed_text = code
        path = self.path
        self.summary.setText("Reviewing…")
        tokens = [0]

        def work(cancel: Any, emit: Any) -> Any:
            from edgemind.core.engine import review_code  # lazy: the window shows before the engine (~1 s) loads

            return review_code(self.ctx.engine_in_worker(), code, path=Path(path).name if path else None,
                               cancel=cancel, on_token=lambda _t: emit(("token", None)),
                               on_finding=lambda f: emit(("finding", f)),
                               on_analyzers=lambda report: emit(("analyzers", report)))

        def progress(event: tuple[str, Any]) -> None:
            kind, value = event
            if kind == "finding":
                self._add_finding(value)
                self.finding_did_arrive.emit(value)
            elif kind == "analyzers":
                self._show_analyzers(value.ran, value.notes)
            else:
                tokens[0] += 1
                if tokens[0] % 10 == 0:
                    self.summary.setText(f"Reviewing… {len(self.findings)} finding(s) so far "
                                         f"({tokens[0]} tokens read from the model)")

        self.current = self.ctx.ops.submit("review", work, lane="stream", on_event=progress,
                                           on_done=self.show_result, on_error=self._show_failure)
        self.review_button.setEnabled(False)
        self.stop_button.setEnabled(True)

    def stop(self) -> None:
        if self.current is not None:
            self.current.cancel()

    def _done(self) -> None:
        self.current = None
        self.review_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _show_failure(self, exc: Exception) -> None:
        self._done()
        self.summary.setText(f"Review failed: {exc}")
        self.review_did_finish.emit(exc)

    def _show_analyzers(self, ran: tuple[str, ...], notes: tuple[str, ...]) -> None:
        text = f"Analyzers: {', '.join(ran)}" if ran else "Analyzers: none"
        self.analyzers.setText("\n".join([text, *notes]))

    def _add_finding(self, f: Any) -> None:
        self.findings.append(f)
        item = QListWidgetItem(f"Line {f.line} · {f.severity} · {f.source}\n{f.message}")
        item.setForeground(QColor(theme.current().severity_color(f.severity)))
        item.setToolTip(f.suggestion or f.message)
        self.findings_list.addItem(item)
        if len(self.findings) == 1:
            self.findings_list.setCurrentRow(0)

    def show_result(self, result: Any) -> None:
        """Show a finished review's findings in line order (they streamed in the order they were found)."""
        self._done()
        self.findings = []
        self.findings_list.clear()
        for f in result.findings:  # the final list, in line order (they streamed in the order they were found)
            self._add_finding(f)
        self._show_analyzers(result.analyzers, result.notes)
        stopped = " (stopped)" if result.cancelled else ""
        by = ", ".join([*result.analyzers, *([result.model] if result.model else [])]) or "nothing"
        self.summary.setText(f"{len(self.findings)} finding(s) in {result.lines} lines by {by}{stopped}"
                             if self.findings else f"No findings by {by}{stopped}.")
        self.review_did_finish.emit(result)

    def show_finding(self, row: int) -> None:
        if not 0 <= row < len(self.findings):
            return
        f = self.findings[row]
        self.source.mark_line(f.line, f.severity)
        suggestion = f"\n\nSuggestion: {f.suggestion}" if f.suggestion else ""
        self.detail.setText(f"Line {f.line} ({f.severity}): {f.message}{suggestion}")
        self.ask_button.setEnabled(True)

    def finding_prompt(self, row: int) -> str:
        f = self.findings[row]
        lines = self._reviewed_text.splitlines()
        first, last = max(1, f.line - 3), min(len(lines), f.line + 3)
        excerpt = "\n".join(f"{n}: {lines[n - 1]}" for n in range(first, last + 1))
        where = f" in {Path(self.path).name}" if self.path else ""
        return (f"A code review found this at line {f.line}{where} ({f.severity}, from {f.source}): {f.message}\n\n"
                f"```\n{excerpt}\n```\n\nIs this a real problem? Explain it and show the fix.")

    def ask_about_finding(self) -> None:
        row = self.findings_list.currentRow()
        if 0 <= row < len(self.findings):
            self.ctx.hooks.chat_will_ask.emit(self.finding_prompt(row))
