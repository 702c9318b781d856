"""python_run: a real child Python under real limits; what it prints comes back, what it starts dies with it."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.storage.db import open_database
from edgemind.core.tools.permissions import Answer, PermissionRequest
from edgemind.core.settings import Settings
from edgemind.core.tools.session import open_tool_runner
from edgemind.core.tools.registry import ToolError
from edgemind.plugins.builtin.code_runner import MAX_CODE_CHARS, Limits, clean_environment, run_python

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the limits checked here are the POSIX rlimits")

FAST = Limits(cpu_s=2, wall_s=5.0)


def test_stdout_stderr_and_exit_code_come_back() -> None:
    result = run_python("import sys\nprint('to out')\nprint('to err', file=sys.stderr)\nsys.exit(3)", limits=FAST)
    assert (result.exit_code, result.stdout, result.stderr, result.killed) == (3, "to out\n", "to err\n", None)
    assert result.render() == "exit code: 3\nstdout:\nto out\n\nstderr:\nto err\n"


def test_stdin_is_passed_and_an_exception_is_reported() -> None:
    result = run_python("name = input()\nprint('hello', name)\nraise ValueError('boom')", stdin="Ada\n",
                        limits=FAST)
    assert result.stdout == "hello Ada\n"
    assert result.exit_code == 1 and "ValueError: boom" in result.stderr


def test_wall_clock_limit_kills_a_busy_loop() -> None:
    started = time.perf_counter()
    result = run_python("while True: pass", limits=Limits(cpu_s=5, wall_s=0.5))
    assert result.killed == "wall-clock" and result.exit_code is None
    assert time.perf_counter() - started < 3
    assert "killed: wall-clock limit" in result.render()


def test_cpu_limit_kills_a_busy_loop_before_the_wall_clock() -> None:
    result = run_python("while True: pass", limits=Limits(cpu_s=1, wall_s=8.0))
    assert result.killed == "cpu" and result.seconds < 5


def test_allocating_two_gigabytes_fails() -> None:
    result = run_python("x = bytearray(2 * 1024 ** 3)\nprint('allocated')", limits=FAST)
    assert result.killed == "memory" and result.exit_code != 0
    assert "allocated" not in result.stdout and "MemoryError" in result.stderr


def test_file_size_limit_stops_a_large_write() -> None:
    result = run_python("open('big.bin', 'wb').write(b'x' * (3 * 1024 * 1024))\nprint('wrote')",
                        limits=Limits(cpu_s=2, wall_s=5.0, file_mb=1))
    assert result.exit_code != 0 and "wrote" not in result.stdout
    assert "File too large" in result.stderr


def alive_with(marker: str) -> list[int]:
    """Processes on this machine whose command line carries `marker` (the sandbox hides our folders from the
    snippet, so a child proves it lived by being seen here, not by writing a file)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def spawn(marker: str, new_session: bool = False) -> str:
    return ("import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(5)', {marker!r}], "
            f"start_new_session={new_session})\n")


@pytest.fixture
def marker() -> Iterator[str]:
    name = "edgemind-child-" + uuid.uuid4().hex
    yield name
    for pid in alive_with(name):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the children through /proc")
def test_children_die_with_the_snippet(marker: str) -> None:
    """A child still running when its parent is gone does not outlive the run: exited or killed."""
    assert run_python(spawn(marker + "-a") + "print('parent done')", limits=FAST).stdout == "parent done\n"
    result = run_python(spawn(marker + "-b") + "import time\ntime.sleep(30)", limits=Limits(cpu_s=2, wall_s=0.6))
    assert result.killed == "wall-clock"
    time.sleep(0.3)
    assert alive_with(marker) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox's init is Linux-only; "
                    "Windows uses a Job Object, macOS keeps the process-group kill")
def test_a_child_in_a_new_session_dies_with_the_snippet(marker: str) -> None:
    result = run_python(spawn(marker, new_session=True) + "import time\ntime.sleep(0.3)", limits=FAST)
    assert result.exit_code == 0, result
    time.sleep(0.3)
    assert alive_with(marker) == []


def test_the_environment_carries_no_parent_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-" + "9" * 24
    monkeypatch.setenv("EDGEMIND_FAKE_API_KEY", secret)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    result = run_python("import json, os\nprint(json.dumps(dict(os.environ)))", limits=FAST)
    env = json.loads(result.stdout)
    assert secret not in result.stdout
    assert not {"EDGEMIND_FAKE_API_KEY", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "PYTHONPATH"} & set(env)
    assert env["HOME"] == env["TMPDIR"] != os.environ.get("HOME")
    assert Path(env["HOME"]).name.startswith("edgemind-run-")


def test_clean_environment_is_a_short_fixed_list(tmp_path: Path) -> None:
    assert set(clean_environment(tmp_path)) <= {"PATH", "HOME", "TMPDIR", "TEMP", "TMP", "PYTHONIOENCODING",
                                                 "PYTHONDONTWRITEBYTECODE", "LANG", "SYSTEMROOT", "WINDIR",
                                                 "COMSPEC"}


