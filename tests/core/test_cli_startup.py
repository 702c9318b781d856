"""The command starts without loading clients a run does not use: the MCP SDK (its pydantic types) and the OpenAI and
Ollama clients cost over a second at every start together, which every `edgemind` call and shortcut paid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.mcp_peers import TIME, mcp_json

# runs the real command's main() in a fresh interpreter, then reports which of the clients it had imported
PROBE = """
import json, sys
from edgemind.core.cli.main import main
code = main(sys.argv[1:])
clients = {"mcp", "mcp_types", "httpx2", "ollama", "openai"}
sys.stderr.write("\\nloaded:" + json.dumps(sorted({m.split(".")[0] for m in sys.modules} & clients)) + "\\n")
sys.exit(code)
"""


def loaded_clients(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=120)
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("loaded:"), proc.stderr
    return proc, json.loads(line.removeprefix("loaded:"))


@pytest.mark.parametrize("args", [["models", "list", "--no-ollama"], ["ask", "Say hi.", "--json", "--max-tokens", "4"]])
def test_a_run_that_uses_no_mcp_server_and_no_ollama_never_imports_their_clients(
        cli_env: dict[str, str], args: list[str]) -> None:
    proc, loaded = loaded_clients(cli_env, *args)
    assert proc.returncode == 0, proc.stderr
    assert loaded == []


def test_the_probe_sees_the_sdk_once_a_configured_mcp_server_is_used(cli_env: dict[str, str]) -> None:
    """The lazy import is not a missing one, and the probe above can see it: listing tools starts the server."""
    home = Path(cli_env["EDGEMIND_HOME"])
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "mcp.json").write_text(mcp_json(TIME))
    proc, loaded = loaded_clients(cli_env, "tools", "list")
    assert proc.returncode == 0, proc.stderr
    assert "mcp" in loaded and "mcp__time__get_current_time" in proc.stdout
