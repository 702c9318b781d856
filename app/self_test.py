"""`edgemind gui --self-test [--screenshot PNG]`: open every surface, send a prompt, and exit 0 only if each worked.

Prints one JSON object: each check with ok and what it saw. Screenshots: PNG for the chat window and PNG's stem with
-welcome, -review, -settings, -permission, -grants, -audit, -quick-ask, -bench for the other surfaces. The permission
request is answered Deny by the self-test itself, so nothing runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QWidget

from .bench_page import CHARTS_RENDERABLE

POLL_MS = 20  # how often a wait checks its condition
SHOTS = ("welcome", "chat", "review", "settings", "permission", "grants", "audit", "quick-ask", "bench")

PLANTED_BUG = '''def find_user(users, name):
    for i in range(len(users) + 1):
        if users[i]["name"] == name:
            return users[i]
    return None
'''


def wait_until(app: Any, done: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until done() or the timeout; the GUI stays live meanwhile.

    A nested QEventLoop woken by timers, not a processEvents() loop: the loop then runs in C++ and Python is called
    only every POLL_MS (a hot processEvents() loop was ~450 Qt calls a second, and PySide6 6.12.0 dropped a reference
    to None on each, which aborted the self-test with "none_dealloc" after ~7 minutes).
    """
    if done():
        return True
    loop = QEventLoop()
    failure: list[BaseException] = []

    def poll() -> None:
        try:
            if done():
                loop.quit()
        except Exception as exc:  # raised to the caller below, as the old loop did, instead of printed by Qt
            failure.append(exc)
            loop.quit()

    poller = QTimer(interval=POLL_MS)
    poller.timeout.connect(poll)
    deadline = QTimer(singleShot=True)
    deadline.timeout.connect(loop.quit)
    poller.start()
    deadline.start(max(0, int(timeout_s * 1000)))
    loop.exec()
    poller.stop()
    deadline.stop()
    if failure:
        raise failure[0]
    return done()


def save_shot(widget: QWidget, path: Path | None) -> str | None:
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(path))
    return str(path)


