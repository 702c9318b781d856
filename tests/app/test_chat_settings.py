"""The chat window's per-chat settings and presets over a real engine (tiny model), on Qt's offscreen platform:
what the panel sets reaches the backend (checked in the engine's audit log), stays with the conversation, and a
removed model falls back visibly."""

from __future__ import annotations

from PySide6.QtCore import Qt

from edgemind.app import theme
from edgemind.app.chat_settings_dialog import AUTO_TEMPERATURE
from edgemind.core.engine import AskOptions, ChatSettings
from edgemind.core.storage.audit import digest
from tests.conftest import TINY

LONG = 120_000
PIRATE = "You are a pirate. Begin every answer with ARR."


def _ask(qtbot, chat, prompt: str) -> object:  # type: ignore[no-untyped-def]
    events: list = []
    chat.answer_did_finish.connect(events.append)
    chat.ask(prompt)
    qtbot.waitUntil(lambda: bool(events) and not chat.is_answering(), timeout=LONG)
    chat.answer_did_finish.disconnect(events.append)
    assert events[0].type == "done", events[0]
    return events[0]


def _route(gui, conversation_id: str) -> dict:  # type: ignore[no-untyped-def]
    return gui.ctx.engine.audit_log.entries(kind="route", conversation_id=conversation_id, newest_first=True)[0].detail


def test_the_panel_sets_a_chats_system_prompt_and_temperature_and_they_reach_the_backend(qtbot, gui) -> None:
    chat = gui.window.chat
    dialog = chat.open_chat_settings()
    assert dialog.isVisible() and dialog.temperature.text() == AUTO_TEMPERATURE  # a new chat starts from defaults
    dialog.system_prompt.setPlainText(PIRATE)
    dialog.temperature.setValue(0.0)
    assert dialog.temperature.text() != AUTO_TEMPERATURE  # 0 is a temperature, not "unset"
    dialog.tools.setChecked(False)
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    assert chat.current_settings() == ChatSettings(None, 0.0, PIRATE, tools=False)
    options = chat.ask_options("c")
    assert (options.temperature, options.system_prompt, options.tools) == (0.0, PIRATE, None)
    done = _ask(qtbot, chat, "Name a colour.")
    conversation = done.conversation_id  # type: ignore[attr-defined]
    told = _route(gui, conversation)
    assert told["system_sha"] == digest(PIRATE) and told["temperature"] == 0.0
    assert gui.ctx.engine.conversations.chat_settings(conversation) == ChatSettings(None, 0.0, PIRATE, tools=False)

    chat.new_chat()  # another chat starts from the defaults: the router's system prompt and temperature
    assert chat.current_settings() == ChatSettings()
    plain = _ask(qtbot, chat, "Name a colour.").conversation_id  # type: ignore[attr-defined]
    assert _route(gui, plain)["system_sha"] != digest(PIRATE)

    chat.open_conversation(conversation)  # reopened, the chat has its settings back
    qtbot.waitUntil(lambda: chat.conversation_id == conversation, timeout=10_000)
    assert chat.current_settings() == ChatSettings(None, 0.0, PIRATE, tools=False)
    assert chat.settings_button.text() == "Chat settings (custom)…"


def test_presets_are_saved_applied_to_a_new_chat_and_deleted(qtbot, gui) -> None:
    chat = gui.window.chat
    dialog = chat.open_chat_settings()
    dialog.set_value(ChatSettings(TINY, 0.35, PIRATE))
    changed: list = []
    dialog.presets_did_change.connect(changed.append)
    dialog.save_preset("Pirate")
    qtbot.waitUntil(lambda: bool(changed), timeout=10_000)
    assert dialog.preset_names() == ["Pirate"] and "Saved preset" in dialog.preset_status.text()
    dialog.reject()

    chat.new_chat()
    dialog = chat.open_chat_settings()
    qtbot.waitUntil(lambda: dialog.preset_names() == ["Pirate"], timeout=10_000)
    assert dialog.value() == ChatSettings(None, None, None, True)
    dialog.apply_preset("Pirate")
    dialog.accept()
    assert chat.current_settings() == ChatSettings(TINY, 0.35, PIRATE)
    assert chat.ask_options(None).temperature == 0.35 and chat.chosen_model() == TINY
    done = _ask(qtbot, chat, "Name a fruit.")
    assert _route(gui, done.conversation_id)["temperature"] == 0.35  # type: ignore[attr-defined]

    changed.clear()
    dialog.delete_preset("Pirate")
    qtbot.waitUntil(lambda: bool(changed), timeout=10_000)
    assert dialog.preset_names() == [] and gui.ctx.engine.presets.list() == []
    dialog.reject()


def test_a_bad_value_is_one_line_and_a_removed_model_falls_back_visibly(qtbot, gui) -> None:
    chat = gui.window.chat
    chat.apply_chat_settings(ChatSettings(temperature=5.0))
    assert chat.status.text() == "temperature 5.0 is out of range; give one from 0 to 2"
    assert chat.current_settings() == ChatSettings()  # nothing changed
    conversation = gui.ctx.engine.conversations.start(ChatSettings(model="removed-model", temperature=0.2))
    chat.open_conversation(conversation)
    qtbot.waitUntil(lambda: chat.conversation_id == conversation, timeout=10_000)
    assert chat.current_settings() == ChatSettings(None, 0.2)
    assert "model 'removed-model' is not installed any more: Auto chooses instead" in chat.status.text()
    dialog = chat.open_chat_settings()
    assert dialog.notes.isVisibleTo(dialog) and "removed-model" in dialog.notes.text()
    assert dialog.model.currentData() is None
    dialog.reject()


def test_the_settings_panel_in_light_and_dark(qtbot, qapp, gui, shot) -> None:
    chat = gui.window.chat
    dialog = chat.open_chat_settings()
    dialog.set_value(ChatSettings(TINY, 0.7, "Answer in one short paragraph. Explain terms a beginner would not "
                                  "know.", tools=True),
                     ("model 'old-model' is not installed any more: Auto chooses instead",))
    qtbot.waitUntil(lambda: dialog.model.count() > 1, timeout=10_000)
    was_dark = theme.current().dark
    try:
        for dark in (False, True):
            theme.apply(qapp, dark=dark)
            shot(dialog, f"chat-settings-{'dark' if dark else 'light'}")
    finally:
        theme.apply(qapp, dark=was_dark)
    dialog.reject()


def test_the_chats_requests_carry_its_settings_as_ask_options(gui) -> None:
    chat = gui.window.chat
    chat.apply_chat_settings(ChatSettings(temperature=0.0, tools=True))
    options = chat.ask_options("c1", use_cache=False)
    assert isinstance(options, AskOptions) and options.temperature == 0.0 and options.use_cache is False
    assert options.tools is gui.ctx.tool_runner and options.conversation_id == "c1"
