"""The word-problem benchmark: the model alone against the engine with its tools, on problems whose exact answers
are computed in code (word_problems.py), with accuracy and median latency per configuration.

Configurations: `bare` asks the same model through the engine with no tools offered (the model alone); `engine`
gives the request the engine's tools (the calculator, granted nothing: it needs no scope). The result file keeps one
column per label, so the engine as it was before a change and after it can stand side by side, each with the commit
it was measured at.

    .venv/bin/python benchmarks/word_problems.py --split heldout --json benchmarks/results/word_problems.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..engine import AskOptions, Engine
from ..errors import EdgeMindError
from ..settings import load_settings
from .word_problems import SPLITS, WordProblem, is_correct, problems

MAX_TOKENS = 160  # room for a model that works the problem step by step before it answers
CONFIGS = ("bare", "engine")


def ask_one(engine: Engine, problem: WordProblem, *, tools: bool) -> dict[str, Any]:
    """One problem, greedy and uncached; the answer, whether it is right, its latency and the tool calls made."""
    options = AskOptions(temperature=0, max_tokens=MAX_TOKENS, store=False, use_cache=False,
                         tools=engine.open_tools() if tools else None)
    started = time.perf_counter()
    try:
        result = engine.ask(problem.prompt, options)
        text, calls, error = result.text, result.tool_calls, None
    except EdgeMindError as exc:
        text, calls, error = "", [], str(exc)
    ms = (time.perf_counter() - started) * 1000
    return {"id": problem.id, "category": problem.category, "prompt": problem.prompt,
            "expected": problem.answer_text(), "answer": text[:400], "correct": is_correct(text, problem.answer),
            "ms": round(ms, 1), "error": error,
            "tool_calls": [{"tool": c.get("tool"), "arguments": c.get("arguments"), "ok": c.get("ok")}
                           for c in calls]}


def measure(engine: Engine, items: list[WordProblem], *, tools: bool,
            progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    rows = []
    for i, problem in enumerate(items):
        row = ask_one(engine, problem, tools=tools)
        rows.append(row)
        progress(f"{i + 1}/{len(items)} {'right' if row['correct'] else 'WRONG'} {row['ms']:.0f} ms  "
                 f"{problem.prompt[:60]!r} -> {row['answer'][:80]!r}")
    correct = sum(r["correct"] for r in rows)
    return {"correct": correct, "total": len(rows), "accuracy": round(correct / len(rows), 4) if rows else None,
            "median_ms": round(statistics.median(r["ms"] for r in rows), 1) if rows else None, "items": rows}


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parents[2], check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10, cwd=Path(__file__).resolve().parents[2], check=False)
    except OSError:
        return "unknown"
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/word_problems.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=SPLITS, default="dev",
                    help="heldout: the reported split, never used for tuning; dev: for iterating (default)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N problems")
    ap.add_argument("--configs", default="bare,engine", help="comma-separated: bare, engine (default both)")
    ap.add_argument("--label", default="engine",
                    help="the column name for the engine configuration (e.g. engine_before for a run on older code)")
    ap.add_argument("--note", default=None,
                    help="a line saying what the engine column measured (shown under the table in docs/benchmarks.md)")
    ap.add_argument("--json", dest="json_out", type=Path, default=None,
                    help="merge the columns into this result file (other labels in it are kept)")
    args = ap.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not configs:
        ap.error(f"--configs takes {', '.join(CONFIGS)}; got {args.configs!r}")
    items = problems(args.split)[:args.limit] if args.limit else problems(args.split)
    env = {k: v for k, v in os.environ.items() if k.startswith("EDGEMIND_")}
    env.setdefault("EDGEMIND_AUDIT_KEY_STORE", "file")
    with tempfile.TemporaryDirectory(prefix="edgemind-words-") as tmp:
        env.setdefault("EDGEMIND_HOME", tmp)
        env["EDGEMIND_CACHE"] = "0"
        engine = Engine.create(load_settings(env=env))
        engine.summarize_in_background = False
        try:
            columns = {}
            for config in configs:
                label = "bare" if config == "bare" else args.label
                print(f"== {label} on {len(items)} {args.split} problems", file=sys.stderr)
                commit = _commit()  # the code measured: taken before the run, so later edits do not relabel it
                column = measure(engine, items, tools=config == "engine",
                                 progress=lambda m: print(m, file=sys.stderr, flush=True))
                column["commit"] = commit
                if args.note and config == "engine":
                    column["note"] = args.note
                columns[label] = column
                print(f"{label}: {column['correct']}/{column['total']} right, median {column['median_ms']} ms",
                      file=sys.stderr)
            model = engine.settings.default_model
        finally:
            engine.close()
    result: dict[str, Any] = {}
    if args.json_out and args.json_out.exists():
        result = json.loads(args.json_out.read_text(encoding="utf-8"))
        if result.get("split") != args.split or result.get("problems") != len(items):
            result = {}  # another split or size: the columns would not compare
    result.update({"kind": "word_problems", "split": args.split, "problems": len(items), "model": model,
                   "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
                   "max_tokens": MAX_TOKENS,
                   "command": [".venv/bin/python", "benchmarks/word_problems.py", "--split", args.split]
                   + (["--limit", str(args.limit)] if args.limit else [])})
    result.setdefault("configs", {}).update(columns)
    for label, column in result["configs"].items():
        print(f"{label:>16}: {column['correct']:>3}/{column['total']} ({column['accuracy']:.0%}), "
              f"median {column['median_ms']:.0f} ms, at {column.get('commit', '?')}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json_out}")
    return 0
