"""`edgemind tools` and `ask --grant` as a user types them: one-line errors, exit codes, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgemind.core.cli", *args], capture_output=True, text=True,
                          env=env, timeout=180, stdin=subprocess.DEVNULL)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("edgemind: error:") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_tools_list_json_names_every_builtin_with_scopes(cli_env: dict[str, str]) -> None:
    data = json.loads(run(["tools", "list", "--json"], cli_env).stdout)
    tools = {t["name"]: t for t in data["tools"]}
    assert {"calculator", "files_read", "python_run", "web_fetch", "docs_search", "system_info"} <= set(tools)
    assert tools["files_read"]["scopes"] == ["fs.read:{path}"] and len(tools["files_read"]["manifest_sha256"]) == 64


def test_run_without_a_grant_and_without_a_terminal_is_denied(cli_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    done = run(["tools", "run", "files_read", "--args", json.dumps({"path": str(tmp_path / "a.txt")})], cli_env)
    assert done.returncode == 1 and "permission denied" in one_line_error(done) and "hello" not in done.stdout


def test_run_with_a_grant_reads_and_is_audited(cli_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    done = run(["tools", "run", "files_read", "--args", json.dumps({"path": str(tmp_path / "a.txt")}),
                "--grant", f"fs.read:{tmp_path}", "--json"], cli_env)
    out = json.loads(done.stdout)
    assert done.returncode == 0 and out["decision"] == "allowed:preset" and "hello" in out["content"]
    audit = json.loads(run(["audit", "show", "--json", "--tool", "files_read"], cli_env).stdout)["entries"]
    assert [e["kind"] for e in audit] == ["tool_proposed", "tool_call", "tool_result"]
    assert run(["audit", "verify"], cli_env).returncode == 0


@pytest.mark.parametrize("args, words", [
    (["tools", "run", "files_read", "--args", "{not json"], "--args is not valid JSON"),
    (["tools", "run", "nope", "--args", "{}"], "unknown tool 'nope'"),
    (["tools", "run", "calculator", "--args", '{"expression": "__import__(\'os\')"}'], "calculator:"),
    (["tools", "run", "calculator", "--args", '{"expr": "1"}'], "calculator:"),
    (["tools", "run", "files_read", "--args", '{"path": "/x"}', "--grant", "root"], "--grant: unknown scope kind"),
    (["tools", "run", "web_fetch", "--args", '{"url": "file:///etc/passwd"}'], "only http"),
    (["tools", "revoke"], "give one of"),
])
def test_bad_input_is_one_line(cli_env: dict[str, str], args: list[str], words: str) -> None:
    done = run(args, cli_env)
    assert done.returncode != 0 and words in one_line_error(done)


def test_grant_always_then_list_then_revoke(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run(["tools", "grant", "files_read", f"fs.read:{tmp_path}"], cli_env).returncode == 0
    grants = json.loads(run(["tools", "grants", "--json"], cli_env).stdout)["grants"]
    assert [(g["tool"], g["scope"]) for g in grants] == [("files_read", f"fs.read:{tmp_path.resolve()}")]
    (tmp_path / "b.txt").write_text("kept")
    done = run(["tools", "run", "files_read", "--args", json.dumps({"path": str(tmp_path / "b.txt")}), "--json"], cli_env)
    assert json.loads(done.stdout)["decision"] == "allowed:always"
    assert json.loads(run(["tools", "revoke", "--all", "--json"], cli_env).stdout)["removed"] == 1
    assert run(["tools", "run", "files_read", "--args", json.dumps({"path": str(tmp_path / "b.txt")})], cli_env).returncode == 1


def test_dry_run_shows_the_scopes_and_does_nothing(cli_env: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    code = f"open({str(marker)!r}, 'w').write('x')"
    done = run(["tools", "run", "python_run", "--args", json.dumps({"code": code}), "--dry-run"], cli_env)
    assert done.returncode == 0 and "needs: code.exec" in done.stdout and not marker.exists()
