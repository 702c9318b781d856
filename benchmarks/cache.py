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
import json
import sys
from pathlib import Path

from edgemind.core.bench.cache_speed import measure_cache_tiers
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
    env = dict(__import__("os").environ)
    if args.models_dir:
        env["EDGEMIND_MODELS_DIR"] = args.models_dir
    report = measure_cache_tiers(load_settings(env=env), model=args.model, repeats=args.repeats,
                                 max_tokens=args.max_tokens, prefix=not args.no_prefix)
    print(f"model {report.model}, {report.repeats} repeats; cold answer: first token {report.cold_ttft_ms} ms, "
          f"whole answer {report.cold_total_ms} ms")
    print(f"  {'tier':<9} {'lookup ms':>10} {'goal ms':>8} {'ask ms':>9} {'x faster than cold':>19}  goal")
    for t in report.tiers:
        print(f"  {t.tier:<9} {t.lookup_ms:>10} {t.goal_ms:>8} {t.ask_ms:>9} {t.ratio_vs_cold:>19}  "
              f"{'PASS' if t.meets_goal else 'FAIL'}")
    print(f"  semantic miss: {report.semantic_miss_ms} ms searching {report.semantic_rows} stored prompts; "
          f"one prompt embedding {report.embedding_ms} ms (reused from the router when it routed the same text)")
    a = report.accuracy
    if a is not None:
        print(f"  semantic, {a.heldout_pairs} held-out pairs at threshold {a.threshold} (tuning gives "
              f"{a.tuned_threshold}): precision {a.precision:.3f}, recall {a.recall:.3f}, false-hit rate "
              f"{a.false_hit_rate:.3f} ({a.false_hits}) {'PASS' if a.false_hits == 0 else 'FAIL'}; "
              f"without the guards at {a.threshold}: false-hit rate {a.unguarded_false_hit_rate:.3f}; threshold "
              f"alone tuned the same way ({a.threshold_alone_threshold}): false-hit rate "
              f"{a.threshold_alone_false_hit_rate:.3f}, recall {a.threshold_alone_recall:.3f}")
    for p in report.prefix:
        print(f"  prefix reuse, {p.scenario}: first token {p.ttft_reused_ms} ms vs {p.ttft_baseline_ms} ms "
              f"({p.ratio}x, {p.saved_ms} ms saved); same text: {p.same_text}")
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
