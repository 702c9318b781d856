"""A real MCP server (the SDK's low-level Server over stdio or streamable HTTP) that does what a JSON spec says.

The spec is read at each start, so a test changes a tool between two runs by rewriting it (a "rug pull"). With
"record", every JSON-RPC request the server receives is appended to that file before the server sees it, so a test
can prove that a denied call never arrived. Hostile modes: "garbage" (writes non-JSON-RPC lines on stdout and never
answers), "crash" (exits at once), "silent" (reads and never answers). Tools may sleep, repeat their result (a huge
answer), die mid-call once ("exit_flag"), report an error, or declare whatever input schema the spec gives (a malformed one too).

    python tests/mcp_servers/scripted.py SPEC.json [--http PORT]
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server


def _tee_stdin(record: str) -> Any:
    """stdin as an async text file whose every line was first written to `record`."""
    read_fd, write_fd = os.pipe()

    def pump() -> None:
        with open(record, "a", encoding="utf-8") as log, os.fdopen(write_fd, "wb") as out:
            for line in sys.stdin.buffer:
                try:
                    msg = json.loads(line)
                    log.write(json.dumps({"method": msg.get("method"), "params": msg.get("params")}) + "\n")
                except ValueError:
                    log.write(json.dumps({"raw": line.decode("utf-8", "replace")}) + "\n")
                log.flush()
                out.write(line)
                out.flush()

    threading.Thread(target=pump, daemon=True).start()
    return anyio.wrap_file(io.TextIOWrapper(os.fdopen(read_fd, "rb"), encoding="utf-8"))


def build(spec: dict[str, Any]) -> Server[Any]:
    tools = {t["name"]: t for t in spec.get("tools", [])}

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool.model_validate(
            {k: v for k, v in t.items() if k in ("name", "description", "inputSchema", "annotations")})
            for t in tools.values()])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        t = tools[params.name]
        flag = Path(t["exit_flag"]) if t.get("exit_flag") else None
        if flag is not None and flag.exists():  # dies in the middle of a call, once (the flag is used up)
            flag.unlink()
            os._exit(1)
        if t.get("sleep"):
            await anyio.sleep(t["sleep"])
        if t.get("result_file"):  # read at each call: a test changes what the tool returns without a restart
            text = Path(t["result_file"]).read_text(encoding="utf-8")
        else:
            text = str(t.get("result", "")).replace("{args}", json.dumps(params.arguments, sort_keys=True))
        text *= int(t.get("repeat", 1))
        content: list[Any] = [types.TextContent(type="text", text=text)]
        if t.get("image"):
            content.append(types.ImageContent(type="image", data="aGVsbG8=", mime_type="image/png"))
        return types.CallToolResult(content=content, is_error=bool(t.get("error")))

    return Server(spec.get("name", "scripted"), on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_stdio(server: Server[Any], record: str | None) -> None:
    stdin = _tee_stdin(record) if record else None
    async with stdio_server(stdin=stdin) as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    print("scripted server starting", file=sys.stderr, flush=True)
    mode = spec.get("mode")
    if mode == "crash":
        print("scripted server: crashing on purpose", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "garbage":
        for i in range(5):
            print(f"this is not JSON-RPC, line {i}", flush=True)
        time.sleep(60)
        return
    if mode == "silent":
        sys.stdin.read()
        return
    server = build(spec)
    if "--http" in sys.argv:
        import uvicorn

        port = int(sys.argv[sys.argv.index("--http") + 1])
        uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=port, log_level="warning")
        return
    anyio.run(serve_stdio, server, spec.get("record"))


if __name__ == "__main__":
    main()
