"""Answer-cache and prefix-reuse speed, against a cold answer measured in the same run (a thin wrapper: the
measuring lives in edgemind.core.bench.cache_latency, which `edgemind bench` runs too).

    .venv/bin/python benchmarks/cache.py [--model ID] [--repeats 7] [--json OUT.json]

What it measures (medians over repeats; the machine is noisy, so ratios against the same run's baseline matter):
  * cold answer: a new prompt through the engine (model warm, nothing cached), first token and full answer;
  * L1 lookup and L2 lookup (the `AnswerCache.lookup` call itself), and an L1/L2 hit end to end through
    `Engine.ask` (which also stores the conversation); a semantic hit when the cache has that tier;
  * prefix/KV reuse: time to first token for a prompt whose long system prompt llama.cpp has already evaluated
    (the KV cache of the shared prefix is reused) against the same prompt after the KV state was cleared.
Goals from the issue: L1 hit <= 1 ms, L2 <= 10 ms, each >= 100x faster than a cold answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from edgemind.core.bench.cache_latency import measure_cache, measure_prefix_reuse
from edgemind.core.engine import AskOptions, Engine
from edgemind.core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--models-dir")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    home = tempfile.mkdtemp(prefix="edgemind-cache-bench-")
    env = {"EDGEMIND_HOME": home}
    if args.models_dir:
        env["EDGEMIND_MODELS_DIR"] = args.models_dir
    engine = Engine.create(load_settings(env=env))
    engine.summarize_in_background = False
    try:
        engine.ask("warm up", AskOptions(model=args.model, temperature=0, max_tokens=args.max_tokens, store=False))
        result = measure_cache(engine, args.model, repeats=args.repeats, max_tokens=args.max_tokens,
                               progress=lambda m: print(m, file=sys.stderr))
        figures = {**result.figures, **measure_prefix_reuse(engine, args.model, repeats=args.repeats)}
    finally:
        engine.close()
    print(f"model {args.model}, {args.repeats} repeats, max_tokens {args.max_tokens}, tiers {', '.join(result.tiers)}")
    for name, f in figures.items():
        goal = f" (goal {f.goal.op} {f.goal.value:g}: {'PASS' if f.goal.met(f.value) else 'FAIL'})" if f.goal else ""
        print(f"  {name:<26} {f.value:>12.3f} {f.unit}{goal}")
    if args.json:
        Path(args.json).write_text(json.dumps({"figures": {n: f.as_dict() for n, f in figures.items()},
                                               "cache_reports": result.stats}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
