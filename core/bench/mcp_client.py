"""What an MCP server costs a session: starting it and listing its tools, building its tools from the definitions
cache instead (what every answer pays), and one tool call over a live connection."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ..mcp.config import McpServerConfig
from ..mcp.tools import McpToolSource


def measure_mcp_client(config: McpServerConfig, tool: str, arguments: dict[str, Any],
                       calls: int = 20) -> dict[str, Any]:
    """Milliseconds: `start_and_list_ms` (cold: spawn, initialize, tools/list), `from_cache_ms` (no server starts),
    `call_median_ms` over `calls` calls of `tool` (server warm)."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        started = time.perf_counter()
        loaded = McpToolSource([config], home).load("all")
        start_ms = (time.perf_counter() - started) * 1000
        try:
            started = time.perf_counter()
            McpToolSource([config], home).load("none")
            cache_ms = (time.perf_counter() - started) * 1000
            target = next(t for t in loaded.tools if t.name.endswith(f"__{tool}"))
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                target.function(**arguments)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            loaded.close()
    return {"server": config.name, "tool": tool, "start_and_list_ms": round(start_ms, 1),
            "from_cache_ms": round(cache_ms, 2), "call_median_ms": round(statistics.median(times), 2), "calls": calls}
