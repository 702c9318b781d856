"""Starting the app never freezes its window: the engine loads in a worker, and nothing on the start path holds the
GIL long (an import of onnx, through ml_dtypes, held it ~1.4 s at every start and the window froze)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from edgemind.core.engine import Engine
from edgemind.core.settings import Settings

# Generous: a behavioural check, not a benchmark (benchmarks/gui_startup.py measures). The frozen starts blocked
# 1.0-2.7 s; the start path now blocks ~0.1 s on an idle machine, and up to ~0.5 s when six jobs share two cores.
LIMIT_MS = 700
HEAVY = ("onnx", "ml_dtypes")  # imports that hold the GIL for a second or more

CHILD = r"""
import json, os, sys
from edgemind.core.settings import load_settings
from edgemind.app.main import build
from edgemind.app.self_test import wait_until
app = build(load_settings())
ready = wait_until(app, lambda: app.ctx.engine is not None or app.ctx.engine_error is not None, 300)
wait_until(app, lambda: False, 1.0)  # what the engine's start set off (model lists, grants, cache stats) runs too
report = {"ready": ready, "error": app.ctx.engine_error, "longest_ms": app.ctx.watchdog.longest_ms,
          "stalls": app.ctx.watchdog.stalls, "heavy": [m for m in sys.argv[1:] if m in sys.modules]}
print(json.dumps(report), flush=True)
os._exit(0)
"""


def _start(env: dict[str, str]) -> dict[str, Any]:
    run = subprocess.run([sys.executable, "-c", CHILD, *HEAVY], env=env, capture_output=True, text=True,
                         timeout=300, cwd=os.getcwd())
    assert run.returncode == 0, run.stderr[-2000:]
    report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["ready"] and report["error"] is None, report
    assert report["heavy"] == [], f"the start path imported {report['heavy']} (holds the GIL for a second)"
    return report


def test_the_window_stays_responsive_while_the_engine_starts(settings: Settings, cli_env: dict[str, str]) -> None:
    # A second start, as every start after the first: the router is trained and the encoder built already.
    Engine.create(settings).close()
    env = {**cli_env, "QT_QPA_PLATFORM": "offscreen"}
    report = _start(env)
    if report["longest_ms"] >= LIMIT_MS:
        # A start that freezes the window freezes it every time; one stall while the test workers share the cores
        # does not come back on the next start.
        report = _start(env)
    assert report["longest_ms"] < LIMIT_MS, f"the GUI thread was blocked {report['longest_ms']:.0f} ms twice: {report}"
