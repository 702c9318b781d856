"""`edgemind tune` as a user runs it: bad data is one line with exit 2, a real tune prints its --json report and
leaves a model id to ask, and a tune killed or stopped with Ctrl-C resumes from its checkpoint."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgemind.core.cli.main import main as cli_main
from edgemind.core.engine import Models
from edgemind.core.models.integrity import sha256_file
from edgemind.core.settings import load_settings
from tests.conftest import TINY
from tests.support.signals import default_ctrl_c
from tests.support.tune_facts import ANSWER, QUESTIONS, write_fact_data

EDGEMIND = [sys.executable, "-m", "edgemind.core.cli"]
REPORT_KEYS = {"model_id", "out_name", "model", "arch", "rank", "alpha", "steps", "resumed_from", "train_examples",
               "heldout_examples", "heldout_before", "heldout_after", "general_before", "general_after",
               "general_ratio", "no_regression", "regression_limit", "seconds", "seconds_per_step", "memory",
               "adapter_path", "checkpoint", "base_path", "trainer", "preset", "backward_passes", "forward_passes",
               "predicted_steps", "divergences", "final_loss", "mean_error_reduction", "corrections"}


@pytest.fixture
def in_process(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli_main(["tune", "--model", TINY, *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, says: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgemind: error: ") and says in lines[0], err
    assert "Traceback" not in err


def lines(path: Path, *rows: str) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"prompt": QUESTIONS[0], "answer": ANSWER})


@pytest.mark.usefixtures("in_process")
@pytest.mark.parametrize("rows, says", [
    (None, "does not exist"),
    ((GOOD, GOOD, "not json at all"), "data.jsonl line 3: not JSON"),
    ((GOOD, '{"question": "x"}'), 'data.jsonl line 2: expected "messages"'),
    (('{"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "x"}]}',), "line 1: the last"),
    (("", ""), "has no examples"),
    ((GOOD, GOOD, GOOD), "too few examples: 3"),
])
def test_unusable_data_is_one_line_with_exit_2_before_any_model_loads(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: tuple[str, ...] | None, says: str) -> None:
    data = tmp_path / "data.jsonl" if rows is None else lines(tmp_path / "data.jsonl", *rows)
    code, out, err = run(capsys, "--data", str(data))
    assert (code, out) == (2, "")
    one_line(err, says)


@pytest.mark.usefixtures("in_process")
def test_bad_options_and_names_are_one_line_with_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = write_fact_data(tmp_path / "facts.jsonl")
    for args, says in ((("--rank", "0"), "--rank: 0 must be between 1 and 256"),
                       (("--lr", "5"), "--lr: 5.0 must be between 0 and 1"),
                       (("--out", "../evil"), "--out '../evil'"),
                       (("--out", TINY), f"a model named {TINY!r} already exists")):
        code, out, err = run(capsys, "--data", str(data), *args)
        assert code == 2, (args, err)
        one_line(err, says)


@pytest.mark.usefixtures("in_process")
@pytest.mark.parametrize("args, says", [
    (("--trainer", "fast"), "--trainer: invalid choice: 'fast'"),
    (("--preset", "balanced"), "--preset balanced is a hybrid trainer setting: add --trainer hybrid"),
    (("--trainer", "hybrid", "--preset", "reckless"), "unknown hybrid preset 'reckless': choose conservative, "
                                                      "balanced, aggressive"),
    (("--trainer", "hybrid", "--preset", "aggressive"), "the aggressive preset needs a measured mean correction "
                                                        "error reduction of at least 95% in this run"),
])
def test_trainer_and_preset_mistakes_are_one_line_with_exit_2_before_any_model_loads(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    code, out, err = run(capsys, "--data", str(write_fact_data(tmp_path / "facts.jsonl")), *args)
    assert (code, out) == (2, "")
    one_line(err, says)


@pytest.mark.usefixtures("in_process")
def test_without_the_training_stack_the_command_names_the_extra(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # how Python marks a package as not importable
    code, _, err = run(capsys, "--data", str(write_fact_data(tmp_path / "facts.jsonl")), "--json")
    assert code == 1
    one_line(err, "tuning needs the optional training stack: pip install 'edgemind[tune]'")


def tune_child(env: dict[str, str], data: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*EDGEMIND, "tune", "--model", TINY, "--data", str(data), "--threads", "1", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_ctrl_c)


@pytest.mark.slow  # ~50 s: a whole tune in a child process; the in-process tune tests cover the training
def test_a_real_tune_prints_its_json_report_and_registers_its_adapter_as_a_model(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("torch")
    data = write_fact_data(tmp_path / "facts.jsonl")
    child = tune_child(cli_env, data, "--steps", "2", "--out", "facts", "--json")
    out, err = child.communicate(timeout=280)
    assert child.returncode == 0, err
    report = json.loads(out)
    assert set(report) == REPORT_KEYS
    assert (report["model"], report["steps"], report["rank"], report["heldout_examples"]) == ("facts", 2, 8, 2)
    assert (report["trainer"], report["backward_passes"], report["predicted_steps"]) == ("plain", 2, 0)
    assert report["no_regression"] in ("pass", "fail") and report["memory"]["peak_bytes"] > 0
    assert "estimated peak" in err and "edgemind: tune step 2/2, loss" in err and "left" in err
    assert Path(report["adapter_path"]).is_file()
    spec = Models.open(load_settings(env=cli_env)).get("facts")  # registered: a model id of its own, pinned
    assert (spec.base_model, spec.adapter, spec.backend) == (TINY, Path(report["adapter_path"]), "llama_cpp")
    assert spec.adapter_sha256 == sha256_file(spec.adapter)


def wait_for(path: Path, child: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert child.poll() is None, child.communicate()[1]
        assert time.monotonic() < deadline, f"no checkpoint at {path}"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.timeout(900)  # two model loads and an answer: minutes on a busy 2-core machine
@pytest.mark.parametrize("stop", ["kill", "ctrl-c"])
def test_a_killed_or_stopped_tune_resumes_from_its_checkpoint(cli_env: dict[str, str], tmp_path: Path,
                                                              stop: str) -> None:
    pytest.importorskip("torch")
    data = write_fact_data(tmp_path / "facts.jsonl")
    checkpoint = Path(cli_env["EDGEMIND_HOME"]) / "tuning" / "facts" / "checkpoint.pt"
    args = ("--steps", "6", "--checkpoint-every", "3", "--out", "facts", "--json")
    first = tune_child(cli_env, data, *args)
    wait_for(checkpoint, first)
    first.send_signal(signal.SIGKILL if stop == "kill" else signal.SIGINT)
    out, err = first.communicate(timeout=120)
    if stop == "ctrl-c":
        assert first.returncode == 130, err
        assert err.strip().splitlines()[-1].startswith("edgemind: stopped: tuning stopped at step")
        assert json.loads(out)["kind"] == "tune_cancelled"
    else:
        assert first.returncode == -signal.SIGKILL
    assert checkpoint.exists()
    again = tune_child(cli_env, data, *args)
    out, err = again.communicate(timeout=280)
    assert again.returncode == 0, err
    report = json.loads(out)
    assert report["resumed_from"] >= 3 and report["steps"] == 6
    assert not checkpoint.exists()  # registered: the checkpoint's job is done
    ask = subprocess.run([*EDGEMIND, "ask", QUESTIONS[0], "--model", "facts", "--json", "--max-tokens", "8",
                          "--temperature", "0", "--no-tools"], env=cli_env, capture_output=True, text=True,
                         timeout=120)
    assert ask.returncode == 0 and json.loads(ask.stdout)["model"] == "facts", ask.stderr
