"""What every `edgemind` command writes besides its text: exit codes and the one JSON object of `--json`.

An error's own exit code and headline (core/errors.py) decide how `main()` reports it, so a command raises and never
formats an error itself.
"""

from __future__ import annotations

import json
import sys
from typing import Any

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def print_json(obj: Any) -> None:
    """One JSON object on one line; values JSON cannot hold (paths, dates) as their text."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
