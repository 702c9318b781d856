"""The README's settings table, written from the declaration; tests/core/test_settings_table.py keeps them equal.

Regenerate it with `python -m edgemind.core.settings --write-readme README.md`.
"""

from __future__ import annotations

import re
from dataclasses import MISSING
from pathlib import Path
from typing import Any

from .declaration import SETTINGS
from .spec import Setting

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def default_text(spec: Setting) -> str:
    """A setting's default as a reader should see it: a TOML value, or where it lies when it is not a constant."""
    if spec.name == "home":
        return "your user data folder"
    if spec.default is MISSING:
        return f"<data>/{spec.under_home}"
    if spec.default is None:
        return "unset"
    return toml_text(spec.default)


def toml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, (str, Path)):
        return f'"{value}"'
    return repr(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def settings_table_markdown() -> str:
    """One row per setting, in declaration order: key, default, valid values, environment variable, meaning."""
    rows = ["| Setting | Default | Valid values | Environment | What it does |", "|---|---|---|---|---|"]
    for spec in SETTINGS.values():
        key = f"`{spec.name}`" + ("" if spec.in_file else " (environment only)")
        env = f"`{spec.env}`" if spec.env else ""
        rows.append(f"| {key} | `{_cell(default_text(spec))}` | {_cell(spec.describe_valid())} | {env} | "
                    f"{_cell(spec.help)} |")
    return "\n".join(rows) + "\n"


def readme_table(readme: str) -> str | None:
    """The text between the README's settings-table markers, or None when a marker is missing."""
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), readme, re.S)
    return match.group(1) if match else None


def with_table(readme: str) -> str:
    """The README with the generated table between its markers (which must be there already)."""
    if readme_table(readme) is None:
        raise ValueError(f"the README has no {START} … {END} markers")
    table = settings_table_markdown()
    return re.sub(re.escape(START) + r"\n.*?" + re.escape(END), lambda _m: f"{START}\n{table}{END}", readme,
                  count=1, flags=re.S)
