"""Run a Python snippet in a sandbox with limits on its whole process tree: CPU time, memory, processes, file size,
wall clock, output.

The sandbox is the OS's (plugins/builtin/sandbox): on Linux new user, mount, PID, IPC, UTS, network and cgroup
namespaces with a minimal read-only root (or bubblewrap), on macOS a sandbox-exec profile, on Windows a Job Object.
Where less is available the run says which level it got (`RunResult.isolation`), and so do `doctor` and the
permission dialog. The child also starts in isolated mode (-I) with an environment that carries no secrets, and a
Python guard makes socket calls fail with a clear message (the namespaces are what stop code that undoes it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgemind.core.tools.registry import ToolError
from edgemind.plugins.builtin.sandbox import IsolationLevel, Limits, detect_isolation, linux, macos, windows
from edgemind.plugins.builtin.sandbox.interpreter import python_program
from edgemind.plugins.sdk import tool

__all__ = ["MAX_CODE_CHARS", "Limits", "RunResult", "clean_environment", "run_python", "python_run", "TOOLS"]

MAX_CODE_CHARS = 50_000
DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int | None
    stdout: str
    stderr: str
    # None | "wall-clock" | "cpu" | "memory" | "processes" | "supervisor" (killed from outside or by the snippet)
    killed: str | None
    seconds: float
    network: str = "python guard"  # how network access was blocked: "namespace" or "python guard"
    isolation: str = "process only"  # the IsolationLevel's name this run got

    def render(self) -> str:
        why = "the sandbox's supervisor was killed" if self.killed == "supervisor" else f"{self.killed} limit"
        parts = [f"exit code: {self.exit_code}" + (f" (killed: {why})" if self.killed else "")]
        if self.stdout:
            parts.append("stdout:\n" + self.stdout)
        if self.stderr:
            parts.append("stderr:\n" + self.stderr)
        return "\n".join(parts)


def clean_environment(workdir: Path) -> dict[str, str]:
    """Only what Python needs to start: no API keys, tokens, proxies or cloud credentials are inherited."""
    env = {"PATH": os.defpath, "HOME": str(workdir), "TMPDIR": str(workdir), "TEMP": str(workdir),
           "TMP": str(workdir), "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
    for key in ("SYSTEMROOT", "WINDIR", "COMSPEC"):  # Windows cannot start a process without these
        if key in os.environ:
            env[key] = os.environ[key]
    return env


# Runs the snippet with Python's socket calls failing, then gets out of the way: the snippet's own traceback is
# printed without this frame, and the exit code is Python's.
_NETWORK_GUARD = r"""
import socket, sys
def _blocked(*args, **kwargs):
    raise PermissionError("network access is blocked in EdgeMind's code runner")
for _name in ("connect", "connect_ex", "bind", "sendto", "sendmsg"):
    setattr(socket.socket, _name, _blocked)
socket.create_connection = socket.getaddrinfo = socket.create_server = _blocked
del _name
sys.argv = ["main.py"]
with open("main.py", encoding="utf-8") as _f:
    _code = compile(_f.read(), "main.py", "exec")
try:
    exec(_code, {"__name__": "__main__", "__file__": "main.py", "__builtins__": __builtins__})
except SystemExit:
    raise
except BaseException as exc:
    import traceback
    traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
    sys.exit(1)
