"""The MCP client's costs with the real mcp-server-time: cold start + tools/list, tools from the definitions cache
(what a session pays when it opens: no server starts), and the median of warm tool calls.

    .venv/bin/python benchmarks/mcp_client.py [--calls 20] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgemind.core.bench.mcp_client import measure_mcp_client
from edgemind.core.bench.script import run_script
from edgemind.core.mcp.config import McpServerConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    server = McpServerConfig("time", command=str(Path(sys.executable).parent / "mcp-server-time"),
                             args=("--local-timezone", "UTC"))
    result = measure_mcp_client(server, "get_current_time", {"timezone": "Asia/Tokyo"}, args.calls)
    text = json.dumps(result, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    run_script(main)
