"""The chat window's content: conversation sidebar (new, rename, delete, full-text search), the streamed
conversation, the composer (Enter sends, Shift+Enter newline), Stop, Regenerate and Edit-and-resend."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from edgemind.core.engine import AskOptions, ChatSettings, chat_options
from edgemind.core.errors import EdgeMindError

from .chat_settings_dialog import ChatSettingsDialog
from .citations import CitationOpener
from .context import AppContext
from .docs_page import document_folders
from .elided_label import ElidedLabel
from .empty_state import EmptyState
from .message_view import MessageWidget, error_widget
from .onboarding import EmptyChat, Example
from .operations import Op

log = logging.getLogger(__name__)
AUTO = "Auto (router)"
NO_HISTORY = ("No conversations yet. Each chat is saved here, on this computer only; find any of them again "
              "with Ctrl+K.")
SURFACE = "chat"  # how the status line names this surface


class Composer(QPlainTextEdit):
    """Enter sends; Shift+Enter is a new line."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt name)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatPane(QWidget):
    answer_did_finish = Signal(object)  # the Done (or Error) event of an answer: tests and the self-test wait on it
    learning_did_change = Signal(str, bool)  # a conversation was kept out of learning (True) or let back in
    chat_settings_did_change = Signal(object)  # the chat's settings (a ChatSettings), once shown and stored

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.conversation_id: str | None = None
        self.current: Op | None = None
        self.answering: MessageWidget | None = None
        self.editing: MessageWidget | None = None
        self.messages: list[MessageWidget] = []
        # This chat's settings and the lines saying what fell back to its default when it was opened (a removed model)
        self.chat_settings = ChatSettings()
        self.chat_notes: tuple[str, ...] = ()
        self.settings_dialog: ChatSettingsDialog | None = None
        self._tokens = 0  # tokens of the answer in flight, for the status line
        self._outcome: Any = None  # the answer's Done or Error event, told to the status line when it ends
        # an answer's sources open at their line, only inside the Documents folders (checked in a worker)
        self.citation_opener = CitationOpener(ctx, lambda: document_folders(ctx), parent=self)
        self._search_timer = QTimer(self, singleShot=True, interval=200)
        self._search_timer.timeout.connect(self.refresh_sidebar)
        self._build()
        self.citation_opener.did_refuse.connect(self.status.setText)
        ctx.hooks.engine_did_start.connect(self._on_engine)
        ctx.hooks.engine_did_fail.connect(lambda why: self._show_error(f"EdgeMind could not start: {why}"))
        ctx.hooks.engine_did_fail.connect(lambda why: self.history_empty.show_empty(f"No history: {why}"))
        ctx.hooks.conversations_did_change.connect(self.refresh_sidebar)
        ctx.hooks.conversation_will_open.connect(self.open_conversation)

    # ---- layout -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 6, 0)
        self.new_button = QPushButton("New chat")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.new_chat)
        self.search = QLineEdit(placeholderText="Search conversations (Ctrl+K)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.conversation_list = QListWidget()
        self.conversation_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.conversation_list.customContextMenuRequested.connect(self._sidebar_menu)
        self.conversation_list.itemActivated.connect(self._open_item)
        self.conversation_list.itemClicked.connect(self._open_item)
        self.conversation_list.installEventFilter(self)
        self.conversation_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.conversation_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        side_layout.addWidget(self.new_button)
        side_layout.addWidget(self.search)
        self.history_empty = EmptyState(self.conversation_list, "Loading your conversations…")
        side_layout.addWidget(self.history_empty)

        main = QWidget()
        main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(6, 0, 0, 0)
        top = QHBoxLayout()
        self.title = ElidedLabel("New conversation", min_width=60)
        self.title.setObjectName("who")
        self.model_picker = QComboBox()
        self.model_picker.setToolTip("Which model answers: Auto lets the router choose by intent")
        self.model_picker.addItem(AUTO, None)
        self.model_picker.setMinimumWidth(220)
        self.model_picker.currentIndexChanged.connect(self._picker_changed)
        self.settings_button = QPushButton("Chat settings…")
        self.settings_button.setToolTip("This chat's model, temperature, system prompt and tools, and saved presets")
        self.settings_button.clicked.connect(self.open_chat_settings)
        top.addWidget(self.title, 1)
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_picker)
        top.addWidget(self.settings_button)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view = QWidget()
        self.view_layout = QVBoxLayout(self.view)
        self.view_layout.setSpacing(10)
        self.empty_chat = EmptyChat(self.ctx.settings.default_model, self.ctx.settings.home)
        self.empty_chat.example_chosen.connect(self.use_example)
        self.view_layout.addWidget(self.empty_chat)
        self.view_layout.addStretch()
        self.scroll_area.setWidget(self.view)
        self.scroll_area.verticalScrollBar().rangeChanged.connect(self._follow)
        self.edit_note = QLabel("Editing a message: Enter resends it and replaces the turns after it; Esc cancels.")
        self.edit_note.setObjectName("hint")
        self.edit_note.hide()
        bottom = QHBoxLayout()
        self.composer = Composer()
        self.composer.setPlaceholderText("Ask anything. Enter sends, Shift+Enter adds a line.")
        self.composer.setFixedHeight(72)
        self.composer.submitted.connect(self.submit)
        self.send_button = QPushButton("Send")
        self.send_button.clicked.connect(self.submit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the answer (Esc); what was written is kept")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        bottom.addWidget(self.composer, 1)
        bottom.addLayout(buttons)
        self.status = QLabel("Starting the engine…")
        self.status.setObjectName("hint")
        main_layout.addLayout(top)
        main_layout.addWidget(self.scroll_area, 1)
        main_layout.addWidget(self.edit_note)
        main_layout.addLayout(bottom)
        main_layout.addWidget(self.status)

        splitter = QSplitter()
        splitter.addWidget(side)
        splitter.addWidget(main)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([240, 760])
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)

    def _follow(self, _min: int, maximum: int) -> None:
        if self.answering is not None:
            self.scroll_area.verticalScrollBar().setValue(maximum)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.conversation_list and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            if event.key() == Qt.Key.Key_Delete and self.conversation_list.currentItem():
                self.delete_conversation(self.conversation_list.currentItem().data(Qt.ItemDataRole.UserRole))
                return True
            if event.key() == Qt.Key.Key_F2 and self.conversation_list.currentItem():
                self.rename_conversation(self.conversation_list.currentItem().data(Qt.ItemDataRole.UserRole))
                return True
        return super().eventFilter(watched, event)

    # ---- engine and models ------------------------------------------------------------------------------------
    def _on_engine(self, engine: Any) -> None:
        self.status.setText("Ready.")
        self.refresh_sidebar()
        self.ctx.ops.run("list models", lambda: [m.id for m in engine.models.list()], self._set_models)

    def _set_models(self, ids: list[str]) -> None:
        chosen = self.model_picker.currentData()
        self.model_picker.blockSignals(True)  # refilling the list is no choice of the user's
        self.model_picker.clear()
        self.model_picker.addItem(AUTO, None)
        for model_id in ids:
            self.model_picker.addItem(model_id, model_id)
        self.choose_model(chosen)
        self.model_picker.blockSignals(False)

    def chosen_model(self) -> str | None:
        return self.model_picker.currentData()

    def choose_model(self, model_id: str | None) -> None:
        index = self.model_picker.findData(model_id)
        if index < 0:
            self.model_picker.addItem(model_id or AUTO, model_id)
            index = self.model_picker.count() - 1
        self.model_picker.setCurrentIndex(index)

    # ---- this chat's settings ---------------------------------------------------------------------------------
    def current_settings(self) -> ChatSettings:
        """This chat's settings, the defaults when none were set."""
        return self.chat_settings

    def _picker_changed(self, _index: int) -> None:
        """The model picker is this chat's model setting, in the top bar for quick access."""
        chat = self.current_settings()
        if chat.model != self.model_picker.currentData():
            self.apply_chat_settings(replace(chat, model=self.model_picker.currentData()))

    def _show_settings(self, chat: ChatSettings, notes: tuple[str, ...] = ()) -> None:
        self.chat_settings, self.chat_notes = chat, notes
        self.model_picker.blockSignals(True)
        self.choose_model(chat.model)
        self.model_picker.blockSignals(False)
        self.settings_button.setText("Chat settings…" if chat == ChatSettings() else "Chat settings (custom)…")
        if notes:
            self.status.setText(" ".join(notes))

    def apply_chat_settings(self, chat: ChatSettings) -> None:
        """Use these settings for this chat's every request from now on, stored with the conversation when it
        has one (a new chat stores them with its first question). A bad value is one line, and nothing changes."""
        try:
            checked = chat.checked()
        except EdgeMindError as exc:
            self.status.setText(str(exc))
            return
        self._show_settings(checked)
        conversation_id = self.conversation_id
        if conversation_id is None:
            self.chat_settings_did_change.emit(checked)
            return
        self.ctx.ops.run("save chat settings",
                         lambda: self.ctx.engine_in_worker().conversations.set_chat_settings(conversation_id, checked),
                         lambda stored: self.chat_settings_did_change.emit(stored), self._show_error)

    def open_chat_settings(self) -> ChatSettingsDialog:
        """Show the Chat settings dialog over this chat (non-modal); Save applies what it holds."""
        if self.settings_dialog is None:
            self.settings_dialog = ChatSettingsDialog(self.ctx, self)
            self.settings_dialog.accepted.connect(lambda: self.apply_chat_settings(self.settings_dialog_value()))
        dialog = self.settings_dialog
        dialog.set_models([self.model_picker.itemData(i) for i in range(1, self.model_picker.count())
                           if self.model_picker.itemData(i)])
        dialog.set_value(self.current_settings(), self.chat_notes)
        dialog.preset_status.setText("")
        dialog.load_presets()
        dialog.show()
        dialog.raise_()
        return dialog

    def settings_dialog_value(self) -> ChatSettings:
        assert self.settings_dialog is not None
        return self.settings_dialog.value()

    def ask_options(self, conversation_id: str | None, *, use_cache: bool = True,
                    chat: ChatSettings | None = None) -> AskOptions:
        """The AskOptions of this chat's next request: its settings (`chat`, else the current ones) over the chat
        window's own (its tool capability, offered only while the chat's tools are on)."""
        chat = chat if chat is not None else self.current_settings()
        return chat_options(chat, AskOptions(conversation_id=conversation_id, use_cache=use_cache,
                                             tools=self.ctx.tool_runner,
                                             new_chat=chat if conversation_id is None else None))

    # ---- sidebar ----------------------------------------------------------------------------------------------
    def refresh_sidebar(self) -> None:
        query = self.search.text().strip()
        if query:
            self.ctx.ops.run("search", lambda: self.ctx.engine_in_worker().conversations.search(query, limit=50),
                             lambda hits: self._fill_hits(query, hits),
                             lambda exc: self._fill_hits(query, [], str(exc)))
        else:
            self.ctx.ops.run("list conversations", lambda: self.ctx.engine_in_worker().conversations.list(limit=200),
                             self._fill_conversations)

    def _fill_conversations(self, conversations: list[Any]) -> None:
        self.conversation_list.clear()
        if conversations:
            self.history_empty.show_view()
        else:
            self.history_empty.show_empty(NO_HISTORY)
        for c in conversations:
            item = QListWidgetItem(c.title or "Untitled")
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setToolTip(f"{c.message_count} messages, last {c.updated_at:%Y-%m-%d %H:%M}")
            self.conversation_list.addItem(item)
            if c.id == self.conversation_id:
                item.setSelected(True)

    def _fill_hits(self, query: str, hits: list[Any], error: str | None = None) -> None:
        if query != self.search.text().strip():
            return  # an older search answered late
        self.conversation_list.clear()
        self.history_empty.show_view()  # a search with no hit says so in the list itself
        seen: set[str] = set()
        for h in hits:
            if h.conversation_id in seen:
                continue
            seen.add(h.conversation_id)
            snippet = " ".join(h.snippet.split())
            item = QListWidgetItem(f"{h.title or 'Untitled'}\n  {snippet}")
            item.setData(Qt.ItemDataRole.UserRole, h.conversation_id)
            self.conversation_list.addItem(item)
        if not seen:
            item = QListWidgetItem(error or f"No conversation mentions “{query}”.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.conversation_list.addItem(item)

    def listed_conversations(self) -> list[str]:
        items = (self.conversation_list.item(i) for i in range(self.conversation_list.count()))
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.data(Qt.ItemDataRole.UserRole)]

    def _open_item(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        if conversation_id and conversation_id != self.conversation_id:
            self.open_conversation(conversation_id)

    def _sidebar_menu(self, pos: Any) -> None:
        item = self.conversation_list.itemAt(pos)
        conversation_id = item.data(Qt.ItemDataRole.UserRole) if item else None
        if not conversation_id:
            return
        at = self.conversation_list.mapToGlobal(pos)
        # whether it is kept out of learning is in the store: asked in a worker, then the menu shows
        self.ctx.ops.run("read conversation",
                         lambda: self.ctx.engine_in_worker().conversations.excluded_from_distillation(conversation_id),
                         lambda excluded: self._show_sidebar_menu(conversation_id, bool(excluded), at),
                         self._show_error)

    def _show_sidebar_menu(self, conversation_id: str, excluded: bool, at: Any) -> None:
        self.sidebar_menu(conversation_id, excluded).exec(at)

    def sidebar_menu(self, conversation_id: str, excluded: bool) -> QMenu:
        """A conversation's context menu; `excluded`: whether it is kept out of learning now (the check mark)."""
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename_conversation(conversation_id))
        menu.addAction("Delete…", lambda: self.delete_conversation(conversation_id))
        menu.addSeparator()
        learn = menu.addAction("Exclude from learning")
        learn.setCheckable(True)
        learn.setChecked(excluded)
        learn.setToolTip("Distillation never learns from this conversation's answers")
        learn.toggled.connect(lambda on: self.exclude_from_learning(conversation_id, on))
        return menu

    def exclude_from_learning(self, conversation_id: str, excluded: bool = True) -> None:
        """Keep a conversation out of distillation (or let it back in), as `edgemind distill exclude` does."""
        self.ctx.ops.run("exclude from learning",
                         lambda: self.ctx.engine_in_worker().conversations.exclude_from_distillation(
                             conversation_id, excluded),
                         lambda _r: self.learning_did_change.emit(conversation_id, excluded), self._show_error)

    def rename_conversation(self, conversation_id: str, title: str | None = None) -> None:
        if title is None:
            items = [self.conversation_list.item(i) for i in range(self.conversation_list.count())]
            old = next((i.text().split("\n")[0] for i in items
                        if i.data(Qt.ItemDataRole.UserRole) == conversation_id), "")
            title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=old)
            if not ok:
                return
        self.ctx.ops.run("rename", lambda: self.ctx.engine_in_worker().conversations.rename(conversation_id, title),
                         lambda _r: self._renamed(conversation_id, title), self._show_error)

    def _renamed(self, conversation_id: str, title: str) -> None:
        if conversation_id == self.conversation_id:
            self.title.setText(" ".join(title.split()))
        self.ctx.hooks.conversations_did_change.emit()

    def delete_conversation(self, conversation_id: str, confirm: bool = True) -> None:
        if confirm and QMessageBox.question(
                self, "Delete conversation", "Delete this conversation, its search index and its cached answers?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No) != QMessageBox.StandardButton.Yes:
            return
        self.ctx.ops.run("delete", lambda: self.ctx.engine_in_worker().conversations.delete(conversation_id),
                         lambda _r: self._deleted(conversation_id), self._show_error)

    def _deleted(self, conversation_id: str) -> None:
        if conversation_id == self.conversation_id:
            self.new_chat()
        self.ctx.hooks.conversations_did_change.emit()

    # ---- the conversation -------------------------------------------------------------------------------------
    def new_chat(self, settings: ChatSettings | None = None) -> None:
        """An empty chat with the default settings (or these, e.g. a preset's); they are stored with its first
        question."""
        self.stop()
        self.conversation_id = None
        self._clear_view()
        self.title.setText("New conversation")
        self._show_settings(settings if settings is not None else ChatSettings())
        self.composer.setFocus()

    def _clear_view(self) -> None:
        self.cancel_edit()
        for w in self.messages:
            w.deleteLater()
        self.messages = []
        self.empty_chat.show()

    def use_example(self, example: Example) -> None:
        """Put an example's prompt where it is asked (the composer, or the quick-ask box); the user sends it."""
        if example.where == "quick ask":
            self.ctx.hooks.quick_ask_will_open.emit(example.prompt)
            return
        self.composer.setPlainText(example.prompt)
        self.composer.moveCursor(QTextCursor.MoveOperation.End)
        self.composer.setFocus()

    def open_conversation(self, conversation_id: str) -> None:
        self.stop()

        def load() -> tuple[Any, list[Any], tuple[Any, tuple[str, ...]]]:
            engine = self.ctx.engine_in_worker()
            conversations = engine.conversations

            def has_model(model_id: str) -> bool:
                try:
                    engine.models.get(model_id)
                except EdgeMindError:
                    return False
                return True

            settings = conversations.chat_settings(conversation_id).usable(has_model)
            return conversations.get(conversation_id), conversations.messages(conversation_id), settings

        self.ctx.ops.run("open conversation", load, self._show_conversation, self._show_error)

    def _show_conversation(self, loaded: tuple[Any, list[Any], tuple[Any, tuple[str, ...]]]) -> None:
        info, messages, (chat, notes) = loaded
        self._clear_view()
        self.conversation_id = info.id
        self._show_settings(chat, notes)
        self.title.setText(info.title or "Untitled")
        for m in messages:
            if m.role in ("user", "assistant"):
                widget = MessageWidget(m.role, m.content, message_id=m.id, model=m.model, status=m.status)
                if m.tool_calls:
                    widget.show_stored_tool_calls(m.tool_calls)
                self._add(widget)
        self._sync_actions()

    def _add(self, widget: QWidget) -> None:
        self.empty_chat.hide()
        self.view_layout.insertWidget(self.view_layout.count() - 1, widget)
        if isinstance(widget, MessageWidget):
            self.messages.append(widget)
            widget.edit_requested.connect(self.start_edit)
            widget.regenerate_requested.connect(self.regenerate)
            widget.citation_activated.connect(lambda citation: self.citation_opener.open(citation))

    def _show_error(self, error: Any) -> None:
        """Errors belong in the conversation, where the user is looking, never in a crash."""
        self._add(error_widget(str(error) or error.__class__.__name__))

    def _sync_actions(self) -> None:
        """Regenerate only on the last answer; Edit on any question with a stored id; nothing while answering."""
        busy = self.current is not None
        answers = [w for w in self.messages if w.role == "assistant"]
        for w in self.messages:
            if w.role == "user":
                w.set_actions_enabled(not busy and w.message_id is not None)
            elif w.role == "assistant":
                w.set_actions_enabled(not busy and w is answers[-1] and w.message_id is not None)

    # ---- asking -----------------------------------------------------------------------------------------------
    def submit(self) -> None:
        text = self.composer.toPlainText().strip()
        if not text or self.current is not None:
            return
        self.composer.clear()
        if self.editing is not None:
            edited, self.editing = self.editing, None
            self.edit_note.hide()
            self._resend_from(edited, text, use_cache=True)
        else:
            self.ask(text)

    def ask(self, prompt: str, *, use_cache: bool = True, truncate_from: int | None = None) -> None:
        if self.ctx.paused:
            self._show_error(self.ctx.paused_message())
            return
        user = MessageWidget("user", prompt)
        answer = MessageWidget("assistant")
        self._add(user)
        self._add(answer)
        self.answering = answer
        conversation_id = self.conversation_id
        chat = self.current_settings()

        def events(cancel: Any) -> Any:
            engine = self.ctx.engine_in_worker()
            if truncate_from is not None and conversation_id:
                engine.conversations.truncate(conversation_id, truncate_from)
            # the chat window is where the user can be asked: its requests carry the app's tool capability (while
            # the chat's tools are on); a new chat is stored with its settings, so they apply when it is reopened
            yield from engine.stream(prompt, self.ask_options(conversation_id, use_cache=use_cache, chat=chat),
                                     cancel)

        self._tokens, self._outcome = 0, None
        self.current = self.ctx.ops.stream("answer", events, lambda e: self._on_event(answer, e),
                                           lambda _r: self._finished(answer, None),
                                           lambda exc: self._finished(answer, exc))
        self.ctx.hooks.answer_did_progress.emit(SURFACE, 0)
        self.stop_button.setEnabled(True)
        self.send_button.setEnabled(False)
        self.status.setText("Answering… (Esc stops)")
        self._sync_actions()

    def _on_event(self, answer: MessageWidget, event: Any) -> None:
        kind = event.type
        if kind == "route":
            answer.set_route(event)
        elif kind == "token":
            answer.append(event.text)
            self._tokens += 1
            self.ctx.hooks.answer_did_progress.emit(SURFACE, self._tokens)
        elif kind == "tool_call":
            answer.add_tool_call(event)
        elif kind == "tool_result":
            answer.set_tool_result(event)
            if event.decision == "allowed:always":
                self.ctx.hooks.grants_did_change.emit()  # the broker stored the grant before this event came
        elif kind == "done":
            answer.set_done(event)
            self._outcome = event
            new = self.conversation_id is None
            self.conversation_id = event.conversation_id
            if new and self.conversation_id:
                self.title.setText(" ".join(self.messages[0].text.split())[:80] if self.messages else "")
            m = event.metrics
            self.status.setText("Stopped; the partial answer was kept." if event.finish_reason == "cancelled" else
                                f"{m.tokens} tokens, first token {m.ttft_ms:.0f} ms")
            self.answer_did_finish.emit(event)
        elif kind == "error":
            answer.flush()
            if not answer.text:
                answer.hide()
            self._show_error(event.message)
            self._outcome = event
            self.answer_did_finish.emit(event)

    def _finished(self, answer: MessageWidget, exc: Exception | None) -> None:
        answer.flush()
        self.current = None
        self.answering = None
        self.stop_button.setEnabled(False)
        self.send_button.setEnabled(True)
        if exc is not None:
            self.status.setText("The answer failed.")
            self._show_error(exc)
            self.answer_did_finish.emit(exc)
        self.ctx.hooks.answer_did_end.emit(SURFACE, exc if exc is not None else self._outcome)
        if self.conversation_id:
            self._load_ids()
            self.ctx.hooks.conversations_did_change.emit()
        self._sync_actions()

    def _load_ids(self) -> None:
        """Match the widgets to the stored messages' ids, which Edit and Regenerate need."""
        conversation_id = self.conversation_id
        if conversation_id is None:  # callers load ids only for a conversation on screen
            return

        def ids() -> list[tuple[int, str]]:
            return [(m.id, m.role) for m in self.ctx.engine_in_worker().conversations.messages(conversation_id)
                    if m.role in ("user", "assistant")]

        def assign(stored: list[tuple[int, str]]) -> None:
            if conversation_id != self.conversation_id:
                return
            shown = [w for w in self.messages if w.role in ("user", "assistant") and not w.isHidden()]
            if len(stored) == len(shown):
                for w, (message_id, role) in zip(shown, stored):
                    if w.role == role:
                        w.message_id = message_id
            self._sync_actions()

        self.ctx.ops.run("message ids", ids, assign)

    def stop(self) -> None:
        if self.current is not None:
            self.current.cancel()
        elif self.editing is not None:
            self.cancel_edit()

    def is_answering(self) -> bool:
        return self.current is not None

    # ---- regenerate and edit-and-resend -----------------------------------------------------------------------
    def regenerate(self, answer: MessageWidget) -> None:
        """Answer the last question again, bypassing the cache: its old answer is replaced."""
        index = self.messages.index(answer)
        question = next((w for w in reversed(self.messages[:index]) if w.role == "user"), None)
        if question is None or question.message_id is None or self.current is not None:
            return
        self._resend_from(question, question.text, use_cache=False)

    def start_edit(self, question: MessageWidget) -> None:
        if self.current is not None or question.message_id is None:
            return
        self.editing = question
        self.composer.setPlainText(question.text)
        self.composer.setFocus()
        self.edit_note.show()

    def cancel_edit(self) -> None:
        if self.editing is not None:
            self.editing = None
            self.composer.clear()
        self.edit_note.hide()

    def _resend_from(self, question: MessageWidget, prompt: str, *, use_cache: bool) -> None:
        index = self.messages.index(question)
        for w in self.messages[index:]:
            w.deleteLater()
        del self.messages[index:]
        self.ask(prompt, use_cache=use_cache, truncate_from=question.message_id)
