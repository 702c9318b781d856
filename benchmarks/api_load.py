"""Load on `edgemind serve` against `python -m llama_cpp.server` on the same model, in the same run.

Both servers run at once on loopback (the idle one costs no CPU); for each concurrency level (1, 4, 8 clients, each
sending its requests one after another) the two are measured alternately, `--repeats` times, and the medians are
reported: completion tokens/s over the wall time, requests/s, p50/p99 request latency. Every prompt is distinct, so
EdgeMind's answer cache never answers (it is also turned off), and both servers generate at temperature 0. Requests
name the model (not "auto"), so both answer with the same file; EdgeMind's router still embeds each prompt to pick
the intent's system prompt, as it does for every request. The 1-minute load average is printed with each level:
other work on the machine skews the figures (repeat when it is high).

    .venv/bin/python benchmarks/api_load.py [--model smollm2-135m-instruct] [--max-tokens 32] [--repeats 3]

Needs llama-cpp-python's server extras: pip install -e ".[bench]".
"""

from __future__ import annotations

import argparse
import sys

from edgemind.core.bench.script import run_script, write_result
from edgemind.core.bench.server_load import measure_server_load
from edgemind.core.settings import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--levels", default="1,4,8")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    try:
        report = measure_server_load(load_settings(), model=args.model, max_tokens=args.max_tokens,
                                     repeats=args.repeats, levels=[int(c) for c in args.levels.split(",")],
                                     progress=lambda m: print(m, flush=True))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out:
        write_result(args.out, report)
    return 0


if __name__ == "__main__":
    run_script(main)
