"""Runs the API server with uvicorn: checks the bind address, says where it listens, closes the engine after."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from typing import TextIO

from ..engine import Engine
from ..errors import ConfigError
from .app import create_app
from .config import ServerConfig

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(config: ServerConfig, err: TextIO = sys.stderr) -> None:
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
