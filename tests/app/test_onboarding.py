"""First contact: a welcome shown once per data folder, example prompts per capability in an empty chat, and every
list saying when it is empty instead of showing a blank grid."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from edgemind.app import theme
from edgemind.app.audit_viewer import NO_MATCH, NO_ROWS
from edgemind.app.chat import NO_HISTORY, ChatPane
from edgemind.app.context import AppContext
from edgemind.app.grants_page import NO_GRANTS
from edgemind.app.onboarding import EXAMPLES, WELCOME_SEEN, ZWSP
from edgemind.app.quick_ask import QuickAsk
from edgemind.core.settings import Settings

LONG = 120_000


@pytest.fixture
def ctx(settings: Settings):  # type: ignore[no-untyped-def]
    """The app's context without starting the engine: the empty chat needs none."""
    context = AppContext(settings)
    yield context
    context.shutdown()


def test_the_welcome_says_what_runs_where_and_shows_once_per_data_folder(qtbot, qapp, ctx, settings, shot) -> None:
    chat = ChatPane(ctx)
    qtbot.addWidget(chat)
    chat.resize(1000, 700)
    chat.show()
    welcome = chat.empty_chat.welcome
    assert welcome.isVisibleTo(chat)
    text = welcome.body.text().replace(ZWSP, "")  # the path may wrap after a separator
    assert settings.default_model in text and str(settings.home) in text
    assert "Nothing leaves this machine" in text and "runs on this computer" in text
    was_dark = theme.current().dark
    try:
        for dark in (False, True):
            theme.apply(qapp, dark=dark)
            shot(chat, f"welcome-{'dark' if dark else 'light'}")
    finally:
        theme.apply(qapp, dark=was_dark)
    assert not (settings.home / WELCOME_SEEN).exists()
    qtbot.mouseClick(welcome.got_it, Qt.MouseButton.LeftButton)
    assert not welcome.isVisibleTo(chat) and (settings.home / WELCOME_SEEN).exists()
    again = ChatPane(ctx)  # the next start, over the same data folder
    qtbot.addWidget(again)
    assert not again.empty_chat.welcome.isVisibleTo(again) and again.empty_chat.examples.isVisibleTo(again)


def test_an_example_prompt_is_put_where_it_is_asked_never_sent(qtbot, ctx) -> None:
    chat, quick = ChatPane(ctx), QuickAsk(ctx)
    qtbot.addWidget(chat)
    qtbot.addWidget(quick)
    buttons = chat.empty_chat.examples.buttons
    assert set(buttons) == {"Ask", "Code", "Math", "Your documents", "Quick ask"}
    code = next(e for e in EXAMPLES if e.capability == "Code")
    qtbot.mouseClick(buttons["Code"], Qt.MouseButton.LeftButton)
    assert chat.composer.toPlainText() == code.prompt
    assert chat.messages == [] and not chat.is_answering()  # in the composer, for the user to edit and send
    quick_example = next(e for e in EXAMPLES if e.capability == "Quick ask")
    qtbot.mouseClick(buttons["Quick ask"], Qt.MouseButton.LeftButton)
    assert quick.isVisible() and quick.input.text() == quick_example.prompt and quick.current is None
    assert chat.composer.toPlainText() == code.prompt
    quick.hide()


def test_every_list_says_when_it_is_empty_and_the_examples_give_way_to_a_chat(qtbot, gui) -> None:
    window = gui.window
    chat, grants, audit = window.chat, window.settings_page.grants, window.audit_viewer
    qtbot.waitUntil(lambda: chat.history_empty.is_empty() and grants.loaded, timeout=10_000)
    assert chat.history_empty.message.text() == NO_HISTORY
    assert grants.empty.is_empty() and grants.empty.message.text() == NO_GRANTS
    loaded: list = []
    audit.rows_did_load.connect(loaded.append)
    window.tabs.setCurrentWidget(audit)
    qtbot.waitUntil(lambda: bool(loaded), timeout=10_000)
    assert audit.empty.is_empty() == (not audit.entries)
    if not audit.entries:
        assert audit.empty.message.text() == NO_ROWS
    loaded.clear()
    audit.set_filter(tool="no_such_tool")
    qtbot.waitUntil(lambda: bool(loaded), timeout=10_000)
    assert audit.empty.is_empty() and audit.empty.message.text() == NO_MATCH
    window.tabs.setCurrentWidget(chat)

    assert chat.empty_chat.isVisibleTo(chat)
    events: list = []
    chat.answer_did_finish.connect(events.append)
    chat.ask("Name one planet.")
    assert not chat.empty_chat.isVisibleTo(chat)
    qtbot.waitUntil(lambda: bool(events) and not chat.is_answering(), timeout=LONG)
    qtbot.waitUntil(lambda: not chat.history_empty.is_empty() and len(chat.listed_conversations()) == 1,
                    timeout=10_000)
    chat.new_chat()
    assert chat.empty_chat.isVisibleTo(chat) and chat.messages == []
