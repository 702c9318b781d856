"""MCP tools as a user meets them: `edgemind tools list|run` and `edgemind ask` with the real model against the real
mcp-server-time, the audit log verifying afterwards; the API server never runs one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from edgemind.core.engine.facade import Engine
from edgemind.core.mcp.config import load_servers
from edgemind.core.mcp.tools import McpToolSource
from edgemind.core.settings import load_settings
from tests.conftest import DEFAULT, TINY
from tests.support.api_server import ApiServer
from tests.support.mcp_peers import BIN, SCRIPTED, TIME, echo_tool, mcp_json, requests


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgemind.core.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture
def time_env(cli_env: dict[str, str]) -> dict[str, str]:
    home = Path(cli_env["EDGEMIND_HOME"])
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "mcp.json").write_text(mcp_json(TIME))
    return cli_env


def test_tools_list_shows_each_mcp_tool_with_its_server(time_env: dict[str, str]) -> None:
    data = json.loads(run(["tools", "list", "--json"], time_env).stdout)
    tools = {t["name"]: t for t in data["tools"]}
    assert tools["mcp__time__get_current_time"]["server"] == "time" and tools["calculator"]["server"] is None
    assert tools["mcp__time__get_current_time"]["scopes"] == ["mcp:time/get_current_time"]
    text = run(["tools", "list"], time_env).stdout
    line = next(x for x in text.splitlines() if x.startswith("mcp__time__convert_time"))
    assert line.split()[1] == "time"


def test_tools_run_needs_the_grant_and_the_audit_log_verifies(time_env: dict[str, str]) -> None:
    args = ["tools", "run", "mcp__time__get_current_time", "--args", '{"timezone": "Asia/Tokyo"}']
    denied = run(args, time_env)
    lines = [x for x in denied.stderr.splitlines() if x]
    assert denied.returncode == 1 and len(lines) == 1 and "permission denied" in lines[0], denied.stderr
    done = run([*args, "--grant", "mcp:time", "--json"], time_env)
    out = json.loads(done.stdout)
    assert done.returncode == 0 and out["decision"] == "allowed:preset", done.stderr
    assert json.loads(out["content"])["timezone"] == "Asia/Tokyo"
    assert run(["audit", "verify"], time_env).returncode == 0


def test_a_damaged_mcp_config_is_one_warning_and_our_tools_still_work(cli_env: dict[str, str]) -> None:
    home = Path(cli_env["EDGEMIND_HOME"])
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "mcp.json").write_text("{not json")
    done = run(["tools", "list", "--json"], cli_env)
    data = json.loads(done.stdout)
    assert done.returncode == 0 and "calculator" in {t["name"] for t in data["tools"]}
    assert any("mcp.json" in p for p in data["problems"])


@pytest.mark.slow  # the real 0.5B model does not always repeat the time the tool returned: it failed 1 of 4 fresh-clone runs
def test_ask_uses_the_time_tool_and_answers_with_the_hour_it_returned(time_env: dict[str, str],
                                                                      default_model_installed: Path) -> None:
    env = {**time_env, "EDGEMIND_DEFAULT_MODEL": DEFAULT, "EDGEMIND_MODELS_DIR": str(default_model_installed.parent),
           "EDGEMIND_CACHE": "0"}
    # no `tools list` first: a server whose tools were never listed is listed when the session opens
    assert not (Path(env["EDGEMIND_HOME"]) / "mcp_tools.json").exists()
    done = run(["ask", "What time is it now in Tokyo? Use the time tool.", "--grant", "mcp:time",
                "--max-tokens", "60", "--json"], env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    calls = [c for c in out["tool_calls"] if c["tool"] == "mcp__time__get_current_time" and c["ok"]]
    assert calls and calls[0]["decision"] == "allowed:preset" and calls[0]["arguments"] == {"timezone": "Asia/Tokyo"}
    returned = re.search(r"T(\d\d):(\d\d)", calls[0]["result_summary"])
    assert returned, calls[0]
    hour, minute = returned.groups()
    # the model must carry the tool's time into its answer, on a 24- or 12-hour clock (the UTC hour, or a made-up
    # one, fails)
    hours = {int(hour), int(hour) % 12 or 12}
    assert any(re.search(rf"(?<!\d)0?{h}:{minute}(?!\d)", out["text"]) for h in hours), (out["text"], hour, minute)
    assert run(["audit", "verify"], env).returncode == 0


# ---- saving a server lists its tools -------------------------------------------------------------------------------

def test_mcp_add_lists_the_new_servers_tools_and_tools_run_then_works(cli_env: dict[str, str]) -> None:
    added = run(["mcp", "add", "time", "--", str(BIN / "mcp-server-time"), "--local-timezone", "UTC"], cli_env)
    assert added.returncode == 0 and added.stdout.splitlines() == ["added time", "time: 2 tools"], added
    assert "get_current_time" in (Path(cli_env["EDGEMIND_HOME"]) / "mcp_tools.json").read_text()
    done = run(["tools", "run", "mcp__time__get_current_time", "--args", '{"timezone": "Asia/Tokyo"}',
                "--grant", "mcp:time", "--json"], cli_env)
    assert done.returncode == 0 and json.loads(json.loads(done.stdout)["content"])["timezone"] == "Asia/Tokyo"


def test_a_server_that_cannot_start_is_one_warning_naming_it_and_stays_configured(cli_env: dict[str, str]) -> None:
    added = run(["mcp", "add", "broken", "--", "edgemind-no-such-command"], cli_env)
    lines = [x for x in added.stderr.splitlines() if x]
    assert added.returncode == 0 and added.stdout.splitlines() == ["added broken"], added
    assert len(lines) == 1 and "'broken'" in lines[0] and "command not found" in lines[0], lines
    shown = json.loads(run(["mcp", "list", "--json"], cli_env).stdout)
    assert [s["name"] for s in shown["servers"]] == ["broken"]


def test_mcp_import_and_enable_list_the_servers_tools(cli_env: dict[str, str], tmp_path: Path) -> None:
    other = tmp_path / "claude_desktop_config.json"
    other.write_text(mcp_json({**TIME, "gone": {"command": "edgemind-no-such-command"}}))
    imported = json.loads(run(["mcp", "import", str(other), "--json"], cli_env).stdout)
    assert imported["tools"] == {"time": 2, "gone": None}
    assert len(imported["warnings"]) == 1 and "'gone'" in imported["warnings"][0]
    assert run(["mcp", "disable", "time"], cli_env).returncode == 0
    (Path(cli_env["EDGEMIND_HOME"]) / "mcp_tools.json").unlink()
    enabled = run(["mcp", "enable", "time"], cli_env)
    assert enabled.stdout.splitlines() == ["enabled time", "time: 2 tools"], enabled


# ---- the API server ---------------------------------------------------------------------------------------------

@pytest.fixture
def api_with_mcp(tmp_path: Path, models_dir: Path, artifacts_dir: Path) -> Iterator[tuple[ApiServer, Path]]:
    """An API server over an engine whose data folder configures a recording MCP server (its tools already listed)."""
    home, record = tmp_path / "home", tmp_path / "requests.jsonl"
    home.mkdir(mode=0o700)
    spec = tmp_path / "clock.json"
    spec.write_text(json.dumps({"record": str(record), "tools": [
        echo_tool("get_time", "Get the current time in a time zone")]}))
    (home / "mcp.json").write_text(mcp_json({"clock": {"command": sys.executable, "args": [str(SCRIPTED), str(spec)]}}))
    settings = load_settings(env={"EDGEMIND_HOME": str(home), "EDGEMIND_MODELS_DIR": str(models_dir),
                                  "EDGEMIND_ARTIFACTS_DIR": str(artifacts_dir), "EDGEMIND_DEFAULT_MODEL": TINY,
                                  "EDGEMIND_CACHE": "0", "EDGEMIND_AUDIT_KEY_STORE": "file"})
    McpToolSource(load_servers(home), home).load("all").close()
    record.unlink()
    engine = Engine.create(settings)
    with ApiServer(engine, api_key="test-key-0123456789abcdef") as server:
        yield server, record
    engine.close()


@pytest.mark.attack("mcp")
def test_the_api_server_never_runs_an_mcp_tool(api_with_mcp: tuple[ApiServer, Path]) -> None:
    server, record = api_with_mcp
    function = {"type": "function", "function": {"name": "mcp__clock__get_time", "description": "Get the time",
                                                 "parameters": {"type": "object", "properties": {
                                                     "text": {"type": "string"}}, "required": ["text"]}}}
    for body in ({"messages": [{"role": "user", "content": "What time is it? Use the time tool get_time."}]},
                 {"messages": [{"role": "user", "content": "What time is it in Tokyo?"}], "tools": [function],
                  "tool_choice": "required"}):
        reply = httpx.post(server.url + "/v1/chat/completions", headers=server.headers, timeout=120,
                           json={"model": TINY, "max_tokens": 24, "temperature": 0, **body})
        assert reply.status_code == 200, reply.text
    assert requests(record) == []  # the server was never even started, let alone called


def test_route_shows_the_mcp_tools_a_prompt_would_be_offered_and_why(cli_env: dict[str, str]) -> None:
    assert run(["mcp", "add", "time", "--", str(BIN / "mcp-server-time"), "--local-timezone", "UTC"],
               cli_env).returncode == 0
    text = run(["route", "What time is it now in Tokyo?"], cli_env)
    offered = [x.strip() for x in text.stdout.splitlines() if x.strip().startswith("offers mcp__")]
    assert offered and all("MCP server time; its name shares 'time'" in x for x in offered), text.stdout
    assert "mcp__time__get_current_time" in text.stdout.splitlines()[0]
    data = json.loads(run(["route", "What time is it now in Tokyo?", "--json"], cli_env).stdout)
    assert {o["tool"] for o in data["mcp_tools"]} <= {"mcp__time__get_current_time", "mcp__time__convert_time"}
    assert data["mcp_tools"] and data["mcp_tools"][0]["server"] == "time" and data["mcp_problems"] == []
    assert json.loads(run(["route", "Write a haiku about the sea.", "--json"], cli_env).stdout)["mcp_tools"] == []


def test_doctor_lists_each_mcp_server_without_starting_it(cli_env: dict[str, str], tmp_path: Path) -> None:
    record = tmp_path / "requests.jsonl"
    spec = tmp_path / "clock.json"
    spec.write_text(json.dumps({"record": str(record), "tools": [echo_tool()]}))
    assert run(["mcp", "add", "time", "--", str(BIN / "mcp-server-time")], cli_env).returncode == 0
    home = Path(cli_env["EDGEMIND_HOME"])
    servers = json.loads((home / "mcp.json").read_text())["mcpServers"]
    servers.update({"clock": {"command": sys.executable, "args": [str(SCRIPTED), str(spec)]},
                    "gone": {"command": "edgemind-no-such-command"},
                    "near": {"url": "http://127.0.0.1:9/mcp"}, "far": {"url": "https://mcp.example.org/mcp"}})
    (home / "mcp.json").write_text(json.dumps({"mcpServers": servers}))
    done = run(["doctor", "--json"], cli_env)
    rows = {s["name"]: s for s in json.loads(done.stdout)["mcp"]["servers"]}
    assert rows["time"]["tools_cached"] == 2 and rows["time"]["found"] == str(BIN / "mcp-server-time")
    assert rows["clock"]["tools_cached"] is None and rows["clock"]["found"] == sys.executable
    assert rows["gone"]["found"] is None and rows["near"]["loopback"] is True and rows["far"]["loopback"] is False
    text = [x.strip() for x in run(["doctor"], cli_env).stdout.splitlines() if x.strip().startswith("mcp ")]
    assert len(text) == 5 and any("gone  stdio  never listed" in x and "NOT FOUND" in x for x in text), text
    assert any(x.startswith("mcp        far  http") and "REMOTE" in x for x in text), text
    assert not record.exists()  # doctor never started the server