"""


def _read_capped(path: Path, limit: int) -> str:
    with path.open("rb") as f:
        data = f.read(limit * 4 + 1)
    text = data.decode("utf-8", errors="replace")
    if len(text) > limit or len(data) > limit * 4:
        return text[:limit] + "\n[... output truncated]"
    return text


def _snippet() -> list[str]:
    return [python_program(), "-I", "-c", _NETWORK_GUARD]


def _rlimits(limits: Limits) -> Any:
    """Per-process rlimits for the OSes without our supervisor (macOS, other POSIX)."""
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        size = limits.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _start(level: IsolationLevel, work: Path, control: Path, outcome_fd: int, limits: Limits,
           streams: dict[str, Any]) -> tuple[subprocess.Popen[bytes], object | None]:
    """Start the run at `level`; the caller waits. Raises ToolError when nothing could start."""
    common: dict[str, Any] = {"cwd": work, "env": clean_environment(work), "close_fds": True, **streams}
    try:
        if sys.platform.startswith("linux"):
            root = control / "root"
            root.mkdir()
            plan = linux.plan(level, _snippet(), work, root, outcome_fd, limits)
            return subprocess.Popen(plan.argv, start_new_session=True, pass_fds=(outcome_fd,), **common), None
        if sys.platform == "win32":
            process = subprocess.Popen(_snippet(), creationflags=windows.creation_flags(), **common)
            return process, windows.job_for(process, limits)
        argv = _snippet()
        if sys.platform == "darwin" and level.hides_host:
            argv = macos.command(argv, work, [Path.home()])
        return subprocess.Popen(argv, start_new_session=True, preexec_fn=_rlimits(limits), **common), None
    except OSError as exc:
        raise ToolError(f"run_python: cannot start Python: {exc}") from None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM first, so a process-only supervisor can kill what the snippet left outside its group; then kill the
    supervisor's group (in the namespaces its death takes the whole sandbox: parent-death signals, then PID 1)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
    if os.name == "posix":
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    else:
        process.kill()
    process.wait()


def _read_outcome(path: Path) -> dict[str, Any]:
    try:
        outcome = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return outcome if isinstance(outcome, dict) else {}


def _ending(outcome: dict[str, Any], returncode: int, seconds: float, limits: Limits) -> tuple[int | None, str | None]:
    """(exit code, killed) as they really were: from the supervisor's report where there is one."""
    if "error" in outcome:
        raise ToolError(f"run_python: {outcome['error']}")
    if "killed" in outcome:
        return -signal.SIGKILL, str(outcome["killed"])
    if "signal" in outcome:
        return -int(outcome["signal"]), None
    if "exit" in outcome:
        return int(outcome["exit"]), None
    if sys.platform.startswith("linux"):  # our supervisor always reports: no report means it was killed
        return None, "supervisor"
    cpu_signal = os.name == "posix" and returncode in (-signal.SIGXCPU, -signal.SIGKILL)
    return returncode, "cpu" if cpu_signal and seconds < limits.wall_s else None


def run_python(code: str, stdin: str = "", limits: Limits = DEFAULT_LIMITS,
               level: IsolationLevel | None = None) -> RunResult:
    """Run `code` with `limits` at `level` (default: the strongest this machine gives); never raises for what the
    code does, only for a code runner that cannot start."""
    if len(code) > MAX_CODE_CHARS:
        raise ToolError(f"run_python: code longer than {MAX_CODE_CHARS} characters")
    level = level or detect_isolation()
    with tempfile.TemporaryDirectory(prefix="edgemind-run-") as tmp, \
            tempfile.TemporaryDirectory(prefix="edgemind-sandbox-") as ctl:
        work, control = Path(tmp), Path(ctl)
        (work / "main.py").write_text(code, encoding="utf-8")
        (control / "stdin.txt").write_text(stdin, encoding="utf-8")
        out_path, err_path, outcome_path = control / "stdout", control / "stderr", control / "outcome.json"
        started = time.perf_counter()
        with ((control / "stdin.txt").open("rb") as fin, out_path.open("wb") as fout, err_path.open("wb") as ferr,
              outcome_path.open("wb") as fcontrol):
            process, job = _start(level, work, control, fcontrol.fileno(), limits,
                                  {"stdin": fin, "stdout": fout, "stderr": ferr})
            killed = None
            try:
                process.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                killed = "wall-clock"
            finally:
                _stop(process)
                if job is not None:
                    windows.close_job(job)
        seconds = time.perf_counter() - started
        exit_code, ending = (None, killed) if killed else _ending(_read_outcome(outcome_path), process.returncode,
                                                                  seconds, limits)
        stderr = _read_capped(err_path, limits.output_chars)
        if ending is None and "MemoryError" in stderr:
            ending = "memory"
        network = "namespace" if level.hides_host and sys.platform.startswith("linux") else "python guard"
        return RunResult(exit_code, _read_capped(out_path, limits.output_chars), stderr, ending, seconds, network,
                         level.name)


@tool(plugin="code_runner", scopes=["code.exec"], timeout_s=30, rate_limit_per_min=30, dry_run=True)
def python_run(code: str, stdin: str = "", dry_run: bool = False) -> str:
    """Run a Python 3 program in a sandboxed process (5 s CPU, 512 MB, 10 s wall clock, no network) and return its
    output."""
    if dry_run:
        return (f"would run {len(code.splitlines())} lines of Python in a fresh temporary folder with limits "
                f"{Limits()}; isolation: {detect_isolation().describe()}")
    return run_python(code, stdin).render()


TOOLS = [python_run]
