"""Hostile snippets against python_run: each case is one attack from issue 16's "Code runner" section.

Every attack is tried for real (a secret in our environment, a key file in a data folder, a listener on a Unix
socket, a fork bomb, a child that kills the supervisor) and must find nothing. On a machine where the runner gets
only a weaker isolation level, the cases that level does not promise are skipped with the level named.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgemind.plugins.builtin.code_runner import Limits, run_python
from edgemind.plugins.builtin.sandbox import IsolationLevel, detect_isolation
from tests.plugins.test_code_runner import alive_with

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the isolation attacked here is Linux's"),
]

FAST = Limits(cpu_s=3, wall_s=8.0)
SECRET = "sk-attack-" + "7" * 24


@pytest.fixture(params=["namespaces", "bwrap"])
def level(request: pytest.FixtureRequest) -> IsolationLevel:
    """Each attack against each level that hides the host: our own namespaces, and bubblewrap where installed."""
    found = detect_isolation(request.param)
    if found.name != request.param:
        pytest.skip(f"{request.param} is not available here (this machine gives {detect_isolation().name!r})")
    return found


@pytest.fixture
def data_folder(tmp_path: Path) -> Path:
    """A data folder as EdgeMind keeps it: the audit seal key, the API key and the database, all 0600."""
    folder = tmp_path / "edgemind-data"
    folder.mkdir(mode=0o700)
    for name in ("audit.key", "api_key", "edgemind.db"):
        (folder / name).write_text(SECRET, encoding="utf-8")
        (folder / name).chmod(0o600)
    return folder


def read_attempt(path: str) -> str:
    return (f"try:\n    print(open({path!r}, encoding='utf-8', errors='replace').read())\n"
            "except OSError as exc:\n    print('blocked:', type(exc).__name__)\n")


@pytest.mark.attack("code-runner")
def test_a_snippet_cannot_read_the_parents_environment_through_proc(level: IsolationLevel) -> None:
    """EdgeMind's own environment (where API keys live) as /proc shows it, and its parent's."""
    code = read_attempt(f"/proc/{os.getpid()}/environ") + read_attempt(f"/proc/{os.getppid()}/environ")
    result = run_python(code, limits=FAST, level=level)
    assert result.stdout.count("blocked:") == 2, result


@pytest.mark.attack("code-runner")
def test_a_snippet_cannot_read_the_environment_of_a_process_started_with_a_secret(level: IsolationLevel) -> None:
    import subprocess

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)"],
                              env={**os.environ, "EDGEMIND_API_KEY": SECRET})
    try:
        result = run_python(read_attempt(f"/proc/{holder.pid}/environ") +
                            "import glob\nfor p in glob.glob('/proc/*/environ'):\n"
                            "    try: print(open(p, errors='replace').read())\n    except OSError: pass\n",
                            limits=FAST)
    finally:
        holder.kill()
        holder.wait()
    assert SECRET not in result.stdout, result


@pytest.mark.attack("code-runner")
@pytest.mark.parametrize("name", ["audit.key", "api_key", "edgemind.db"])
def test_a_snippet_cannot_read_the_data_folder(data_folder: Path, name: str, level: IsolationLevel) -> None:
    result = run_python(read_attempt(str(data_folder / name)), limits=FAST, level=level)
    assert SECRET not in result.stdout and "blocked:" in result.stdout, result


@pytest.mark.attack("code-runner")
def test_a_snippet_cannot_list_or_read_the_users_home(level: IsolationLevel) -> None:
    home = Path.home()
    with tempfile.NamedTemporaryFile("w", dir=home, prefix=".edgemind-attack-", delete=True) as planted:
        planted.write(SECRET)
        planted.flush()
        code = read_attempt(planted.name) + f"import os\ntry: print(os.listdir({str(home)!r}))\nexcept OSError: pass\n"
        result = run_python(code, limits=FAST, level=level)
    assert SECRET not in result.stdout and Path(planted.name).name not in result.stdout, result


@pytest.mark.attack("code-runner")
def test_a_snippet_cannot_see_other_processes(level: IsolationLevel) -> None:
    result = run_python("import os\nseen = []\nfor p in os.listdir('/proc'):\n    if p.isdigit():\n"
                        "        try: seen.append(open(f'/proc/{p}/cmdline', 'rb').read())\n"
                        "        except OSError: pass\nprint(any(b'pytest' in c for c in seen), len(seen))",
                        limits=FAST)
    saw_pytest, count = result.stdout.split()
    assert saw_pytest == "False" and int(count) < 10, result


@pytest.mark.attack("code-runner")
def test_a_snippet_cannot_plant_code_in_the_interpreters_site_packages(level: IsolationLevel) -> None:
    target = Path(sysconfig.get_paths()["purelib"]) / f"edgemind-attack-{uuid.uuid4().hex}.pth"
    try:
        result = run_python(f"open({str(target)!r}, 'w').write('import os')\nprint('planted')", limits=FAST,
                            level=level)
        assert not target.exists() and "planted" not in result.stdout, result
    finally:
        target.unlink(missing_ok=True)


@pytest.mark.attack("code-runner")
def test_a_snippet_cannot_make_a_user_namespace_to_get_capabilities_back(level: IsolationLevel) -> None:
    code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "if libc.unshare(0x10000000) == 0:\n"
            "    print('capabilities again:', open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
            "else:\n    print('refused', os.strerror(ctypes.get_errno()))\n")
    result = run_python(code, limits=FAST, level=level)
    assert result.stdout.startswith("refused"), result


@pytest.fixture
def unix_listener(tmp_path: Path) -> Iterator[tuple[str, list[bytes]]]:
    """A Unix-socket server on the host (a path socket and an abstract one) recording every connection."""
    path = str(tmp_path / "host.sock")
    abstract = "\0edgemind-attack-" + uuid.uuid4().hex
    servers = []
    for address in (path, abstract):
        server = socket.socket(socket.AF_UNIX)
        server.bind(address)
        server.listen()
        server.settimeout(0.1)
        servers.append(server)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            for server in servers:
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                with conn:
                    seen.append(b"connected")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, seen
    stop.set()
    thread.join()
    for server in servers:
        server.close()


# the abstract socket was already out of reach before issue 16 (a network namespace); kept as a regression check
@pytest.mark.parametrize("which", [pytest.param("path", marks=pytest.mark.attack("code-runner")), "abstract"])
def test_a_snippet_cannot_reach_a_host_unix_socket(unix_listener: tuple[str, list[bytes]], which: str,
                                                   level: IsolationLevel) -> None:
    path, seen = unix_listener
    address = path if which == "path" else None
    # _socket is below the Python guard: this is what code that means it would do
    code = ("import _socket, glob\n"
            f"address = {address!r}\n"
            "if address is None:\n"
            "    names = [l.split()[-1] for l in open('/proc/net/unix') if '@edgemind-attack-' in l]\n"
            "    address = '\\0' + names[0][1:] if names else '\\0edgemind-attack-none'\n"
            "s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)\n"
            "try:\n    s.connect(address)\n    print('connected')\nexcept OSError as exc:\n"
            "    print('blocked:', type(exc).__name__)\n")
    result = run_python(code, limits=FAST, level=level)
    time.sleep(0.3)
    assert "connected" not in result.stdout and seen == [], result


@pytest.mark.attack("code-runner")
def test_four_children_cannot_hold_more_memory_together_than_the_run(level: IsolationLevel) -> None:
    """Each child holds 400 MB (touched, so it is real); the run's 512 MB must hold for the tree, not per process."""
    code = ("import os, sys, time\n"
            "for _ in range(4):\n"
            "    if os.fork() == 0:\n"
            "        try:\n"
            "            block = b'x' * (400 * 1024 * 1024)\n"
            "            os.write(1, b'held\\n')\n"
            "            time.sleep(3)\n"
            "        finally:\n"
            "            os._exit(0)\n"
            "for _ in range(4):\n"
            "    try: os.wait()\n    except ChildProcessError: pass\n")
    result = run_python(code, limits=Limits(cpu_s=5, wall_s=10.0, memory_mb=512), level=level)
    # the watchdog samples every 20 ms: a second child may finish its allocation inside one sample, never the four
    # (1.6 GB) that held together before
    assert result.stdout.count("held") <= 2, result
    assert result.killed == "memory", result


