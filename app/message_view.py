"""How one message looks: Markdown prose, highlighted code blocks with a Copy button, a badge, and actions.

Streaming text is re-rendered at most every 40 ms (not per token), so a long answer never stalls the GUI thread.
Model output is untrusted: links in it are shown, never opened by a click. The only links that open are an answer's
sources, which come from its tool results (a docs_search's Citations), never from its text.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name, guess_lexer
from pygments.util import ClassNotFound
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from edgemind.core.events import Citation

from . import theme
from .elided_label import ElidedLabel

RENDER_INTERVAL_MS = 40
_FENCE_OPEN = re.compile(r"^\s*```\s*([\w+#.-]*)\s*$")
_FENCE_CLOSE = re.compile(r"^\s*```\s*$")


def split_blocks(text: str) -> list[tuple[str, str, str]]:
    """(kind, language, content) for each prose ("md") or fenced code ("code") block; an unclosed fence (still
    streaming) is a code block too."""
    blocks: list[tuple[str, str, str]] = []
    prose: list[str] = []
    code: list[str] | None = None
    lang = ""
    for line in text.split("\n"):
        if code is None:
            m = _FENCE_OPEN.match(line)
            if m:
                if "".join(prose).strip():
                    blocks.append(("md", "", "\n".join(prose)))
                prose, code, lang = [], [], m.group(1)
            else:
                prose.append(line)
        elif _FENCE_CLOSE.match(line):
            blocks.append(("code", lang, "\n".join(code)))
            code = None
        else:
            code.append(line)
    if code is not None:
        blocks.append(("code", lang, "\n".join(code)))
    elif "".join(prose).strip():
        blocks.append(("md", "", "\n".join(prose)))
    return blocks


def highlighted_html(code: str, lang: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else guess_lexer(code) if len(code) > 40 else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    formatter = HtmlFormatter(nowrap=True, noclasses=True, style=theme.current().pygments_style)
    body = highlight(code, lexer, formatter) if code else ""
    return f"<pre style=\"white-space: pre-wrap; margin: 0; font-family: {theme.MONO};\">{body}</pre>"


class CodeBlock(QFrame):
    def __init__(self, lang: str, code: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.lang, self.code = lang, ""
        self._style = theme.current().pygments_style  # the Pygments style the HTML was rendered with
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        header = QHBoxLayout()
        self.lang_label = QLabel(lang or "code")
        self.lang_label.setObjectName("codeLang")
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy this code")
        self.copy_button.clicked.connect(self.copy)
        header.addWidget(self.lang_label)
        header.addStretch()
        header.addWidget(self.copy_button)
        self.body = QLabel()
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addLayout(header)
        layout.addWidget(self.body)
        self.set_code(lang, code)

    def set_code(self, lang: str, code: str) -> None:
        if code == self.code and lang == self.lang:
            return
        self.lang, self.code = lang, code
        self._style = theme.current().pygments_style
        self.lang_label.setText(lang or "code")
        self.body.setText(highlighted_html(code, lang))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        """Re-highlight when the theme changes: the colours are baked into the HTML (light's on a dark block, else)."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.PaletteChange) and \
                self._style != theme.current().pygments_style:
            self._style = theme.current().pygments_style
            self.body.setText(highlighted_html(self.code, self.lang))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code)
        self.copy_button.setText("Copied")
        QTimer.singleShot(1500, lambda: self.copy_button.setText("Copy"))


class MarkdownBlock(QLabel):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.MarkdownText)
        self.setWordWrap(True)
        self.setOpenExternalLinks(False)  # model output is untrusted: no link opens by a click
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.source = ""
        self.set_markdown(text)

    def set_markdown(self, text: str) -> None:
        if text != self.source:
            self.source = text
            self.setText(text)


