"""Citations a shell may turn into links: a tool returns them beside its result (`Sourced`), and a link opens only a
file inside a folder the user granted, at the cited line, through the user's own editor command or the system.

Model text is never parsed for paths: a link exists only where a tool's result carried a Citation, and even then
the path is resolved (links followed) and checked against the granted folders before anything opens it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EdgeMindError
from ..events import Citation
from .scopes import ScopeError, canonical_path, path_within

PLACEHOLDERS = ("{path}", "{line}")


class CitationError(EdgeMindError):
    """A citation that will not be opened: outside the granted folders, gone, or an unusable editor command."""

    kind = "citation"


@dataclass(frozen=True, slots=True)
class Sourced:
    """A tool's result and where it came from: the model is shown `value` only; `sources` reach the shell."""

    value: Any
    sources: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class Opening:
    """How to open a cited file: `argv` (the user's editor command, run without a shell) or else `path` with the
    system's default application (which cannot be told a line)."""

    path: Path
    line: int
    argv: tuple[str, ...] = ()


def resolve(citation: Citation, roots: Iterable[Path | str]) -> Path:
    """The real path of a cited file, when it is a file inside one of `roots` (the folders the user granted);
    CitationError otherwise. Both sides are canonical, so `..` and links cannot lead a citation out."""
    try:
        path = canonical_path(citation.path)
    except ScopeError as exc:
        raise CitationError(f"not opening {citation.label}: {exc}") from None
    folders = []
    for root in roots:
        try:
            folders.append(canonical_path(root))
        except ScopeError:
            continue
    if not any(path_within(path, folder) for folder in folders):
        raise CitationError(f"not opening {citation.label}: {path} is outside the folders you added to Documents")
    if not path.is_file():
        raise CitationError(f"not opening {citation.label}: {path} no longer exists")
    return path


def check_editor_command(template: str) -> str:
    """An editor command template (`code --goto {path}:{line}`) that names {path}; ConfigError-style message
    otherwise. Empty means the system's default application."""
    if not template.strip():
        return ""
    try:
        parts = shlex.split(template, posix=os.name != "nt")
    except ValueError as exc:
        raise CitationError(f"editor command {template!r} cannot be split into words: {exc}") from None
    if not parts or not any("{path}" in part for part in parts):
        raise CitationError(f"editor command {template!r} must contain {{path}} (and may contain {{line}})")
    return template


def opening(citation: Citation, roots: Iterable[Path | str], editor_command: str = "") -> Opening:
    """What opening `citation` does: checked against the granted `roots`, then the editor command's words with
    {path} and {line} filled in (each word stays one argument, whatever the file's name holds)."""
    path = resolve(citation, roots)
    line = max(1, int(citation.start_line))
    template = check_editor_command(editor_command)
    if not template:
        return Opening(path, line)
    words = shlex.split(template, posix=os.name != "nt")
    argv = tuple(w.replace("{path}", str(path)).replace("{line}", str(line)) for w in words)
    return Opening(path, line, argv)
