"""Desktop app fixtures: Qt on the offscreen platform (no display needed), a real app over a real engine with the
tiny model, and the folder where the surfaces' screenshots are kept (test-artifacts/screenshots)."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import: tests never need a screen

from pathlib import Path
from typing import Iterator

import pytest

from edgemind.core.settings import Settings

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def gui(qtbot, settings: Settings) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from edgemind.app.main import build

    # Collect the last test's Qt objects here, on the GUI thread: left for later, the collector can run in the
    # worker that builds the engine, and deleting a Qt object off its thread crashes PySide6 6.12 (seen once, a
    # segfault while "Garbage-collecting" in app/context.py's worker).
    gc.collect()
    app = build(settings)
    qtbot.waitUntil(lambda: app.ctx.engine is not None or app.ctx.engine_error is not None, timeout=120_000)
    assert app.ctx.engine is not None, app.ctx.engine_error
    yield app
    app.close()
    gc.collect()


@pytest.fixture
def shot():  # type: ignore[no-untyped-def]
    """Save a widget as test-artifacts/screenshots/NAME.png (kept after the run, to be looked at)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(widget, name: str) -> Path:  # type: ignore[no-untyped-def]
        path = SCREENSHOTS / f"{name}.png"
        assert widget.grab().save(str(path)), f"could not save {path}"
        return path

    return save
