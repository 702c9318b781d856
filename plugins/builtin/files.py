"""List, read and search files inside folders the user granted; nothing outside them, no secrets files.

The runner has already resolved `path` to its real location and checked the grant; walking a folder re-checks
every entry, because a symlink inside a granted folder may point anywhere.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from pathlib import Path

from edgemind.core.tools.registry import ToolError
from edgemind.core.tools.scopes import path_within
from edgemind.plugins.builtin.secrets_lines import SECRET_PATH_PATTERNS
from edgemind.plugins.sdk import tool

MAX_READ_BYTES = 1_000_000
MAX_LIST_ENTRIES = 500
MAX_SEARCH_FILES = 5_000
MAX_SEARCH_FILE_BYTES = 2_000_000
_SECRET = [re.compile(p, re.IGNORECASE) for p in SECRET_PATH_PATTERNS]


def is_secret(path: str) -> bool:
    return any(p.search(path) for p in _SECRET)


def _inside(root: Path, entry: Path) -> Path | None:
    """The entry's real path when it exists, stays inside root and is not a secret, else None."""
    real = Path(os.path.normcase(os.path.realpath(entry)))
    # a dangling or looping symlink has no real target: skipped, so one bad link cannot fail a whole listing
    if not path_within(real, root) or is_secret(str(real)) or not real.exists():
        return None
    return real


@tool(plugin="files", scopes=["fs.read:{path}"], red_lines={"path": SECRET_PATH_PATTERNS}, timeout_s=10)
def files_list(path: str, pattern: str = "*") -> list[dict[str, object]]:
    """List a folder's entries (name, type, size), optionally filtered by a glob pattern like "*.py"."""
    root = Path(path)
    if not root.is_dir():
        raise ToolError(f"files_list: not a folder: {path}")
    out: list[dict[str, object]] = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name.lower()):
        if not fnmatch.fnmatch(entry.name, pattern) or _inside(root, entry) is None:
            continue
        kind = "folder" if entry.is_dir() else "file"
        out.append({"name": entry.name, "type": kind, "size": entry.stat().st_size if kind == "file" else None})
        if len(out) >= MAX_LIST_ENTRIES:
            out.append({"name": f"... more than {MAX_LIST_ENTRIES} entries", "type": "note", "size": None})
            break
    return out


@tool(plugin="files", scopes=["fs.read:{path}"], red_lines={"path": SECRET_PATH_PATTERNS}, timeout_s=10)
def files_read(path: str, max_bytes: int = 65_536) -> str:
    """Read a text file (UTF-8), up to max_bytes; lines are numbered so answers can cite them."""
    target = Path(path)
    if not target.is_file():
        raise ToolError(f"files_read: not a file: {path}")
    limit = max(1, min(int(max_bytes), MAX_READ_BYTES))
    with target.open("rb") as f:
        data = f.read(limit + 1)
    if b"\x00" in data[:8192]:
        raise ToolError(f"files_read: {target.name} is a binary file")
    text = data[:limit].decode("utf-8", errors="replace")
    lines = [f"{i:>5}  {line}" for i, line in enumerate(text.splitlines(), start=1)]
    more = "\n[... truncated]" if len(data) > limit else ""
    return "\n".join(lines) + more


def _searchable(root: Path) -> Iterator[tuple[str, Path]]:
    """(name to show, real path) of every text-file candidate under root, never leaving it; root may be one file."""
    if root.is_file():
        yield root.name, root
        return
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".") and _inside(root, Path(folder) / d) is not None]
        for name in names:
            real = _inside(root, Path(folder) / name)
            if real is not None and real.is_file() and real.stat().st_size <= MAX_SEARCH_FILE_BYTES:
                yield str(Path(folder, name).relative_to(root)), real


@tool(plugin="files", scopes=["fs.read:{path}"], red_lines={"path": SECRET_PATH_PATTERNS}, timeout_s=20)
def files_search(path: str, query: str, max_results: int = 50) -> list[dict[str, object]]:
    """Search a text file, or the text files under a folder, for a word or phrase (case-insensitive); returns file,
    line, text."""
    root = Path(path)
    if not root.exists():
        raise ToolError(f"files_search: no such file or folder: {path}")
    needle = query.strip().lower()
    if not needle:
        raise ToolError("files_search: empty query")
    limit = max(1, min(max_results, 500))
    hits: list[dict[str, object]] = []
    for scanned, (shown, real) in enumerate(_searchable(root), start=1):
        if scanned > MAX_SEARCH_FILES:
            break
        try:
            with real.open("rb") as f:
                data = f.read()
        except OSError:
            continue
        if b"\x00" in data[:8192]:
            continue
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if needle in line.lower():
                hits.append({"file": shown, "line": number, "text": line.strip()[:200]})
                if len(hits) >= limit:
                    return hits
    return hits


TOOLS = [files_list, files_read, files_search]
