"""Keeps MCP server connections alive for a sync engine: one background event loop for all servers, a supervisor per
server that starts it lazily, restarts it with back-off after a failure, and stops it on close or at exit.

Every call here is sync with a timeout and raises McpServerError (one line naming the server); nothing here decides
whether a tool may run (the ToolRunner and the permission broker do, before a call gets this far).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from ..errors import EdgeMindError
from .config import McpServerConfig

if TYPE_CHECKING:  # the SDK itself is imported where a server starts: it costs ~0.75 s, and most runs use none
    import httpx2
    import mcp_types
    from mcp.client.session import ClientSession

log = logging.getLogger("edgemind.mcp")
T = TypeVar("T")

MAX_STDERR_LINES = 200  # per start: a chatty or hostile server cannot flood the log
MAX_STDERR_LINE_CHARS = 500
MAX_LIST_PAGES = 20
MAX_TOOLS = 200
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0


class McpServerError(EdgeMindError):
    """An MCP server that failed to start, answered garbage, timed out or broke: the message names the server."""

    kind = "mcp_server"


class _NoTracebacks(logging.Filter):
    """The SDK logs a traceback for each line a server writes that is not JSON-RPC; ours says it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


# a logger's filter sees only its own records, so each SDK module that logs a server's failures gets one
for _name in ("mcp.client.stdio", "mcp.client.streamable_http", "mcp.client.session", "mcp.shared.dispatcher",
              "mcp.shared.jsonrpc_dispatcher"):
    logging.getLogger(_name).addFilter(_NoTracebacks())


class LoopThread:
    """One asyncio event loop in a daemon thread, started on first use and shared by every server's connection."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="edgemind-mcp", daemon=True).start()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._running())

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run `coro` on the loop and wait for it; TimeoutError (the coroutine is cancelled) after `timeout_s`."""
        future = self.submit(coro)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout_s:g} s") from None


_SHARED = LoopThread()


def shared_loop() -> LoopThread:
    """The process's one MCP loop (servers of every session share it; it costs nothing until a server starts)."""
    return _SHARED


@dataclass(frozen=True, slots=True)
class Timeouts:
    start_s: float = 30.0  # spawn + initialize + tools/list (a first `uvx` download can take long; ours are ~1 s)
    call_s: float = 60.0
    stop_s: float = 5.0


DEFAULT_TIMEOUTS = Timeouts()


class _StderrPump:
    """The server's stderr through a pipe into our log (`edgemind.mcp.<server>`), at most MAX_STDERR_LINES lines."""

    def __init__(self, server: str) -> None:
        read_fd, write_fd = os.pipe()
        self.writer: TextIO = os.fdopen(write_fd, "w", encoding="utf-8", errors="replace")
        self._reader = os.fdopen(read_fd, "r", encoding="utf-8", errors="replace")
        self._log = logging.getLogger(f"edgemind.mcp.{server}")
        threading.Thread(target=self._pump, name=f"mcp-stderr-{server}", daemon=True).start()

    def _pump(self) -> None:
        shown = 0
        with self._reader:
            for line in self._reader:  # ends when the server and our copy of the write end are both closed
                if shown < MAX_STDERR_LINES:
                    self._log.info("%s", line.rstrip()[:MAX_STDERR_LINE_CHARS])
                elif shown == MAX_STDERR_LINES:
                    self._log.info("(more stderr output not logged)")
                shown += 1

    def close(self) -> None:
        self.writer.close()


