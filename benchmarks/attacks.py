"""The attack pass: every `@pytest.mark.attack(kind)` test run once, counted per README security promise.

    .venv/bin/python benchmarks/attacks.py --json benchmarks/results/attacks.json

Exits 1 when any attack broke through. The README's attack table and docs/benchmarks.md come from the JSON.
"""

from __future__ import annotations

from edgemind.core.bench.attacks import main
from edgemind.core.bench.script import run_script

if __name__ == "__main__":
    run_script(main)
