"""llama.cpp on the CPU it meets: decode speed of each CPU variant of the portable build (and of a native build),
and the share of its idle speed decode keeps beside one CPU-bound process, per OpenMP wait policy.

How to run
    .venv/bin/python benchmarks/native_cpu.py --out benchmarks/results/native_cpu.json
        [--model PATH.gguf] [--tokens 64] [--repeats 5] [--native-python /path/to/venv/bin/python]

--native-python names an interpreter whose llama-cpp-python was built with -march=native (see the README's "CPU
dispatch" section for the command); without it only the portable variants are compared. Every figure is a median
over repeats in a fresh process, reported as a ratio to a baseline from the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from edgemind.core.bench.native_speed import native_report, summary
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.hardware import physical_cores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    models = Path(os.environ.get("EDGEMIND_MODELS_DIR") or Path(os.environ.get("EDGEMIND_HOME", "~")) / "models")
    ap.add_argument("--model", type=Path, default=models.expanduser() / "qwen2.5-coder-0.5b-instruct.gguf")
    ap.add_argument("--threads", type=int, default=physical_cores())
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5, help="decodes per child process")
    ap.add_argument("--rounds", type=int, default=3, help="passes over all builds for the variant comparison")
    ap.add_argument("--variants", default="chosen,haswell,x64",
                    help="comma-separated variant names to time, 'chosen' for EdgeMind's pick, 'all' for every one")
    ap.add_argument("--native-python", help="an interpreter whose llama-cpp-python is a -march=native build")
    ap.add_argument("--skip-contention", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if not args.model.is_file():
        ap.error(f"no model at {args.model}; pass --model or set EDGEMIND_MODELS_DIR")
    report = native_report(args.model, threads=args.threads, tokens=args.tokens, repeats=args.repeats,
                           rounds=args.rounds, variants=[v.strip() for v in args.variants.split(",") if v.strip()],
                           native_python=args.native_python, contention=not args.skip_contention,
                           progress=lambda m: print(m, file=sys.stderr, flush=True))
    if args.out:
        write_result(args.out, report)
    print(summary(report))
    return 0


if __name__ == "__main__":
    run_script(main)
