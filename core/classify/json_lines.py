"""Reading JSON-lines files that users or the project write (labelled prompts, `--batch` inputs): one object a line,
blank lines skipped, and a bad line reported as one error naming the file and line number, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import EdgeMindError


def read_objects(path: Path, error: type[EdgeMindError]) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; `error` is raised for an unreadable file or a bad line, so a
    shipped data file can fail as a ConfigError and a user's batch file as a PromptError."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read ({exc})") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise error(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows
