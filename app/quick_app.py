"""`edgemind quick`: the quick-ask popup alone, for a desktop environment's keyboard shortcut. It starts the engine,
answers, and the process ends when the popup is closed; it never opens the main window or a tray icon, and, like
the tray's quick ask, it offers no tool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication

from . import theme
from .context import AppContext
from .gc_guard import GuiThreadCollector
from .icon import app_icon
from .quick_ask import QuickAsk

if TYPE_CHECKING:
    from edgemind.core.settings import Settings


@dataclass(slots=True)
class QuickApp:
    qt: QApplication
    ctx: AppContext
    quick: QuickAsk
    collector: GuiThreadCollector

    def close(self) -> None:
        """Stop the answer in flight, close the engine and the popup (run ends with this, and so do tests)."""
        self.ctx.shutdown()
        self.quick.close()
        self.quick.deleteLater()
        self.ctx.deleteLater()
        self.collector.stop()


def build_quick(qt: QApplication, settings: Settings, prompt: str = "") -> QuickApp:
    """Show the popup at once (ready to type while the engine starts in a worker) and ask `prompt` when given."""
    theme.apply(qt)
    collector = GuiThreadCollector(qt)
    collector.start()  # before the engine's worker starts: no collection may run there
    ctx = AppContext(settings)
    ctx.watchdog.start()
    quick = QuickAsk(ctx, standalone=True)
    quick.dismissed.connect(qt.quit)
    theme.follow_system(qt)
    quick.popup()
    ctx.start_engine()
    if prompt.strip():
        quick.ask(prompt)  # the worker waits for the engine; the popup shows the answer as it streams
    return QuickApp(qt, ctx, quick, collector)


def run_quick(settings: Settings, prompt: str = "") -> int:
    existing = QApplication.instance()
    qt = existing if isinstance(existing, QApplication) else QApplication(["edgemind-quick"])
    qt.setApplicationName("EdgeMind")
    qt.setWindowIcon(app_icon())
    qt.setQuitOnLastWindowClosed(True)
    app = build_quick(qt, settings, prompt)
    try:
        return qt.exec()
    finally:
        app.close()
