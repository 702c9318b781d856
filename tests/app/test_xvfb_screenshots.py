"""The self-test on a real X server (Xvfb, Qt's xcb platform): every surface drawn as a user's screen would draw it.

Skipped with the reason when Xvfb is absent (install it with `apt install xvfb`); the offscreen screenshots in the
other tests still run everywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.conftest import SCREENSHOTS
from tests.support.xvfb import NO_XVFB, xvfb

pytestmark = pytest.mark.skipif(NO_XVFB is not None, reason=f"{NO_XVFB}: no X server to draw on")


def test_self_test_passes_and_draws_every_surface_under_xvfb(cli_env: dict[str, str]) -> None:
    out = SCREENSHOTS / "xvfb"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with xvfb("1280x800x24") as display:
        env = {k: v for k, v in cli_env.items() if k != "QT_QPA_PLATFORM"}
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        done = subprocess.run([sys.executable, "-m", "edgemind.core.cli", "gui", "--self-test", "--screenshot",
                               str(out / "app.png")], capture_output=True, text=True, env=env, timeout=280)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"], report
    assert report["checks"]["tray"]["hotkey"], report["checks"]["tray"]  # on X11 the app grabs its quick-ask key
    shots = [Path(p) for p in report["screenshots"]]
    assert len(shots) >= 6 and all(p.exists() and p.stat().st_size > 4000 for p in shots), shots
