"""The planted-bug review benchmark: small Python files with known bugs (benchmarks/review_bugs/, lines in its
manifest.json), reviewed by the model alone and by the analyzers with the model, scored on recall and false findings.

A planted bug is found when a finding lies within +-1 line of it; every finding near no planted line is a false
finding (a real but unplanted problem counts as false too: the manifest is the only truth here). Configurations:

- `model_before`: the model alone as the review was before analyzers (today's prompt, its findings as parsed,
  unfiltered); taken from the same run as `model`, by parsing its raw answer again.
- `model`: the model alone, through the merge (filler and denials dropped, one claim per line).
- `analyzers`: ruff and our AST checks alone (no model).
- `analyzers+model`: the review as shipped: analyzers first, the model told their findings.

    .venv/bin/python benchmarks/review_bugs.py --json benchmarks/results/review_bugs.json
    .venv/bin/python benchmarks/review_bugs.py --files stats.py --configs analyzers   # while iterating
    .venv/bin/python benchmarks/review_bugs.py --set benchmarks/review_bugs_heldout \
        --json benchmarks/results/review_bugs_heldout.json                            # the held-out set (issue 18)

`--keep` re-measures only the configurations named in --configs and keeps the others from the existing --json
file; every column records the commit it was measured at, so a merged table says which row is from which code.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..engine.review import parse_findings, review_code
from ..engine.review_analyzers import analyze
from ..engine.review_findings import Finding
from ..errors import EdgeMindError
from ..settings import load_settings
from .word_math import _commit

BUGS = Path("benchmarks") / "review_bugs"
CONFIGS = ("model", "analyzers", "analyzers+model")
MODEL = "qwen2.5-coder-0.5b-instruct"
NEAR = 1  # lines either side of a planted line that still count as finding it


def load_manifest(root: Path, bugs: Path = BUGS) -> dict[str, list[dict[str, Any]]]:
    """File name -> its planted bugs ({line, kind}), from the set's manifest.json (bugs: the set's folder)."""
    path = root / bugs / "manifest.json"
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError) as exc:
        raise EdgeMindError(f"cannot read the planted-bug manifest {path}: {exc}") from None
    return {name: list(bugs) for name, bugs in files.items()}


def score(findings: Iterable[Finding], planted: list[dict[str, Any]]) -> dict[str, Any]:
    """Which planted bugs the findings hit, and the findings that hit none."""
    findings = list(findings)
    found = [b for b in planted if any(abs(f.line - b["line"]) <= NEAR for f in findings)]
    false = [f for f in findings if not any(abs(f.line - b["line"]) <= NEAR for b in planted)]
    return {"planted": len(planted), "found": len(found), "missed": [b for b in planted if b not in found],
            "false": len(false), "false_findings": [f.as_dict() for f in false],
            "findings": [f.as_dict() for f in findings]}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    planted = sum(r["planted"] for r in rows)
    found = sum(r["found"] for r in rows)
    seconds = [r["seconds"] for r in rows]
    return {"files": len(rows), "planted": planted, "found": found,
            "recall": round(found / planted, 4) if planted else None,
            "false_findings": sum(r["false"] for r in rows),
            "false_per_file": round(sum(r["false"] for r in rows) / len(rows), 2) if rows else None,
            "max_false_in_a_file": max((r["false"] for r in rows), default=0),
            "seconds_per_file": round(sum(seconds) / len(seconds), 1) if seconds else None,
            "items": rows}


def run(engine: Engine, root: Path, names: list[str], configs: list[str], model: str,
        progress: Callable[[str], None] = lambda _m: None,
        after_file: Callable[[dict[str, dict[str, Any]]], None] = lambda _c: None,
        bugs: Path = BUGS) -> dict[str, dict[str, Any]]:
    """Review each file of the set in `bugs` in each configuration; after_file gets the columns so far (a long run on
    a busy machine keeps what it measured when it is stopped)."""
    manifest = load_manifest(root, bugs)
    rows: dict[str, list[dict[str, Any]]] = {c: [] for c in (*configs, *(["model_before"] if "model" in configs
                                                                          else []))}
    for name in names:
        code = (root / bugs / name).read_text(encoding="utf-8")
        planted = manifest[name]
        for config in configs:
            started = time.perf_counter()
            result = review_code(engine, code, path=name, model=model,
                                 analyzers=None if config == "model" else analyze,
                                 use_model=config != "analyzers")
            seconds = round(time.perf_counter() - started, 1)
            row = {"file": name, "seconds": seconds, **score(result.findings, planted)}
            if config != "analyzers":
                row["raw"] = result.raw
            rows[config].append(row)
            progress(f"{name:<18} {config:<16} found {row['found']}/{row['planted']}, false {row['false']}, "
                     f"{seconds:.0f} s")
            if config == "model":  # the review as it was: the same answer, parsed as before, nothing filtered
                before = parse_findings(result.raw, 1, len(code.splitlines()), dict(enumerate(code.splitlines(), 1)))
                rows["model_before"].append({"file": name, "seconds": seconds, **score(before, planted)})
        after_file({config: _summary(r) for config, r in rows.items()})
    return {config: _summary(r) for config, r in rows.items()}


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from runs over different files or configurations (run side by side, or some re-measured after a
    change), summaries recomputed from the items; each column lists the commits its rows were measured at."""
    items: dict[str, dict[str, dict[str, Any]]] = {}
    for part in parts:  # a later part's row for a file replaces an earlier one's; each row keeps its commit
        for config, col in part.get("configs", {}).items():
            for item in col.get("items", []):
                commit = item.get("commit") or col.get("commit") or part.get("commit", "?")
                items.setdefault(config, {})[item["file"]] = {**item, "commit": commit}
    merged = dict(parts[0])
    merged["configs"] = {c: {**_summary([rows[n] for n in sorted(rows)]),
                             "commits": sorted({r["commit"] for r in rows.values()})} for c, rows in items.items()}
    merged["files"] = len({n for rows in items.values() for n in rows})
    merged["complete"] = all(p.get("complete") for p in parts)
    return merged


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/review_bugs.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated: {', '.join(CONFIGS)}")
    ap.add_argument("--files", default="", help="comma-separated file names (default: all in the manifest)")
    ap.add_argument("--model", default=MODEL, help=f"the reviewing model (default {MODEL})")
    ap.add_argument("--json", dest="json_out", type=Path, default=None,
                    help="write the result here (after every file, so a stopped run keeps what it measured)")
    ap.add_argument("--merge", nargs="+", type=Path, default=None,
                    help="instead of running: merge these results (runs over different --files) into --json")
    ap.add_argument("--note", default="", help="with --merge: one line saying how the parts were measured")
    ap.add_argument("--set", dest="bugs", type=Path, default=BUGS,
                    help=f"the folder of planted-bug files and their manifest.json (default {BUGS})")
    ap.add_argument("--keep", action="store_true",
                    help="keep the configurations not in --configs from the existing --json file (each with its "
                         "commit)")
    args = ap.parse_args(argv)
    root = Path(__file__).resolve().parents[2]
    if args.merge:
        if not args.json_out:
            ap.error("--merge needs --json")
        merged = merge([json.loads(p.read_text(encoding="utf-8")) for p in args.merge])
        merged["command"] = [".venv/bin/python", "benchmarks/review_bugs.py"] + (
            ["--set", args.bugs.as_posix()] if args.bugs != BUGS else [])
        if args.note:
            merged["note"] = args.note
        _write(args.json_out, merged)
        return 0
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if not configs or any(c not in CONFIGS for c in configs):
        ap.error(f"--configs takes {', '.join(CONFIGS)}; got {args.configs!r}")
    manifest = load_manifest(root, args.bugs)
    names = [n.strip() for n in args.files.split(",") if n.strip()] or sorted(manifest)
    unknown = [n for n in names if n not in manifest]
    if unknown:
        ap.error(f"not in the manifest: {', '.join(unknown)}")
    env = {k: v for k, v in os.environ.items() if k.startswith("EDGEMIND_")}
    env.setdefault("EDGEMIND_AUDIT_KEY_STORE", "file")
    commit = _commit()
    kept = kept_columns(args.json_out, configs, args.bugs) if args.keep else {}
    with tempfile.TemporaryDirectory(prefix="edgemind-review-bugs-") as tmp:
        env.setdefault("EDGEMIND_HOME", tmp)
        env["EDGEMIND_CACHE"] = "0"
        settings = load_settings(env=env)
        head = {"kind": "review_bugs", "model": args.model, "commit": commit, "threads": settings.effective_threads,
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
                "near_lines": NEAR, "goal": {"recall": 0.9, "false_per_file": 1.0}, "set": args.bugs.as_posix(),
                "command": [".venv/bin/python", "benchmarks/review_bugs.py"]
                + (["--set", args.bugs.as_posix()] if args.bugs != BUGS else [])
                + (["--configs", args.configs] if args.configs != ",".join(CONFIGS) else [])
                + (["--files", args.files] if args.files else []) + (["--keep"] if args.keep else [])}

        def save(columns: dict[str, dict[str, Any]], complete: bool = False) -> None:
            if args.json_out:
                files = max((c["files"] for c in columns.values()), default=0)
                measured = {c: {**col, "commit": commit} for c, col in columns.items()}
                _write(args.json_out, {**head, "files": files, "complete": complete,
                                       "configs": {**kept, **measured}})

        engine = Engine.create(settings)
        engine.summarize_in_background = False
        try:
            columns = run(engine, root, names, configs, args.model,
                          progress=lambda m: print(m, file=sys.stderr, flush=True), after_file=save, bugs=args.bugs)
        finally:
            engine.close()
    save(columns, complete=True)
    for label, col in columns.items():
        print(f"{label:>16}: recall {col['found']}/{col['planted']} ({col['recall']:.0%}), "
              f"{col['false_per_file']} false findings per file, {col['seconds_per_file']} s per file")
    return 0


def kept_columns(path: Path | None, configs: list[str], bugs: Path) -> dict[str, dict[str, Any]]:
    """The columns of an earlier result this run does not re-measure, each labelled with the commit it came from."""
    if path is None or not path.exists():
        raise EdgeMindError("--keep needs an existing --json result to keep columns from")
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EdgeMindError(f"cannot read the earlier result {path}: {exc}") from None
    measured = old.get("set", BUGS.as_posix())
    if measured != bugs.as_posix():
        raise EdgeMindError(f"{path} measured {measured}, not {bugs.as_posix()}: nothing to keep")
    remeasured = set(configs) | ({"model_before"} if "model" in configs else set())
    return {name: {**col, "commit": col.get("commit", old.get("commit", "?"))}
            for name, col in old.get("configs", {}).items() if name not in remeasured}


def _write(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
