"""Write a small file that only its owner may read, replacing the old one atomically.

For secrets and seals in the data folder (the audit anchor): a crash leaves either the old file or the new one, never
half of one, and the file is never readable by others, not even for a moment.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` as 0600: a temporary file beside it, fsync, `os.replace`, then fsync the folder."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sys.platform != "win32":  # the rename itself is durable only once the folder is synced (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
