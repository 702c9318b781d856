"""`edgemind distill` as a user meets it: exclude/include a conversation, and a run refused with one line (exit 2)
before any model loads when an option is bad, the setting is off or there is nothing to learn from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from edgemind.core.cli.main import main as cli_main
from edgemind.core.engine import open_registry
from edgemind.core.settings import load_settings
from edgemind.core.storage.conversations import ConversationStore


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The test's data folder for the CLI run in this process (a child costs seconds on a busy machine)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    def go(args: list[str], env: dict[str, str]) -> Result:
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            code = cli_main(args)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return go


def _one_line_error(result: Result, code: int, words: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_exclude_and_include_a_conversation_by_prefix(cli_env: dict[str, str], run: Any) -> None:
    store = ConversationStore(open_registry(load_settings(env=cli_env))[1])
    conv = store.new_conversation(first_message="What is 2 + 2?")
    store.add_message(conv, "assistant", "4")
    out = run(["distill", "exclude", conv[:8], "--json"], cli_env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"conversation": conv, "excluded": True}
    assert store.answered_prompts() == []
    assert run(["distill", "include", conv], cli_env).returncode == 0
    assert [p.prompt for p in store.answered_prompts()] == ["What is 2 + 2?"]
    _one_line_error(run(["distill", "exclude", "zzzz"], cli_env), 1, "no conversation matches 'zzzz'")


@pytest.mark.parametrize(("args", "words"), [
    (["--k", "0"], "--k) must be 1-64"),
    (["--out", "../evil"], "adapter name '../evil'"),
    (["--steps", "0"], "--steps must be"),
    (["--heldout", "1.5"], "between 0 and 1"),
])
def test_a_bad_option_is_one_line_and_exit_2(cli_env: dict[str, str], run: Any, args: list[str], words: str) -> None:
    store = ConversationStore(open_registry(load_settings(env=cli_env))[1])
    for i in range(3):
        conv = store.new_conversation(first_message=f"What is {i} + 1?")
        store.add_message(conv, "assistant", str(i + 1))
    _one_line_error(run(["distill", "run", "--student", "smollm2-135m-instruct", *args], cli_env), 2, words)


def test_nothing_to_learn_from_and_the_setting_off_are_one_line(cli_env: dict[str, str], run: Any) -> None:
    _one_line_error(run(["distill", "run", "--student", "smollm2-135m-instruct"], cli_env), 2,
                    "at least 2 answered prompts, found 0")
    _one_line_error(run(["distill", "run", "--student", "smollm2-135m-instruct"], {**cli_env, "EDGEMIND_DISTILL": "0"}),
                    2, "distill_enabled = false")


@pytest.mark.slow
@pytest.mark.timeout(1800)  # two models on a busy 2-core machine
def test_distill_run_teaches_tunes_evaluates_and_registers_the_adapter(cli_env: dict[str, str], run: Any,
                                                                        default_model_installed: Any) -> None:
    """The real command on the real models: Qwen teaches SmolLM2 from stored answered prompts; the adapter is a model
    of its own afterwards, with the evaluation in its manifest."""
    pytest.importorskip("torch")
    from edgemind.core.engine import Models
    from edgemind.core.tuning.distill.tasks import generate_tasks

    store = ConversationStore(open_registry(load_settings(env=cli_env))[1])
    for task in generate_tasks(12):
        if task.check.kind != "code":  # no code.exec grant in this data folder: those would be skipped anyway
            conv = store.new_conversation(first_message=task.prompt)
            store.add_message(conv, "assistant", "an earlier answer")
    result = run(["distill", "run", "--student", "smollm2-135m-instruct", "--teacher", "qwen2.5-coder-0.5b-instruct",
                  "--k", "1", "--steps", "4", "--heldout", "0.25", "--no-judge", "--out", "mine", "--json"], cli_env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heldout"]["n"] == 2 and report["tune"]["steps"] == 4
    spec = Models.open(load_settings(env=cli_env)).get("mine")
    assert spec.base_model == "smollm2-135m-instruct" and spec.adapter is not None and spec.adapter.is_file()
    again = run(["distill", "run", "--student", "smollm2-135m-instruct", "--out", "mine"], cli_env)
    assert again.returncode == 2 and "already exists" in again.stderr  # a name in use is bad input (exit 2)
