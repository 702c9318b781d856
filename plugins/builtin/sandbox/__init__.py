"""The code runner's sandbox, one small module per OS: Linux namespaces (or bubblewrap), a Windows Job Object, a
macOS sandbox-exec profile. `detect_isolation()` names the level this machine gives; nothing here runs a snippet
except through the plan its OS module builds."""

from __future__ import annotations

import functools
import sys

from edgemind.plugins.builtin.sandbox import linux, macos, windows
from edgemind.plugins.builtin.sandbox.level import IsolationLevel
from edgemind.plugins.builtin.sandbox.limits import Limits

__all__ = ["IsolationLevel", "Limits", "detect_isolation"]


@functools.lru_cache(maxsize=4)
def detect_isolation(prefer: str | None = None) -> IsolationLevel:
    """The isolation level code runs get here (probed once per process: it starts a short child)."""
    if sys.platform.startswith("linux"):
        return linux.detect_level(prefer)
    if sys.platform == "win32":
        return windows.level()
    if sys.platform == "darwin":
        return macos.level()
    return IsolationLevel("process only", False, "separate process with rlimits; no isolation on this OS")
