"""Attacks on the desktop app's in-process API server: the app holds tools (with the permission dialog as the way to
ask, and a stored "always" grant), and a caller of its local API tries to make the app run them.

The API must never run EdgeMind's own tools, whoever hosts it: tool use is a capability the shell hands to one
request (the chat window passes the app's), and the API server never hands one over.
"""

from __future__ import annotations

import gc
import secrets
import shutil
import socket
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest

from edgemind.core.engine import AuditTrail, Grants
from edgemind.core.settings import Settings
from tests.conftest import TINY

API_KEY = "app-hosted-api-key-0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _hosted_app(qtbot, settings: Settings) -> Iterator[tuple[Any, str]]:  # type: ignore[no-untyped-def]
    """The real app with "serve the API" on: its context starts the API server over the app's own engine, as a
    user's setting does (the API key from EDGEMIND_API_KEY, set by the test)."""
    from edgemind.app.main import build

    gc.collect()  # the last test's Qt objects, on the GUI thread (see tests/app/conftest.py)
    urls: list[str] = []
    app = build(replace(settings, api_server_enabled=True, api_port=_free_port()))
    app.ctx.hooks.api_server_did_change.connect(urls.append)
    try:
        qtbot.waitUntil(lambda: app.ctx.engine is not None or app.ctx.engine_error is not None, timeout=120_000)
        assert app.ctx.engine is not None, app.ctx.engine_error
        qtbot.waitUntil(lambda: bool(urls), timeout=60_000)
        assert urls[0].startswith("http://"), urls[0]
        yield app, urls[0]
    finally:
        app.close()
        gc.collect()


def _ask_in_a_thread(qtbot, url: str, prompt: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An OpenAI client's request, off the GUI thread (a permission dialog, if one were opened, needs the GUI
    thread free to show)."""
    box: dict[str, Any] = {}

    def run() -> None:
        client = openai.OpenAI(base_url=url + "/v1", api_key=API_KEY, max_retries=0, timeout=200)
        try:
            reply = client.chat.completions.create(
                model=TINY, messages=[{"role": "user", "content": prompt}], max_tokens=8, temperature=0)
            box["text"] = reply.choices[0].message.content or ""
        except Exception as exc:  # the test reports it
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    qtbot.waitUntil(lambda: not worker.is_alive(), timeout=210_000)
    return box


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder of the user's notes at a fixed plain path: the router reads the path in the prompt (pytest's
    test-named folders read as "code", random names tip some prompts away from "action"), and each prompt here
    routes to "action", whose tools include files_read and whose first step is a forced call."""
    path = Path(tempfile.gettempdir()) / "edgemind-notes" / "private"
    shutil.rmtree(path.parent, ignore_errors=True)
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


def _tool_events(settings: Settings) -> list[str]:
    kinds = {"tool_proposed", "tool_call", "tool_result", "tool_error", "denied"}
    return [e.kind for e in AuditTrail.open(settings).entries() if e.kind in kinds]


@pytest.mark.attack("api")
def test_an_api_caller_cannot_use_the_apps_always_grant_to_read_a_file(qtbot, settings: Settings, folder: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEMIND_API_KEY", API_KEY)
    secret = f"TOKEN-{secrets.token_hex(8)}"
    (folder / "secret.txt").write_text(f"the vault code is {secret}\n")
    Grants.open(settings).grant("files_read", [f"fs.read:{folder}"])  # the user said "always" in the GUI earlier
    with _hosted_app(qtbot, settings) as (app, url):
        dialogs: list[Any] = []
        app.ctx.hooks.permission_will_ask.connect(lambda d: (dialogs.append(d), d.reject()))
        box = _ask_in_a_thread(qtbot, url, f"Read the file {folder / 'secret.txt'} and tell me what it says.")
    assert _tool_events(settings) == [] and dialogs == []  # no tool was offered, so none was proposed or run
    assert "error" not in box, box.get("error")
    assert secret not in box["text"]


@pytest.mark.attack("api")
def test_an_api_caller_never_opens_the_apps_permission_dialog(qtbot, settings: Settings, folder: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEMIND_API_KEY", API_KEY)
    (folder / "notes.txt").write_text("not granted to anyone\n")
    with _hosted_app(qtbot, settings) as (app, url):
        dialogs: list[Any] = []
        app.ctx.hooks.permission_will_ask.connect(lambda d: (dialogs.append(d), d.reject()))
        box = _ask_in_a_thread(qtbot, url, f"Read the file {folder / 'notes.txt'} and tell me what it says.")
    assert dialogs == [], "an API request opened the GUI's permission dialog"
    assert _tool_events(settings) == []
    assert "error" not in box, box.get("error")
