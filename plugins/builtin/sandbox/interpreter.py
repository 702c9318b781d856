"""Which program runs a snippet as Python.

From source that is this interpreter. In the installed app (a PyInstaller bundle) `sys.executable` is EdgeMind
itself, and the windowed program has no console; so snippets run under the bundle's console program, which acts as
`python -I [-S] (-c CODE | SCRIPT) [ARGS]` when its first argument is `-I` (installer/entry_cli.py).
"""

from __future__ import annotations

import sys
from pathlib import Path


def python_program() -> str:
    if getattr(sys, "frozen", False):
        return str(Path(sys.executable).with_name("edgemind.exe" if sys.platform == "win32" else "edgemind"))
    return sys.executable
