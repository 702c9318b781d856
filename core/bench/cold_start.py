"""Cold start: a fresh `edgemind ask` process, from launch to its first answer byte on stdout, and its peak RSS.

This is what a user waits for when they type a command: interpreter start, imports, settings, router, model load,
prompt evaluation, first token. The model file is already verified (the bench's own engine did that first), and
the OS file cache is warm after the in-process runs, as it is on a laptop that used the model recently.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Mapping

import psutil

from .report import BenchError

PROMPT = "Say hello in one short sentence."


@dataclass(frozen=True, slots=True)
class ColdStart:
    first_token_ms: float
    total_ms: float
    peak_rss_bytes: int


def _wait_with_peak_rss(process: subprocess.Popen[bytes]) -> tuple[int, int]:
    """(exit status, peak RSS in bytes): the kernel's own maximum on POSIX (wait4), else psutil's peak working set."""
    if hasattr(os, "wait4"):
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        # ru_maxrss is KiB on Linux, bytes on macOS
        return process.returncode, usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    try:
        peak = int(getattr(psutil.Process(process.pid).memory_info(), "peak_wset", 0))
    except psutil.Error:
        peak = 0
    return process.wait(), peak


def measure_cold_start(env: Mapping[str, str], model_id: str, *, timeout_s: float = 180.0) -> ColdStart:
    """Run `python -m edgemind.core.cli ask` once with `env` and time it from launch."""
    command = [sys.executable, "-m", "edgemind.core.cli", "ask", PROMPT, "--model", model_id, "--max-tokens", "8",
               "--temperature", "0", "--no-cache", "--no-tools"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(env))
    assert process.stdout is not None and process.stderr is not None
    watchdog = threading.Timer(timeout_s, process.kill)  # a hung child must not hang the bench
    watchdog.start()
    try:
        first = process.stdout.read(1)  # the first byte of the answer: tokens are written and flushed as they come
        first_at = time.perf_counter()
        process.stdout.read()
        err = process.stderr.read().decode("utf-8", "replace").strip()
        code, peak = _wait_with_peak_rss(process)
    finally:
        watchdog.cancel()
    ended = time.perf_counter()
    if code != 0 or not first:
        why = err.splitlines()[-1] if err else f"exit status {code}, no output"
        raise BenchError(f"cold start: `edgemind ask` failed: {why}")
    if ended - started > timeout_s:
        raise BenchError(f"cold start took {ended - started:.0f} s, over its {timeout_s:.0f} s limit")
    return ColdStart((first_at - started) * 1000, (ended - started) * 1000, peak)
