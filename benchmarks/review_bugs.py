"""Code review on planted-bug files: the model alone against the analyzers with the model (recall, false findings).

    EDGEMIND_THREADS=1 .venv/bin/python benchmarks/review_bugs.py --json benchmarks/results/review_bugs.json
    .venv/bin/python benchmarks/review_bugs.py --configs analyzers            # the analyzers alone, in seconds

The files and the planted lines are in benchmarks/review_bugs/ (manifest.json).
"""

from __future__ import annotations

import sys

from edgemind.core.bench.review_bugs import main
from edgemind.core.errors import EdgeMindError

if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgeMindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
