"""The bench report's versioned schema: figures with unit, repeats, direction and goal; reading and writing it.

`report.json` is the contract between runs (`--compare`), the HTML page and the desktop dashboard, so it is
validated on load and a file that is not one gives a one-line BenchError, never a KeyError.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EdgeMindError

SCHEMA = "edgemind-bench/1"
BETTER = ("higher", "lower", None)
GOAL_OPS = ("<=", ">=")


class BenchError(EdgeMindError):
    """The benchmark cannot run or a report cannot be used: the message names the file, option or backend."""

    kind = "bench"


@dataclass(frozen=True, slots=True)
class Goal:
    op: str  # "<=" or ">="
    value: float

    def met(self, value: float) -> bool | None:
        if not isinstance(value, (int, float)) or math.isnan(value):
            return None
        return value <= self.value if self.op == "<=" else value >= self.value


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number. `better` says which way is an improvement (None: neither, e.g. a prompt length)."""

    value: float
    unit: str
    repeats: int = 1
    better: str | None = None
    goal: Goal | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        value = None if isinstance(self.value, float) and math.isnan(self.value) else self.value
        out: dict[str, Any] = {"value": value, "unit": self.unit, "repeats": self.repeats, "better": self.better}
        if self.goal is not None:
            out["goal"] = {"op": self.goal.op, "value": self.goal.value}
            out["pass"] = self.goal.met(self.value)
        if self.note:
            out["note"] = self.note
        return out


def figures_dict(figures: dict[str, Figure]) -> dict[str, dict[str, Any]]:
    return {name: f.as_dict() for name, f in figures.items()}


def iter_figures(report: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every figure of a report as ("backend llama_cpp / decode_tok_s", figure dict), in report order."""
    for name, result in report.get("backends", {}).items():
        for key, fig in result.get("figures", {}).items():
            yield f"backend {name} / {key}", fig
    for name, section in report.get("sections", {}).items():
        for key, fig in section.get("figures", {}).items():
            yield f"{name} / {key}", fig


def _check_figure(where: str, fig: Any) -> None:
    if not isinstance(fig, dict):
        raise BenchError(f"{where} is not a figure object")
    value = fig.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise BenchError(f"{where}: value must be a number or null")
    if not isinstance(fig.get("unit"), str):
        raise BenchError(f"{where}: unit must be a string")
    if fig.get("better") not in BETTER:
        raise BenchError(f"{where}: better must be \"higher\", \"lower\" or null")
    goal = fig.get("goal")
    if goal is not None and (not isinstance(goal, dict) or goal.get("op") not in GOAL_OPS
                             or not isinstance(goal.get("value"), (int, float))):
        raise BenchError(f"{where}: goal must be {{op: <= or >=, value: number}}")


def validate(report: Any, source: str = "report") -> dict[str, Any]:
    """Check the shape every reader relies on; BenchError naming the first problem."""
    if not isinstance(report, dict):
        raise BenchError(f"{source} is not a JSON object")
    if report.get("schema") != SCHEMA:
        raise BenchError(f"{source} is not an EdgeMind bench report (schema {report.get('schema')!r}, "
                         f"expected {SCHEMA!r})")
    for key in ("hardware", "settings", "backends", "sections"):
        if not isinstance(report.get(key), dict):
            raise BenchError(f"{source}: {key!r} must be an object")
    for name, result in report["backends"].items():
        if not isinstance(result, dict) or not isinstance(result.get("figures", {}), dict):
            raise BenchError(f"{source}: backends.{name} must be an object with a figures object")
    for name, section in report["sections"].items():
        if not isinstance(section, dict) or not isinstance(section.get("figures", {}), dict):
            raise BenchError(f"{source}: sections.{name} must be an object with a figures object")
    for where, fig in iter_figures(report):
        _check_figure(f"{source}: {where}", fig)
    return report


def load_report(path: Path) -> dict[str, Any]:
    """Read and validate a report.json; BenchError (one line) when it is missing, not JSON or not a report."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    return validate(data, str(path))


def check_writable(folder: Path) -> Path:
    """Create the output folder and prove a file can be written there, before minutes of measuring."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise BenchError(f"cannot write the report to {folder}: {exc.strerror or exc}") from None
    return folder


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise BenchError(f"cannot write {path}: {exc.strerror or exc}") from None


def json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers and other readers choke on them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def save_report(report: dict[str, Any], folder: Path) -> Path:
    report = json_safe(report)
    validate(report, "the new report")
    path = Path(folder) / "report.json"
    write_text_atomic(path, json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return path
