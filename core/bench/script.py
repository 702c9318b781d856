"""The `__main__` of every benchmark script: our own errors end as one line with their exit code, never a traceback.

A benchmark is run by hand or from CI with a bad path or a missing extra; the user should read what to fix, the way
`edgemind` itself reports it (core/cli/main.py), not a stack.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

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
