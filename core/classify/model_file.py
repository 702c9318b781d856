"""Trained classifier arrays cached in the data folder: a key over everything they were trained from, and an atomic
.npz write. Reading back, and what a bad file means, is each caller's."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np


def content_key(*parts: bytes | str) -> str:
    """A short hash of the parts (training data, settings, versions), each length-prefixed so none runs into the
    next; part of a cached file's name, so changing any part retrains instead of reading stale weights."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:24]


def save_arrays(path: Path, arrays: dict[str, np.ndarray], *, stale: str | None = None) -> None:
    """Write atomically (a reader never sees half a file); with `stale`, remove the other files matching that glob
    next to it. OSError is the caller's: a read-only data folder only costs a retrain per start."""
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)  # numbers and text only: the readers load without pickle too
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(buffer.getvalue())
    partial.replace(path)
    for old in path.parent.glob(stale) if stale else ():
        if old != path:
            old.unlink(missing_ok=True)
