"""llama.cpp decode speed by CPU variant, against a native build, and beside a competing process.

Each figure comes from a fresh child process (core/bench/decode_child.py) and is reported as a ratio to a baseline
measured in the same run: the variant EdgeMind picks vs the others and vs a `-march=native` build; under load vs idle
with each OpenMP wait policy. Medians over repeats.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..backends.llama_native import OMP_DEFAULTS, NativeGuard, Variant, model_key
from ..errors import EdgeMindError
from ..hardware import cpu_features, cpu_name

CHILD = Path(__file__).with_name("decode_child.py")
# The wait policies compared under load. libgomp's default spins ~300k iterations before it sleeps.
POLICIES: dict[str, dict[str, str]] = {
    "libgomp default (spin, then sleep)": {},
    "OMP_WAIT_POLICY=PASSIVE (EdgeMind's default)": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=10000 (short spin)": {"GOMP_SPINCOUNT": "10000"},
}
_OMP_KEYS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "OMP_PROC_BIND")


def child_env(policy: Mapping[str, str], base: Mapping[str, str] = os.environ) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in _OMP_KEYS}
    env.update(policy)
    return env


def run_decode(model: Path, variant: Variant | None, *, threads: int, tokens: int, repeats: int,
               compete: bool = False, policy: Mapping[str, str] | None = None, python: str = sys.executable,
               timeout: float = 900.0) -> dict[str, Any]:
    cmd = [python, str(CHILD), "--model", str(model), "--variant",
           str(variant.path) if variant is not None and variant.path is not None else "builtin",
           "--threads", str(threads), "--tokens", str(tokens), "--repeats", str(repeats)]
    if compete:
        cmd.append("--compete")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=child_env(policy if policy is not None else OMP_DEFAULTS))
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"ok": False, "error": (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]}
    return json.loads(lines[-1])


def measure_variants(model: Path, variants: list[Variant], chosen: str, *, threads: int, tokens: int, repeats: int,
                     rounds: int = 3, native_python: str | None = None,
                     progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Idle decode of each variant (and of a native build's python, if given), as a ratio to the chosen variant.
    `rounds` passes over all builds, each starting one later, so slow drift of a shared machine hits all alike."""
    builds: list[tuple[str, Variant | None, str]] = [(f"portable: {v.name}", v, sys.executable) for v in variants]
    if native_python:
        builds.append(("native (-march=native)", None, native_python))
    samples: dict[str, list[float]] = {label: [] for label, _, _ in builds}
    names: dict[str, str] = {}
    errors: dict[str, str] = {}
    for r in range(rounds):
        order = builds[r % len(builds):] + builds[:r % len(builds)]
        for label, variant, python in order:
            if label in errors:
                continue
            progress(f"round {r + 1}/{rounds}: decode with {label}")
            result = run_decode(model, variant, threads=threads, tokens=tokens, repeats=repeats, python=python)
            if not result.get("ok"):
                errors[label] = str(result.get("error"))
                continue
            samples[label] += result["idle_tok_s"]
            names[label] = result["variant"]
    rows: list[dict[str, Any]] = []
    for label, _, _ in builds:
        if label in errors:
            rows.append({"build": label, "ok": False, "error": errors[label]})
        else:
            rows.append({"build": label, "ok": True, "variant": names[label], "idle_tok_s": samples[label],
                         "idle_median": statistics.median(samples[label])})
    base = next((r for r in rows if r.get("variant") == chosen and r["build"].startswith("portable") and r["ok"]), None)
    for row in rows:
        if base and row.get("ok"):
            row["ratio_to_chosen"] = row["idle_median"] / base["idle_median"]
    return {"chosen": chosen, "rounds": rounds, "rows": rows}


def measure_contention(model: Path, variant: Variant, *, threads: int, tokens: int, repeats: int, rounds: int = 3,
                       progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Decode alone and beside one CPU-bound process, for each wait policy; `loaded_share` = loaded / idle, and
    `idle_ratio_to_default` what the policy costs an idle machine. Rounds rotate the policies' order."""
    labels = list(POLICIES)
    idle: dict[str, list[float]] = {label: [] for label in labels}
    loaded: dict[str, list[float]] = {label: [] for label in labels}
    errors: dict[str, str] = {}
    for r in range(rounds):
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:
            if label in errors:
                continue
            progress(f"round {r + 1}/{rounds}: decode under load, {label}")
            result = run_decode(model, variant, threads=threads, tokens=tokens, repeats=repeats, compete=True,
                                policy=POLICIES[label])
            if not result.get("ok"):
                errors[label] = str(result.get("error"))
                continue
            idle[label] += result["idle_tok_s"]
            loaded[label] += result["loaded_tok_s"]
    rows: list[dict[str, Any]] = []
    for label in labels:
        if label in errors:
            rows.append({"policy": label, "env": POLICIES[label], "ok": False, "error": errors[label]})
            continue
        i, ld = statistics.median(idle[label]), statistics.median(loaded[label])
        rows.append({"policy": label, "env": POLICIES[label], "ok": True, "idle_tok_s": idle[label],
                     "loaded_tok_s": loaded[label], "idle_median": i, "loaded_median": ld, "loaded_share": ld / i})
    base = rows[0]
    for row in rows:
        if row.get("ok") and base.get("ok"):
            row["idle_ratio_to_default"] = row["idle_median"] / base["idle_median"]
    return {"variant": variant.name, "rounds": rounds, "rows": rows}


def native_report(model: Path, *, threads: int, tokens: int, repeats: int, rounds: int = 3,
                  variants: Sequence[str] = ("chosen", "haswell", "x64"), native_python: str | None = None,
                  contention: bool = True, progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """benchmarks/results/native_cpu.json: which variant EdgeMind picks here for `model` (checked in a fresh
    record), the listed variants' idle decode against it ("chosen" names the pick, "all" every variant that runs
    here), and unless `contention` is off, decode beside a CPU-bound process per wait policy."""
    with tempfile.TemporaryDirectory() as tmp:
        guard = NativeGuard(Path(tmp), threads=threads)
        check = guard.check(model, model_key(None, model))
        if check.variant is None:
            raise EdgeMindError(f"no CPU variant runs {model.name} here: {check.attempts}")
        ranked = guard.variants()
        names = [v.name for v in ranked] if "all" in variants else \
            list(dict.fromkeys(check.variant if w == "chosen" else w for w in variants))
        chosen = next(v for v in ranked if v.name == check.variant)
        picked = [v for v in ranked if v.name in names]
        report: dict[str, Any] = {
            "machine": {"cpu": cpu_name(), "features": list(cpu_features()), "threads": threads},
            "model": model.name, "tokens": tokens, "repeats": repeats, "rounds": rounds,
            "check": {"variant": check.variant, "attempts": [asdict(a) for a in check.attempts]},
            "variants": measure_variants(model, picked, chosen.name, threads=threads, tokens=tokens, repeats=repeats,
                                         rounds=rounds, native_python=native_python, progress=progress),
        }
        if contention:
            report["contention"] = measure_contention(model, chosen, threads=threads, tokens=tokens,
                                                      repeats=repeats, rounds=rounds, progress=progress)
    return report


def summary(report: dict[str, Any]) -> str:
    """A native_report as the lines the benchmark prints."""
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
