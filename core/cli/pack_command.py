"""The `edgemind pack` commands: export adapters as one signed file, inspect one, import one as models.

Thin: core/tuning/packs.py does the work. A refused pack exits 2 with one line and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..engine import Packs
from ..settings import Settings
from .output import EXIT_OK, print_json


def add_command(sub: Any) -> None:
    p = sub.add_parser("pack", help="share tuned adapters as one signed file (personalization packs)")
    psub = p.add_subparsers(title="pack commands", metavar="ACTION", required=True)

    ex = psub.add_parser("export", help="write adapters as one signed pack file",
                         description="The pack holds the adapters, their base model's id and SHA-256, evaluation "
                                     "figures and counts about the training data (never the data), signed with "
                                     "your key.")
    ex.add_argument("names", nargs="+", metavar="NAME", help="adapter(s) to export (same base model)")
    ex.add_argument("-o", "--out", type=Path, help=f"the pack file (default: ./NAME{Packs.suffix})")
    ex.add_argument("--force", action="store_true", help="replace an existing file")
    ex.add_argument("--json", action="store_true")
    ex.set_defaults(func=cmd_pack_export)

    im = psub.add_parser("import", help="verify a pack and add its adapters as models",
                         description="Refused, writing nothing, unless the pack is whole and untampered, its base "
                                     "model is installed here with the same SHA-256, and its signer is one you "
                                     "trust (--trust adds it, after you compared the fingerprint with its sender).")
    im.add_argument("file", type=Path)
    im.add_argument("--name", help="import a one-adapter pack under this model id")
    im.add_argument("--trust", action="store_true", help="trust the pack's signer (remembered for later packs)")
    im.add_argument("--json", action="store_true")
    im.set_defaults(func=cmd_pack_import)

    ins = psub.add_parser("inspect", help="verify a pack and show what it holds and who signed it; writes nothing")
    ins.add_argument("file", type=Path)
    ins.add_argument("--json", action="store_true")
    ins.set_defaults(func=cmd_pack_inspect)

    key = psub.add_parser("key", help="your signing key's fingerprint (what others compare when they import)")
    key.add_argument("--json", action="store_true")
    key.set_defaults(func=cmd_pack_key)


def cmd_pack_export(args: argparse.Namespace, settings: Settings) -> int:
    out = args.out or Path(f"{args.names[0]}{Packs.suffix}")
    manifest = Packs.open(settings).export(args.names, out, overwrite=args.force)
    if args.json:
        print_json({**manifest.as_dict(), "file": str(out)})
    else:
        print(f"wrote {out}: {', '.join(a.name for a in manifest.adapters)} for {manifest.base_model}, "
              f"signed by {manifest.fingerprint}")
    return EXIT_OK


def cmd_pack_inspect(args: argparse.Namespace, settings: Settings) -> int:
    info = Packs.open(settings).inspect(args.file)
    if args.json:
        print_json(info.as_dict())
    else:
        print(_describe(info))
    return EXIT_OK


def _describe(info: Any) -> str:
    m = info.manifest
    who = "you" if info.own else "trusted" if info.trusted else "not trusted yet"
    lines = [f"verified pack, format {m.format_version}, created {m.created}",
             f"signer: {m.fingerprint} ({who})", f"base model: {m.base_model} (SHA-256 {m.base_sha256[:16]}…)"]
    for a in m.adapters:
        lines.append(f"adapter {a.name}: {a.kind}, rank {a.rank}, alpha {a.alpha:g}, {a.size_bytes:,} bytes; "
                     f"data {json.dumps(a.data_summary)}; evaluation {json.dumps(a.evaluation)}")
    return "\n".join(lines)


def cmd_pack_import(args: argparse.Namespace, settings: Settings) -> int:
    packs = Packs.open(settings)
    trust_signer = bool(args.trust)
    if not trust_signer and not args.json and sys.stdin.isatty():
        info = packs.inspect(args.file)  # first import of a signer on a terminal: ask, as --trust would
        if not info.trusted:
            print(_describe(info))
            try:
                answer = input(f"trust packs signed by {info.manifest.fingerprint}? [y/N] ").strip().lower()
            except EOFError:  # the terminal closed its input: no answer is no
                answer = ""
            trust_signer = answer in ("y", "yes")
    done = packs.import_pack(args.file, rename=args.name, trust_signer=trust_signer)
    if args.json:
        print_json(done.as_dict())
    else:
        trusted = f"; signer {done.fingerprint} is trusted from now on" if done.newly_trusted else ""
        print(f"imported {', '.join(done.names)} (base {done.base_model}); use it with --model "
              f"{done.names[0]}{trusted}")
    return EXIT_OK


def cmd_pack_key(args: argparse.Namespace, settings: Settings) -> int:
    fingerprint = Packs.open(settings).fingerprint()
    if args.json:
        print_json({"fingerprint": fingerprint})
    else:
        print(fingerprint)
    return EXIT_OK
