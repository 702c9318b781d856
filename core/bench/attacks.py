"""The attack pass: every test marked `@pytest.mark.attack(kind)` run once, counted per security promise.

The README's security section states "attacks tried / held" per kind; those figures come from the JSON this writes,
and tests/core/test_attack_figures.py holds the README and the committed file to each other and to the attack tests
that exist, so a figure cannot drift from the command next to it.

    python -m edgemind.core.bench.attacks --json benchmarks/results/attacks.json   (or benchmarks/attacks.py)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .script import write_result

# One per README promise; tests/conftest.py refuses an attack marker naming anything else.
KINDS = ("prompt-injection", "code-runner", "file-tools", "network", "audit-log", "api", "data-at-rest", "mcp", "packs")
LOG_ENV = "EDGEMIND_ATTACK_LOG"  # tests/conftest.py appends one JSON line per attack test outcome to this file
RESULT = Path("benchmarks") / "results" / "attacks.json"
TITLES = {"prompt-injection": "prompt injection (each test: 56 hostile documents)",
          "code-runner": "code runner (`python_run`)", "file-tools": "file tools", "network": "network (`web_fetch`)",
          "audit-log": "audit log and grants", "api": "local API server", "data-at-rest": "data at rest",
          "mcp": "MCP servers' tools (results, definitions)",
          "packs": "personalization packs (`pack import`)"}


@dataclass(frozen=True)
class Outcome:
    """One attack test's result as pytest reported it."""

    nodeid: str
    kind: str
    outcome: str  # passed | failed | skipped
    reason: str = ""


def tally(outcomes: Iterable[Outcome]) -> dict[str, dict[str, Any]]:
    """Per kind: attacks tried (run, not skipped), held (passed), the ids that broke through, and skips by reason
    (an attack that cannot run on this OS is reported, never counted as held)."""
    kinds: dict[str, dict[str, Any]] = {k: {"tried": 0, "held": 0, "broke": [], "skipped": {}} for k in KINDS}
    for o in sorted(outcomes, key=lambda o: o.nodeid):
        entry = kinds.setdefault(o.kind, {"tried": 0, "held": 0, "broke": [], "skipped": {}})
        if o.outcome == "skipped":
            entry["skipped"][o.reason] = entry["skipped"].get(o.reason, 0) + 1
            continue
        entry["tried"] += 1
        if o.outcome == "passed":
            entry["held"] += 1
        else:
            entry["broke"].append(o.nodeid)
    return kinds


def read_log(path: Path) -> list[Outcome]:
    """The JSON lines tests/conftest.py wrote; a test reported twice (setup error, then teardown) counts once,
    by its worst outcome."""
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    best: dict[str, Outcome] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        o = Outcome(row["nodeid"], row["kind"], row["outcome"], row.get("reason", ""))
        if o.nodeid not in best or rank[o.outcome] > rank[best[o.nodeid].outcome]:
            best[o.nodeid] = o
    return list(best.values())


def run(root: Path, *, timeout_s: float = 1800.0) -> dict[str, Any]:
    """Runs the attack tests of root/tests in a child pytest and returns the result document."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "attack", "tests"]
    with tempfile.TemporaryDirectory(prefix="edgemind-attacks-") as tmp:
        log = Path(tmp) / "attacks.jsonl"
        log.touch()
        started = time.monotonic()
        proc = subprocess.run(command, cwd=root, env=dict(os.environ, **{LOG_ENV: str(log)}), capture_output=True,
                              text=True, timeout=timeout_s, check=False)
        outcomes = read_log(log)
    if proc.returncode not in (0, 1) or not outcomes:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise RuntimeError(f"the attack tests did not run (pytest exit {proc.returncode}): " + " / ".join(tail))
    return {
        "command": ["python", "-m", "edgemind.core.bench.attacks", "--json", RESULT.as_posix()],
        "created_at": time.strftime("%Y-%m-%d", time.gmtime()),
        "platform": f"{platform.system()} {platform.release()} ({platform.machine()}), Python "
                    f"{platform.python_version()}, running as {'root' if _is_root() else 'a normal user'}",
        "duration_s": round(time.monotonic() - started, 1),
        "kinds": tally(outcomes),
        "tests": sorted(o.nodeid for o in outcomes),
    }


def _is_root() -> bool:
    getuid = getattr(os, "getuid", None)
    return bool(getuid and getuid() == 0)


def figures_table(data: dict[str, Any]) -> str:
    """The Markdown table the README and docs/benchmarks.md both print."""
    rows = ["| promise | attacks tried | held | skipped here |", "|---|---|---|---|"]
    for kind, entry in data["kinds"].items():
        skipped = sum(entry["skipped"].values())
        rows.append(f"| {TITLES.get(kind, kind)} | {entry['tried']} | {entry['held']} | {skipped} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgemind.core.bench.attacks", description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, default=None, help=f"write the result here (committed: {RESULT.as_posix()})")
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2],
                    help="repository root holding tests/ (default: this source tree)")
    args = ap.parse_args(argv)
    try:
        data = run(args.root)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print(figures_table(data))
    broke = [nodeid for entry in data["kinds"].values() for nodeid in entry["broke"]]
    for nodeid in broke:
        print(f"broke through: {nodeid}")
    if args.json:
        write_result(args.json, data)
        print(f"wrote {args.json}")
    return 1 if broke else 0


if __name__ == "__main__":
    raise SystemExit(main())
