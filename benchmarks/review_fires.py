"""How often the review's own AST checks fire on real code with no planted bugs (issue 18).

    .venv/bin/python benchmarks/review_fires.py --json benchmarks/results/review_fires.json
"""

from __future__ import annotations

from edgemind.core.bench.review_fires import main
from edgemind.core.bench.script import run_script

if __name__ == "__main__":
    run_script(main)
