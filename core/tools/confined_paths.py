"""The weaker fallback of confined.py for systems without dir_fd: open by path, then prove it was the checked path.

A file is opened with O_NOFOLLOW and accepted only when its device and inode equal the checked path's and the path
still has no link in it; a swap of an intermediate folder between those steps is the narrow race this level
leaves (named "checked-paths" by confined.level()). Windows builds its verified handles on top of this.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .confined import (
    _CLOEXEC,
    _NOFOLLOW,
    _NONBLOCK,
    Entry,
    Folder,
    UnsafePath,
    _entry,
    _refusal,
    check_regular,
    scan_entries,
)

_BINARY = getattr(os, "O_BINARY", 0)


def same_path(a: str, b: Path) -> bool:
    return os.path.normcase(os.path.normpath(a)) == os.path.normcase(os.path.normpath(str(b)))


class CheckedFolder(Folder):
    """A folder reached by path and verified to be the checked one; its children are verified the same way."""

    def __init__(self, path: Path) -> None:
        super().__init__(-1, path)
        self.verify_folder(path)

    def verify_folder(self, path: Path) -> None:
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise _refusal(exc, path) from None
        if not stat.S_ISDIR(st.st_mode) or not same_path(os.path.realpath(path), path):
            raise UnsafePath(f"{path} is a link or changed while it was opened; refused (the checked path must not "
                             "contain links)")

    def verify_file(self, fd: int, path: Path) -> None:
        """The open file must be the one now at `path`, and `path` must still have no link in it."""
        opened = os.fstat(fd)
        try:
            there = os.lstat(path)
        except OSError as exc:
            raise _refusal(exc, path) from None
        if (opened.st_dev, opened.st_ino) != (there.st_dev, there.st_ino) or not same_path(os.path.realpath(path),
                                                                                           path):
            raise UnsafePath(f"{path} changed while it was opened; refused")

    def entries(self) -> list[Entry]:
        return scan_entries(self.path, self.path)

    def folder(self, name: str) -> Folder:
        return type(self)(self.path / name)

    def read(self, name: str, limit: int) -> bytes:
        path = self.path / name
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY)
        except OSError as exc:
            raise _refusal(exc, path) from None
        with os.fdopen(fd, "rb") as f:
            check_regular(os.fstat(f.fileno()), path)
            self.verify_file(f.fileno(), path)
            return f.read(limit)

    def stat(self, name: str) -> Entry:
        try:
            return _entry(name, self.path / name, os.lstat(self.path / name))
        except OSError as exc:
            raise _refusal(exc, self.path / name) from None


def open_folder_checked(path: Path) -> Folder:
    return CheckedFolder(path)