class RichText(QWidget):
    """A Markdown text with its code blocks as widgets; updated in place as more text streams in."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._blocks: list[QWidget] = []
        self.text = ""
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self.text = text
        parts = split_blocks(text)
        for i, (kind, lang, content) in enumerate(parts):
            existing = self._blocks[i] if i < len(self._blocks) else None
            if kind == "code" and isinstance(existing, CodeBlock):
                existing.set_code(lang, content)
            elif kind == "md" and isinstance(existing, MarkdownBlock):
                existing.set_markdown(content)
            else:
                for stale in self._blocks[i:]:
                    stale.deleteLater()
                del self._blocks[i:]
                block: QWidget = CodeBlock(lang, content) if kind == "code" else MarkdownBlock(content)
                self._blocks.append(block)
                self._layout.addWidget(block)
        for stale in self._blocks[len(parts):]:
            stale.deleteLater()
        del self._blocks[len(parts):]


TOOL_MARK = "⚙"  # DejaVu Sans has it; colour emoji such as 🔧 are missing from many Linux desktops


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def tool_call_text(tool: str, arguments: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={_short(v)}" for k, v in arguments.items())
    return f"{TOOL_MARK} {tool}({_short(args, 140) if args else ''})"


def decision_text(decision: str, ok: bool, summary: str) -> str:
    """A ToolResult's decision in words: allowed:<how> | denied:<how> | rejected | dry_run | error."""
    verdict, _, how = decision.partition(":")
    if verdict == "allowed":
        said = {"pure": "ran (needs no permission)", "once": "allowed once", "session": "allowed for this session",
                "always": "allowed (stored grant)", "preset": "allowed (granted at start)"}.get(how, f"allowed ({how})")
        return said if ok else f"{said}, failed: {_short(summary.removeprefix('error: '), 100)}"
    if verdict == "denied":
        return {"denied": "denied", "denied_earlier": "denied (earlier in this session)",
                "no_one_to_ask": "denied (no one to ask)"}.get(how, f"denied ({how})")
    if verdict == "rejected":
        return f"rejected: {_short(summary.removeprefix('error: '), 100)}"
    return f"{decision}: {_short(summary, 100)}" if summary else decision


def stored_citations(stored: Any) -> list[Citation]:
    """The Citations kept with a stored tool call (ToolOutcome.as_dict), skipping any that do not read as one."""
    out = []
    for item in stored if isinstance(stored, list) else []:
        try:
            out.append(Citation(str(item["path"]), int(item["start_line"]), int(item["end_line"]), str(item["label"]),
                                int(item["page"]) if item.get("page") else None))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def sources_html(citations: Sequence[Any]) -> str:
    """"Sources: a · b" with one link per citation; a link's target is its index, never a path, and its text is
    escaped (a file's name is the user's, not markup)."""
    color = theme.current().accent  # set inline: a rich-text label keeps the link colour it was first drawn with
    links = [f'<a href="cite:{i}" style="color: {color};">{html.escape(c.label)}</a>' for i, c in enumerate(citations)]
    return "Sources: " + " · ".join(links)


