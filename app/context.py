"""What every screen shares: settings, the engine (started in a worker after the window shows), the app's tool
capability (with the permission dialog as the broker's way to ask; the chat window passes it with each request, the
in-process API server never gets it), the operations helper, the hooks and the stall watchdog."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from edgemind.core.errors import EdgeMindError

from .hooks import Hooks
from .operations import Operations
from .permission_dialog import PermissionAsker
from .watchdog import StallWatchdog

if TYPE_CHECKING:
    from edgemind.core.engine import Engine, Grants, ToolRunner, Tools
    from edgemind.core.settings import Settings

log = logging.getLogger(__name__)
ENGINE_START_TIMEOUT_S = 600.0  # a first start installs the 491 MB default model and trains the router


class AppContext(QObject):
    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.hooks = Hooks(self)
        self.ops = Operations(self)
        self.watchdog = StallWatchdog(parent=self)
        self.permissions = PermissionAsker(self.ops, self.hooks)
        self.tools_error: str | None = None
        # The app's own tool capability: passed only with the chat window's requests (AskOptions.tools), never to
        # the API server, the quick ask or the engine itself.
        self.tool_runner: ToolRunner | None = None
        self.engine: Engine | None = None
        self.engine_error: str | None = None
        self.paused = False
        self._ready = threading.Event()
        self._engine_for_workers: Engine | None = None
        self.api_server: Any = None  # core.api.BackgroundServer while the "serve the API" setting is on
        self._engine_started = False
        self.hooks.engine_did_start.connect(lambda _engine: self.apply_api_server(self.settings.api_server_enabled))
        self.hooks.mcp_servers_did_change.connect(self.reopen_tools)

    # ---- the engine -------------------------------------------------------------------------------------------
    def start_engine(self) -> None:
        """Create the engine in a worker: the window is already up; screens hear `engine_did_start`."""
        self._engine_started = True

        def create() -> Engine:
            from edgemind.core.engine import Engine  # lazy: the window shows before the engine (~1 s) loads

            engine = Engine.create(self.settings)
            try:
                # called in the generation worker; the dialog runs on the GUI thread and the worker waits for it.
                # Cached MCP definitions only: a server never listed would hold the engine's start for up to its
                # start timeout; it is listed just after, in the background (reopen_tools)
                self.tool_runner = engine.open_tools(ask=self.permissions, mcp_refresh="none")
            except Exception as exc:  # a broken plugin set costs the tools, not the app
                log.warning("tools are not available: %s", exc)
                self.tools_error = str(exc) or exc.__class__.__name__
            return engine

        def started(engine: Engine) -> None:
            self.engine = engine
            self.hooks.engine_did_start.emit(engine)
            if self.tool_runner is not None and self.tool_runner.registry.problems:
                self.reopen_tools()  # e.g. an MCP server whose tools were never listed: start it to list them

        def failed(exc: Exception) -> None:
            self.engine_error = str(exc) or exc.__class__.__name__
            self._ready.set()
            self.hooks.engine_did_fail.emit(self.engine_error)

        def create_and_signal() -> Engine:
            engine = create()
            self._engine_for_workers = engine
            self._ready.set()
            return engine

        self.ops.run("start engine", create_and_signal, started, failed)

    def engine_in_worker(self) -> Engine:
        """For code running in a worker: the engine, waiting for it to start; raises if it could not."""
        if not self._ready.wait(ENGINE_START_TIMEOUT_S):
            raise EdgeMindError("the engine did not start in time")
        engine = self._engine_for_workers
        if engine is None:
            raise EdgeMindError(f"the engine could not start: {self.engine_error}")
        return engine

    # ---- the tools ------------------------------------------------------------------------------------------------
    def reopen_tools(self) -> None:
        """The MCP configuration changed: stop the servers the old tool runner started and open a new runner over the
        new configuration (in a worker, after the engine started; before that, the engine's start opens it)."""
        if not self._engine_started:
            return

        def reopen() -> None:
            # the new runner is opened before the old one is closed: a request in between keeps its tools
            engine = self.engine_in_worker()
            try:
                new: ToolRunner | None = engine.open_tools(ask=self.permissions)
                self.tools_error = None
            except Exception as exc:  # a broken plugin set costs the tools, not the app
                log.warning("tools are not available: %s", exc)
                self.tools_error = str(exc) or exc.__class__.__name__
                new = None
            old, self.tool_runner = self.tool_runner, new
            if old is not None:
                old.close()

        self.ops.run("reopen tools", reopen)

    def close_tools(self) -> None:
        """Stop every MCP server the app's tool runner started (on quit; a later call would start them again)."""
        runner, self.tool_runner = self.tool_runner, None
        if runner is not None:
            runner.close()

    # ---- the local API server -----------------------------------------------------------------------------------
    def apply_api_server(self, enabled: bool) -> None:
        """Start or stop `edgemind serve`'s server inside the app, over the app's own engine (in a worker)."""
        def apply() -> str:
            if not enabled:
                if self.api_server is not None:
                    self.api_server.stop()
                    self.api_server = None
                return ""
            if self.api_server is not None:
                return self.api_server.url
            from edgemind.core.api import (  # lazy: starlette and the safety classifier, only when the API is on
                BackgroundServer,
                ServerConfig,
                load_or_create_api_key,
            )

            key, _source = load_or_create_api_key(self.settings.home, os.environ.get("EDGEMIND_API_KEY"))
            config = ServerConfig.from_settings(self.settings, api_key=key)
            self.api_server = BackgroundServer(self.engine_in_worker(), config).start()
            return self.api_server.url

        self.ops.run("local API server", apply, self.hooks.api_server_did_change.emit,
                     lambda exc: self.hooks.api_server_did_change.emit(f"not running: {exc}"))

    # ---- pausing models ----------------------------------------------------------------------------------------
    def set_paused(self, paused: bool) -> None:
        """Pause: unload every model now and hold new answers until resumed (the tray's "Pause models")."""
        self.paused = paused
        if paused:
            self.ops.run("unload models", lambda: self.engine_in_worker().models.unload_all())
        self.hooks.models_did_pause.emit(paused)

    def paused_message(self) -> str:
        return "Models are paused. Resume them from the tray menu (Pause models) to get answers again."

    # ---- closing ----------------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        self.hooks.app_will_close.emit()  # background work (distillation) stops before the workers are waited on
        self.watchdog.stop()
        if self.api_server is not None:
            self.api_server.stop()
            self.api_server = None
        self.permissions.deny_all()
        self.ops.shutdown()
        self.close_tools()  # after the workers: no tool call is in flight any more
        engine = self._engine_for_workers
        if engine is not None:
            engine.close()
        self._engine_for_workers = None

    def runner_in_worker(self) -> ToolRunner:
        """For code running in a worker: the app's tool capability (once the engine started), or an error why there
        is none."""
        self.engine_in_worker()
        if self.tool_runner is None:
            raise EdgeMindError(f"tools are not available: {self.tools_error or 'not loaded'}")
        return self.tool_runner

    def tools_in_worker(self) -> Tools:
        """For code running in a worker: the app's tools, run through its permission dialog, or an error why not."""
        from edgemind.core.engine import Tools  # lazy: the window shows before the engine (~1 s) loads

        return Tools(self.runner_in_worker())

    def grants_in_worker(self) -> Grants:
        """For code running in a worker: the stored grants (kept by the app's tools' broker), or an error why there
        are no tools."""
        from edgemind.core.engine import Grants  # lazy: the window shows before the engine (~1 s) loads

        return Grants(self.runner_in_worker())

    def describe(self) -> dict[str, Any]:
        failed = "failed: " + self.engine_error if self.engine_error else "starting"
        return {"engine": "ready" if self.engine else failed, "paused": self.paused}
