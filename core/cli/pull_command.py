"""`edgemind models catalog` and `edgemind models pull ID`: the curated models a user may download, and the download.

Thin: the catalogue, download, verification and registration live in core.models; this prints and shows progress.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..engine import Models
from ..settings import SETTINGS, Settings

DEFAULT_HUB = SETTINGS["model_hub_url"].default


def add_commands(msub: Any) -> None:
    """Add `catalog` and `pull` under `edgemind models`."""
    cat = msub.add_parser("catalog", help="models you can download with `models pull` (pinned by SHA-256)")
    cat.add_argument("--json", action="store_true", help="print one JSON object")
    cat.add_argument("--catalog", metavar="FILE", help="read this catalogue TOML instead of the shipped one")
    cat.set_defaults(func=cmd_models_catalog)
    pull = msub.add_parser("pull", help="download a catalogue model from the Hugging Face hub (resumable)")
    pull.add_argument("id", help="a model id from `edgemind models catalog`")
    pull.add_argument("--json", action="store_true", help="print one JSON object")
    pull.add_argument("--catalog", metavar="FILE", help="read this catalogue TOML instead of the shipped one")
    pull.set_defaults(func=cmd_models_pull)


def hub_url(settings: Settings, environ: Mapping[str, str]) -> str:
    """The hub to pull from: the model_hub_url setting when set, else HF_ENDPOINT (the hub tools' own variable)."""
    if settings.model_hub_url == DEFAULT_HUB and environ.get("HF_ENDPOINT"):
        return environ["HF_ENDPOINT"]
    return settings.model_hub_url


def cmd_models_catalog(args: argparse.Namespace, settings: Settings) -> int:
    entries = Models.catalog(Path(args.catalog) if args.catalog else None)
    installed = {m.id for m in Models.open(settings).list(include_ollama=False)}
    rows = [dict(e.as_dict(), installed=e.id in installed,
                 partial_bytes=_size(Models.partial_pull(e, settings.models_dir))) for e in entries]
    if args.json:
        sys.stdout.write(json.dumps({"hub": hub_url(settings, os.environ), "models": rows}) + "\n")
        return 0
    for r in rows:
        state = "installed" if r["installed"] else f"partial {r['partial_bytes'] / 1e6:,.0f} MB" \
            if r["partial_bytes"] else ""
        print(f"{r['id']:<32} {r['params_b']:>4.1f}B {r['size_bytes'] / 1e9:>5.2f} GB  {r['license']:<28} {state}")
    return 0


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def eta_printer(clock: Callable[[], float] = time.monotonic) -> Callable[[str, int, int], None]:
    """Progress with speed and time left on a terminal; one line per step when stderr is not a terminal."""
    tty = sys.stderr.isatty()
    state: dict[str, tuple[float, int]] = {}
    shown: dict[str, float] = {}

    def show(what: str, done: int, total: int) -> None:
        now = clock()
        start, first = state.setdefault(what, (now, done))
        if not tty:
            if what not in shown:
                shown[what] = now
                sys.stderr.write(f"edgemind: {what} ({total / 1e6:,.0f} MB) …\n")
            return
        if done < total and now - shown.get(what, -1.0) < 0.2:
            return
        shown[what] = now
        rate = (done - first) / (now - start) if now > start else 0.0
        eta = f"{(total - done) / rate:,.0f} s left" if rate > 0 and done < total else ""
        line = (f"\redgemind: {what} {done / 1e6:,.0f}/{total / 1e6:,.0f} MB {done * 100 // max(total, 1)}%"
                f" {rate / 1e6:,.1f} MB/s {eta}")
        sys.stderr.write(line.ljust(90) + ("\n" if done >= total else ""))
        sys.stderr.flush()

    return show


def cmd_models_pull(args: argparse.Namespace, settings: Settings) -> int:
    entry = Models.catalog_entry(args.id, Path(args.catalog) if args.catalog else None)
    where = hub_url(settings, os.environ)
    try:
        outcome = Models.open(settings).pull(entry, where, settings.models_dir, eta_printer(),
                                             settings.request_timeout_seconds)
    except KeyboardInterrupt:
        part = Models.partial_pull(entry, settings.models_dir)
        if part.exists():
            sys.stderr.write(f"\nedgemind: stopped; {part.stat().st_size / 1e6:,.0f} MB kept in {part}: "
                             "run the same command to resume\n")
        raise
    result = {"id": outcome.spec.id, "state": outcome.state, "path": str(outcome.spec.path),
              "sha256": outcome.spec.sha256, "size_bytes": outcome.spec.size_bytes, "hub": where,
              "resumed_from": outcome.resumed_from, "downloaded": outcome.downloaded}
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    elif outcome.state == "installed":
        print(f"{entry.id} is already installed at {outcome.spec.path}")
    else:
        print(f"pulled {entry.id} ({entry.size_bytes / 1e6:,.0f} MB, SHA-256 verified) into {outcome.spec.path}; "
              f"use it with --model {entry.id}")
    return 0