class ServerSupervisor:
    """One configured server: `tools()` and `call()` start it when needed; a failure waits out a growing back-off."""

    def __init__(self, config: McpServerConfig, loop: LoopThread | None = None, timeouts: Timeouts = DEFAULT_TIMEOUTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.name = config.name
        self._loop = loop or shared_loop()
        self._timeouts = timeouts
        self._clock = clock
        self._lock = threading.Lock()
        self._session: ClientSession | None = None
        self._stop: asyncio.Event | None = None
        self._owner: concurrent.futures.Future[None] | None = None
        self._listing: list[dict[str, Any]] = []
        self._failures = 0
        self._retry_at = 0.0
        self._last_error = ""
        self._stale = False
        self.starts = 0
        _LIVE.add(self)

    @property
    def running(self) -> bool:
        return self._session is not None

    def tools(self) -> list[dict[str, Any]]:
        """The server's tool definitions as it lists them now (starting it if needed)."""
        with self._lock:
            session = self._ensure_started()
            if self._stale:
                self._stale = False
                try:
                    self._listing = self._loop.run(_list_tools(session), self._timeouts.call_s)
                except Exception as exc:
                    raise McpServerError(f"MCP server {self.name!r}: listing its tools again failed: "
                                         f"{_reason(exc)}") from None
            return list(self._listing)

    def call(self, tool: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """One tools/call; McpServerError on a timeout or a broken connection (the next need restarts it)."""
        import mcp_types
        from mcp.shared.exceptions import MCPError

        with self._lock:
            session = self._ensure_started()
        try:
            result = self._loop.run(session.call_tool(tool, arguments), self._timeouts.call_s + 1)
        except TimeoutError:
            raise McpServerError(f"MCP server {self.name!r}: tool {tool!r} gave no answer within "
                                 f"{self._timeouts.call_s:g} s") from None
        except MCPError as exc:
            if exc.code != mcp_types.CONNECTION_CLOSED:  # a JSON-RPC error answer: the server is fine, the call not
                raise McpServerError(f"MCP server {self.name!r}: tool {tool!r} failed: {exc.message}") from None
            self._failed(f"connection broke during {tool!r} (the server exited?)")
            self.stop()
            raise McpServerError(f"MCP server {self.name!r}: {self._last_error}") from None
        except Exception as exc:
            self._failed(f"connection broke during {tool!r}: {type(exc).__name__}: {exc}")
            self.stop()
            raise McpServerError(f"MCP server {self.name!r}: {self._last_error}") from None
        if not isinstance(result, mcp_types.CallToolResult):
            raise McpServerError(f"MCP server {self.name!r}: tool {tool!r} asked for input, which EdgeMind does "
                                 "not support")
        return result

    def stop(self) -> None:
        """Close the connection (the SDK closes stdin, then terminates the server's process tree)."""
        with self._lock:
            stop, owner = self._stop, self._owner
            self._session, self._stop, self._owner = None, None, None
        if stop is not None and owner is not None:
            self._loop.submit(_set(stop))
            try:
                owner.result(self._timeouts.stop_s + 5)
            except Exception as exc:  # stopping a server that already broke: nothing left to do
                log.debug("MCP server %r stopped with %s", self.name, exc)

    def _ensure_started(self) -> ClientSession:
        if self._session is not None and self._owner is not None and not self._owner.done():
            return self._session
        now = self._clock()
        if now < self._retry_at:
            raise McpServerError(f"MCP server {self.name!r} failed ({self._last_error}); next try in "
                                 f"{self._retry_at - now:.0f} s")
        self.starts += 1
        ready: concurrent.futures.Future[list[dict[str, Any]]] = concurrent.futures.Future()
        stop_holder: dict[str, Any] = {}
        owner = self._loop.submit(self._own(ready, stop_holder))
        try:
            listing = ready.result(self._timeouts.start_s)
        except concurrent.futures.TimeoutError:
            owner.cancel()
            self._failed(f"did not start and list its tools within {self._timeouts.start_s:g} s")
            raise McpServerError(f"MCP server {self.name!r} {self._last_error}") from None
        except Exception as exc:
            owner.cancel()
            self._failed(_reason(exc))
            raise McpServerError(f"MCP server {self.name!r} could not start: {self._last_error}") from None
        self._failures, self._retry_at = 0, 0.0
        self._listing, self._owner, self._stop = listing, owner, stop_holder["stop"]
        session: ClientSession = stop_holder["session"]
        self._session = session
        return session

    def _failed(self, reason: str) -> None:
        self._last_error = reason
        self._failures += 1
        self._retry_at = self._clock() + min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self._failures - 1))
        # info, not warning: every failure also reaches the caller as McpServerError, which each shell shows once
        log.info("MCP server %r: %s", self.name, reason)

    async def _own(self, ready: concurrent.futures.Future[list[dict[str, Any]]], holder: dict[str, Any]) -> None:
        """The task that owns the connection (the SDK's contexts must be entered and left in one task)."""
        import mcp_types
        from mcp.client.session import ClientSession

        holder["stop"] = stop = asyncio.Event()
        pump = _StderrPump(self.name) if self.config.transport == "stdio" else None

        async def on_message(message: Any) -> None:
            if isinstance(message, mcp_types.ToolListChangedNotification):
                self._stale = True  # listed again before the next call, which compares definitions
            elif isinstance(message, Exception) and not ready.done():
                ready.set_exception(McpServerError(f"it wrote something that is not MCP JSON-RPC "
                                                   f"({_reason(message)})"))

        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport(pump))
                # no SDK read timeout: start and calls are bounded by our own timeouts, whose errors name the server
                session = await stack.enter_async_context(ClientSession(read, write, message_handler=on_message))
                await session.initialize()
                listing = await _list_tools(session)
                holder["session"] = session
                if not ready.done():
                    ready.set_result(listing)
                    await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else McpServerError("start cancelled"))
            if not isinstance(exc, (asyncio.CancelledError, Exception)):
                raise
        finally:
            if pump is not None:
                pump.close()

    def _transport(self, pump: _StderrPump | None) -> Any:
        c = self.config
        if c.transport == "http":
            import httpx2

            assert c.url is not None
            client = httpx2.AsyncClient(headers=dict(c.headers),
                                        timeout=httpx2.Timeout(self._timeouts.start_s, read=self._timeouts.call_s))
            return _http(c.url, client)
        assert c.command is not None and pump is not None
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=c.command, args=list(c.args), env=dict(c.env) or None, cwd=c.cwd)
        return stdio_client(params, errlog=pump.writer)


def _http(url: str, client: httpx2.AsyncClient) -> Any:
    from mcp.client.streamable_http import streamable_http_client

    @asynccontextmanager
    async def connect() -> Any:
        async with client, streamable_http_client(url, http_client=client) as streams:
            yield streams[0], streams[1]

    return connect()


async def _set(event: asyncio.Event) -> None:
    event.set()


async def _list_tools(session: ClientSession) -> list[dict[str, Any]]:
    import mcp_types

    tools: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools)
        cursor = page.next_cursor
        if not cursor or len(tools) >= MAX_TOOLS:
            break
    return tools[:MAX_TOOLS]


def _reason(exc: BaseException) -> str:
    """One line for an exception from a transport (exception groups unwrapped to their first cause)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, EdgeMindError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return f"command not found ({exc.filename or exc})"
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_LIVE: weakref.WeakSet[ServerSupervisor] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """On quit no server is left running (hosts also close their supervisors explicitly)."""
    for supervisor in list(_LIVE):
        try:
            supervisor.stop()
        except Exception as exc:  # at exit, stop what can be stopped
            log.debug("stopping MCP server %r at exit: %s", supervisor.name, exc)
