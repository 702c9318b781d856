"""Code review on planted-bug files: the model alone against the analyzers with the model (recall, false findings).

    EDGEMIND_THREADS=1 .venv/bin/python benchmarks/review_bugs.py --json benchmarks/results/review_bugs.json
    .venv/bin/python benchmarks/review_bugs.py --configs analyzers            # the analyzers alone, in seconds

The files and the planted lines are in benchmarks/review_bugs/ (manifest.json).
"""

from __future__ import annotations

from edgemind.core.bench.review_bugs import main
from edgemind.core.bench.script import run_script

if __name__ == "__main__":
    run_script(main)
