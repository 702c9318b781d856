"""Open files and folders at a path that was checked against a grant, so that what is read is what was checked.

The runner checks a canonical path (no links in it); between that check and the read, anyone who can write inside
the granted folder can swap one of its folders for a symlink. So nothing here opens a path string in one go: on
POSIX every component is opened from its parent's handle with O_NOFOLLOW (a link met on the way is a swap and is
refused), and folders are listed and walked through those handles. Windows has no dir_fd: it opens, then verifies
the handle's final path and file id (see confined_windows.py). Never follows a symlink, never blocks on a FIFO,
never reads a file with more than one hard link (its other names cannot be proven inside the grant cheaply).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .registry import ToolError

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
# Linux: pass through a folder without needing read permission on it (an ancestor may be search-only)
_PATH = getattr(os, "O_PATH", 0)
_LINK_ERRNOS = {errno.ELOOP, errno.ENOTDIR, getattr(errno, "EMLINK", -1), getattr(errno, "EFTYPE", -1)}


class UnsafePath(ToolError):
    """A path the file tools will not open: it changed after the check, is a link, a hard link, or not a file."""

    kind = "unsafe_path"


@dataclass(frozen=True, slots=True)
class Level:
    """How strongly this machine can confine a file open; shown by the tools and stated in the README."""

    name: str  # handles | verified-handles | checked-paths
    detail: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One folder entry as seen without following it (a symlink is kind "link", whatever it points at)."""

    name: str
    path: Path  # the checked folder's path joined with the name: the name a caller shows and matches secrets on
    kind: str  # file | folder | link | other
    size: int
    links: int


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else "other"


def scan_entries(where: int | Path, path: Path) -> list[Entry]:
    """The entries of a folder opened as `where` (a handle, or a path on systems without one) that stands at `path`:
    sorted by name, none followed, one that vanishes while it is looked at left out."""
    out: list[Entry] = []
    with os.scandir(where) as found:
        for item in found:
            try:
                out.append(_entry(item.name, path / item.name, item.stat(follow_symlinks=False)))
            except OSError:
                continue
    return sorted(out, key=lambda e: e.name.lower())


def _entry(name: str, path: Path, st: os.stat_result) -> Entry:
    return Entry(name, path, _kind(st.st_mode), st.st_size, st.st_nlink)


def check_regular(st: os.stat_result, path: Path) -> None:
    """UnsafePath unless `st` is a regular file with exactly one name (a second name may be a key outside)."""
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path.name} is not a regular file")
    if st.st_nlink > 1:
        raise UnsafePath(f"{path.name} has {st.st_nlink} hard links; a hard-linked file is refused because its other "
                         "names cannot be proven to be inside the granted folder")


def _refusal(exc: OSError, path: Path) -> UnsafePath:
    if exc.errno in _LINK_ERRNOS:
        return UnsafePath(f"{path} is a link or changed while it was opened; refused (the checked path must not "
                          "contain links)")
    if exc.errno == errno.ENOENT:
        return UnsafePath(f"no such file or folder: {path}")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return UnsafePath(f"permission denied: {path}")
    return UnsafePath(f"cannot open {path}: {exc.strerror or exc}")


class Folder:
    """An open folder reached without following a link; the entries, subfolders and files below it are opened
    from its handle, so renaming or swapping anything above it no longer matters."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self.path = path

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def entries(self) -> list[Entry]:
        """Every entry, sorted by name, none followed; an entry that vanishes while it is looked at is left out."""
        return scan_entries(self._fd, self.path)

    def folder(self, name: str) -> Folder:
        """The subfolder `name`, refused when it is (or has just become) a link."""
        path = self.path / name
        try:
            fd = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=self._fd)
        except OSError as exc:
            raise _refusal(exc, path) from None
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise UnsafePath(f"{path} is not a folder")
        return Folder(fd, path)

    def read(self, name: str, limit: int) -> bytes:
        """Up to `limit` bytes of the regular, singly linked file `name` (a link, FIFO or device is refused)."""
        path = self.path / name
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _NOCTTY | _CLOEXEC, dir_fd=self._fd)
        except OSError as exc:
            raise _refusal(exc, path) from None
        with os.fdopen(fd, "rb") as f:
            check_regular(os.fstat(f.fileno()), path)
            return f.read(limit)

    def stat(self, name: str) -> Entry:
        """What `name` is, without following it."""
        try:
            return _entry(name, self.path / name, os.stat(name, dir_fd=self._fd, follow_symlinks=False))
        except OSError as exc:
            raise _refusal(exc, self.path / name) from None


def _open_folder_posix(path: Path) -> Folder:
    """Walk from the file system's root to `path`, one component at a time, never following a link."""
    fd = os.open(path.anchor or os.sep, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    names = path.parts[1:]
    here = Path(path.anchor)
    try:
        for i, name in enumerate(names):
            here = here / name
            last = i == len(names) - 1
            mode = _PATH if _PATH and not last else os.O_RDONLY
            try:
                nxt = os.open(name, mode | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise _refusal(exc, here) from None
            os.close(fd)
            fd = nxt
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise UnsafePath(f"{here} is not a folder")
    except BaseException:
        os.close(fd)
        raise
    return Folder(fd, path)


def _handles_work() -> bool:
    return (os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd and os.scandir in os.supports_fd
            and bool(_NOFOLLOW) and bool(_DIRECTORY))


def level() -> Level:
    """The confinement this machine gives the file tools (the weaker levels are named, never silent)."""
    if sys.platform == "win32":
        return Level("verified-handles", "each file and folder is opened, then its final path and file id are "
                                         "checked; folders on the path are held open without delete sharing")
    if _handles_work():
        return Level("handles", "every path component is opened from its parent's handle with O_NOFOLLOW")
    return Level("checked-paths", "no dir_fd on this system: files are opened by path with O_NOFOLLOW and their "
                                  "device and inode compared with the checked path's afterwards (a narrow race "
                                  "on intermediate folders remains)")


def open_folder(path: Path) -> Folder:
    """The folder at canonical `path`, opened so that no link on the way is followed."""
    if sys.platform == "win32":
        from .confined_windows import open_folder_verified  # lazy: ctypes/Win32 code, imported on Windows only

        return open_folder_verified(path)
    if _handles_work():
        return _open_folder_posix(path)
    from .confined_paths import open_folder_checked  # lazy: the weaker fallback, only where dir_fd is missing

    return open_folder_checked(path)


def read_file(path: Path, limit: int) -> bytes:
    """Up to `limit` bytes of the file at canonical `path`, opened through its folder's handle."""
    if not path.name:
        raise UnsafePath(f"not a file: {path}")
    with open_folder(path.parent) as folder:
        return folder.read(path.name, limit)


def inspect(path: Path) -> Entry:
    """What canonical `path` is (not followed), looked at through its folder's handle."""
    if not path.name:
        with open_folder(path):
            return Entry(path.anchor, path, "folder", 0, 1)
    with open_folder(path.parent) as folder:
        return folder.stat(path.name)


def walk(root: Folder, descend: Callable[[Entry], bool], max_depth: int = 64) -> Iterator[tuple[Folder, Entry]]:
    """(open folder, entry) for every non-folder entry under `root`, depth first, entering a subfolder only when
    `descend` says so and only through its handle; a subfolder that became a link is skipped, not followed."""
    for entry in root.entries():
        if entry.kind != "folder":
            yield root, entry
            continue
        if max_depth <= 0 or not descend(entry):
            continue
        try:
            sub = root.folder(entry.name)
        except UnsafePath:
            continue
        with sub:
            yield from walk(sub, descend, max_depth - 1)
