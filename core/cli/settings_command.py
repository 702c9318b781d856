"""The `edgemind settings` command: every setting with its value in effect and where it came from.

Thin: the values and sources come from core.settings.resolve_settings; secrets are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..settings import SETTINGS_FILE, Settings, SettingValue, resolve_settings

HIDDEN = "<hidden>"


def add_command(sub: Any) -> None:
    p = sub.add_parser("settings", help="every setting with its value and source (default, file or env)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_settings)


def _shown(v: SettingValue) -> Any:
    if v.setting.secret and v.value is not None:
        return HIDDEN
    if isinstance(v.value, Path):
        return str(v.value)
    if isinstance(v.value, tuple):
        return list(v.value)
    return v.value


def _text(v: SettingValue) -> str:
    if v.value is None:
        return "unset"
    shown = _shown(v)
    return shown if shown == HIDDEN else json.dumps(shown, ensure_ascii=False)


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    resolved = resolve_settings(os.environ)
    file = settings.home / SETTINGS_FILE
    if args.json:
        obj = {"file": str(file), "settings": {
            name: {"value": _shown(v), "source": v.source, "env": v.setting.env} for name, v in resolved.items()}}
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        return 0
    print(f"settings file: {file}" + ("" if file.exists() else " (not there: no setting comes from a file)"))
    width = max(map(len, resolved))
    for name, v in resolved.items():
        source = f"env {v.setting.env}" if v.source == "env" else v.source
        print(f"{name:<{width}}  {_text(v)}  ({source})")
    return 0
