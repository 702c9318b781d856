"""Opening an answer's source at its line: checked against the Documents folders in a worker, then the user's editor
command (Settings: editor_command) or the system's default application.

The launchers are passed in (the system's by default) so a test sees what would open without starting a program.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QProcess, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from .context import AppContext

if TYPE_CHECKING:
    from edgemind.core.engine import Opening
    from edgemind.core.events import Citation


def file_url(opening: Opening) -> QUrl:
    """The file:// URL the system's default application is given (it cannot be told a line)."""
    return QUrl.fromLocalFile(str(opening.path))


def _start_detached(argv: tuple[str, ...]) -> bool:
    started, _pid = QProcess.startDetached(argv[0], list(argv[1:]))
    return bool(started)


class CitationOpener(QObject):
    did_open = Signal(object)  # the Opening that was launched
    did_refuse = Signal(str)  # one line: why a citation was not opened

    def __init__(self, ctx: AppContext, roots: Callable[[], list[str]],
                 open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl,
                 run_command: Callable[[tuple[str, ...]], bool] = _start_detached,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._roots = roots  # called in a worker: the folders the user added to Documents (each through a grant)
        self._open_url, self._run_command = open_url, run_command

    def open(self, citation: Citation) -> None:
        from edgemind.core.engine import opening  # lazy: the window shows before the engine (~1 s) loads

        editor = self.ctx.settings.editor_command
        self.ctx.ops.run("open citation", lambda: opening(citation, self._roots(), editor), self._launch,
                         lambda exc: self.did_refuse.emit(str(exc) or exc.__class__.__name__))

    def _launch(self, how: Any) -> None:
        launched = self._run_command(how.argv) if how.argv else self._open_url(file_url(how))
        if launched:
            self.did_open.emit(how)
        else:
            what = " ".join(how.argv) if how.argv else str(how.path)
            self.did_refuse.emit(f"could not open {what}")
