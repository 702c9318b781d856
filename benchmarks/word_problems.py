"""Arithmetic word problems: the model alone against the engine with its tools, exact answers computed in code.

    .venv/bin/python benchmarks/word_problems.py --split heldout --json benchmarks/results/word_problems.json
    .venv/bin/python benchmarks/word_problems.py --split dev --limit 5          # while iterating

The held-out split is the reported one and is never used to tune prompts; the dev split is for iterating.
"""

from __future__ import annotations

from edgemind.core.bench.script import run_script
from edgemind.core.bench.word_math import main

if __name__ == "__main__":
    run_script(main)
