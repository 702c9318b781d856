"""The desktop app stops the MCP servers its tools started: when the MCP configuration changes (the new
configuration is opened instead) and when the app quits. Checked on the real server processes' ids."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from edgemind.app.context import AppContext
from edgemind.core.mcp.definitions import CACHE_FILE
from edgemind.core.settings import Settings
from tests.support.mcp_peers import echo_tool, scripted


def server_pids(spec: Path) -> list[int]:
    """Our running child processes that serve `spec` (the scripted server takes it as its first argument)."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if str(spec) in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                out.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return out


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_app_stops_its_mcp_servers_when_their_configuration_changes_and_when_it_quits(
        qtbot, settings: Settings, tmp_path: Path) -> None:
    config = scripted("clock", tmp_path, {"tools": [echo_tool("get_time", "Get the current time")]})
    spec = tmp_path / "clock.json"
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (settings.home / "mcp.json").write_text(json.dumps({"mcpServers": {
        "clock": {"command": config.command, "args": list(config.args)}}}))
    ctx = AppContext(settings)
    try:
        ctx.start_engine()  # then its tools list the never-listed server, which keeps running for the session's calls
        qtbot.waitUntil(lambda: ctx.engine is not None or ctx.engine_error is not None, timeout=120_000)
        assert ctx.engine is not None, ctx.engine_error
        qtbot.waitUntil(lambda: ctx.tool_runner is not None and "mcp__clock__get_time" in ctx.tool_runner.registry,
                        timeout=30_000)
        first = server_pids(spec)
        assert len(first) == 1

        (settings.home / CACHE_FILE).unlink()  # so the new runner lists the server again: a second process
        old = ctx.tool_runner
        ctx.hooks.mcp_servers_did_change.emit()
        qtbot.waitUntil(lambda: ctx.tool_runner is not None and ctx.tool_runner is not old, timeout=30_000)
        qtbot.waitUntil(lambda: not alive(first[0]), timeout=15_000)
        second = server_pids(spec)
        assert len(second) == 1 and second != first
    finally:
        ctx.shutdown()
    assert not alive(second[0])


@pytest.mark.slow  # ~30 s: it waits out the silent server's start timeout
def test_a_server_that_never_answers_does_not_hold_the_engines_start(qtbot, settings: Settings, tmp_path: Path) -> None:
    """A never-listed server is started to list its tools after the engine is up: one that never answers costs its
    tools (after the 30 s start timeout), never the app's first answer."""
    config = scripted("mute", tmp_path, {"mode": "silent"})
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (settings.home / "mcp.json").write_text(json.dumps({"mcpServers": {
        "mute": {"command": config.command, "args": list(config.args)}}}))
    ctx = AppContext(settings)
    try:
        ctx.start_engine()
        qtbot.waitUntil(lambda: ctx.engine is not None or ctx.engine_error is not None, timeout=120_000)
        assert ctx.engine is not None, ctx.engine_error
        first = ctx.tool_runner
        assert first is not None and "calculator" in first.registry
        # the runner the engine started with never tried the server (a try would have waited for its timeout)
        assert any("'mute': its tools are not known yet" in p for p in first.registry.problems), first.registry.problems
        # the listing runs after the start, in the background, and ends in a problem line, not a failure
        qtbot.waitUntil(lambda: ctx.tool_runner is not None and ctx.tool_runner is not first, timeout=90_000)
        assert any("mute" in p and "not known yet" not in p for p in ctx.tool_runner.registry.problems)
    finally:
        ctx.shutdown()