def run_self_test(app: Any, screenshot: Path | None, timeout_s: float = 300.0) -> int:
    checks: dict[str, dict[str, Any]] = {}
    shots = {name: (screenshot.with_name(f"{screenshot.stem}-{name}{screenshot.suffix}") if name != "chat"
                    else screenshot) if screenshot else None
             for name in SHOTS}
    window, chat = app.window, app.window.chat
    try:
        checks["window"] = {"ok": window.isVisible()}
        ready = wait_until(app, lambda: app.ctx.engine is not None or app.ctx.engine_error is not None, timeout_s)
        checks["engine"] = {"ok": ready and app.ctx.engine is not None, "error": app.ctx.engine_error}
        if not checks["engine"]["ok"]:
            raise RuntimeError("engine did not start")

        # the empty chat a newcomer sees: the welcome (until dismissed once) and the example prompts
        checks["welcome"] = {"ok": chat.empty_chat.isVisibleTo(window) and len(chat.empty_chat.examples.buttons) == 5,
                             "welcome_shown": chat.empty_chat.welcome.isVisibleTo(window)}
        save_shot(window, shots["welcome"])
        finished: list[Any] = []
        chat.answer_did_finish.connect(finished.append)
        app.ctx.watchdog.reset()
        chat.ask("In one short sentence: what is a laptop?")
        wait_until(app, lambda: bool(finished) and not chat.is_answering(), timeout_s)
        done = finished[0] if finished else None
        answer = chat.messages[-1].text if chat.messages else ""
        checks["chat"] = {"ok": getattr(done, "type", "") == "done" and bool(answer.strip()),
                          "finish_reason": getattr(done, "finish_reason", str(done)), "chars": len(answer),
                          "longest_stall_ms": round(app.ctx.watchdog.longest_ms, 1)}
        wait_until(app, lambda: bool(chat.listed_conversations()), 10)
        chat.search.setText("laptop")
        found = wait_until(app, lambda: chat.conversation_id in chat.listed_conversations()
                           and len(chat.listed_conversations()) >= 1, 10)
        checks["search"] = {"ok": found, "hits": len(chat.listed_conversations())}
        chat.search.clear()
        save_shot(window, shots["chat"])

        window.tabs.setCurrentWidget(window.review)
        results: list[Any] = []
        window.review.review_did_finish.connect(results.append)
        window.review.set_code(PLANTED_BUG, "users.py")
        window.review.review()
        wait_until(app, lambda: bool(results), timeout_s)
        result = results[0] if results else None
        checks["review"] = {"ok": hasattr(result, "findings"), "findings": len(getattr(result, "findings", ())),
                            "error": None if hasattr(result, "findings") else str(result)}
        save_shot(window, shots["review"])

        window.tabs.setCurrentWidget(window.settings_page)
        values = window.settings_page.values()
        wait_until(app, lambda: window.settings_page.models_table.rowCount() > 0, 20)
        checks["settings"] = {"ok": values["default_model"] == app.ctx.settings.default_model
                              and window.settings_page.models_table.rowCount() > 0,
                              "models": window.settings_page.models_table.rowCount()}
        save_shot(window, shots["settings"])
        checks["permission"] = _check_permission(app, shots["permission"], timeout_s)

        grants = window.settings_page.grants
        loaded: list[Any] = []
        grants.grants_did_load.connect(loaded.append)
        grants.refresh()
        wait_until(app, lambda: bool(loaded), 20)
        checks["grants"] = {"ok": bool(loaded) and isinstance(loaded[-1], list), "stored": len(grants.grants),
                            "error": None if loaded and isinstance(loaded[-1], list) else str(loaded[-1:])}
        save_shot(grants, shots["grants"])

        viewer = window.audit_viewer
        verified: list[Any] = []
        viewer.verify_did_finish.connect(verified.append)
        window.tabs.setCurrentWidget(viewer)  # showing it reads the log and verifies it
        wait_until(app, lambda: bool(verified), 30)
        result = verified[-1] if verified else None
        denied_shown = any(e.kind == "denied" and e.tool == "system_info" for e in viewer.entries)
        # a log tampered with before the self-test is the viewer working, not failing: reported, not a failure
        checks["audit"] = {"ok": hasattr(result, "ok") and denied_shown, "rows": len(viewer.entries),
                           "denial_shown": denied_shown, "verified": getattr(result, "ok", None),
                           "problem": getattr(result, "problem", str(result))}
        save_shot(window, shots["audit"])

        # The Benchmarks page is opened, not run: a quick bench takes ~2 minutes (tests/app/test_bench_page.py runs it)
        bench = window.bench_page
        window.tabs.setCurrentWidget(bench)
        wait_until(app, lambda: False, 0.3)  # the last report (if any) is read in a worker
        checks["bench"] = {"ok": bench.isVisible() and bench.run_button.isEnabled() and not bench.is_running(),
                           "last_report": bench.report is not None, "charts_renderable": CHARTS_RENDERABLE}
        save_shot(window, shots["bench"])
        window.tabs.setCurrentWidget(chat)

        quick: list[Any] = []
        app.quick_ask.answer_did_finish.connect(quick.append)
        app.quick_ask.popup()
        app.quick_ask.ask("What is 2 + 2?")
        wait_until(app, lambda: bool(quick) and app.quick_ask.current is None, timeout_s)
        checks["quick_ask"] = {"ok": app.quick_ask.isVisible() and getattr(quick[0] if quick else None, "type", "")
                               == "done" and bool(app.quick_ask.answer.text.strip())}
        save_shot(app.quick_ask, shots["quick-ask"])

        no_tray = "no system tray on this desktop: menu built, not shown"
        checks["tray"] = {"ok": app.tray.actions() == ["Quick ask", "Open EdgeMind", "Pause models", "Quit"],
                          "shown": app.tray.available,
                          "hotkey": app.tray.hotkey is not None, "hotkey_note": app.tray.hotkey_note,
                          "note": None if app.tray.available else no_tray}
    except Exception as exc:  # the report must come out whatever broke
        checks.setdefault("error", {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"})
    finally:
        ok = all(c.get("ok") for c in checks.values())
        report = {"ok": ok, "checks": checks, "screenshots": [str(p) for p in shots.values() if p]}
        sys.stdout.write(json.dumps(report, default=str) + "\n")
        sys.stdout.flush()
        app.close()
    return 0 if ok else 1


def _check_permission(app: Any, shot: Path | None, timeout_s: float) -> dict[str, Any]:
    """Ask the engine's tool runner (in a worker, as the tool loop does) to read system information: the broker
    must ask, the dialog must appear, and its Deny (clicked here) must reach the broker, so nothing runs."""
    seen: list[Any] = []

    def answer(dialog: Any) -> None:
        seen.append(dialog.request)
        QTimer.singleShot(300, lambda: (save_shot(dialog, shot), dialog.deny_button.click()))

    app.ctx.hooks.permission_will_ask.connect(answer)
    outcomes: list[Any] = []
    try:
        app.ctx.ops.run("self-test tool call",
                        lambda: app.ctx.tools_in_worker().run("system_info", {}),
                        outcomes.append, outcomes.append)
        wait_until(app, lambda: bool(outcomes), min(timeout_s, 60))
    finally:
        app.ctx.hooks.permission_will_ask.disconnect(answer)
    outcome = outcomes[0] if outcomes else None
    decision = getattr(outcome, "decision", str(outcome))
    return {"ok": len(seen) == 1 and seen[0].tool == "system_info" and decision == "denied:denied",
            "asked": [r.tool for r in seen], "scopes": list(seen[0].scopes) if seen else [], "decision": decision}
