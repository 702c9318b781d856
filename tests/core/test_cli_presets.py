"""`--preset NAME` on `edgemind ask` and `edgemind chat`, the `edgemind presets` command, and `edgemind quick`
without a display: the real command in a subprocess, checked against the data folder it wrote."""

from __future__ import annotations

import json

import pytest

from edgemind.core.engine import AuditTrail, ChatSettings, Conversations
from edgemind.core.settings import Settings
from edgemind.core.storage.audit import digest
from tests.conftest import TINY
from tests.core.test_cli import assert_one_line_error, edgemind

PIRATE = "You are a pirate. Begin every answer with ARR."


def _last_route(settings: Settings) -> dict[str, object]:
    return AuditTrail.open(settings).entries(kind="route", newest_first=True)[0].detail


def test_an_unknown_preset_is_bad_input_in_one_line(cli_env: dict[str, str]) -> None:
    assert_one_line_error(edgemind(cli_env, "ask", "hi", "--preset", "nope"), code=2,
                          says="no preset 'nope'; presets: none saved yet")
    assert_one_line_error(edgemind(cli_env, "presets", "save", "hot", "--temperature", "3"), code=2,
                          says="3.0 must be between 0 and 2")
    assert_one_line_error(edgemind(cli_env, "presets", "delete", "nope"), code=2, says="no preset 'nope'")


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it
def test_ask_with_a_preset_tells_the_model_its_system_prompt_and_the_command_line_wins(
        cli_env: dict[str, str], settings: Settings) -> None:
    saved = edgemind(cli_env, "presets", "save", "Pirate", "--temperature", "0.25", "--system", PIRATE,
                     "--model", TINY, "--json")
    assert saved.returncode == 0, saved.stderr
    assert json.loads(saved.stdout) == {"name": "Pirate", "model": TINY, "temperature": 0.25,
                                        "system_prompt": PIRATE, "tools": True}
    listed = edgemind(cli_env, "presets", "list", "--json")
    assert [p["name"] for p in json.loads(listed.stdout)] == ["Pirate"]
    asked = edgemind(cli_env, "ask", "Name a colour.", "--preset", "Pirate", "--max-tokens", "4", "--json")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["model"] == TINY
    route = _last_route(settings)
    assert route["system_sha"] == digest(PIRATE) and route["temperature"] == 0.25
    asked = edgemind(cli_env, "ask", "Name a colour.", "--preset", "Pirate", "--temperature", "0",
                     "--max-tokens", "4", "--no-cache", "--json")
    assert asked.returncode == 0, asked.stderr
    route = _last_route(settings)
    assert route["temperature"] == 0.0 and route["system_sha"] == digest(PIRATE)
    assert edgemind(cli_env, "presets", "delete", "Pirate").returncode == 0
    assert json.loads(edgemind(cli_env, "presets", "list", "--json").stdout) == []


def test_chat_with_a_preset_keeps_it_with_the_new_conversation(cli_env: dict[str, str], settings: Settings) -> None:
    assert edgemind(cli_env, "presets", "save", "Calm", "--temperature", "0.1", "--no-tools").returncode == 0
    proc = edgemind(cli_env, "chat", "--preset", "Calm", input="Name a colour.\n/quit\n")
    assert proc.returncode == 0, proc.stderr
    conversations = Conversations.open(settings)
    [conversation] = conversations.list()
    assert conversations.chat_settings(conversation.id) == ChatSettings(None, 0.1, None, tools=False)
    assert _last_route(settings)["temperature"] == 0.1


def test_quick_without_a_display_says_so_in_one_line(cli_env: dict[str, str]) -> None:
    env = {k: v for k, v in cli_env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = edgemind(env, "quick", "What is 2 + 2?")
    assert_one_line_error(proc, code=1, says="no display here: `edgemind quick` opens a window on the desktop")
