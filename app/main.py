"""Start the desktop app: the window first, then the engine in a worker. `run` is the `edgemind.gui` entry point."""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication

from . import theme
from .context import AppContext
from .gc_guard import GuiThreadCollector
from .icon import app_icon
from .main_window import MainWindow
from .quick_app import run_quick
from .quick_ask import QuickAsk
from .self_test import run_self_test
from .tray import Tray

if TYPE_CHECKING:
    from edgemind.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class App:
    qt: QApplication
    ctx: AppContext
    window: MainWindow
    quick_ask: QuickAsk
    tray: Tray
    collector: GuiThreadCollector

    def quit(self) -> None:
        self.window.quitting = True
        self.quick_ask.hide()
        self.window.close()
        self.qt.quit()

    def close(self) -> None:
        """Stop work in flight, close the engine and every window (tests and the self-test end with this)."""
        self.ctx.shutdown()
        self.tray.close()
        self.quick_ask.close()
        self.quick_ask.deleteLater()
        self.window.quitting = True
        self.window.close()
        self.window.deleteLater()
        self.tray.menu.deleteLater()
        self.ctx.deleteLater()
        self.collector.stop()


def build(settings: Settings, *, show: bool = True) -> App:
    """Create the app's surfaces and show the window; the engine starts in a worker right after."""
    existing = QApplication.instance()
    qt = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    qt.setApplicationName("EdgeMind")
    qt.setWindowIcon(app_icon())
    theme.apply(qt)
    collector = GuiThreadCollector(qt)
    collector.start()  # before the engine's worker starts: no collection may run there
    ctx = AppContext(settings)
    ctx.watchdog.start()
    window = MainWindow(ctx)
    quick = QuickAsk(ctx)
    tray = Tray(ctx, window.bring_up, quick.popup, lambda: app.quit())  # `app` is bound before the tray can fire
    app = App(qt, ctx, window, quick, tray, collector)
    window.tray_available = tray.available
    qt.setQuitOnLastWindowClosed(not tray.available)
    theme.follow_system(qt)
    if show and not (settings.start_in_tray and app.tray.available):
        window.show()
    ctx.start_engine()
    return app


def run(settings: Settings, *, self_test: bool = False, screenshot: Path | None = None,
        quick: str | None = None) -> int:
    """The `edgemind.gui` entry point: the app, its self-test, or (`quick`: the prompt, possibly empty) only the
    quick-ask popup, as `edgemind quick` opens it."""
    if quick is not None:
        _exit_now(run_quick(settings, quick))
    if not os.environ.get("QT_QPA_PLATFORM") and sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a self-test on a machine without a screen
    started = time.perf_counter()
    app = build(settings)
    log.info("window shown %.0f ms after start", (time.perf_counter() - started) * 1000)
    if self_test:
        code = run_self_test(app, screenshot)
    else:
        try:
            code = app.qt.exec()
        finally:
            app.close()
    _exit_now(code)
    return code  # not reached


def _exit_now(code: int) -> None:
    """End the process without tearing the interpreter down.

    Everything is already saved (each write commits at once, the engine was closed and its threads joined). What
    is left is the interpreter's own finalization, where a C extension that lost references to None aborts the
    process (seen about 1 run in 3 of the self-test, exit 134, after all checks passed: PySide6 6.12.0 dropped one
    reference per Qt call returning nothing, hence the pin below 6.12 in pyproject.toml). Skipping finalization, as
    many Qt applications do, keeps a clean exit whatever the next binding release does.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
