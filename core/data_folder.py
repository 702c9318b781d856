"""The data folder kept private: only the user who runs EdgeMind can enter it or read what EdgeMind writes there.

POSIX (Linux, macOS): the folder is 0700 and every file EdgeMind creates in it 0600, set at creation whatever the
umask; a folder an older version left open is tightened on open, with one notice. Windows: the folder gets a
protected ACL that grants the current user alone, inherited by everything inside. It must never loosen a mode, never
follow a link out of the folder, and never make a shared folder (a home, `/tmp`) private behind the user's back.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import StoreError

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
_OPEN_TO_OTHERS = 0o077
# Files EdgeMind's own code writes directly in the data folder (SQLite gives -wal and -shm the database's own mode):
# the only ones touched in a shared folder.
_OWN_FILES = frozenset({"edgemind.db", "edgemind.db-wal", "edgemind.db-shm", "cache.db", "cache.db-wal", "cache.db-shm",
                        "api_key", "audit.key", "settings.toml", "remote_keys.json", "mcp.json",
                        "mcp_secrets.json", "mcp_tools.json", "welcome_seen"})
_MARKER = ".private"  # Windows: the ACL was set (checking an ACL needs more than a stat)


@dataclass(frozen=True, slots=True)
class Privacy:
    """What protects the data folder on this machine: `level` names it (for `doctor` and the README), `notice` is the
    one line said when an existing folder had to be tightened."""

    level: str
    notice: str | None = None


def protection_level() -> str:
    """The kind of protection this OS gives the data folder, as `doctor` shows it."""
    if sys.platform == "win32":
        return "windows-acl (current user only; untested on this build machine)"
    return "posix 0700 folder, 0600 files"


def describe_privacy(home: Path) -> str:
    """One line for `doctor`: whether the folder is private now, and by what protection."""
    if not home.exists():
        return f"made private when created ({protection_level()})"
    if sys.platform == "win32":
        restricted = (home / _MARKER).exists()
        return f"{'private' if restricted else 'NOT restricted yet'} ({protection_level()})"
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & _OPEN_TO_OTHERS:
        return f"OPEN to other users (mode {mode:o}); the next EdgeMind start makes it private"
    return f"private ({protection_level()}; folder mode {mode:o})"


def secure_data_folder(home: Path) -> Privacy:
    """Create the data folder private, or make an existing one private; safe and cheap to call on every open.

    An existing folder that others could enter is tightened together with everything in it (not following links),
    and the notice is logged as one warning line. A folder that is plainly not EdgeMind's own (the user's home, the
    root, a sticky shared folder such as /tmp) is never changed: only the files EdgeMind writes get their 0600.
    """
    try:
        created = _make_folder(home)
    except OSError as exc:
        raise StoreError(f"cannot create the data folder {home}: {exc.strerror or exc}") from None
    if sys.platform == "win32":
        return _secure_windows(home, created)
    return _secure_posix(home)


def _make_folder(home: Path) -> bool:
    if home.is_dir():
        return False
    home.parent.mkdir(parents=True, exist_ok=True)
    try:
        home.mkdir(mode=FOLDER_MODE)
    except FileExistsError:
        return False
    if sys.platform != "win32":
        os.chmod(home, FOLDER_MODE)  # mkdir's mode is masked by the umask; this one is not
    return True


def _shared_folder(home: Path) -> bool:
    try:
        resolved = home.resolve()
        if resolved in (Path(resolved.anchor), Path.home().resolve()):
            return True
        return bool(resolved.stat().st_mode & stat.S_ISVTX)
    except (OSError, RuntimeError):
        return True


def _secure_posix(home: Path) -> Privacy:
    level = protection_level()
    try:
        mode = stat.S_IMODE(home.stat().st_mode)
    except OSError as exc:
        log.warning("cannot check the data folder %s: %s", home, exc.strerror or exc)
        return Privacy(f"{level}: unchecked")
    if not mode & _OPEN_TO_OTHERS:
        _tighten_top_level(home)
        return Privacy(level)
    if _shared_folder(home):
        _tighten_top_level(home, files_only=True)
        notice = (f"the data folder {home} is a shared folder (mode {mode:o}); it was left as it is, so only "
                  "EdgeMind's files in it are private: set EDGEMIND_HOME to a folder of its own")
        log.warning(notice)
        return Privacy(f"{level}: files only", notice)
    try:
        os.chmod(home, FOLDER_MODE)
    except OSError as exc:
        notice = f"the data folder {home} is readable by other users (mode {mode:o}) and could not be made private: " \
                 f"{exc.strerror or exc}"
        log.warning(notice)
        return Privacy(f"{level}: open", notice)
    changed = sum(1 for _ in _tighten_tree(home))
    notice = (f"the data folder {home} was open to other users (mode {mode:o}); made it private (0700, files 0600"
              f"{f', {changed} entries tightened' if changed else ''})")
    log.warning(notice)
    return Privacy(level, notice)


def _tighten(path: Path, st: os.stat_result) -> bool:
    """Take group and other bits off one entry (never adds any); True when it changed."""
    mode = stat.S_IMODE(st.st_mode)
    if not mode & _OPEN_TO_OTHERS:
        return False
    want = FOLDER_MODE if stat.S_ISDIR(st.st_mode) else mode & FILE_MODE
    try:
        os.chmod(path, want)
    except OSError as exc:
        log.warning("cannot make %s private: %s", path, exc.strerror or exc)
        return False
    return True


def _tighten_top_level(home: Path, *, files_only: bool = False) -> None:
    """Each open: the entries right in the folder (and the logs), a few stats; catches a file another program made.
    `files_only`: a shared folder, where only EdgeMind's own files are ours to change."""
    for folder in (home, home / "logs"):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if files_only and not (folder == home and entry.name in _OWN_FILES and stat.S_ISREG(st.st_mode)):
                continue
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                _tighten(Path(entry.path), st)


