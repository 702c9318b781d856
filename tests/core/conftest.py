"""Fixtures the core tests share."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def notes() -> Path:
    """A folder with one note holding a code word, for the tool loop's file tests."""
    folder = Path(tempfile.gettempdir()) / "notes"  # a fixed, plain name: the route does not change with it
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "plan.txt").write_text("Launch checklist.\nThe code word is PAPAYA-42.\n")
    return folder
