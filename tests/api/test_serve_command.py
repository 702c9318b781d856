"""`edgemind serve` as a user starts it: the one-line failures, and a real start with a generated key."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.support.signals import default_ctrl_c

EDGEMIND = [sys.executable, "-m", "edgemind.core.cli"]


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(EDGEMIND + args, env=env, capture_output=True, text=True, timeout=60)


def test_a_non_loopback_host_needs_allow_remote(cli_env: dict[str, str]) -> None:
    result = run_cli(["serve", "--host", "0.0.0.0", "--port", "0"], cli_env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "--allow-remote" in result.stderr and "Traceback" not in result.stderr


def test_a_busy_port_and_a_bad_port_are_one_line_errors(cli_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli(["serve", "--port", str(taken.getsockname()[1])], cli_env)
    assert result.returncode == 1 and result.stderr.startswith("edgemind: error: cannot listen on 127.0.0.1:")
    bad = run_cli(["serve", "--port", "70000"], cli_env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_serve_generates_a_private_key_and_answers_with_it(cli_env: dict[str, str], home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in cli_env.items() if k != "EDGEMIND_API_KEY"}
    proc = subprocess.Popen(EDGEMIND + ["serve", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_ctrl_c)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
        key_file = home / "api_key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = key_file.read_text().strip()
        assert httpx.get(url + "/v1/models", timeout=5).status_code == 401
        models = httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert models.status_code == 200 and "smollm2-135m-instruct" in models.text
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn shuts down, then re-raises it; the CLI exits 130
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in err and str(key_file) in err  # says where the key is, never the key itself
    assert key not in err
