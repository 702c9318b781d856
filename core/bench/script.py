"""The `__main__` of every benchmark script: our own errors end as one line with their exit code, never a traceback.

A benchmark is run by hand or from CI with a bad path or a missing extra; the user should read what to fix, the way
`edgemind` itself reports it (core/cli/main.py), not a stack.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from ..errors import EdgeMindError


def run_script(main: Callable[[], int], *, also: tuple[type[Exception], ...] = ()) -> NoReturn:
    """Exit with main()'s status; an EdgeMindError (or one of `also`, exit 1) becomes `error: <message>` on stderr."""
    try:
        status = main()
    except EdgeMindError as exc:
        print(f"{exc.headline}: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except also as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(status)


def write_result(path: str | Path, data: Any) -> None:
    """Write a benchmark's result file the same way for every script (docs_page renders the committed ones): its
    folder made, JSON with a two-space indent, text as it is (UTF-8), paths and dates as their text, a final newline."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
