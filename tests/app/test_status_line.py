"""The main window's status bar tells what the engine is doing: starting, ready, or generating an answer."""

from __future__ import annotations

LONG = 120_000


def test_the_status_bar_shows_generation_while_an_answer_streams_then_ready(qtbot, gui) -> None:
    chat, status = gui.window.chat, gui.window.engine_status
    assert status.text().startswith("Ready")
    events: list = []
    chat.answer_did_finish.connect(events.append)
    seen: list[str] = []
    chat.ask("Write three sentences about the moon.")
    answer = chat.messages[-1]

    def streaming() -> bool:
        seen.append(status.text())
        return len(answer.text) > 20 or bool(events)

    qtbot.waitUntil(streaming, timeout=LONG)
    while_streaming = status.text()
    qtbot.waitUntil(lambda: bool(events) and not chat.is_answering(), timeout=LONG)
    assert events[0].type == "done", events[0]
    assert "Generating" in while_streaming and "tokens" in while_streaming, while_streaming
    assert not any(text.startswith("Ready") for text in seen[1:]), seen
    done = status.text()
    assert done.startswith("Ready") and f"{events[0].metrics.tokens} tokens" in done, done
