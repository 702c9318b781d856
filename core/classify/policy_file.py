"""Policy files in TOML (safety, router): shipped defaults in resources/, a user's file in the data folder merged
over them key by key, and every mistake reported as a ConfigError naming the file, the line and the dotted key.

This module reads, merges and locates; what the keys mean is checked by each policy's own module.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True, slots=True)
class PolicySource:
    """A policy file's path and text, kept so a bad value can be reported with its line."""

    path: Path
    text: str


def resource_path(name: str) -> Path:
    """A file shipped in `edgemind.resources` (policies, labelled prompts)."""
    return Path(str(resources.files("edgemind.resources").joinpath(name)))


def read_toml(path: Path, what: str) -> tuple[dict[str, Any], PolicySource]:
    """The parsed file and its source; unreadable or invalid TOML is a ConfigError (tomllib's message has the line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None  # tomllib's message ends "(at line N, column M)"
    return data, PolicySource(path, text)


@dataclass(frozen=True, slots=True)
class MergedPolicy:
    """The shipped file with the user's merged over it, and the files themselves, base first."""

    data: dict[str, Any]
    files: tuple[tuple[dict[str, Any], PolicySource], ...]

    def source_of(self, key: str) -> PolicySource:
        """The last file that sets the top-level `key`, else the base file: where an error about its merged value
        points."""
        return next((source for data, source in reversed(self.files) if key in data), self.files[0][1])


def read_policy(base: Path, override: Path | None, what: str,
                check: Callable[[Mapping[str, Any], PolicySource], None]) -> MergedPolicy:
    """`base` with `override` merged over it when that file exists. `check` sees each file before merging, with
    its source, so a wrong key is reported in the file that has it; whether the merge is complete is the caller's."""
    files = []
    for path in [base] + ([override] if override is not None and override.exists() else []):
        data, source = read_toml(path, what)
        check(data, source)
        files.append((data, source))
    merged: dict[str, Any] = {}
    for data, _ in files:
        merge_tables(merged, copy.deepcopy(data))  # the files stay as they were read
    return MergedPolicy(merged, tuple(files))


def require(table: Mapping[str, Any], key: str, what: str, where: str) -> Any:
    """table[key], or a ConfigError "<what>: <where> is missing" for a merged policy that lacks it."""
    if key not in table:
        raise ConfigError(f"{what}: {where} is missing")
    return table[key]


def is_number(value: Any) -> bool:
    """An int or float in TOML (true and false are not numbers)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def merge_tables(into: dict[str, Any], over: Mapping[str, Any]) -> None:
    """Tables merge key by key; anything else (arrays included) replaces."""
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge_tables(into[key], value)
        else:
            into[key] = value


def line_of(source: PolicySource, key: str) -> int | None:
    """The line of a dotted key: its own table header, or its assignment inside its table; None when not found."""
    lines = source.text.splitlines()

    def header(parts: list[str]) -> int | None:
        pattern = re.compile(r"^\s*\[\[?\s*" + r"\s*\.\s*".join(map(re.escape, parts)) + r"\s*\]")
        return next((i for i, line in enumerate(lines) if pattern.match(line)), None)

    *table, leaf = key.split(".")
    own = header(table + [leaf])
    if own is not None:
        return own + 1
    start = 0
    if table:
        found = header(table)
        if found is None:
            return None
        start = found + 1
    assign = re.compile(r"^\s*" + re.escape(leaf) + r"\s*=")
    for i in range(start, len(lines)):
        if lines[i].lstrip().startswith("["):
            break  # the next table: the key is not in this one
        if assign.match(lines[i]):
            return i + 1
    return start or None


def config_error(source: PolicySource, key: str, problem: str) -> ConfigError:
    """`<file>:<line>: <key>: <problem>` (the line left out when it cannot be found)."""
    line = line_of(source, key)
    return ConfigError(f"{source.path}{f':{line}' if line else ''}: {key}: {problem}")
