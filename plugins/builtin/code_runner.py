"""Run a Python snippet in a separate, limited process: CPU time, memory, file size, wall clock, output.

On Linux a small supervisor (a child subreaper) sits between us and the snippet, so processes it starts in a new
session die with it too. The child starts in isolated mode (-I: no user site, no PYTHON* variables) in a fresh
temporary folder with an environment that carries no secrets, in its own process group (POSIX) or Job Object
(Windows) so the whole tree is killed at the limit. Network access is blocked: on Linux the supervisor moves into a
new network namespace (no interfaces but its own loopback) when the kernel allows it, and everywhere a guard in the
child makes Python's socket calls fail. The code.exec grant is for running code, not for the net:<host> access
web_fetch asks for. It is a guard-rail against accidents and runaway code, not a VM (the Python guard can be undone
by code that tries, e.g. through ctypes): code.exec is a powerful grant, and the permission prompt shows the exact
code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgemind.core.tools.registry import ToolError
from edgemind.plugins.sdk import tool

MAX_CODE_CHARS = 50_000


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_s: int = 5
    wall_s: float = 10.0
    memory_mb: int = 512
    file_mb: int = 8
    output_chars: int = 8_000


@dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int | None
    stdout: str
    stderr: str
    killed: str | None  # None | "wall-clock" | "cpu" | "memory"
    seconds: float
    network: str = "python guard"  # how network access was blocked: "namespace" (Linux) or "python guard"

    def render(self) -> str:
        parts = [f"exit code: {self.exit_code}" + (f" (killed: {self.killed} limit)" if self.killed else "")]
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


def _posix_limits(limits: Limits) -> Callable[[], None]:
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
        memory = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        size = limits.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _windows_job(process: subprocess.Popen[bytes], limits: Limits) -> object:
    """Put the child in a Job Object with memory and CPU limits that kills the tree when closed (Windows only)."""
    if sys.platform != "win32":  # and so mypy checks the rest as Windows code, where ctypes.WinDLL exists
        raise OSError("Job Objects exist on Windows only")
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)

    class IoCounters(ctypes.Structure):
        _fields_ = [(n, ctypes.c_ulonglong) for n in ("r", "w", "o", "rb", "wb", "ob")]

    class BasicLimits(ctypes.Structure):
        _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                    ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                    ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                    ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                    ("SchedulingClass", wintypes.DWORD)]

    class ExtendedLimits(ctypes.Structure):
        _fields_ = [("Basic", BasicLimits), ("Io", IoCounters), ("ProcessMemoryLimit", ctypes.c_size_t),
                    ("JobMemoryLimit", ctypes.c_size_t), ("PeakProcessMemoryUsed", ctypes.c_size_t),
                    ("PeakJobMemoryUsed", ctypes.c_size_t)]

    job = kernel32.CreateJobObjectW(None, None)
    info = ExtendedLimits()
    kill_on_close, job_time, job_memory = 0x2000, 0x4, 0x200
    info.Basic.LimitFlags = kill_on_close | job_time | job_memory
    info.Basic.PerJobUserTimeLimit = limits.cpu_s * 10_000_000  # 100 ns units
    info.JobMemoryLimit = limits.memory_mb * 1024 * 1024
    extended_info_class = 9
    kernel32.SetInformationJobObject(job, extended_info_class, ctypes.byref(info), ctypes.sizeof(info))
    handle = kernel32.OpenProcess(0x1F0FFF, False, process.pid)
    kernel32.AssignProcessToJobObject(job, handle)
    kernel32.CloseHandle(handle)
    return job


# Runs between us and the snippet on Linux. As a "child subreaper" it inherits every process the snippet leaves
# behind, even one that left the process group with setsid(), and kills them all before it exits (or on SIGTERM).
_SUPERVISOR = r"""
import ctypes, os, signal, subprocess, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
except Exception:
    pass
def isolate_network():
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWNET) == 0:  # allowed as root
        return "namespace"
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:  # an unprivileged user namespace, mapped to ourselves
        try:
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
        except OSError:
            pass
        return "namespace"
    return "python guard"
try:
    isolation = isolate_network()
