"""The command-line contract, run as a user runs it: the real `edgemind` command in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgemind.kernels import tmac
from tests.conftest import DEFAULT, TINY
from tests.support.signals import default_ctrl_c

EDGEMIND = [sys.executable, "-m", "edgemind.core.cli"]


def edgemind(env: dict[str, str], *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EDGEMIND, *args], env=env, input=input, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *, code: int = 1, says: str = "") -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("edgemind: error: ") and "Traceback" not in proc.stderr
    assert says in lines[0]


ASK_FIELDS = {"text": str, "model": str, "backend": str, "intent": str, "cache": str, "ttft_ms": (int, float),
              "tokens": int, "tok_s": (int, float), "refused": bool, "tool_calls": list}


def test_ask_json_prints_the_contract_fields(cli_env: dict[str, str]) -> None:
    proc = edgemind(cli_env, "ask", "Say hi.", "--json", "--max-tokens", "12", "--temperature", "0")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for field, kind in ASK_FIELDS.items():
        assert isinstance(out[field], kind), field
    assert out["model"] == TINY and out["backend"] == "llama_cpp" and out["cache"] == "miss"
    assert out["text"].strip() and 0 < out["tokens"] <= 12


@pytest.mark.default_model
def test_ask_the_capital_of_france_with_the_default_model(cli_env: dict[str, str], default_model_installed: Path) -> None:
    env = {k: v for k, v in cli_env.items() if k != "EDGEMIND_DEFAULT_MODEL"}
    proc = edgemind(env, "ask", "What is the capital of France?", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"] == DEFAULT and "paris" in out["text"].lower()


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it (and CI does)
@pytest.mark.default_model
def test_a_repeated_math_question_answered_with_the_calculator_is_a_cache_hit_and_other_numbers_are_not(
        cli_env: dict[str, str], default_model_installed: Path) -> None:
    env = {k: v for k, v in cli_env.items() if k != "EDGEMIND_DEFAULT_MODEL"}
    first = json.loads(edgemind(env, "ask", "What is 17% of 2350?", "--json", timeout=300).stdout)
    assert first["intent"] == "math" and first["cache"] == "miss"
    calls = first["tool_calls"]
    assert calls and all(c["tool"] == "calculator" and c["ok"] and c["decision"] == "allowed:pure" for c in calls)
    assert "399.5" in first["text"]  # the exact calculator's 17/100 * 2350, never 399.50000000000006
    again = json.loads(edgemind(env, "ask", "What is 17% of 2350?", "--json", timeout=300).stdout)
    assert again["cache"] in ("l1", "l2") and again["text"] == first["text"] and again["tool_calls"] == []
    # a miss is decided before any generation: a few tokens of the new answer are enough to tell it from the stored one
    other = json.loads(edgemind(env, "ask", "What is 18% of 2350?", "--json", "--max-tokens", "8", timeout=300).stdout)
    assert other["cache"] == "miss" and other["text"] != first["text"]


def test_ask_stop_sequence_ends_the_answer_before_it(cli_env: dict[str, str]) -> None:
    base = ["ask", "Write a short poem about the sea.", "--json", "--temperature", "0", "--max-tokens", "60",
            "--no-cache"]
    full = json.loads(edgemind(cli_env, *base).stdout)["text"]
    words = full.split()
    assert len(words) > 6, full
    stop = " " + words[4]  # a word from the middle of the answer given without a stop sequence
    cut = json.loads(edgemind(cli_env, *base, "--stop", stop).stdout)
    assert cut["text"] == full[: full.index(stop)] and cut["finish_reason"] == "stop"


def test_ask_streams_plain_text_and_reads_stdin(cli_env: dict[str, str]) -> None:
    proc = edgemind(cli_env, "ask", "-", "--max-tokens", "8", input="Say hello.")
    assert proc.returncode == 0 and proc.stdout.strip()


@pytest.mark.parametrize("args, code, says", [
    (["ask", ""], 1, "the prompt is empty"),
    (["ask", "   "], 1, "the prompt is empty"),
    (["ask", "hi", "--model", "gpt-17"], 1, "unknown model 'gpt-17'"),
    (["ask", "hi", "--max-tokens", "0"], 2, "--max-tokens"),
    (["ask", "hi", "--max-tokens", "lots"], 2, "not an integer"),
    (["ask", "hi", "--temperature", "9"], 2, "between 0 and 2"),
    (["ask", "hi", "--backend", "skynet"], 2, "invalid choice"),
    (["ask", "hi", "--conversation", "nope"], 1, "no conversation 'nope'"),
    (["frobnicate"], 2, "invalid choice"),
    (["models", "add", "/no/such/file.gguf"], 1, "does not exist"),
    (["models", "add"], 2, "path of a GGUF file"),
    (["models", "add", "--openai-url", "http://x/v1"], 2, "--remote-model"),
    (["models", "remove", "nope"], 1, "unknown model"),
    (["models", "verify", "nope"], 1, "failed verification"),
])
def test_bad_input_gets_a_one_line_error(cli_env: dict[str, str], args: list[str], code: int, says: str) -> None:
    assert_one_line_error(edgemind(cli_env, *args), code=code, says=says)


def test_a_json_error_is_also_machine_readable(cli_env: dict[str, str]) -> None:
    proc = edgemind(cli_env, "ask", "", "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout) == {"error": "the prompt is empty", "kind": "bad_prompt"}


def test_a_broken_settings_file_names_the_line(cli_env: dict[str, str], home: Path) -> None:
    home.mkdir(parents=True)
    (home / "settings.toml").write_text('threads = 2\ncontext_length = "big"\n')
    assert_one_line_error(edgemind(cli_env, "models", "list"), says="context_length")
    (home / "settings.toml").write_text("threads = 2\nthis is not toml\n")
    assert_one_line_error(edgemind(cli_env, "models", "list"), says="line 2")


def test_a_damaged_database_is_one_line_and_kept(cli_env: dict[str, str], home: Path) -> None:
    home.mkdir(parents=True, mode=0o700)  # private, as EdgeMind makes it (an open one adds a one-time notice line)
    (home / "edgemind.db").write_bytes(b"garbage" * 1000)
    assert_one_line_error(edgemind(cli_env, "ask", "hi"), says="cannot be used")
    assert (home / "edgemind.db").read_bytes() == b"garbage" * 1000


def test_models_list_json(cli_env: dict[str, str]) -> None:
    proc = edgemind(cli_env, "models", "list", "--json", "--no-ollama")
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert {TINY, DEFAULT} <= set(rows)
    for row in rows.values():
        assert {"id", "backend", "path", "sha256", "size_bytes", "context_length", "bundled"} <= set(row)
    assert rows[TINY]["bundled"] and rows[TINY]["installed"] and rows[TINY]["context_length"] == 8192


def test_models_add_verify_and_remove_a_gguf(cli_env: dict[str, str], tiny_copy: Path) -> None:
    proc = edgemind(cli_env, "models", "add", str(tiny_copy), "--id", "mine", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == "mine"
    assert edgemind(cli_env, "models", "verify", "mine").returncode == 0
    ask = edgemind(cli_env, "ask", "Hi", "--model", "mine", "--max-tokens", "4", "--json")
    assert json.loads(ask.stdout)["model"] == "mine"
    with tiny_copy.open("r+b") as f:
        f.seek(1_000_000)
        f.write(b"\xff\xfe")
    proc = edgemind(cli_env, "models", "verify", "mine", "--json")
    assert proc.returncode == 1 and not json.loads(proc.stdout)["ok"]
    assert edgemind(cli_env, "models", "remove", "mine").returncode == 0
    assert "mine" not in edgemind(cli_env, "models", "list", "--no-ollama").stdout


def test_models_add_rejects_a_non_gguf_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_text("<html>Not Found</html>")
    assert_one_line_error(edgemind(cli_env, "models", "add", str(bad)), says="not a GGUF file")


def test_an_openai_endpoint_can_be_added_and_an_unreachable_one_is_one_line(cli_env: dict[str, str]) -> None:
    proc = edgemind(cli_env, "models", "add", "--openai-url", "http://127.0.0.1:9/v1", "--remote-model", "big",
                    "--api-key", "k")
    assert proc.returncode == 0, proc.stderr
    assert_one_line_error(edgemind(cli_env, "ask", "hi", "--model", "openai:big"), says="not answering")


def test_ollama_down_is_one_line(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, EDGEMIND_OLLAMA_HOST="http://127.0.0.1:9")
    assert_one_line_error(edgemind(env, "ask", "hi", "--model", "ollama:llama3"), says="not answering")


def test_ctrl_c_stops_the_answer_and_keeps_what_was_written(cli_env: dict[str, str], home: Path) -> None:
    proc = subprocess.Popen([*EDGEMIND, "ask", "Write a very long story about the sea.", "--max-tokens", "1500"],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_ctrl_c)
    assert proc.stdout is not None
    first = proc.stdout.read(20)  # wait until the answer is streaming
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and lines[-1] == "edgemind: stopped; the partial answer was kept"
    assert all(line.startswith("edgemind: verifying") for line in lines[:-1]), err
    with sqlite3.connect(home / "edgemind.db") as db:
        content, status = db.execute("SELECT content, status FROM messages WHERE role='assistant'").fetchone()
    assert status == "cancelled" and content.startswith(first.strip()[:10]) and len(content) >= 20


def test_chat_streams_answers_and_handles_commands(cli_env: dict[str, str]) -> None:
    script = "/help\nSay hi.\n/history\n/model gpt-17\n/new\n/bogus\n/quit\n"
    proc = edgemind(cli_env, "chat", input=script)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"EdgeMind chat with {TINY}" in out and "/history" in out
    assert "edgemind> " in out and "tok/s" in out
    assert "1 msgs" not in out and "2 msgs" in out  # the question and its answer, stored
    assert "unknown model 'gpt-17'" in out and "unknown command /bogus" in out and "new conversation" in out


def test_chat_ends_cleanly_at_end_of_input(cli_env: dict[str, str]) -> None:
    proc = edgemind(cli_env, "chat", input="")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr


def test_doctor_reports_hardware_models_and_data(cli_env: dict[str, str]) -> None:
    proc = edgemind(cli_env, "doctor", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] and report["hardware"]["physical_cores"] >= 1
    assert report["llama_cpp"]["version"] and report["data_folder"]["database"]["ok"]
    assert any(m["id"] == TINY and m["installed"] for m in report["models"])
    onnx = report["onnx_int4"]
    assert onnx["provider"] in ("CPUExecutionProvider", "DmlExecutionProvider")
    assert onnx["cache_folder"].endswith("onnx") and onnx["cached_models"] == 0
    kernels = report["tmac_kernels"]  # our C kernels: built (and which ISA path runs) or one line saying why not
    assert kernels["available"] == tmac.available()
    assert kernels["selected"] in kernels["isas"] if kernels["available"] else kernels["error"]
    runner = report["code_runner"]  # the level python_run gets here, named (the weaker ones say so)
    assert runner["installed"] and runner["isolation"].split(" (")[0] in (
        "namespaces", "bwrap", "sandbox-exec", "job object", "process only")
    assert runner["weaker"] == (runner["isolation"].split(" (")[0] in ("job object", "process only"))


def test_doctor_flags_a_damaged_database(cli_env: dict[str, str], home: Path) -> None:
    home.mkdir(parents=True)
    (home / "edgemind.db").write_bytes(b"junk" * 4096)
    proc = edgemind(cli_env, "doctor", "--json")
    assert proc.returncode == 1 and not json.loads(proc.stdout)["data_folder"]["database"]["ok"]


def test_the_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / ("edgemind.exe" if os.name == "nt" else "edgemind")
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("edgemind ")


def test_a_repeated_ask_is_served_from_the_persistent_cache_until_cleared(cli_env: dict[str, str]) -> None:
    args = ["ask", "Name a bird.", "--json", "--temperature", "0", "--max-tokens", "12"]
    first, second = (json.loads(edgemind(cli_env, *args).stdout) for _ in range(2))
    assert (first["cache"], second["cache"]) == ("miss", "l2") and first["text"] == second["text"]
    assert json.loads(edgemind(cli_env, *args, "--no-cache").stdout)["cache"] == "miss"
    stats = json.loads(edgemind(cli_env, "cache", "stats", "--json").stdout)
    assert stats["entries"] == 1 and stats["hits"] == 1
    assert json.loads(edgemind(cli_env, "cache", "clear", "--json").stdout) == {"cleared": 1}
    assert json.loads(edgemind(cli_env, *args).stdout)["cache"] == "miss"
