"""Native crashes that get past the llama.cpp test run still leave a trace and a one-line notice.

A crash in native code (SIGILL, SIGSEGV, an access violation) ends the process before Python can print anything
useful, and a traceback is not for users anyway. So each shell records faults with `faulthandler` into
`<data>/logs/native-crash.log`, and the next start says once, in one line, that the last run stopped there and where
the details are. It must never raise: a data folder that cannot be written only loses the notice.
"""

from __future__ import annotations

import faulthandler
import logging
from pathlib import Path
from typing import IO

from ..data_folder import append_private, private_folder, write_private

log = logging.getLogger(__name__)
LOG_NAME = "native-crash.log"
_SEEN_SUFFIX = ".seen"
_open_log: IO[str] | None = None  # faulthandler writes to this file's descriptor at crash time: keep it open


def last_crash(home: Path) -> str | None:
    """One line about a crash recorded since the last notice (None if there was none); marks it as told."""
    path = home / "logs" / LOG_NAME
    try:
        size = path.stat().st_size
        seen = int((path.with_name(LOG_NAME + _SEEN_SUFFIX)).read_text(encoding="utf-8") or 0)
    except FileNotFoundError:
        seen = 0
        if not path.exists():
            return None
        size = path.stat().st_size
    except (OSError, ValueError):
        return None
    if size <= seen:
        return None
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            f.seek(seen)
            lines = f.read().splitlines()
        write_private(path.with_name(LOG_NAME + _SEEN_SUFFIX), str(size))
    except OSError:
        return None
    what = next((ln.split("Fatal Python error:", 1)[1].strip() for ln in lines if "Fatal Python error:" in ln), None)
    if what is None:
        return None
    return (f"the last EdgeMind run stopped in native code ({what}); details in {path}; "
            "`edgemind doctor` shows which llama.cpp CPU code runs here")


def watch(home: Path) -> None:
    """Record native crashes of this process in the data folder (once per process)."""
    global _open_log
    if _open_log is not None:
        return
    try:
        folder = private_folder(home / "logs")
        _open_log = append_private(folder / LOG_NAME)  # must outlive this call
        faulthandler.enable(file=_open_log, all_threads=True)
    except OSError as exc:
        log.debug("native crashes will not be recorded: %s", exc)
