"""Fixtures the core tests share."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def notes() -> Path:
    """A folder with one note holding a code word, for the tool loop's file tests."""
    folder = Path(tempfile.gettempdir()) / "notes"  # a fixed, plain name: the route does not change with it
    folder.mkdir(exist_ok=True)
    # Parallel test workers share this folder: each writes the same text and swaps it in whole, never removing it.
    staged = folder / f".plan.{os.getpid()}"
    staged.write_text("Launch checklist.\nThe code word is PAPAYA-42.\n")
    os.replace(staged, folder / "plan.txt")
    return folder
