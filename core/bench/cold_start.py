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
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

from .report import BenchError

PROMPT = "Say hello in one short sentence."


@dataclass(frozen=True, slots=True)
class ColdStart:
    first_token_ms: float
    total_ms: float
    peak_rss_bytes: int


class _HighWater:
    """The child's own peak RSS on Linux: VmHWM from /proc, sampled until it exits.

    The rusage that wait4 returns is not it: Linux carries the parent's high-water mark into the child at exec, so a
    bench process holding two models made a ~1 GB `ask` look like 2.9 GB."""

    def __init__(self, pid: int) -> None:
        self._path = f"/proc/{pid}/status"
        self.peak = 0
        self._running = os.path.exists(self._path)
        self._thread = threading.Thread(target=self._sample, daemon=True) if self._running else None
        if self._thread is not None:
            self._thread.start()

    def _sample(self) -> None:
        while self._running:
            try:
                with open(self._path, encoding="ascii", errors="replace") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.peak = max(self.peak, int(line.split()[1]) * 1024)
            except (OSError, ValueError):
                return  # the process is gone (or a zombie without memory figures)
            time.sleep(0.02)

    def stop(self) -> int:
        self._running = False
        if self._thread is not None:
            self._thread.join()
        return self.peak


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
    high_water = _HighWater(process.pid)
    try:
        first = process.stdout.read(1)  # the first byte of the answer: tokens are written and flushed as they come
        first_at = time.perf_counter()
        process.stdout.read()
        err = process.stderr.read().decode("utf-8", "replace").strip()
        code, peak = _wait_with_peak_rss(process)
        peak = high_water.stop() or peak
    finally:
        watchdog.cancel()
        high_water.stop()
    ended = time.perf_counter()
    if code != 0 or not first:
        why = err.splitlines()[-1] if err else f"exit status {code}, no output"
        raise BenchError(f"cold start: `edgemind ask` failed: {why}")
    if ended - started > timeout_s:
        raise BenchError(f"cold start took {ended - started:.0f} s, over its {timeout_s:.0f} s limit")
    return ColdStart((first_at - started) * 1000, (ended - started) * 1000, peak)
