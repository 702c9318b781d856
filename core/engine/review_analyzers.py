"""Real analyzers before the model: ruff's bug-finding rules and our own AST checks, for Python source.

Ruff runs as a subprocess on a temporary copy (`--isolated`, so no config file next to the user's code can change
what is checked), with JSON output and a timeout; the reviewed code is parsed, never executed. Ruff missing, slow
or failing is one note and the review goes on with the rest. Other languages get no analyzer: the model alone, and
the report says so.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .review_checks import ast_findings
from .review_findings import SYNTAX_SOURCE, Finding

RUFF_PIN = "ruff==0.17.5"
RUFF_TIMEOUT_S = 20.0
# Bug-finding rules only (no style): pyflakes; bugbear; the bandit subset for eval/exec/pickle/shell/yaml/SQL
# strings/hard-coded passwords; pylint errors; files opened outside `with`; shadowed builtins; a missing return.
RUFF_RULES = ("F", "B", "S102", "S105", "S106", "S301", "S307", "S506", "S602", "S604", "S605", "S608", "PLE",
              "SIM115", "A001", "A002", "RET503")
# Of those, rules that ask for a style rather than report a bug: B905 (`zip()` without `strict=`) fired on
# `zip(xs, xs[1:])`, neighbouring pairs whose lengths differ on purpose (`strict=True` would raise there), and was 3
# of the 10 false findings left on the four planted-bug sets in session 35; it never marked a planted bug.
RUFF_IGNORED = ("B905",)
# Severity by rule prefix (longest match wins); anything else is a warning.
_SEVERITY = {"F821": "error", "F822": "error", "F823": "error", "F63": "error", "F7": "error", "PLE": "error",
             "S": "error", "SIM": "warning", "A0": "warning", "RET": "warning", "B006": "warning", "B008": "warning",
             "F401": "info", "F811": "info", "F841": "warning"}
PYTHON_SUFFIXES = (".py", ".pyw", ".pyi")


@dataclass(frozen=True, slots=True)
class AnalyzerReport:
    """What the analyzers found, which ran ("ruff 0.17.5", "edgemind:ast"), and notes for the user (one line each:
    why one did not run)."""

    findings: tuple[Finding, ...] = ()
    ran: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def is_python(code: str, path: str | None) -> bool:
    """A .py file, or pasted code (no name) that parses as Python."""
    if path:
        return path.lower().endswith(PYTHON_SUFFIXES)
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def default_ruff() -> list[str] | None:
    """The ruff executable that came with EdgeMind (the `ruff` package, or ruff_bin/ in the installed bundle, where
    no package has a scripts folder), else one on PATH, else None."""
    bundled = Path(getattr(sys, "_MEIPASS", "")) / "ruff_bin" / ("ruff.exe" if os.name == "nt" else "ruff")
    if getattr(sys, "frozen", False) and bundled.is_file():
        return [str(bundled)]
    try:
        return [str(importlib.import_module("ruff.__main__").find_ruff_bin())]
    except (ImportError, FileNotFoundError, AttributeError):
        found = shutil.which("ruff")
        return [found] if found else None


def _severity(code: str) -> str:
    best = max((p for p in _SEVERITY if code.startswith(p)), key=len, default="")
    return _SEVERITY.get(best, "warning")


def _function_ends(tree: ast.AST) -> dict[int, int]:
    """def line -> last line of the function, to put RET503 where the return is missing rather than on the def."""
    return {n.lineno: n.end_lineno or n.lineno for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def run_ruff(code: str, ruff: Sequence[str] | None, *, timeout: float = RUFF_TIMEOUT_S,
             tree: ast.AST | None = None) -> tuple[list[Finding], str]:
    """(findings, note): ruff's findings on a temporary copy of the code; on any failure no findings and a one-line
    note saying why, so the review goes on without it."""
    if not ruff:
        return [], f"ruff is not installed, so its checks were skipped (pip install {RUFF_PIN})"
    ends = _function_ends(tree) if tree is not None else {}
    with tempfile.TemporaryDirectory(prefix="edgemind-review-") as tmp:
        copy = Path(tmp) / "reviewed.py"
        copy.write_text(code, encoding="utf-8")
        command = [*ruff, "check", "--isolated", "--no-cache", "--exit-zero", "--output-format", "json",
                   "--select", ",".join(RUFF_RULES), "--ignore", ",".join(RUFF_IGNORED), str(copy)]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp, check=False)
        except FileNotFoundError:
            return [], f"ruff was not found at {ruff[0]}, so its checks were skipped (pip install {RUFF_PIN})"
        except subprocess.TimeoutExpired:
            return [], f"ruff took more than {timeout:g} s and was stopped; its checks were skipped"
        except OSError as exc:
            return [], f"ruff could not start ({exc.strerror or exc}); its checks were skipped"
    try:
        rows = json.loads(proc.stdout or "null")
        if proc.returncode != 0 or not isinstance(rows, list):
            raise ValueError
    except ValueError:
        first = (proc.stderr or proc.stdout or "no output").strip().splitlines() or ["no output"]
        return [], f"ruff failed (exit {proc.returncode}: {first[0][:160]}); its checks were skipped"
    findings = []
    for row in rows:
        code_ = row.get("code") if isinstance(row, dict) else None
        location = row.get("location") if isinstance(row, dict) else None
        if not isinstance(location, dict) or not isinstance(location.get("row"), int):
            continue
        if not code_ or code_ == "invalid-syntax":  # the parser's single syntax finding stands for these
            continue
        row_number: int = location["row"]
        line = ends.get(row_number, row_number) if code_ == "RET503" else row_number
        message = " ".join(str(row.get("message", "")).split())
        fix = row.get("fix") if isinstance(row.get("fix"), dict) else None
        suggestion = " ".join(str(fix.get("message") or "").split()) if fix else ""
        findings.append(Finding(line, _severity(code_), message, suggestion, f"ruff:{code_}"))
    return findings, ""


def _ruff_version(ruff: Sequence[str]) -> str:
    try:
        out = subprocess.run([*ruff, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "ruff"
    return out.strip() or "ruff"


def analyze(code: str, path: str | None = None, *, ruff: Sequence[str] | None | str = "default",
            timeout: float = RUFF_TIMEOUT_S) -> AnalyzerReport:
    """Run every analyzer that fits the code. `ruff`: the command to run ("default": the bundled one; None: none,
    as when it is not installed). A syntax error is one finding (the parser's), never a crash."""
    if not is_python(code, path):
        return AnalyzerReport(notes=("no analyzer for this language here: the model reviewed it alone",))
    command = default_ruff() if ruff == "default" else ruff
    findings: list[Finding] = []
    ran: list[str] = []
    try:
        tree: ast.AST | None = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        tree = None
        line = getattr(exc, "lineno", None) or 1
        message = getattr(exc, "msg", None) or str(exc)
        findings.append(Finding(max(1, line), "error", f"Syntax error: {message}", "", SYNTAX_SOURCE))
        ran.append("python parser")
    ruff_findings, note = run_ruff(code, command if isinstance(command, list | tuple) else None, timeout=timeout,
                                   tree=tree)
    if not note and command:
        ran.append(_ruff_version(command))
    findings.extend(ruff_findings)
    if tree is not None:
        findings.extend(ast_findings(tree))
        ran.append("edgemind:ast")
    unique = {(f.line, f.source, f.message): f for f in findings}
    return AnalyzerReport(tuple(sorted(unique.values(), key=lambda f: f.line)), tuple(ran),
                          (note,) if note else ())