except Exception:
    isolation = "python guard"
with open(".network", "w") as f:
    f.write(isolation)
child = subprocess.Popen(sys.argv[1:])
def descendants():
    found = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return found
def reap_all():
    while True:
        pids = descendants()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
def stop(*_):
    reap_all()
    os._exit(128 + signal.SIGTERM)
signal.signal(signal.SIGTERM, stop)
code = child.wait()
reap_all()
if code < 0:  # died of a signal (CPU limit, memory): die of the same one, so the caller sees it
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


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


def _command() -> list[str]:
    snippet = [sys.executable, "-I", "-c", _NETWORK_GUARD]
    if sys.platform.startswith("linux") and Path("/proc/self/task").is_dir():
        return [sys.executable, "-I", "-c", _SUPERVISOR, *snippet]
    return snippet


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    if os.name == "posix":
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        process.kill()


def _read_capped(path: Path, limit: int) -> str:
    with path.open("rb") as f:
        data = f.read(limit * 4 + 1)
    text = data.decode("utf-8", errors="replace")
    if len(text) > limit or len(data) > limit * 4:
        return text[:limit] + "\n[... output truncated]"
    return text


def run_python(code: str, stdin: str = "", limits: Limits = Limits()) -> RunResult:
    """Run `code` with `limits`; never raises for what the code does, only for a code runner that cannot start."""
    if len(code) > MAX_CODE_CHARS:
        raise ToolError(f"run_python: code longer than {MAX_CODE_CHARS} characters")
    with tempfile.TemporaryDirectory(prefix="edgemind-run-") as tmp:
        work = Path(tmp)
        (work / "main.py").write_text(code, encoding="utf-8")
        (work / "stdin.txt").write_text(stdin, encoding="utf-8")
        out_path, err_path = work / ".stdout", work / ".stderr"
        started = time.perf_counter()
        with (work / "stdin.txt").open("rb") as fin, out_path.open("wb") as fout, err_path.open("wb") as ferr:
            kwargs: dict[str, Any] = {}
            if os.name == "posix":
                kwargs = {"start_new_session": True, "preexec_fn": _posix_limits(limits)}
            else:
                kwargs = {"creationflags": 0x00000200 | 0x08000000}  # new process group, no console window
            try:
                process = subprocess.Popen(_command(), cwd=work, stdin=fin, stdout=fout,
                                           stderr=ferr, env=clean_environment(work), close_fds=True,
                                           **kwargs)
            except OSError as exc:
                raise ToolError(f"run_python: cannot start Python: {exc}") from None
            job = _windows_job(process, limits) if os.name == "nt" else None
            killed = None
            try:
                process.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                killed = "wall-clock"
                process.terminate()  # the supervisor kills what the snippet started, even outside its group
                try:
                    process.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
            finally:
                _kill_tree(process)  # also reaps anything the snippet left running in its group
                process.wait()
            del job
        seconds = time.perf_counter() - started
        code_ = process.returncode
        cpu_signal = code_ in (-signal.SIGXCPU, -signal.SIGKILL)
        if killed is None and os.name == "posix" and cpu_signal and seconds < limits.wall_s:
            killed = "cpu"
        stderr = _read_capped(err_path, limits.output_chars)
        if killed is None and "MemoryError" in stderr:
            killed = "memory"
        marker = work / ".network"
        network = marker.read_text(encoding="utf-8") if marker.exists() else "python guard"
        return RunResult(None if killed == "wall-clock" else code_, _read_capped(out_path, limits.output_chars),
                         stderr, killed, seconds, network)


@tool(plugin="code_runner", scopes=["code.exec"], timeout_s=30, rate_limit_per_min=30, dry_run=True)
def python_run(code: str, stdin: str = "", dry_run: bool = False) -> str:
    """Run a Python 3 program in a sandboxed process (5 s CPU, 512 MB, 10 s wall clock, no network) and return its
    output."""
    if dry_run:
        return f"would run {len(code.splitlines())} lines of Python in a fresh temporary folder with limits {Limits()}"
    return run_python(code, stdin).render()


TOOLS = [python_run]
