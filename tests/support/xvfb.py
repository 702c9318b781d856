"""A private X server (Xvfb) for the tests that need a real one: the quick-ask shortcut and the self-test drawn on X11.

    with xvfb("800x600x24") as display:   # ":N", its socket up; the server stopped after the block
        ...

`NO_XVFB` is the skip reason where there is none to start (None where there is).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NO_XVFB = ("Xvfb is not installed (apt install xvfb)" if shutil.which("Xvfb") is None else
           "X11 is Linux-only here" if not sys.platform.startswith("linux") else None)
# Display numbers clear of a desktop's own (:0, :1) and of xvfb-run's default (:99).
_DISPLAYS = range(140, 240)


def free_display() -> int:
    """A display number with neither a socket nor a lock file: no X server holds it."""
    for number in _DISPLAYS:
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError(f"no free X display number from :{_DISPLAYS.start} to :{_DISPLAYS.stop - 1}")


@contextmanager
def xvfb(screen: str = "1280x800x24") -> Iterator[str]:
    """Start Xvfb on a free display with one screen of `screen` (WIDTHxHEIGHTxDEPTH), wait until its socket is up,
    and give its display name; it is stopped after the block, whatever the block raised."""
    number = free_display()
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", screen, "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.05)
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