class MessageWidget(QFrame):
    """One turn of the conversation. role: user | assistant | error."""

    edit_requested = Signal(object)
    regenerate_requested = Signal(object)
    citation_activated = Signal(object)  # a Citation from this answer's tool results was clicked

    def __init__(self, role: str, text: str = "", *, message_id: int | None = None, model: str | None = None,
                 status: str = "complete", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("message")
        self.setProperty("role", role)
        self.role, self.message_id, self.status = role, message_id, status
        self.route: Any = None
        self.done: Any = None
        self._pending = text
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        head = QHBoxLayout()
        who = QLabel({"user": "You", "assistant": "EdgeMind", "error": "Error"}.get(role, role))
        who.setObjectName("who")
        # a long badge ends in "…" (whole in its tooltip), never widens the message past the view
        self.badge = ElidedLabel(model or "")
        self.badge.setObjectName("badge")
        head.addWidget(who)
        head.addWidget(self.badge, 1)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the whole message")
        self.copy_button.clicked.connect(self._copy)
        head.addWidget(self.copy_button)
        self.edit_button: QToolButton | None = None
        self.regenerate_button: QToolButton | None = None
        if role == "user":
            self.edit_button = QToolButton()
            self.edit_button.setText("Edit")
            self.edit_button.setToolTip("Edit this message and resend it (later turns are replaced)")
            self.edit_button.clicked.connect(lambda: self.edit_requested.emit(self))
            head.addWidget(self.edit_button)
        elif role == "assistant":
            self.regenerate_button = QToolButton()
            self.regenerate_button.setText("Regenerate")
            self.regenerate_button.setToolTip("Answer again, without the answer cache")
            self.regenerate_button.clicked.connect(lambda: self.regenerate_requested.emit(self))
            head.addWidget(self.regenerate_button)
        layout.addLayout(head)
        self.tool_lines: dict[tuple[int, str], QLabel] = {}
        self.tools_layout = QVBoxLayout()
        self.tools_layout.setSpacing(2)
        layout.addLayout(self.tools_layout)
        if role == "error":
            self.body = RichText(text)
            for label in self.body.findChildren(QLabel):
                label.setObjectName("errorText")
        else:
            self.body = RichText(text)
        layout.addWidget(self.body)
        self.citations: list[Any] = []
        self.sources_label = QLabel()
        self.sources_label.setObjectName("sources")
        self.sources_label.setTextFormat(Qt.TextFormat.RichText)
        self.sources_label.setWordWrap(True)
        self.sources_label.setOpenExternalLinks(False)  # a click is ours to check (granted folders), not Qt's
        self.sources_label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                                   | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.sources_label.linkActivated.connect(self._cite)
        self.sources_label.hide()
        layout.addWidget(self.sources_label)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RENDER_INTERVAL_MS)
        self._timer.timeout.connect(self._render)
        if status == "cancelled":
            self.badge.setText(((model or "") + " · stopped").strip(" ·"))
        self.set_actions_enabled(message_id is not None)

    @property
    def text(self) -> str:
        return self._pending

    def append(self, piece: str) -> None:
        self._pending += piece
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        self._timer.stop()
        self._render()

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.body.text)

    def _render(self) -> None:
        if self.body.text != self._pending:
            self.body.set_text(self._pending)

    def set_actions_enabled(self, enabled: bool) -> None:
        for button in (self.edit_button, self.regenerate_button):
            if button is not None:
                button.setEnabled(enabled)

    def set_route(self, route: Any) -> None:
        self.route = route
        self.badge.setText(f"{route.intent} · {route.model}" if route.model else route.intent)

    def set_done(self, done: Any) -> None:
        self.done = done
        self.status = done.finish_reason
        self.flush()
        parts = [self.route.intent if self.route else None, self.route.model if self.route else None,
                 "cache " + done.cache if done.cache != "miss" else "no cache",
                 f"{done.metrics.tok_s:.1f} tok/s" if done.cache == "miss" and done.metrics.tok_s else None,
                 "stopped" if done.finish_reason == "cancelled" else None,
                 "refused" if done.refused else None]
        self.badge.setText(" · ".join(p for p in parts if p))

    def badge_text(self) -> str:
        return self.badge.text()

    # ---- tool calls made for this answer (ToolCall / ToolResult events) -----------------------------------------
    def add_tool_call(self, event: Any) -> None:
        self._tool_line(event.step, event.tool, event.arguments)

    def _tool_line(self, step: int, tool: str, arguments: dict[str, Any]) -> QLabel:
        line = QLabel(tool_call_text(tool, arguments) + " …")
        line.setObjectName("toolLine")
        line.setTextFormat(Qt.TextFormat.PlainText)  # tool names and arguments come from model output
        line.setWordWrap(True)
        line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        line.setToolTip("<pre>" + html.escape(json.dumps(arguments, ensure_ascii=False, indent=1,
                                                         default=str)[:3000]) + "</pre>")
        self.tool_lines[(step, tool)] = line
        self.tools_layout.addWidget(line)
        return line

    def set_tool_result(self, event: Any) -> None:
        line = self.tool_lines.get((event.step, event.tool)) or self._tool_line(event.step, event.tool, {})
        self._finish_tool_line(line, event.decision, event.ok, event.summary)
        if event.ok and event.sources:
            self.add_sources(event.sources)

    # ---- sources: links from the tool results, never from the answer's text -----------------------------------
    def add_sources(self, citations: Sequence[Any]) -> None:
        """Show these citations as links under the answer (once each, by label, in the order found)."""
        known = {c.label for c in self.citations}
        for c in citations:
            if c.label not in known:
                known.add(c.label)
                self.citations.append(c)
        if self.citations:
            self.sources_label.setText(sources_html(self.citations))
            self.sources_label.show()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.citations:  # the theme changed: links in its colour
            self.sources_label.setText(sources_html(self.citations))

    def _cite(self, href: str) -> None:
        kind, _, index = href.partition(":")
        if kind == "cite" and index.isdigit() and int(index) < len(self.citations):
            self.citation_activated.emit(self.citations[int(index)])

    def source_labels(self) -> list[str]:
        return [c.label for c in self.citations]

    def show_stored_tool_calls(self, calls: Sequence[dict[str, Any]]) -> None:
        """A reopened conversation shows what ran for each answer, as it looked while it streamed."""
        for step, call in enumerate(calls, 1):
            arguments = call.get("arguments")
            line = self._tool_line(step, str(call.get("tool", "?")), arguments if isinstance(arguments, dict) else {})
            self._finish_tool_line(line, str(call.get("decision", "")), bool(call.get("ok")),
                                   str(call.get("result_summary", "")))
            self.add_sources(stored_citations(call.get("sources")))

    def _finish_tool_line(self, line: QLabel, decision: str, ok: bool, summary: str) -> None:
        line.setText(line.text().removesuffix(" …") + " — " + decision_text(decision, ok, summary))
        line.setProperty("verdict", "denied" if decision.startswith(("denied", "rejected")) or not ok
                         else "allowed")
        line.style().unpolish(line)
        line.style().polish(line)

    def tool_texts(self) -> list[str]:
        return [self.tool_lines[k].text() for k in sorted(self.tool_lines)]


def error_widget(message: str) -> MessageWidget:
    return MessageWidget("error", " ".join(message.split()))
