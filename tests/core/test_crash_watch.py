"""A native crash that gets past the llama.cpp test run leaves a record, and the next start says so in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CRASH = ("import os, signal, sys; from pathlib import Path; from edgemind.core.cli.crash_watch import watch; "
         "watch(Path(sys.argv[1])); os.kill(os.getpid(), signal.SIGILL)")


def edgemind(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgemind.core.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_next_start_tells_once_that_the_last_run_died_in_native_code(cli_env: dict[str, str], home: Path) -> None:
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(home)], capture_output=True, text=True, timeout=60)
    assert crashed.returncode < 0  # it really died of the signal
    first = edgemind(cli_env, "cache", "stats")
    assert first.returncode == 0, first.stderr
    warnings = [line for line in first.stderr.splitlines() if line.startswith("edgemind: warning:")]
    assert len(warnings) == 1 and "Illegal instruction" in warnings[0] and "native-crash.log" in warnings[0]
    assert "Traceback" not in first.stderr
    again = edgemind(cli_env, "cache", "stats")
    assert again.returncode == 0 and "native code" not in again.stderr


def test_a_clean_run_leaves_nothing_to_tell(cli_env: dict[str, str]) -> None:
    for _ in range(2):
        done = edgemind(cli_env, "cache", "stats")
        assert done.returncode == 0 and "warning" not in done.stderr
