"""Real MCP servers for tests: configs for the scripted test server, mcp-server-time and mcp-server-git, a
streamable-HTTP server on loopback, and the requests a recording server received."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgemind.core.mcp.config import McpServerConfig

SCRIPTED = Path(__file__).resolve().parent.parent / "mcp_servers" / "scripted.py"
BIN = Path(sys.executable).parent


def echo_tool(name: str = "echo", description: str = "Echo the text back", **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": description, "result": "echo {args}",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
            **extra}


def scripted(name: str, folder: Path, spec: dict[str, Any]) -> McpServerConfig:
    """A stdio config for the scripted server; its spec is written to `folder/<name>.json` (rewrite it to change
    the server for its next start)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return McpServerConfig(name, command=sys.executable, args=(str(SCRIPTED), str(path)))


# mcp.json's entry for mcp-server-time (what `edgemind mcp add time -- mcp-server-time ...` writes)
TIME = {"time": {"command": str(BIN / "mcp-server-time"), "args": ["--local-timezone", "UTC"]}}


def time_server() -> McpServerConfig:
    return McpServerConfig("time", command=str(BIN / "mcp-server-time"), args=("--local-timezone", "UTC"))


def git_server(repo: Path) -> McpServerConfig:
    return McpServerConfig("git", command=str(BIN / "mcp-server-git"), args=("--repository", str(repo)))


def mcp_json(servers: dict[str, dict[str, Any]]) -> str:
    return json.dumps({"mcpServers": servers})


def requests(record: Path) -> list[dict[str, Any]]:
    """Every JSON-RPC request a recording server received, in order."""
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines() if line.strip()]


def tool_calls(record: Path) -> list[str]:
    return [r["params"]["name"] for r in requests(record) if r.get("method") == "tools/call"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_server(folder: Path, spec: dict[str, Any]) -> Iterator[str]:
    """The scripted server over streamable HTTP on 127.0.0.1; yields its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "http.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(SCRIPTED), str(path), "--http", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("the HTTP test server exited") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)