def test_each_run_gets_a_fresh_temporary_folder_that_is_removed_after() -> None:
    code = ("import os\nprint(os.getcwd())\nprint(sorted(os.listdir('.')))\n"
            "open('left-behind.txt', 'w').write('x')")
    first, second = run_python(code, limits=FAST), run_python(code, limits=FAST)
    first_dir, first_listing = first.stdout.splitlines()
    second_dir, second_listing = second.stdout.splitlines()
    assert first_dir != second_dir
    assert "left-behind.txt" not in second_listing and first_listing == second_listing
    assert not Path(first_dir).exists() and not Path(second_dir).exists()


def test_output_is_truncated_to_the_limit() -> None:
    result = run_python("print('x' * 100_000)\nimport sys\nsys.stderr.write('é' * 5000)",
                        limits=Limits(cpu_s=2, wall_s=5.0, output_chars=50))
    assert result.stdout == "x" * 50 + "\n[... output truncated]"
    assert result.stderr == "é" * 50 + "\n[... output truncated]"


def test_over_long_code_is_refused_before_anything_runs() -> None:
    with pytest.raises(ToolError, match=f"longer than {MAX_CODE_CHARS} characters"):
        run_python("#" * (MAX_CODE_CHARS + 1))


def test_the_snippet_runs_in_isolated_mode_with_its_folder_as_cwd() -> None:
    result = run_python("import sys\nprint(sys.flags.isolated, sys.flags.ignore_environment)\n"
                        "print(sys.executable)", limits=FAST)
    assert result.stdout.splitlines() == ["1 1", sys.executable]


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP server on this machine's loopback that records every connection it gets."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    seen.append(conn.recv(100))
                except OSError:
                    seen.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("how", ["socket.create_connection(('127.0.0.1', PORT)).sendall(b'leak')",
                                 "urllib.request.urlopen('http://127.0.0.1:PORT/leak', timeout=3)"])
def test_the_snippet_cannot_reach_the_network(listener: tuple[int, list[bytes]], how: str) -> None:
    port, seen = listener
    result = run_python("import socket, urllib.request\n" + how.replace("PORT", str(port)), limits=FAST)
    assert result.exit_code == 1 and ("PermissionError" in result.stderr or "URLError" in result.stderr), result
    assert "network access is blocked" in result.stderr
    time.sleep(0.3)
    assert seen == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="network namespaces are Linux's")
def test_on_linux_even_code_that_undoes_the_python_guard_gets_no_network(listener: tuple[int, list[bytes]]) -> None:
    port, seen = listener
    code = f"import _socket\ns = _socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', {port}))\ns.send(b'leak')"
    result = run_python(code, limits=FAST)
    if result.network != "namespace":
        pytest.skip("this kernel allows no network namespace to an unprivileged user here; the Python guard only")
    assert result.exit_code == 1 and ("ConnectionRefused" in result.stderr or "OSError" in result.stderr), result
    time.sleep(0.3)
    assert seen == []


def test_a_traceback_shows_the_snippet_not_the_guard() -> None:
    result = run_python("def f():\n    raise KeyError('k')\nf()", limits=FAST)
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].startswith('  File "main.py", line 3') and "<string>" not in result.stderr
    assert lines[-1] == "KeyError: 'k'" and result.exit_code == 1


# --- through the runner -----------------------------------------------------------------------------------------

def test_denied_without_code_exec(settings: Settings, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=["system.info"])
    outcome = runner.call("python_run", {"code": f"open({str(marker)!r}, 'w').write('x')"})
    assert outcome.decision == "denied:no_one_to_ask" and not outcome.ok
    assert outcome.content == "error: permission denied for python_run (code.exec)"
    assert not marker.exists()


def test_a_user_who_says_no_stops_the_run_and_sees_the_exact_code(settings: Settings, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x')"
    asked: list[PermissionRequest] = []

    def ask(request: PermissionRequest) -> Answer:
        asked.append(request)
        return Answer.DENY

    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), ask=ask)
    assert runner.call("python_run", {"code": code}).decision == "denied:denied"
    assert asked[0].arguments == {"code": code} and asked[0].scopes == ("code.exec",)
    assert not marker.exists()


def test_runs_with_code_exec(settings: Settings) -> None:
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=["code.exec"])
    outcome = runner.call("python_run", {"code": "print(sum(range(101)))"})
    assert outcome.ok and outcome.decision == "allowed:preset"
    assert outcome.content == "exit code: 0\nstdout:\n5050\n"


def test_a_dry_run_runs_nothing(settings: Settings, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path)), grants=["code.exec"])
    outcome = runner.call("python_run", {"code": f"open({str(marker)!r}, 'w').write('x')"}, dry_run=True)
    assert outcome.decision == "dry_run" and "would run 1 lines of Python" in outcome.content
    assert not marker.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox's init is Linux-only")
def test_a_new_session_child_dies_when_the_snippet_is_killed_at_the_wall_clock(marker: str) -> None:
    result = run_python(spawn(marker, new_session=True) + "import time\ntime.sleep(30)\n",
                        limits=Limits(cpu_s=5, wall_s=0.8))
    assert result.killed == "wall-clock"
    time.sleep(0.3)
    assert alive_with(marker) == []
