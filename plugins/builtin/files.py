"""List, read and search files inside folders the user granted; nothing outside them, no secrets files.

The runner has already resolved `path` to its real location and checked the grant. Every open here goes through
core.tools.confined: from the file system's root to the file, one handle at a time, never following a link, so a
folder swapped for a symlink after the check is refused instead of read. A symlink inside the folder is followed
only to a real path that is inside it and not a secret, and that path is opened the same confined way. Files with
more than one hard link, FIFOs and devices are refused.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from edgemind.core.tools.confined import Entry, UnsafePath, inspect, open_folder, read_file, walk
from edgemind.core.tools.registry import ToolError
from edgemind.core.tools.scopes import path_within
from edgemind.plugins.builtin.secrets_lines import SECRET_PATH_PATTERNS, is_secret
from edgemind.plugins.sdk import tool

__all__ = ["MAX_LIST_ENTRIES", "MAX_READ_BYTES", "MAX_SEARCH_FILES", "MAX_SEARCH_FILE_BYTES", "TOOLS",
           "files_list", "files_read", "files_search", "is_secret", "text_files"]

MAX_READ_BYTES = 1_000_000
MAX_LIST_ENTRIES = 500
MAX_SEARCH_FILES = 5_000
MAX_SEARCH_FILE_BYTES = 2_000_000


def _inside(root: Path, entry: Path) -> Path | None:
    """The entry's real path when it exists, stays inside root and is not a secret, else None."""
    real = Path(os.path.normcase(os.path.realpath(entry)))
    # a dangling or looping symlink has no real target: skipped, so one bad link cannot fail a whole listing
    if not path_within(real, root) or is_secret(str(real)) or not real.exists():
        return None
    return real


def _shown(root: Path, entry: Entry) -> Entry | None:
    """What a listing may show for `entry`: itself, what an inside link points at (looked at confined), or None."""
    if is_secret(str(entry.path)):
        return None
    if entry.kind != "link":
        return entry
    real = _inside(root, entry.path)
    if real is None:
        return None
    try:
        target = inspect(real)
    except UnsafePath:
        return None
    return Entry(entry.name, entry.path, target.kind, target.size, target.links)


def _fail(name: str, exc: UnsafePath) -> ToolError:
    return ToolError(f"{name}: {exc}")


@tool(plugin="files", scopes=["fs.read:{path}"], red_lines={"path": SECRET_PATH_PATTERNS}, timeout_s=10)
def files_list(path: str, pattern: str = "*") -> list[dict[str, object]]:
    """List a folder's entries (name, type, size), optionally only those whose names match a glob pattern."""
    root = Path(path)
    try:
        if inspect(root).kind != "folder":
            raise ToolError(f"files_list: not a folder: {path}")
        with open_folder(root) as folder:
            found = folder.entries()
    except UnsafePath as exc:
        raise _fail("files_list", exc) from None
    out: list[dict[str, object]] = []
    for raw in found:
        entry = _shown(root, raw) if fnmatch.fnmatch(raw.name, pattern) else None
        if entry is None or entry.kind not in ("file", "folder"):
            continue
        out.append({"name": entry.name, "type": entry.kind, "size": entry.size if entry.kind == "file" else None})
        if len(out) >= MAX_LIST_ENTRIES:
            out.append({"name": f"... more than {MAX_LIST_ENTRIES} entries", "type": "note", "size": None})
            break
    return out


@tool(plugin="files", scopes=["fs.read:{path}"], red_lines={"path": SECRET_PATH_PATTERNS}, timeout_s=10)
def files_read(path: str, max_bytes: int = 65_536) -> str:
    """Read a text file (UTF-8), up to max_bytes; lines are numbered so answers can cite them."""
    target = Path(path)
    limit = max(1, min(int(max_bytes), MAX_READ_BYTES))
    try:
        if inspect(target).kind != "file":
            raise ToolError(f"files_read: not a file: {path}")
        data = read_file(target, limit + 1)
    except UnsafePath as exc:
        raise _fail("files_read", exc) from None
    if b"\x00" in data[:8192]:
        raise ToolError(f"files_read: {target.name} is a binary file")
    text = data[:limit].decode("utf-8", errors="replace")
    lines = [f"{i:>5}  {line}" for i, line in enumerate(text.splitlines(), start=1)]
    more = "\n[... truncated]" if len(data) > limit else ""
    return "\n".join(lines) + more


def text_files(root: Path, max_bytes: int, wanted: tuple[str, ...] = (),
               on_skip: Callable[[str, str], None] | None = None) -> Iterator[tuple[str, Path, bytes]]:
    """(name relative to root, real path, contents) of every text file under root (or root itself, a file) that is
    no secret, singly linked and at most max_bytes, never leaving root; `wanted` limits the suffixes. Hidden folders
    are skipped. Shared by files_search and docs_index, so both read exactly what the grant and the list allow.
    `on_skip(name, why)` hears of each wanted file left out because it is too large or could not be read."""
    try:
        top = inspect(root)
    except UnsafePath as exc:
        raise ToolError(str(exc)) from None
    if top.kind == "file":
        if not is_secret(str(root)):
            try:
                yield root.name, root, read_file(root, max_bytes)
            except UnsafePath as exc:
                raise ToolError(str(exc)) from None
        return
    if top.kind != "folder":
        return
    try:
        opened = open_folder(root)
    except UnsafePath as exc:
        raise ToolError(str(exc)) from None
    with opened:
        for folder, entry in walk(opened, lambda e: not e.name.startswith(".") and not is_secret(str(e.path))):
            shown = _shown(root, entry)
            if shown is None or shown.kind != "file" or shown.links != 1:
                continue
            if wanted and entry.path.suffix.lower() not in wanted:
                continue
            if shown.size > max_bytes:
                if on_skip is not None:
                    on_skip(str(entry.path.relative_to(root)), f"larger than {max_bytes:,} bytes")
                continue
            try:
                if entry.kind == "file":
                    real, data = entry.path, folder.read(entry.name, max_bytes)
                else:  # a link to a file inside root: its real path, opened confined from the root of the disk
                    target = _inside(root, entry.path)
                    if target is None:
                        continue
                    real, data = target, read_file(target, max_bytes)
            except UnsafePath as exc:
                if on_skip is not None:
                    on_skip(str(entry.path.relative_to(root)), str(exc))
                continue
            yield str(entry.path.relative_to(root)), real, data


@tool(plugin="files", scopes=["fs.read:{path}"], red_lines={"path": SECRET_PATH_PATTERNS}, timeout_s=20)
def files_search(path: str, query: str, max_results: int = 50) -> list[dict[str, object]]:
    """Search a text file, or the text files under a folder, for a word or phrase (case-insensitive); returns file,
    line, text."""
    root = Path(path)
    needle = query.strip().lower()
    if not needle:
        raise ToolError("files_search: empty query")
    limit = max(1, min(max_results, 500))
    hits: list[dict[str, object]] = []
    try:
        found = text_files(root, MAX_SEARCH_FILE_BYTES)
        for scanned, (shown, _, data) in enumerate(found, start=1):
            if scanned > MAX_SEARCH_FILES:
                break
            if b"\x00" in data[:8192]:
                continue
            for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
                if needle in line.lower():
                    hits.append({"file": shown, "line": number, "text": line.strip()[:200]})
                    if len(hits) >= limit:
                        return hits
    except ToolError as exc:
        raise ToolError(f"files_search: {exc}") from None
    return hits


TOOLS = [files_list, files_read, files_search]
