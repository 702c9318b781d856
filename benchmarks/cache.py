"""Answer-cache and prefix-reuse speed, against a cold answer measured in the same run.

    .venv/bin/python benchmarks/cache.py [--model ID] [--repeats 7] [--json OUT.json]

What it measures (medians over repeats; the machine is noisy, so ratios against the same run's baseline matter):
  * cold answer: a new prompt through the engine (model warm, nothing cached), first token and full answer;
  * L1 lookup and L2 lookup (the `AnswerCache.lookup` call itself), and an L1/L2 hit end to end through
    `Engine.ask` (which also stores the conversation);
  * prefix/KV reuse: time to first token for a prompt whose long system prompt llama.cpp has already evaluated
    (the KV cache of the shared prefix is reused) against the same prompt after the KV state was cleared.
Goals from the issue: L1 hit <= 1 ms, L2 <= 10 ms, each >= 100x faster than a cold answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edgemind.core.cache import AnswerCache
from edgemind.core.engine import AskOptions, Engine
from edgemind.core.settings import load_settings

LONG_SYSTEM = ("You are EdgeMind, a careful assistant for software developers. " * 30).strip()
QUESTIONS = ["What is a Python decorator?", "What does HTTP 404 mean?", "What is a mutex?", "Explain big-O notation.",
             "What is a git branch?", "What is JSON?", "What does DNS do?", "What is a unit test?", "What is a REST API?"]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


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
    opts = AskOptions(model=args.model, temperature=0, max_tokens=args.max_tokens, store=False)
    engine.ask("warm up", opts)
    cold_ttft, cold_total, l1_lookup, l2_lookup, l1_ask, l2_ask = [], [], [], [], [], []
    assert engine.cache is not None
    for i in range(args.repeats):
        q = QUESTIONS[i % len(QUESTIONS)] + f" ({i})"
        t0 = time.perf_counter()
        r = engine.ask(q, opts)
        cold_total.append(time.perf_counter() - t0)
        cold_ttft.append(r.ttft_ms / 1000)
        key = engine._cache_key(q, engine.registry.get(args.model), engine.router.route(q, args.model).system_prompt,
                                [], engine._params(opts))
        t0 = time.perf_counter()
        hit = engine.cache.lookup(key)
        l1_lookup.append(time.perf_counter() - t0)
        assert hit and hit[0] == "l1"
        t0 = time.perf_counter()
        assert engine.ask(q, opts).cache == "l1"
        l1_ask.append(time.perf_counter() - t0)
        fresh = AnswerCache(Path(home) / "cache.db")  # a new process's view: empty L1, same L2 file
        t0 = time.perf_counter()
        hit = fresh.lookup(key)
        l2_lookup.append(time.perf_counter() - t0)
        assert hit and hit[0] == "l2"
        engine.cache.l1.drop(key)
        t0 = time.perf_counter()
        assert engine.ask(q, opts).cache == "l2"
        l2_ask.append(time.perf_counter() - t0)

    # Prefix reuse: the same long system prompt twice (second reuses the KV prefix) vs after clearing the KV state.
    backend = engine.backend_for(engine.registry.get(args.model))
    reuse, cold_prefix = [], []
    nocache = AskOptions(model=args.model, temperature=0, max_tokens=4, store=False, use_cache=False,
                         system_prompt=LONG_SYSTEM)
    for i in range(args.repeats):
        with backend._lease() as loaded:  # clear llama.cpp's KV so the next prompt is evaluated from scratch
            loaded.llm.reset()
        cold_prefix.append(engine.ask(QUESTIONS[i % len(QUESTIONS)], nocache).ttft_ms)
        reuse.append(engine.ask(QUESTIONS[(i + 1) % len(QUESTIONS)], nocache).ttft_ms)
    engine.close()

    med = statistics.median
    rows = {
        "cold answer, first token ms": ms(med(cold_ttft)), "cold answer, total ms": ms(med(cold_total)),
        "L1 lookup ms": ms(med(l1_lookup)), "L2 lookup ms": ms(med(l2_lookup)),
        "L1 hit through engine.ask ms": ms(med(l1_ask)), "L2 hit through engine.ask ms": ms(med(l2_ask)),
        "TTFT, long system prompt evaluated ms": round(med(cold_prefix), 2),
        "TTFT, system prompt prefix reused ms": round(med(reuse), 2),
    }
    ratios = {
        "cold total / L1 hit (engine.ask)": round(med(cold_total) / med(l1_ask), 1),
        "cold total / L2 hit (engine.ask)": round(med(cold_total) / med(l2_ask), 1),
        "prefix reuse TTFT saved ms": round(med(cold_prefix) - med(reuse), 2),
    }
    print(f"model {args.model}, {args.repeats} repeats, max_tokens {args.max_tokens}")
    for name, value in {**rows, **ratios}.items():
        print(f"  {name:<42} {value:>10}")
    print(f"  goals: L1 <= 1 ms {'PASS' if rows['L1 lookup ms'] <= 1 else 'FAIL'}, "
          f"L2 <= 10 ms {'PASS' if rows['L2 lookup ms'] <= 10 else 'FAIL'}, "
          f">= 100x cold {'PASS' if min(ratios['cold total / L1 hit (engine.ask)'], ratios['cold total / L2 hit (engine.ask)']) >= 100 else 'FAIL'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"figures": rows, "ratios": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
