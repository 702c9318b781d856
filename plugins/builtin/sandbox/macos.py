"""macOS: a sandbox-exec (Seatbelt) profile with the Linux sandbox's rules: read the interpreter and system only,
write the work folder only, no network, nothing of the home or data folder. Untested here (no macOS in CI)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from edgemind.plugins.builtin.sandbox.level import IsolationLevel

SANDBOX_EXEC = "/usr/bin/sandbox-exec"
SYSTEM_READ = ("/usr/lib", "/usr/share", "/System", "/Library/Apple", "/private/var/db/dyld", "/dev")


def _quote(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def profile(work: Path, interpreter_paths: list[str], denied: list[Path]) -> str:
    """Deny by default; the explicit denials come last so a broad allow (a venv in the home) cannot reopen them."""
    reads = " ".join(f"(subpath {_quote(p)})" for p in [*SYSTEM_READ, *interpreter_paths, str(work)])
    denies = " ".join(f"(subpath {_quote(str(p))})" for p in denied)
    lines = [
        "(version 1)",
        "(deny default)",
        "(allow process-fork)",
        f"(allow process-exec {' '.join(f'(subpath {_quote(p)})' for p in interpreter_paths)})",
        "(allow signal (target same-sandbox))",
        "(allow sysctl-read)",
        "(allow file-read-metadata)",
        f"(allow file-read* {reads})",
        f"(allow file-write* (subpath {_quote(str(work))}) (literal \"/dev/null\"))",
        "(deny network*)",
    ]
    if denies:
        lines.append(f"(deny file-read* file-write* {denies})")
    return "\n".join(lines) + "\n"


def interpreter_paths() -> list[str]:
    return sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)})


def command(snippet: list[str], work: Path, denied: list[Path]) -> list[str]:
    return [SANDBOX_EXEC, "-p", profile(work, interpreter_paths(), denied), *snippet]


def level() -> IsolationLevel:
    if os.path.exists(SANDBOX_EXEC):
        return IsolationLevel("sandbox-exec", True, "Seatbelt profile: reads only the interpreter and system, writes "
                              "only its work folder, no network; limits per process (rlimits), the process group is "
                              "killed with the run (a child in a new session may outlive it)")
    return IsolationLevel("process only", False, "sandbox-exec missing: separate process with rlimits only")