def _tighten_tree(home: Path) -> Iterator[Path]:
    """Every folder and file under `home`, links neither followed nor changed (one could point anywhere)."""
    for root, dirs, files in os.walk(home, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(root, name)
            try:
                st = path.lstat()
            except OSError:
                continue
            if (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)) and _tighten(path, st):
                yield path


def private_folder(path: Path) -> Path:
    """A folder inside the data folder (logs, the docs index): created 0700, an existing open one tightened."""
    path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    if sys.platform != "win32" and not _shared_folder(path):
        try:
            _tighten(path, path.stat())
        except OSError as exc:
            log.warning("cannot make %s private: %s", path, exc.strerror or exc)
    return path


def open_private(path: Path, flags: int) -> int:
    """os.open for a file only the user may read: created 0600 whatever the umask, an existing one tightened.

    O_NOFOLLOW where the OS has it: a link planted under the name must not redirect our write elsewhere."""
    fd = os.open(path, flags | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    if sys.platform != "win32":
        try:
            os.fchmod(fd, FILE_MODE)
        except OSError:
            os.close(fd)
            raise
    return fd


def append_private(path: Path) -> IO[str]:
    """A log file opened for appending, 0600."""
    return os.fdopen(open_private(path, os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8")


def write_private(path: Path, text: str) -> None:
    """Replace a file's whole text through a 0600 temporary file beside it, synced before and after the rename: a
    crash leaves the old file or the new one, never half of one, and no reader sees it open to others (secrets,
    settings and the audit anchor all go through here)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_EXCL | getattr(os, "O_BINARY", 0))
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


def prepare_database_file(path: Path) -> None:
    """Before SQLite opens a database: the file exists 0600 (SQLite then creates its -wal and -shm files with that
    same mode, umask or not), and an old open one and its companions are tightened."""
    if sys.platform == "win32":
        return  # the folder's inherited ACL covers the files
    os.close(open_private(path, os.O_RDWR))
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        try:
            _tighten(companion, companion.lstat())
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot make %s private: %s", companion, exc.strerror or exc)


# ---- Windows -------------------------------------------------------------------------------------------------------
def _secure_windows(home: Path, created: bool) -> Privacy:
    level = protection_level()
    marker = home / _MARKER
    if not created and marker.exists():
        return Privacy(level)
    try:
        _restrict_to_current_user(home)
        marker.touch()
    except OSError as exc:
        notice = f"the data folder {home} could not be restricted to the current user: {exc}"
        log.warning(notice)
        return Privacy("windows: inherited ACL (not restricted)", notice)
    if created:
        return Privacy(level)
    notice = f"the data folder {home} was made private (an ACL for the current user only)"
    log.warning(notice)
    return Privacy(level, notice)


def _restrict_to_current_user(path: Path) -> None:
    """Replace the folder's DACL with one protected entry: full control for this process's user, inherited by every
    file and folder inside (SDDL `D:P(A;OICI;FA;;;<sid>)`). Written against the Win32 API with ctypes; it runs only on
    Windows and is not exercised by the Linux test runs."""
    if sys.platform != "win32":
        raise OSError("only on Windows")
    import ctypes  # lazy: Windows only
    from ctypes import wintypes  # lazy: Windows only

    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    token = wintypes.HANDLE()
    token_query, token_user_class = 0x0008, 1
    if not advapi32.OpenProcessToken(kernel32.GetCurrentProcess(), token_query, ctypes.byref(token)):
        raise ctypes.WinError(ctypes.get_last_error())
    try:
        needed = wintypes.DWORD()
        advapi32.GetTokenInformation(token, token_user_class, None, 0, ctypes.byref(needed))
        buffer = ctypes.create_string_buffer(needed.value)
        if not advapi32.GetTokenInformation(token, token_user_class, buffer, needed, ctypes.byref(needed)):
            raise ctypes.WinError(ctypes.get_last_error())
    finally:
        kernel32.CloseHandle(token)
    sid = ctypes.c_void_p.from_buffer(buffer).value  # TOKEN_USER.User.Sid is the structure's first field
    sid_text = wintypes.LPWSTR()
    if not advapi32.ConvertSidToStringSidW(ctypes.c_void_p(sid), ctypes.byref(sid_text)):
        raise ctypes.WinError(ctypes.get_last_error())
    try:
        sddl = f"D:P(A;OICI;FA;;;{sid_text.value})"
    finally:
        kernel32.LocalFree(sid_text)
    descriptor = ctypes.c_void_p()
    sddl_revision_1 = 1
    if not advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl, sddl_revision_1, ctypes.byref(descriptor), None):
        raise ctypes.WinError(ctypes.get_last_error())
    try:
        present, defaulted = wintypes.BOOL(), wintypes.BOOL()
        dacl = ctypes.c_void_p()
        if not advapi32.GetSecurityDescriptorDacl(descriptor, ctypes.byref(present), ctypes.byref(dacl),
                                                  ctypes.byref(defaulted)):
            raise ctypes.WinError(ctypes.get_last_error())
        se_file_object = 1
        dacl_security_information, protected_dacl_security_information = 0x4, 0x80000000
        status = advapi32.SetNamedSecurityInfoW(
            str(path), se_file_object, dacl_security_information | protected_dacl_security_information,
            None, None, dacl, None)
        if status != 0:
            raise ctypes.WinError(status)
    finally:
        kernel32.LocalFree(descriptor)
