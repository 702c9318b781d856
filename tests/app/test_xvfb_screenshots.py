"""The self-test on a real X server (Xvfb, Qt's xcb platform): every surface drawn as a user's screen would draw it.

Skipped with the reason when Xvfb is absent (install it with `apt install xvfb`); the offscreen screenshots in the
other tests still run everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app.conftest import SCREENSHOTS

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None or not sys.platform.startswith("linux"),
                                reason="Xvfb is not installed (apt install xvfb): no X server to draw on")


def _free_display() -> int:
    for number in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number")


def test_self_test_passes_and_draws_every_surface_under_xvfb(cli_env: dict[str, str]) -> None:
    number = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.05)
        out = SCREENSHOTS / "xvfb"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        env = {k: v for k, v in cli_env.items() if k != "QT_QPA_PLATFORM"}
        env.update(DISPLAY=f":{number}", QT_QPA_PLATFORM="xcb")
        done = subprocess.run([sys.executable, "-m", "edgemind.core.cli", "gui", "--self-test", "--screenshot",
                               str(out / "app.png")], capture_output=True, text=True, env=env, timeout=280)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"], report
    assert report["checks"]["tray"]["hotkey"], report["checks"]["tray"]  # on X11 the app grabs its quick-ask key
    shots = [Path(p) for p in report["screenshots"]]
    assert len(shots) >= 6 and all(p.exists() and p.stat().st_size > 4000 for p in shots), shots
