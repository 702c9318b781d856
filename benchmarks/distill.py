"""Distillation: the bundled Qwen 0.5B teaches the 135M SmolLM2 on generated verifiable tasks; the student with its
adapter against the base student on the newest tasks, held out (paired). Needs the `[tune]` extra; slow (see README).

    .venv/bin/python benchmarks/distill.py --json benchmarks/results/distill.json
    .venv/bin/python benchmarks/distill.py --tasks 12 --steps 10 --k 2            # a quick look
"""

from __future__ import annotations

from edgemind.core.bench.distill_run import main
from edgemind.core.bench.script import run_script

if __name__ == "__main__":
    run_script(main)
