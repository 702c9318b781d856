"""The tool loop with the real bundled Qwen model in a chat: the answer after a tool is about the latest turn, a
refused call is reported rather than invented, a summary of a known work is never a printed call, and a word problem
is set up from the question's own numbers (over named quantities and unit factors), calculated once, and answered with
the calculator's result. Whether the 0.5B model sets a problem up RIGHT varies per problem (docs/benchmarks.md): that
is measured by benchmarks/word_problems.py over 60 held-out problems, not asserted on one here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.tools.answer_guard import looks_like_call
from edgemind.core.tools.math_setup import check_setup
from tests.support.engines import default_model_settings


@pytest.fixture(scope="module")
def qwen(default_model_installed: Path, artifacts_dir: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    home = tmp_path_factory.mktemp("tool-answers")
    engine = Engine.create(default_model_settings(home, default_model_installed.parent, artifacts_dir))
    engine.summarize_in_background = False
    yield engine
    engine.close()


@pytest.mark.slow  # three real-model turns, and the one most likely to flake (the 0.5B model's turn-3 call varies)
# the first test of the module pays for the module's engine (the 0.5B model installed and checked, the router and safety
# trained on a cold artifacts folder): 4.5 min of set-up and 4 min of turns on a loaded 2-core machine, past 300 s in CI,
# within a slow test's 1200 s (tests/conftest.py)
@pytest.mark.default_model
def test_in_a_chat_the_answer_after_a_tool_is_about_the_latest_turn(qwen: Engine) -> None:
    tools = qwen.open_tools(ask=None)
    first = qwen.ask("What is the capital of France?", AskOptions(max_tokens=30, tools=tools))
    assert "Paris" in first.text
    convo = first.conversation_id
    qwen.ask("Thanks! Name one famous museum there.", AskOptions(max_tokens=30, tools=tools, conversation_id=convo))
    third = qwen.ask("What is 1234 * 5678 + 91?", AskOptions(max_tokens=40, tools=tools, conversation_id=convo))
    assert any(c["tool"] == "calculator" and c["ok"] for c in third.tool_calls), third.tool_calls
    assert "7006743" in third.text.replace(",", "")  # from the tool result: the model alone gets this wrong
    assert "Paris" not in third.text and first.text.strip() not in third.text


@pytest.mark.slow  # a whole real-model tool loop (a refused call, then the answer); the default run stays under 15 minutes
@pytest.mark.default_model
def test_a_refused_read_is_reported_not_invented(qwen: Engine, notes: Path) -> None:
    nobody = qwen.open_tools(ask=None)  # nobody to ask, nothing granted: the read is refused
    result = qwen.ask(f"Read the file {notes / 'plan.txt'} and tell me what it says.",
                      AskOptions(max_tokens=60, store=False, tools=nobody))
    assert result.tool_calls and all(not c["ok"] for c in result.tool_calls), result.tool_calls
    text = result.text.lower()
    assert "papaya" not in text and "launch checklist" not in text
    assert any(w in text for w in ("not allowed", "could not", "couldn't", "unable", "cannot", "can't", "denied",
                                   "permission", "not able")), result.text


@pytest.mark.default_model
def test_a_summary_of_a_known_work_is_never_a_printed_call(qwen: Engine) -> None:
    result = qwen.ask("Summarize the plot of Hamlet in two sentences.",
                      AskOptions(max_tokens=80, store=False, tools=qwen.open_tools(ask=None)))
    assert result.text.strip() and not looks_like_call(result.text), result.text
    assert '"arguments"' not in result.text and '"name"' not in result.text, result.text


@pytest.mark.slow  # a real-model set-up, call and answer; the loop's parts are tested without a model elsewhere
@pytest.mark.default_model
def test_a_word_problem_is_set_up_from_the_question_and_calculated(qwen: Engine) -> None:
    question = "How many milliseconds are in 12 minutes?"  # from the dev split, not a held-out template
    result = qwen.ask(question, AskOptions(max_tokens=60, store=False, use_cache=False, tools=qwen.open_tools()))
    calls = [c for c in result.tool_calls if c["tool"] == "calculator"]
    assert len(calls) == 1 and calls[0]["ok"], result.tool_calls  # one call: no re-call with the result appended
    expression = calls[0]["arguments"]["expression"]
    # the call is the checked set-up (the question's numbers and exact unit factors only), not a free guess
    assert check_setup(expression, question) is None, expression
    # the answer states what the calculator returned ("12 * 60 * 1000 = 720000"), whatever the set-up was
    value = calls[0]["result_summary"].rsplit("=", 1)[-1].split("≈")[0].strip()
    assert value and value in result.text.replace(",", ""), (calls[0], result.text)
