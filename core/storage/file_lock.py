"""An exclusive lock between processes, held on a lock file: the audit anchor's read-modify-write, and artifacts that
several EdgeMind processes (the app, the CLI, the API server) may each find missing and build at once."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar


def lock_file(path: Path) -> int:
    """Open `path` (0600, created if needed) and block until this process holds it; the descriptor to unlock.
    OSError when it cannot be opened."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt  # Windows only

            while True:
                try:  # LK_LOCK itself gives up after 10 tries a second apart: keep waiting, as flock does
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
        else:
            import fcntl  # POSIX only

            fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def unlock_file(fd: int) -> None:
    try:
        if sys.platform == "win32":
            import msvcrt  # Windows only

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl  # POSIX only

            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


T = TypeVar("T")


def built_once(path: Path | None, load: Callable[[Path], T | None], build: Callable[[], T],
               save: Callable[[Path, T], None]) -> T:
    """The artifact at `path` (a trained classifier, a built encoder): read, else built and saved, by one process at
    a time. The app, the CLI and the API server can start together on a fresh data folder; the second to find the
    file missing waits for the first's build (tens of seconds) and reads it rather than doing it again. `load`
    returns None for a missing or unusable file; `save` handles its own write errors. Without a folder to lock in
    (read-only, or `path` None) it just builds."""
    if path is None:
        return build()
    found = load(path)
    if found is not None:
        return found
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd: int | None = lock_file(path.parent / "build.lock")  # one per folder: no stale lock files
    except OSError:
        fd = None
    try:
        found = load(path)  # built by another process while this one waited
        if found is not None:
            return found
        value = build()
        save(path, value)
        return value
    finally:
        if fd is not None:
            unlock_file(fd)
