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
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from edgemind.core.backends.llama_native import NativeGuard, model_key
from edgemind.core.bench.native_speed import measure_contention, measure_variants
from edgemind.core.hardware import cpu_features, cpu_name, physical_cores


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

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        guard = NativeGuard(Path(tmp), threads=args.threads)
        check = guard.check(args.model, model_key(None, args.model))
        if check.variant is None:
            print(f"no CPU variant runs {args.model.name} here: {check.attempts}", file=sys.stderr)
            return 1
        ranked = guard.variants()
        wanted = [v.strip() for v in args.variants.split(",") if v.strip()]
        names = [v.name for v in ranked] if "all" in wanted else \
            list(dict.fromkeys(check.variant if w == "chosen" else w for w in wanted))
        chosen = next(v for v in ranked if v.name == check.variant)
        picked = [v for v in ranked if v.name in names]
        report = {
            "machine": {"cpu": cpu_name(), "features": list(cpu_features()), "threads": args.threads},
            "model": args.model.name, "tokens": args.tokens, "repeats": args.repeats, "rounds": args.rounds,
            "check": {"variant": check.variant, "attempts": [asdict(a) for a in check.attempts]},
            "variants": measure_variants(args.model, picked, chosen.name, threads=args.threads, tokens=args.tokens,
                                         repeats=args.repeats, rounds=args.rounds, native_python=args.native_python,
                                         progress=progress),
        }
        if not args.skip_contention:
            report["contention"] = measure_contention(args.model, chosen, threads=args.threads, tokens=args.tokens,
                                                      repeats=args.repeats, rounds=args.rounds, progress=progress)
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(summary(report))
    return 0


def summary(report: dict) -> str:  # type: ignore[type-arg]
    lines = [f"{report['machine']['cpu']} [{' '.join(report['machine']['features'])}], "
             f"{report['machine']['threads']} threads, {report['model']}, {report['tokens']} tokens x "
             f"{report['repeats']} repeats x {report['rounds']} rounds"]
    lines.append(f"EdgeMind's pick: {report['variants']['chosen']}")
    for row in report["variants"]["rows"]:
        if row.get("ok"):
            lines.append(f"  {row['build']:<32} {row['idle_median']:6.1f} tok/s  x{row.get('ratio_to_chosen', 0):.2f}")
        else:
            lines.append(f"  {row['build']:<32} FAILED: {row.get('error')}")
    for row in report.get("contention", {}).get("rows", []):
        if row.get("ok"):
            lines.append(f"  {row['policy']:<46} idle {row['idle_median']:5.1f}  loaded {row['loaded_median']:5.1f} "
                         f"tok/s  share {row['loaded_share']:.0%}  idle x{row.get('idle_ratio_to_default', 0):.2f}")
        else:
            lines.append(f"  {row['policy']:<46} FAILED: {row.get('error')}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
