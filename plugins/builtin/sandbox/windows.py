"""Windows: a Job Object around the run's process tree (memory for the whole job, process count, CPU time, UI
restrictions, killed when closed). Written with ctypes, guarded by sys.platform; untested here (no Windows CI run of
the runner). It does NOT hide the user's files: the code runs with the user's token."""

from __future__ import annotations

import subprocess
import sys

from edgemind.plugins.builtin.sandbox.level import IsolationLevel
from edgemind.plugins.builtin.sandbox.limits import Limits

# JOB_OBJECT_LIMIT_*: kill on close, job time, job memory, active processes, die on unhandled exception
KILL_ON_CLOSE, JOB_TIME, JOB_MEMORY, ACTIVE_PROCESS, DIE_ON_EXCEPTION = 0x2000, 0x4, 0x200, 0x8, 0x400
# JOB_OBJECT_UILIMIT_*: handles, read/write clipboard, system parameters, display settings, global atoms, desktop,
# exit windows: the snippet cannot touch the user's desktop session
UI_LIMITS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80
EXTENDED_LIMIT_INFORMATION, BASIC_UI_RESTRICTIONS = 9, 4
CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW, CREATE_SUSPENDED = 0x00000200, 0x08000000, 0x00000004


def level() -> IsolationLevel:
    return IsolationLevel("job object", False, "Windows Job Object: memory, process count and CPU for the whole "
                          "tree, UI restrictions, killed with the run; no file or network isolation (Python guard "
                          "only)")


def creation_flags() -> int:
    return CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW


def job_for(process: subprocess.Popen[bytes], limits: Limits) -> object:
    """Put the child in a Job Object with the run's limits; the job is killed when the returned handle is closed."""
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

    class UiRestrictions(ctypes.Structure):
        _fields_ = [("UIRestrictionsClass", wintypes.DWORD)]

    job = kernel32.CreateJobObjectW(None, None)
    if not job:
        raise OSError(ctypes.get_last_error(), "CreateJobObjectW failed")
    info = ExtendedLimits()
    info.Basic.LimitFlags = KILL_ON_CLOSE | JOB_TIME | JOB_MEMORY | ACTIVE_PROCESS | DIE_ON_EXCEPTION
    info.Basic.PerJobUserTimeLimit = limits.cpu_s * 10_000_000  # 100 ns units
    info.Basic.ActiveProcessLimit = limits.max_processes
    info.JobMemoryLimit = limits.memory_mb * 1024 * 1024
    ui = UiRestrictions(UI_LIMITS)
    ok = kernel32.SetInformationJobObject(job, EXTENDED_LIMIT_INFORMATION, ctypes.byref(info), ctypes.sizeof(info))
    ok = ok and kernel32.SetInformationJobObject(job, BASIC_UI_RESTRICTIONS, ctypes.byref(ui), ctypes.sizeof(ui))
    handle = kernel32.OpenProcess(0x1F0FFF, False, process.pid)
    ok = ok and handle and kernel32.AssignProcessToJobObject(job, handle)
    if handle:
        kernel32.CloseHandle(handle)
    if not ok:
        error = ctypes.get_last_error()
        process.kill()
        kernel32.CloseHandle(job)
        raise OSError(error, "cannot put the code run in a Job Object")
    return job


def close_job(job: object) -> None:
    """Closing the last handle kills every process still in the job (KILL_ON_CLOSE)."""
    if sys.platform != "win32":
        return
    import ctypes

    ctypes.WinDLL("kernel32").CloseHandle(job)