@pytest.mark.attack("code-runner")
def test_a_fork_bomb_is_capped_by_a_process_limit(level: IsolationLevel) -> None:
    code = ("import os, time\nmade = 0\n"
            "for _ in range(300):\n"
            "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
            "    if pid == 0:\n        time.sleep(2)\n        os._exit(0)\n"
            "    made += 1\n"
            "print(made)\n")
    result = run_python(code, limits=FAST, level=level)
    # held either way: fork() fails at the limit (RLIMIT_NPROC), or the watchdog stops the tree (where the snippet's
    # user is root behind a user namespace, which RLIMIT_NPROC exempts)
    made = int(result.stdout.split()[0]) if result.stdout.strip() else None
    assert (made is not None and made < Limits().max_processes) or result.killed == "processes", result


@pytest.mark.attack("code-runner")
def test_the_cpu_limit_holds_for_the_whole_tree(level: IsolationLevel) -> None:
    """Four children each burn 0.8 s of CPU: 3.2 s for the tree against a 1 s limit."""
    code = ("import os, time\n"
            "for _ in range(4):\n"
            "    if os.fork() == 0:\n"
            "        end = time.process_time() + 0.8\n"
            "        while time.process_time() < end: pass\n"
            "        os.write(1, b'done\\n')\n"
            "        os._exit(0)\n"
            "for _ in range(4):\n"
            "    try: os.wait()\n    except ChildProcessError: pass\n")
    result = run_python(code, limits=Limits(cpu_s=1, wall_s=10.0), level=level)
    assert result.stdout.count("done") < 4 and result.killed == "cpu", result


