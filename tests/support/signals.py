"""Children that a test stops with Ctrl-C (SIGINT) must start with SIGINT at its default: a shell runs a background
job (`.ci/run &`) with SIGINT ignored, its children inherit that, and Python then never turns SIGINT into
KeyboardInterrupt, so the test would see the command finish instead of stop."""

from __future__ import annotations

import signal


def default_ctrl_c() -> None:
    """Popen(preexec_fn=default_ctrl_c): SIGINT as a terminal's Ctrl-C delivers it, whatever the test runner got."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
