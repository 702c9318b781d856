"""MCP configuration: the `mcpServers` shape validated into records, stored with secrets out of plain files."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemind.core.mcp.config import McpConfigError, McpServerConfig, load_servers, parse_servers


def test_parse_servers_reads_stdio_and_http_entries_and_normalises_names() -> None:
    servers = parse_servers({"mcpServers": {
        "mcp-server-time": {"command": "uvx", "args": ["mcp-server-time", "--local-timezone=UTC"]},
        "Remote Docs": {"url": "https://example.org/mcp", "headers": {"Authorization": "Bearer x"}},
    }}, "test")
    assert servers == [
        McpServerConfig(name="mcp_server_time", command="uvx", args=("mcp-server-time", "--local-timezone=UTC")),
        McpServerConfig(name="remote_docs", url="https://example.org/mcp", headers={"Authorization": "Bearer x"}),
    ]
    assert [s.transport for s in servers] == ["stdio", "http"]


def test_load_servers_is_empty_without_a_file(tmp_path: Path) -> None:
    assert load_servers(tmp_path) == []


def test_a_damaged_file_is_one_error_and_stays_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "mcp.json").write_text('{"mcpServers": {', encoding="utf-8")
    with pytest.raises(McpConfigError, match="not valid JSON"):
        load_servers(tmp_path)
    assert (tmp_path / "mcp.json").read_text(encoding="utf-8") == '{"mcpServers": {'
