"""Windows half of confined.py (untested on the Linux CI): open, then verify the handle's final path and file id.

Windows has no dir_fd, so every folder from the drive root down is held open with a handle that does not share
delete: while it is held, nobody can rename or replace it, so the path checked stays the path read. Each handle's
final path (GetFinalPathNameByHandleW) must equal the checked one: a junction or symlink met on the way is followed
by the open, so its final path differs and it is refused; a file must also match the checked path's volume and file
id.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .confined import Folder, UnsafePath
from .confined_paths import CheckedFolder, same_path

_GENERIC_READ = 0x80000000
_FILE_SHARE_READ_WRITE = 0x1 | 0x2  # deliberately not FILE_SHARE_DELETE: a held folder cannot be renamed
_OPEN_EXISTING = 3
_FILE_FLAG_BACKUP_SEMANTICS = 0x02000000  # needed to open a folder
_INVALID_HANDLE = -1


def _kernel32() -> Any:
    if sys.platform != "win32":
        raise UnsafePath("verified handles are Windows-only")
    import ctypes  # lazy: only Windows gets here

    return ctypes.WinDLL("kernel32", use_last_error=True)


def final_path(handle: int) -> str:
    """The path Windows says an open handle refers to, without the \\\\?\\ prefix."""
    import ctypes  # lazy: only Windows gets here

    buf = ctypes.create_unicode_buffer(32_768)
    n = _kernel32().GetFinalPathNameByHandleW(ctypes.c_void_p(handle), buf, len(buf), 0)
    if n == 0 or n >= len(buf):
        raise UnsafePath("cannot read the final path of an opened file")
    text = buf.value
    if text.startswith("\\\\?\\UNC\\"):
        return "\\\\" + text[8:]
    return text[4:] if text.startswith("\\\\?\\") else text


class VerifiedFolder(CheckedFolder):
    """A folder held open without delete sharing, its final path proven to be the checked one."""

    owned_by_child = False  # set on a folder whose handle the folder below it closes (open_folder_verified's chain)

    def __init__(self, path: Path, parent: VerifiedFolder | None = None) -> None:
        self._handle = _INVALID_HANDLE
        self._parent = parent
        super().__init__(path)

    def verify_folder(self, path: Path) -> None:
        if sys.platform != "win32":
            raise UnsafePath("verified handles are Windows-only")
        import ctypes  # lazy: only Windows gets here

        k32 = _kernel32()
        k32.CreateFileW.restype = ctypes.c_void_p
        handle = k32.CreateFileW(str(path), _GENERIC_READ, _FILE_SHARE_READ_WRITE, None, _OPEN_EXISTING,
                                 _FILE_FLAG_BACKUP_SEMANTICS, None)
        if handle is None or handle == ctypes.c_void_p(-1).value:
            raise UnsafePath(f"cannot open folder {path} (Windows error {ctypes.get_last_error()})")
        self._handle = int(handle)
        if not same_path(final_path(self._handle), path):
            self.close()
            raise UnsafePath(f"{path} is a link or junction, or changed while it was opened; refused")

    def verify_file(self, fd: int, path: Path) -> None:
        if sys.platform != "win32":
            raise UnsafePath("verified handles are Windows-only")
        import msvcrt  # lazy: only Windows gets here

        if not same_path(final_path(msvcrt.get_osfhandle(fd)), path):
            raise UnsafePath(f"{path} is a link or changed while it was opened; refused")
        super().verify_file(fd, path)

    def folder(self, name: str) -> Folder:
        return VerifiedFolder(self.path / name, self)

    def close(self) -> None:
        if self._handle != _INVALID_HANDLE:
            import ctypes  # lazy: only Windows gets here

            _kernel32().CloseHandle(ctypes.c_void_p(self._handle))
            self._handle = _INVALID_HANDLE
        if self._parent is not None and self._parent.owned_by_child:
            self._parent.close()
            self._parent = None


def open_folder_verified(path: Path) -> Folder:
    """Hold every folder from the drive root down to `path`, each verified, so none can be swapped while read."""
    if sys.platform != "win32":
        raise UnsafePath("verified handles are Windows-only")
    here = Path(path.anchor)
    folder = VerifiedFolder(here)
    try:
        for name in path.parts[1:]:
            here = here / name
            child = VerifiedFolder(here, folder)
            folder.owned_by_child = True  # closed when the deepest folder is closed
            folder = child
    except BaseException:
        folder.close()
        raise
    return folder
