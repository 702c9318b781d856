"""Linux sandbox plans: our own namespaces (through supervisor.py, no install needed), bubblewrap where installed
and our namespaces are refused, else the process-only level. Builds commands; never runs a snippet itself."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgemind.plugins.builtin.sandbox.interpreter import python_program
from edgemind.plugins.builtin.sandbox.level import IsolationLevel
from edgemind.plugins.builtin.sandbox.limits import Limits

SUPERVISOR = Path(__file__).with_name("supervisor.py")
NOBODY = 65534
# what Python needs besides its own prefix: shared libraries, the loader cache, the time zone (not /etc/passwd:
# the host's account names are none of the snippet's business)
SYSTEM_PATHS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc/ld.so.cache",
                "/etc/localtime")
NAMESPACES = "user, mount, PID, IPC, UTS, network and cgroup namespaces"
ROOT = "a read-only root of the interpreter and system libraries, a private /tmp and work folder, its own /proc"
LIMITS = "memory, CPU and process limits for the whole tree (rlimits per process plus a tree-wide watchdog)"


@dataclass(frozen=True, slots=True)
class Plan:
    """How to start one run: the command, and the level it gives."""

    argv: list[str]
    level: IsolationLevel


def _python() -> str:
    return python_program()


def probe_namespaces(python: str | None = None) -> str:
    """"user" (all namespaces in a user namespace), "root" (all, without one: we are root) or "none"."""
    try:
        done = subprocess.run([python or _python(), "-I", "-S", str(SUPERVISOR), json.dumps({"mode": "probe"})],
                              capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.SubprocessError):
        return "none"
    return done.stdout.strip() if done.stdout.strip() in ("user", "root") else "none"


@functools.lru_cache(maxsize=1)
def bwrap_disables_userns(bwrap: str) -> bool:
    """bubblewrap >= 0.8 can forbid user namespaces inside; it needs a user namespace of its own for that."""
    try:
        help_text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=15, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--disable-userns" in help_text and probe_namespaces() == "user"


def bwrap_path() -> str | None:
    """bubblewrap, if installed and it can make its namespaces here."""
    found = shutil.which("bwrap")
    if found is None:
        return None
    try:
        ok = subprocess.run([found, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True,
                            timeout=15, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return None
    return found if ok else None


def try_level(level: IsolationLevel) -> str | None:
    """Build the sandbox for real and run an empty program in it: None when that worked, else why not. (Creating
    namespaces can succeed where mounting /proc in them is refused, e.g. in a container that masks /proc.)"""
    with tempfile.TemporaryDirectory(prefix="edgemind-probe-") as tmp:
        work, root, outcome = Path(tmp) / "work", Path(tmp) / "root", Path(tmp) / "outcome"
        work.mkdir()
        root.mkdir()
        with outcome.open("wb") as f:
            run = plan(level, [_python(), "-I", "-S", "-c", "pass"], work, root, f.fileno(), Limits())
            try:
                done = subprocess.run(run.argv, pass_fds=(f.fileno(),), cwd=work, env={"PATH": os.defpath},
                                      capture_output=True, text=True, timeout=30, check=False)
            except (OSError, subprocess.SubprocessError) as exc:
                return str(exc)
        try:
            result = json.loads(outcome.read_text(encoding="utf-8") or "{}")
        except ValueError:
            result = {}
    if result == {"exit": 0}:
        return None
    lines = done.stderr.strip().splitlines()
    return str(result.get("error") or (lines[-1] if lines else f"exit status {done.returncode}"))


def detect_level(prefer: str | None = None) -> IsolationLevel:
    """The strongest level that works here; `prefer` ("namespaces", "bwrap", "process only") forces one (tests).
    Each level is tried for real before it is claimed."""
    refused = []
    if prefer in (None, "namespaces"):
        kind = probe_namespaces()
        if kind != "none":
            user = NAMESPACES if kind == "user" else NAMESPACES.replace("user, ", "") + " (no user namespace)"
            level = IsolationLevel("namespaces", True, f"{user}; {ROOT}; {LIMITS}; no seccomp filter")
            why = try_level(level)
            if why is None:
                return level
            refused.append(f"namespaces: {why}")
        else:
            refused.append("namespaces: the kernel refuses them to this user")
    if prefer in (None, "bwrap") and bwrap_path() is not None:
        level = IsolationLevel("bwrap", True, f"bubblewrap: {NAMESPACES}; {ROOT}; {LIMITS}; no seccomp filter")
        why = try_level(level)
        if why is None:
            return level
        refused.append(f"bwrap: {why}")
    reason = "; ".join(refused) or "not tried"
    return IsolationLevel("process only", False, f"no sandbox here ({reason}): a separate process with rlimits "
                          "and a tree-wide watchdog; network blocked by a Python guard only")


def read_only_paths() -> list[str]:
    """The interpreter (with its venv) and the system libraries it loads; symlinks are recreated, not bound."""
    paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    paths.add(sys.prefix)
    paths.update(p for p in SYSTEM_PATHS if os.path.exists(p) and not os.path.islink(p))
    return sorted(paths)


def system_links() -> list[str]:
    return [p for p in SYSTEM_PATHS if os.path.islink(p)]


def plan(level: IsolationLevel, snippet: list[str], work: Path, root: Path, outcome_fd: int,
         limits: Limits) -> Plan:
    """The command that runs `snippet` at `level` in `work`; `root` is an empty folder for the sandbox's root."""
    config: dict[str, Any] = {"work": str(work), "root": str(root), "links": system_links(),
                              "read_only": read_only_paths(), "limits": limits.as_dict(), "argv": snippet,
                              "outcome_fd": outcome_fd}
    supervisor = [_python(), "-I", "-S", str(SUPERVISOR)]
    root_user = os.geteuid() == 0
    if level.name == "namespaces":
        return Plan([*supervisor, json.dumps({**config, "mode": "namespaces"})], level)
    bwrap = bwrap_path() if level.name == "bwrap" else None
    if bwrap is not None:
        argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--hostname", "sandbox"]
        disable_userns = bwrap_disables_userns(bwrap)
        if disable_userns or root_user:
            argv += ["--unshare-user"]
        if disable_userns:
            argv += ["--disable-userns"]
        if root_user:  # inside, nobody (mapped to us); a user namespace even for root, so capabilities stay inside
            argv += ["--uid", str(NOBODY), "--gid", str(NOBODY)]
        # the private /tmp first: binds made after it stay visible when they live under /tmp (a venv or a clone
        # there), where a tmpfs mounted last would hide them
        argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for path in config["read_only"]:
            argv += ["--ro-bind", path, path]
        for path in config["links"]:
            argv += ["--symlink", os.readlink(path), path]
        argv += ["--bind", str(work), str(work), "--ro-bind", str(SUPERVISOR), str(SUPERVISOR), "--chdir", str(work),
                 "--"]
        return Plan([*argv, *supervisor, json.dumps({**config, "mode": "inner"})], level)
    return Plan([*supervisor, json.dumps({**config, "mode": "plain"})], level)
