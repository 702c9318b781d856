"""Runs the API server with uvicorn: checks the bind address, says where it listens, closes the engine after."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Protocol, TextIO

from ..engine import Engine
from ..errors import ConfigError
from .app import create_app
from .config import ServerConfig

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)


class Warnings(Protocol):
    """Where check_bind's warning goes: a terminal's stream, or the log."""

    def write(self, text: str, /) -> object: ...


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(config: ServerConfig, err: Warnings = sys.stderr) -> None:
    """Loopback, or an explicit --allow-remote with a warning. Also fail early, in one line, on a busy port."""
    if not is_loopback(config.host):
        if not config.allow_remote:
            raise ConfigError(f"refusing to listen on {config.host}: other computers could reach the server; "
                              "pass --allow-remote if you mean it")
        err.write(f"edgemind: warning: listening on {config.host}: any computer that can reach this one and has "
                  "the API key can use your models\n")
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.host, config.port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None


def serve(engine: Engine, config: ServerConfig, *, key_source: str, out: TextIO = sys.stderr) -> None:
    """Serve until interrupted; the caller has run check_bind (before loading the engine, so it fails fast)."""
    import uvicorn

    app = create_app(engine, config)
    shown = f"[{config.host}]" if ":" in config.host else config.host
    out.write(f"edgemind: serving the OpenAI API at http://{shown}:{config.port}/v1 and the Ollama API at "
              f"http://{shown}:{config.port}/api; API key from {key_source}\n")
    out.flush()
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning",
                                           access_log=False, timeout_graceful_shutdown=5, server_header=False))
    try:
        server.run()
    finally:
        engine.close()


class BackgroundServer:
    """The API server on a thread of a host that owns the engine (the desktop app, tests): start, stop, and never
    close the engine, which outlives the server."""

    def __init__(self, engine: Engine, config: ServerConfig) -> None:
        self.config = config
        self._engine = engine
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}"

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1] if self._sock is not None else self.config.port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout_s: float = 20.0) -> BackgroundServer:
        """Bind (ConfigError in one line on a busy port or a non-loopback host without allow_remote), then serve."""
        import uvicorn

        check_bind(self.config, err=_LogWriter())
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.config.host, self.config.port))
        server = uvicorn.Server(uvicorn.Config(create_app(self._engine, self.config), log_level="warning",
                                               access_log=False, timeout_graceful_shutdown=2, server_header=False))
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [self._sock]}, name="api-server",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise ConfigError(f"the API server did not start on {self.config.host}:{self.config.port}")
            time.sleep(0.01)
        log.info("API server listening at %s", self.url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None


class _LogWriter:
    """check_bind's warning goes to the log when there is no terminal to print it on."""

    def write(self, text: str) -> None:
        log.warning("%s", text.strip())

    def flush(self) -> None:
        pass
