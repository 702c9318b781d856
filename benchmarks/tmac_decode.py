"""tmac (our C decoder over the T-MAC kernels) vs llama.cpp end to end: decode tok/s, greedy agreement, jitter, RSS.

How to run
    .venv/bin/python benchmarks/tmac_decode.py --threads 1 2 --out benchmarks/results/tmac_decode.json
    .venv/bin/python benchmarks/tmac_decode.py --quick            (one repeat, 16 tokens, 3 prompts, no RSS)
    (models: the bundled SmolLM2 Q4_1 and Qwen2.5-Coder-0.5B in EDGEMIND_MODELS_DIR or <EDGEMIND_HOME>/models, the
    Qwen file requantized to 4-bit and 8-bit by llama.cpp's own quantizer (--requantize q4_1 q8_0, the default; made
    once into <EDGEMIND_HOME or a temporary folder>/cache/requantized, never committed; below the shipped Q5_0 file in
    quality, since requantized from it) and the tiny ternary TQ2_0 model of tests/data, or --models PATH...)

Per model and thread count: same threads on both sides, ABBA order over repeats after one warm-up each, medians;
greedy agreement = the first 32 token ids identical on each of 10 chat prompts to llama.cpp's (as the app loads it),
for tmac as the app runs it, for tmac like for like (int8 path, the prompt summed as llama.cpp sums a batch) and for
llama.cpp itself with an fp32 KV cache (the floor); inter-token jitter = p99 - p50 of the decode steps; peak RSS of
a fresh process per side. Goals of issue 22: on SmolLM2 decode >= 1.2x llama.cpp, >= 9/10 identical, jitter
<= 10 ms; on the tiny ternary model decode >= 1.5x. Exit status 0 unless something fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from edgemind.core.bench.machine import machine_profile
from edgemind.core.bench.requantize import FTYPES, RequantizeError, requantize
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.bench.tmac_decode import (
    AGREE_GOAL,
    JITTER_GOAL_MS,
    PROMPTS,
    SPEED_GOAL,
    TERNARY_SPEED_GOAL,
    compare_decode,
)
from edgemind.core.hardware import physical_cores
from edgemind.kernels import tmac

BUNDLED = ("smollm2-135m-instruct-q4_1.gguf", "qwen2.5-coder-0.5b-instruct.gguf")
TERNARY = Path(__file__).resolve().parents[1] / "tests" / "data" / "tiny_ternary_tq2_0.gguf"


def _load_average() -> float | None:
    """The 1-minute load average (runnable threads) where the OS has one: on a shared machine it says how much of
    the jitter is other people's work."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    models = Path(os.environ.get("EDGEMIND_MODELS_DIR") or Path(os.environ.get("EDGEMIND_HOME", "~")) / "models")
    ap.add_argument("--models", type=Path, nargs="+", default=[*(models.expanduser() / m for m in BUNDLED), TERNARY])
    ap.add_argument("--requantize", nargs="*", choices=sorted(FTYPES), default=["q4_1", "q8_0"],
                    help="also the --requantize-source file requantized to these types by llama.cpp (none: no kinds)")
    ap.add_argument("--requantize-source", type=Path, default=models.expanduser() / BUNDLED[1],
                    help="the GGUF the requantized rows derive from (default: the bundled Qwen2.5-Coder file)")
    ap.add_argument("--threads", type=int, nargs="+", default=[physical_cores()],
                    help="one row per model and thread count (both sides run with the same)")
    ap.add_argument("--tokens", type=int, default=64, help="decode tokens per timed run")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--agree-tokens", type=int, default=32)
    ap.add_argument("--quick", action="store_true", help="1 repeat, 16 tokens, 3 prompts, no RSS: for iterating")
    ap.add_argument("--no-lut", action="store_true",
                    help="4-bit matrices on the int8 path too (activations rounded as llama.cpp rounds them)")
    ap.add_argument("--q4-1-lut", action="store_true",
                    help="Q4_1 matrices on T-MAC planes (by default they stay the GGUF's nibbles on the int8 path)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if not tmac.available():
        print(f"error: {tmac.why_unavailable()}", file=sys.stderr)
        return 2
    missing = [str(m) for m in [*args.models, *([args.requantize_source] if args.requantize else [])]
               if not m.is_file()]
    if missing:
        print(f"error: no model file at {missing[0]}", file=sys.stderr)
        return 2
    if min(args.threads) < 1:
        print(f"error: --threads must be at least 1, got {min(args.threads)}", file=sys.stderr)
        return 2
    repeats, tokens, prompts = (1, 16, PROMPTS[:3]) if args.quick else (args.repeats, args.tokens, PROMPTS)
    started = time.time()
    load_before = _load_average()
    results = []
    home = os.environ.get("EDGEMIND_HOME")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(home).expanduser() if home else Path(tmp)
        derived = []
        for kind in args.requantize:
            print(f"requantizing {args.requantize_source.name} to {kind} (llama.cpp's quantizer)", file=sys.stderr)
            try:
                derived.append(requantize(args.requantize_source, kind, data / "cache" / "requantized",
                                          threads=max(args.threads)))
            except RequantizeError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        at = next((i + 1 for i, m in enumerate(args.models) if m == args.requantize_source), len(args.models))
        models_run = [*args.models[:at], *derived, *args.models[at:]]
        for model, threads in ((m, t) for m in models_run for t in args.threads):
            print(f"{model.name}: {threads} threads", file=sys.stderr)
            result = compare_decode(model, data_dir=data, threads=threads, new_tokens=tokens, repeats=repeats,
                                    agree_tokens=args.agree_tokens, prompts=prompts, measure_rss=not args.quick,
                                    lut=not args.no_lut, q4_1_lut=args.q4_1_lut,
                                    progress=lambda m: print("  " + m, file=sys.stderr))
            d = result.as_dict()
            results.append(d)
            print(f"{result.model} ({threads} threads): decode llama.cpp {d['llama_decode_tok_s']:.1f} tok/s, tmac "
                  f"{d['tmac_decode_tok_s']:.1f} tok/s ({d['decode_ratio']:.2f}x, goal >= {SPEED_GOAL}x on SmolLM2, "
                  f"{TERNARY_SPEED_GOAL}x on the ternary model); identical "
                  f"{d['identical_prompts']}/{d['prompts']} over {args.agree_tokens} tokens (goal >= {AGREE_GOAL}/10), "
                  f"like for like {d.get('identical_like_for_like', 'n/a')} of {d['prompts']}, llama.cpp f16 vs f32 KV "
                  f"{d['llama_self_identical']}/{d['prompts']};"
                  f" jitter p99-p50 tmac {d['tmac_jitter_ms']:.1f} ms, llama.cpp {d['llama_jitter_ms']:.1f} ms "
                  f"(goal <= {JITTER_GOAL_MS} ms); peak RSS {d['rss_mb']}")
    command = " ".join(["tmac_decode.py", *(argv if argv is not None else sys.argv[1:])])
    out = {"command": command, "seconds": round(time.time() - started, 1), "tmac_isa": tmac.selected_isa(),
           "load_average": {"start": load_before, "end": _load_average()},
           "machine": machine_profile(bandwidth_mb=64, bandwidth_repeats=3), "quick": args.quick,
           "lut": not args.no_lut, "q4_1_lut": args.q4_1_lut,
           "requantized": {"source": args.requantize_source.name, "types": args.requantize,
                           "how": "llama_model_quantize with allow_requantize, from the shipped file"},
           "goals": {"speed": SPEED_GOAL, "identical_prompts": AGREE_GOAL, "jitter_ms": JITTER_GOAL_MS,
                     "ternary_speed": TERNARY_SPEED_GOAL},
           "models": results}
    if args.out:
        write_result(args.out, out)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_script(main)
