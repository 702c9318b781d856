"""The `edgemind bench` command: parse options, run the suite with progress lines on stderr, print the summary.

Thin on purpose: everything measured lives in the bench modules, which the desktop dashboard runs the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..settings import Settings
from .html_report import headline
from .report import BenchError

PROGRESS_PREFIX = "edgemind bench: "


def default_out_dir(settings: Settings) -> Path:
    """Where reports go without --out; the desktop dashboard reads the last one from here."""
    return settings.home / "bench"


def print_progress(step: int, total: int, message: str) -> None:
    """`edgemind bench: [k/n] message`, one line each, flushed: the dashboard parses these lines."""
    sys.stderr.write(f"{PROGRESS_PREFIX}[{step}/{total}] {message}\n")
    sys.stderr.flush()


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("give names separated by commas, e.g. llama_cpp,onnx_int4")
    return names


def add_command(sub: Any, positive_int: Callable[[str], int]) -> None:
    bench = sub.add_parser("bench", help="measure speed, latency, memory, cache, router, safety and quality")
    bench.add_argument("--quick", action="store_true", help="fewer repeats and a smaller quality set (~2 minutes)")
    bench.add_argument("--out", metavar="DIR", help="write DIR/report.json and DIR/report.html "
                                                    "(default: <data folder>/bench)")
    bench.add_argument("--compare", metavar="OLD.json", help="flag figures that changed by more than 5%% since it")
    bench.add_argument("--backends", type=_names, metavar="NAMES",
                       help="comma-separated backends to measure, e.g. llama_cpp,onnx_int4 (default: all available)")
    bench.add_argument("--repeats", type=positive_int, metavar="N", help="timed repeats per figure")
    bench.add_argument("--model", help="local model id to measure (default: the default model)")
    bench.add_argument("--sections", type=_names, metavar="NAMES",
                       help="comma-separated subset of: generation, cold_start, cache, router, safety, quality")
    bench.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    bench.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from .suite import BenchOptions, run_bench  # lazy: the suite loads the engine; building the CLI parser must not

    out = Path(args.out).expanduser() if args.out else default_out_dir(settings)
    command = ["edgemind", "bench"] + sys.argv[2:] if sys.argv[1:2] == ["bench"] else ["edgemind", "bench"]
    options = BenchOptions(out_dir=out, quick=args.quick, compare=Path(args.compare) if args.compare else None,
                           backends=args.backends, repeats=args.repeats, model=args.model,
                           sections=args.sections, command=tuple(command))
    report, json_path, html_path = run_bench(settings, options, print_progress)
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, default=str) + "\n")
        return 0
    for label, value in headline(report):
        print(f"{label:<32} {value}")
    failed = [(name, r.get("reason", "")) for name, r in report["backends"].items() if r.get("status") != "ok"]
    for name, why in failed:
        print(f"{name:<32} not measured: {why}")
    comparison = report.get("comparison")
    if comparison is not None:
        changes = comparison["changes"]
        print(f"\ncompared with {comparison['against']}: {len(changes)} figure(s) changed by more than "
              f"{comparison['threshold']:.0%}")
        for note in comparison.get("not_comparable", []):
            print(f"  note: {note}; compare with care")
        for c in changes:
            rel = "" if c["relative"] is None else f" ({c['relative']:+.1%})"
            print(f"  {c['verdict'].upper():7} {c['figure']}: {c['old']:.4g} -> {c['new']:.4g} {c['unit']}{rel}")
    print(f"\nreport: {json_path}\n        {html_path}")
    return 0


__all__ = ["BenchError", "add_command", "cmd_bench", "default_out_dir", "PROGRESS_PREFIX"]
