"""Answer-cache tiers, the semantic tier's accuracy and llama.cpp prefix reuse, against baselines from the same run.

    .venv/bin/python benchmarks/cache.py [--model ID] [--repeats 7] [--max-tokens 48] [--json OUT.json]

What it measures (medians over repeats; on a busy machine only the ratios mean much), all in
`edgemind.core.bench.cache_speed.measure_cache_tiers`, which `edgemind bench` calls too:
  * cold answer: a new prompt through the engine (model warm, nothing cached), first token and whole answer;
  * L1, L2 and semantic: the lookup alone, and a whole `Engine.ask` answered from that tier, as a ratio to the
    cold answer. Goals from the issue: L1 <= 1 ms, L2 <= 10 ms, semantic <= 50 ms, each >= 100x faster;
  * the semantic tier on a miss: one search over 1000 stored prompts, and one prompt embedding (paid only when the
    router's embedding of the prompt cannot be reused);
  * the labelled pairs (resources/semantic_cache_pairs.jsonl): held-out precision, recall and false-hit rate
    (goal: no false hit), and the threshold alone without the guards as the baseline;
  * prefix reuse, time to first token: a conversation's second turn with the first turn's KV live vs cleared, and
    a shared system prompt after another one ran, restored from a KV snapshot vs evaluated again.
"""

from __future__ import annotations

import argparse
import os

from edgemind.core.bench.cache_speed import measure_cache_tiers
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--models-dir")
    ap.add_argument("--no-prefix", action="store_true", help="skip the prefix-reuse figures")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.models_dir:
        env["EDGEMIND_MODELS_DIR"] = args.models_dir
    report = measure_cache_tiers(load_settings(env=env), model=args.model, repeats=args.repeats,
                                 max_tokens=args.max_tokens, prefix=not args.no_prefix)
    print(report.summary())
    if args.json:
        write_result(args.json, report.as_dict())
    return 0


if __name__ == "__main__":
    run_script(main)
