"""The sandbox's levels: each is named truthfully, a weaker one still runs and says so, the unprivileged path works,
and the macOS profile keeps the same rules (checked as text: no macOS here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from pathlib import Path

import pytest

from edgemind.plugins.builtin.code_runner import Limits, python_run, run_python
from edgemind.plugins.builtin.sandbox import detect_isolation, macos, windows
from edgemind.plugins.builtin.sandbox.linux import SUPERVISOR

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux sandbox's levels")
FAST = Limits(cpu_s=2, wall_s=5.0)


@linux_only
def test_the_run_reports_the_level_it_got() -> None:
    level = detect_isolation()
    result = run_python("print('hi')", limits=FAST)
    assert result.stdout == "hi\n" and result.isolation == level.name
    assert level.name in ("namespaces", "bwrap", "process only")
    assert ("isolation: " + level.describe()) in python_run.function(code="", dry_run=True)


@linux_only
def test_the_process_only_level_says_it_is_weaker_and_still_limits_the_tree() -> None:
    level = detect_isolation("process only")
    assert level.name == "process only" and level.weaker and "WEAKER ISOLATION" in level.describe()
    code = ("import os, time\n"
            "for _ in range(3):\n"
            "    if os.fork() == 0:\n"
            "        block = b'x' * (300 * 1024 * 1024)\n"
            "        time.sleep(3)\n"
            "        os._exit(0)\n"
            "time.sleep(4)\n")
    result = run_python(code, limits=Limits(cpu_s=5, wall_s=8.0, memory_mb=512), level=level)
    assert result.isolation == "process only" and result.network == "python guard"
    assert result.killed == "memory" and result.seconds < 4, result


@linux_only
def test_the_process_only_level_leaves_no_child_in_a_new_session_behind() -> None:
    marker = "edgemind-plain-" + uuid.uuid4().hex
    code = ("import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(5)', {marker!r}], "
            "start_new_session=True)\n")
    run_python(code, limits=FAST, level=detect_isolation("process only"))
    left = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, marker)]
    for pid in left:
        os.kill(int(pid), 9)
    assert left == []


def _cmdline_has(pid: str, marker: str) -> bool:
    try:
        return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


SYSTEM_PYTHON = "/usr/bin/python3"


@linux_only
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists(SYSTEM_PYTHON),
                    reason="needs root (to become an unprivileged user), setpriv and a system Python")
def test_an_unprivileged_user_gets_the_namespaces_too_or_is_told_it_does_not() -> None:
    """The supervisor as nobody: a user namespace of its own where the kernel allows one, else the probe says so."""
    with tempfile.TemporaryDirectory(prefix="edgemind-nobody-") as folder:  # pytest's own is closed to nobody
        Path(folder).chmod(0o755)
        run_as_nobody(Path(folder))


def run_as_nobody(tmp_path: Path) -> None:
    work, root = tmp_path / "work", tmp_path / "root"
    work.mkdir()
    root.mkdir()
    os.chown(work, 65534, 65534)
    os.chown(root, 65534, 65534)
    as_nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", SYSTEM_PYTHON, "-I", "-S",
                 str(SUPERVISOR)]
    probe = subprocess.run([*as_nobody, json.dumps({"mode": "probe"})], capture_output=True, text=True,
                           timeout=30, check=False)
    if probe.stdout != "user":
        pytest.skip(f"this kernel gives nobody no user namespace (probe: {probe.stdout!r}): process only for them")
    snippet = ("import os\nprint(os.getuid(), sorted(os.listdir('/')))\n"
               f"try: open({str(tmp_path / 'secret')!r})\nexcept OSError as exc: print(type(exc).__name__)\n")
    (tmp_path / "secret").write_text("no")
    config = {"mode": "namespaces", "work": str(work), "root": str(root),
              "links": [p for p in ("/bin", "/lib", "/lib64", "/sbin") if os.path.islink(p)],
              "read_only": ["/usr", "/etc/ld.so.cache"], "limits": Limits().as_dict(),
              "argv": [SYSTEM_PYTHON, "-I", "-c", snippet], "outcome_fd": 1}
    done = subprocess.run([*as_nobody, json.dumps(config)], capture_output=True, text=True, timeout=30,
                          check=False, cwd=work)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("0 [") and "'root'" not in lines[0] and "'home'" not in lines[0], done
    assert lines[1] == "FileNotFoundError" and json.loads(lines[2]) == {"exit": 0}, done


def test_the_macos_profile_denies_the_data_folder_the_home_and_the_network(tmp_path: Path) -> None:
    data, home, work = tmp_path / "data", tmp_path / "home", tmp_path / "work"
    text = macos.profile(work, ["/opt/python"], [home, data])
    lines = text.splitlines()
    assert lines[:2] == ["(version 1)", "(deny default)"] and "(deny network*)" in lines
    assert lines[-1] == f'(deny file-read* file-write* (subpath "{home}") (subpath "{data}"))'
    assert f'(allow file-write* (subpath "{work}")' in text and str(data) not in text.split("(deny network*)")[0]


def test_the_macos_profile_quotes_paths_so_a_folder_name_cannot_add_rules(tmp_path: Path) -> None:
    hostile = tmp_path / 'x") (allow file-read* (subpath "/'
    text = macos.profile(hostile, ["/opt/python"], [])
    assert '(allow file-read* (subpath "/")' not in text and '\\")' in text


def test_windows_is_named_a_weaker_level_until_its_files_are_hidden() -> None:
    level = windows.level()
    assert level.name == "job object" and level.weaker


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("bwrap") is None,
                    reason="bubblewrap is Linux's and is not installed here")
def test_the_bwrap_level_works_for_an_interpreter_that_lives_under_tmp(tmp_path: Path) -> None:
    # a clone or a venv under /tmp (as CI's may be): the sandbox's private /tmp must not hide the interpreter
    venv = Path(tempfile.mkdtemp(prefix="edgemind-venv-", dir="/tmp"))
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
        python = str(venv / "bin" / "python")
        site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        ours = sysconfig.get_paths()["purelib"]  # this run's packages (and EdgeMind's editable finder) on its path
        Path(site, "edgemind-test.pth").write_text(f"import site; site.addsitedir({ours!r})\n", encoding="utf-8")
        done = subprocess.run([python, "-c", "from edgemind.plugins.builtin.sandbox import detect_isolation;"
                               "print(detect_isolation('bwrap').detail)"],
                              capture_output=True, text=True, timeout=120)
        assert done.stdout.startswith("bubblewrap"), done.stdout + done.stderr
    finally:
        shutil.rmtree(venv, ignore_errors=True)