@pytest.mark.attack("code-runner")
def test_a_setsid_child_that_kills_the_supervisor_dies_with_the_run_and_the_outcome_is_true(
        level: IsolationLevel) -> None:
    marker = "edgemind-escapee-" + uuid.uuid4().hex
    code = ("import os, signal, subprocess, sys, time\n"
            "supervisor = os.getppid()\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(6)', {marker!r}])\n"
            "        time.sleep(0.3)\n"
            "        try: os.kill(supervisor, signal.SIGKILL)\n"
            "        except OSError as exc: print('cannot kill the supervisor:', type(exc).__name__, flush=True)\n"
            "        time.sleep(6)\n"
            "    os._exit(0)\n"
            "time.sleep(1.0)\n"
            "print('snippet done')\n")
    try:
        result = run_python(code, limits=Limits(cpu_s=5, wall_s=4.0), level=level)
        time.sleep(0.5)
        survivors = alive_with(marker)
        assert survivors == [], (survivors, result)
        assert result.killed != "cpu", result
        if result.killed is None:
            assert result.exit_code == 0 and "snippet done" in result.stdout, result
        else:
            assert result.killed == "supervisor", result
    finally:
        for pid in alive_with(marker):
            os.kill(pid, 9)


@pytest.mark.attack("code-runner")
def test_a_snippet_that_kills_itself_is_not_reported_as_a_cpu_limit(level: IsolationLevel) -> None:
    """The outcome comes from the sandbox's init, not guessed from the signal: SIGKILL is not always the CPU limit."""
    result = run_python("import os, signal\nprint('bye', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)",
                        limits=FAST, level=level)
    assert result.killed is None and result.exit_code == -9 and result.stdout == "bye\n", result
    assert result.render().startswith("exit code: -9\n"), result.render()


WATCH_AFTER_EXIT = r"""
import json, os, signal, sys, time
from edgemind.plugins.builtin.sandbox.supervisor import watch
children = []
for _ in range(70):
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
main = os.fork()
if main == 0:
    os._exit(0)
time.sleep(0.3)  # the main process has ended before the first look: the fast fork bomb's race, made certain
read, write = os.pipe()
limits = {"memory_mb": 512, "cpu_s": 5, "max_processes": 64}

def kill_all():
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

watch({"limits": limits, "outcome_fd": write}, main, lambda: list(children), kill_all)
os.close(write)
print(os.read(read, 1000).decode())
"""


@pytest.mark.attack("code-runner")
@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX supervisor; Windows holds the tree in a Job Object")
def test_a_tree_left_running_by_a_main_process_that_ended_at_once_is_still_held_to_the_process_limit() -> None:
    """CI once saw the bwrap fork bomb print 300: its main process forked and ended between two of the watchdog's
    looks, and the watchdog reported the exit without counting the tree the snippet left behind."""
    done = subprocess.run([sys.executable, "-c", WATCH_AFTER_EXIT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"killed": "processes"}
