"""Which C sources the compiled kernels were built from: setup.py compiles this digest into `_lut`, and the package
refuses a `_lut` whose digest is not that of the sources beside it. A `git pull` that changes _lut.c or _decoder.c
without a rebuild otherwise left the old module in place, and a call with the new arguments failed with a
TypeError from inside the decoder instead of a line saying to rebuild.

setup.py loads this file by path (the package is not importable before it is installed), so it imports nothing of
EdgeMind's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SOURCES = ("_lut.c", "_decoder.c")  # _lut.c includes _decoder.c


def source_digest(folder: Path) -> str | None:
    """First 16 hex digits of the SHA-256 over the sources in `folder` (line endings made \\n, so a Windows checkout
    matches), or None where they are not there (an installed wheel carries only the compiled module)."""
    h = hashlib.sha256()
    for name in SOURCES:
        try:
            h.update((folder / name).read_bytes().replace(b"\r\n", b"\n"))
        except OSError:
            return None
    return h.hexdigest()[:16]
