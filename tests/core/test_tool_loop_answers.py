"""The tool loop's parts that need no model: the call guard, the closing instruction, repeat detection and the
arithmetic set-up check; and the engine's retry when a model writes a call as its answer. The behaviour with the
real model is in test_tool_loop_chat.py.

The real model cannot be made to write a call as its final answer on demand, so `CallWritingBackend` stands in for
the BACKEND only (the model is not what is under test there; the router, loop, guard, runner and engine are real).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from edgemind.core.backends.base import BackendDone, CancelToken, Chunk, GenerationParams, Message
from edgemind.core.engine.facade import AskOptions, AskResult, Engine
from edgemind.core.settings import Settings
from edgemind.core.tools.answer_guard import CallFilter, looks_like_call
from edgemind.core.tools.loop import call_key, closing_instruction, latest_question
from edgemind.core.tools.math_setup import check_setup, foreign_numbers
from edgemind.core.tools.runner import ToolOutcome
from edgemind.core.tools.unit_facts import unit_facts
from tests.support.engines import default_model_settings
from tests.support.stand_in_backend import StandInBackend


def _filtered(chunks: Sequence[str]) -> tuple[str, bool]:
    guard = CallFilter()
    shown = "".join(guard.feed(c) for c in chunks) + guard.finish()
    return shown, guard.dropped


@pytest.mark.parametrize("chunks", [
    ['{"name": "docs', '_search", "arguments": {"query": "Hamlet"}}'],
    ["<tool", "_call>\n", '{"name": "calculator", "arguments": {"expression": "2+2"}}', "\n</tool_call>"],
    ["```json\n", '{"name": "files_read", "arguments": {"path": "/tmp/a"}}\n```'],
    # seen on the word problems' third held-out split: another tag, and a sentence for a name
    ["<json>\n{\n", '  "name": "March 6 is which day of the year",\n', '  "arguments": {"expression": "3 + 6"}\n}\n</json>'],
])
def test_an_answer_that_is_a_call_is_never_shown(chunks: list[str]) -> None:
    assert _filtered(chunks) == ("", True)


def test_a_call_after_some_words_is_cut_and_the_words_stay() -> None:
    shown, dropped = _filtered(["The plot is tragic. ", "<tool_", 'call>{"name": "docs_search", "arguments": {}}'])
    assert shown == "The plot is tragic. " and dropped


@pytest.mark.parametrize("chunks", [
    ["Hamlet, prince of Denmark, ", "avenges his father."],
    ['{"city": "Paris", ', '"population": 2100000}'],  # JSON the user asked for is not a call
    ["Use braces: { and } in C."],
    ["<b>Paris</b> is ", "the capital of France."],  # markup that is no call is shown (at the end)
    ["<!DOCTYPE html>\n<html>", '<body>{"name": "x"}</body></html>'],  # a name but no arguments: no call
])
def test_ordinary_answers_pass_unchanged(chunks: list[str]) -> None:
    assert _filtered(chunks) == ("".join(chunks), False)


FAILED_CALC = ToolOutcome("calculator", {"expression": "5 feet * 12 inches"}, "error", False,
                          "calculator: 'feet' is a unit")
CLOSING = closing_instruction("A board is 5 feet long. How many inches long is it?", [FAILED_CALC])


def _echo_filtered(chunks: Sequence[str]) -> tuple[str, bool]:
    guard = CallFilter(echoes=tuple(CLOSING.splitlines()))
    shown = "".join(guard.feed(c) for c in chunks) + guard.finish()
    return shown, guard.dropped


def test_an_answer_that_copies_its_instructions_is_dropped_not_shown() -> None:
    copied = next(line for line in CLOSING.splitlines() if line.startswith("The call to calculator failed"))
    assert _echo_filtered([copied[i:i + 7] for i in range(0, len(copied), 7)]) == ("", True)
    assert _echo_filtered(["Do not call another function and do not write a function call."]) == ("", True)


@pytest.mark.parametrize("chunks", [
    ["The board is 60 inches long."],
    ["The call ", "took a while, but 5 feet is 60 inches."],  # opens like an instruction, then answers
    ["60"],
])
def test_an_answer_that_only_starts_like_an_instruction_is_shown_whole(chunks: list[str]) -> None:
    assert _echo_filtered(chunks) == ("".join(chunks), False)


def test_calls_are_recognised_in_the_layouts_models_write() -> None:
    assert looks_like_call('{"name": "calculator", "arguments": {"expression": "1"}}')
    assert looks_like_call("</tool_call>")
    assert not looks_like_call('{"name": "Ada", "age": 36}')


def test_the_question_is_the_latest_user_turn() -> None:
    convo = [Message("system", "s"), Message("user", "first question"), Message("assistant", "first answer"),
             Message("user", "third turn question")]
    assert latest_question(convo) == "third turn question"


def test_the_closing_instruction_names_the_latest_question_and_a_refused_call() -> None:
    denied = ToolOutcome("files_read", {"path": "/x"}, "denied:nobody_to_ask", False, "denied")
    text = closing_instruction("What does /x say?", [denied])
    assert '"What does /x say?"' in text and "original" not in text
    assert "files_read was not allowed" in text and "do not make up" in text
    ok = ToolOutcome("calculator", {"expression": "2"}, "allowed:no_scope", True, "2 = 2")
    assert "was not allowed" not in closing_instruction("q", [ok]) and "failed" not in closing_instruction("q", [ok])


@pytest.mark.parametrize("first, again", [
    ({"expression": "(372 / 4)"}, {"expression": "(372 / 4) = 93"}),
    ({"expression": "372/4"}, {"expression": "372 / 4"}),
])
def test_a_call_with_its_own_result_appended_is_the_same_call(first: dict[str, str], again: dict[str, str]) -> None:
    assert call_key("calculator", first) == call_key("calculator", again)
    assert call_key("calculator", first) != call_key("calculator", {"expression": "372 / 5"})


@pytest.mark.parametrize("expression, question, foreign", [
    ("3 * 24 * 3600", "How many seconds are there in 3 days?", []),
    ("3 * 28", "How many seconds are there in 3 days?", ["28"]),  # days in February: only where months are spoken of
    ("3 * 24 * 60 * 60", "How many seconds are there in 3 days?", []),  # through hours and minutes
    ("294 / 7 * 60", "A tap fills a tank at 7 liters per minute. How many minutes does it take to fill a 294 liter "
     "tank?", ["60"]),  # only minutes named: nothing to convert
    ("(162 / 3) / 100", "A train covers 162 miles in 3 hours. What is its average speed in miles per hour?",
     ["100"]),  # no percentage in the question
    ("7600 * (1 + 12 / 100)", "A town of 7600 people grows by 12%. What is its new population?", []),
    ("26 * 12", "A phone plan costs $26 a month. What does it cost over a year?", []),
    ("3 * 86400 * 17", "How many seconds are there in 3 days?", ["17"]),
    ("(17 * 23) + sqrt(144)", "How many ounces are in a kilogram?", ["17", "23", "144"]),
    ("7600 * 1.12", "A town of 7600 people grows by 12%. What is its new population?", []),
    ("266 * 0.75", "A jacket costs $266 and is on sale for 25% off.", []),
    ("18 * 17", "What is 18! divided by 16!?", []),
    ("30 * 9 / 5 + 32", "What is 30 degrees Celsius in Fahrenheit?", []),
    ("1 + 54", "What is 30 degrees Celsius in Fahrenheit?", ["54"]),
])
def test_an_expression_may_use_only_the_questions_numbers_and_known_factors(
        expression: str, question: str, foreign: list[str]) -> None:
    assert foreign_numbers(expression, question) == foreign


@pytest.mark.parametrize("question, facts", [
    ("How many milliseconds are in 12 minutes?", ["1 minute = 60000 milliseconds"]),
    ("Walking at 5 km/h, how far do you get in 90 minutes?", ["1 hour = 60 minutes"]),
    ("How many ounces are in a kilogram?", ["1 kilogram = 35.2739619496 ounces"]),
    ("What is 30 degrees Celsius in Fahrenheit?", ["degrees Fahrenheit = degrees Celsius * 9 / 5 + 32"]),
    ("A water jug holds 19 gallons. How many quarts does it hold?", ["1 gallon = 4 quarts"]),
    ("A recipe needs 3 tablespoons of oil. How many teaspoons is that?", ["1 tablespoon = 3 teaspoons"]),
    # areas: "square meters" is no length in meters
    ("A nature reserve covers 19.5 hectares. How many square meters is that?", ["1 hectare = 10000 square meters"]),
    ("A farm has 40 acres. How many square feet is that?", ["1 acre = 43560 square feet"]),
    ("What is 17% of 2350?", []),
])
def test_the_unit_facts_are_exact_factors_between_the_units_named(question: str, facts: list[str]) -> None:
    assert unit_facts(question) == facts


@pytest.mark.parametrize("expression, question, wrong", [
    ("12 * 60000", "How many milliseconds are in 12 minutes?", None),
    ("60 * 60", "How many milliseconds are in 12 minutes?", "leaves out 12"),  # a given quantity dropped
    ("3 * 150", "Walking at 3 km/h, how many km do you cover in 150 minutes?", "converts nothing"),
    ("3 * 150 / 60", "Walking at 3 km/h, how many km do you cover in 150 minutes?", None),
    ("3 * 86400 * 17", "How many seconds are there in 3 days?", "17"),
    # a conversion the wrong way round, and a count below zero
    ("19 / 4", "A water jug holds 19 gallons. How many quarts does it hold?", "the wrong way round"),
    ("19 * 4", "A water jug holds 19 gallons. How many quarts does it hold?", None),
    ("336 * 24", "A server ran for 336 hours. How many days is that?", "hours / 24 gives days"),
    ("336 / 24", "A server ran for 336 hours. How many days is that?", None),
    ("19.5 / 10000", "A reserve covers 19.5 hectares. How many square meters is that?", "the wrong way round"),
    ("19.5 * 10000", "A reserve covers 19.5 hectares. How many square meters is that?", None),
    ("2003 - 2033", "Anna was born in 2003. How old is she on her birthday in 2033?", "below zero"),
    ("2033 - 2003", "Anna was born in 2003. How old is she on her birthday in 2033?", None),
    ("-40 * 9 / 5 + 32", "What is -40 degrees Celsius in Fahrenheit?", None),  # a temperature may be below zero
])
def test_a_setup_is_sent_back_naming_what_is_wrong(expression: str, question: str, wrong: str | None) -> None:
    problem = check_setup(expression, question)
    assert (problem is None) if wrong is None else (problem is not None and wrong in problem)


class CallWritingBackend(StandInBackend):
    """The BACKEND only, standing in for a model that writes a tool call as its final answer (the real model cannot
    be made to on demand): it writes a call whenever the conversation shows tools or call markup, else `answer`
    (None: a call every time)."""

    name = "call-writer"

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.requests: list[list[Message]] = []

    @staticmethod
    def write(text: str) -> Iterator[Chunk]:
        """`text` streamed in pieces of 5 characters, as a model streams tokens, then done."""
        for i in range(0, len(text), 5):
            yield text[i:i + 5]
        yield BackendDone("stop", len(text) // 5 + 1, 10)

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> Iterator[Chunk]:
        self.requests.append(list(messages))
        markup = any("<tool_call>" in m.content or "# Tools" in m.content for m in messages)
        text = CALL if markup or self.answer is None else self.answer
        yield from self.write(text)


def ask_for_the_code_word(backend: CallWritingBackend, settings: Settings, notes: Path) -> AskResult:
    """The real engine (router, loop, guard, runner) over `backend`, asked to read a note with nothing granted."""
    engine = Engine.create(settings, factories={"llama_cpp": lambda *a, **k: backend,
                                                "onnx_int4": lambda *a, **k: backend})
    try:
        return engine.ask(f"Read the file {notes / 'plan.txt'} and tell me the code word in it.",
                          AskOptions(max_tokens=80, store=False, tools=engine.open_tools(ask=None)))
    finally:
        engine.close()


CALL = '<tool_call>\n{"name": "files_read", "arguments": {"path": "/tmp/notes/plan.txt"}}\n</tool_call>'


@pytest.mark.default_model
@pytest.mark.parametrize("answer, expected", [
    ("I was not allowed to read that file.", "I was not allowed to read that file."),
    # asked twice, it only wrote a call: the refused call is said plainly, never the call
    (None, "I could not get an answer: the files_read call was not allowed. Please rephrase the question or ask it "
           "in parts."),
])
def test_a_call_written_as_the_answer_is_asked_again_without_tools_and_never_shown(
        answer: str | None, expected: str, default_model_installed: Path, artifacts_dir: Path, tmp_path: Path,
        notes: Path) -> None:
    backend = CallWritingBackend(answer)
    result = ask_for_the_code_word(backend, default_model_settings(tmp_path, default_model_installed.parent,
                                                                   artifacts_dir), notes)
    assert result.tool_calls, "the route offered no tool: the loop did not run"
    assert result.text == expected
    final = "".join(m.content for m in backend.requests[-1])
    assert "<tool_call>" not in final and "# Tools" not in final  # the retry saw no call markup and no tools


class InstructionCopyingBackend(CallWritingBackend):
    """The BACKEND only, standing in for a model that, told a call failed or was refused, writes back the sentence
    that told it so instead of answering (seen with the 0.5B model on word problems)."""

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> Iterator[Chunk]:
        self.requests.append(list(messages))
        last = messages[-1].content
        copied = next((line for line in last.splitlines() if line.startswith("The call to")), None)
        text = CALL if copied is None else copied
        yield from self.write(text)


@pytest.mark.default_model
def test_a_copied_instruction_is_never_the_answer_the_failed_call_is_said_plainly(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path, notes: Path) -> None:
    backend = InstructionCopyingBackend(None)
    result = ask_for_the_code_word(backend, default_model_settings(tmp_path, default_model_installed.parent,
                                                                   artifacts_dir), notes)
    assert result.tool_calls and not result.tool_calls[0]["ok"]
    assert "The call to" not in result.text and "do not make up" not in result.text
    assert result.text.startswith("I could not get an answer: the files_read call ")


class QuestionCopyingBackend(CallWritingBackend):
    """The BACKEND only, standing in for a model that, told to answer after its call, writes the question back
    word for word when decoding greedily (seen with the 0.5B model after reading a file, on an AVX2 CPU) and answers
    when it samples."""

    def __init__(self) -> None:
        super().__init__(None)
        self.params: list[GenerationParams] = []

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> Iterator[Chunk]:
        self.requests.append(list(messages))
        self.params.append(params)
        question = next(m.content for m in messages if m.role == "user")
        if "Now answer my latest question" not in messages[-1].content:
            text = CALL
        else:
            text = question if params.temperature < 0.5 else "I was not allowed to read that file."
        yield from self.write(text)


@pytest.mark.default_model
def test_a_copied_question_is_never_the_answer_the_model_is_asked_again_sampling(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path, notes: Path) -> None:
    backend = QuestionCopyingBackend()
    result = ask_for_the_code_word(backend, default_model_settings(tmp_path, default_model_installed.parent,
                                                                   artifacts_dir), notes)
    assert result.tool_calls, "the route offered no tool: the loop did not run"
    assert result.text == "I was not allowed to read that file."
    assert backend.params[-2].temperature < 0.5 <= backend.params[-1].temperature  # greedy first, then sampled


class NameInventingBackend(CallWritingBackend):
    """The BACKEND only, standing in for a model that calls a tool by a made-up name ("calculate") unless a grammar
    holds it to the offered names, and answers "42" when told to answer."""

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> Iterator[Chunk]:
        self.requests.append(list(messages))
        if params.json_schema is not None:
            text = '{"name": "calculator", "arguments": {"expression": "6 * 7"}}'
        elif "Now answer my latest question" in messages[-1].content:
            text = "42"
        else:
            text = '<tool_call>\n{"name": "calculate", "arguments": {"expression": "6 * 7"}}\n</tool_call>'
        yield text
        yield BackendDone("stop", 1, 10)


@pytest.mark.default_model
def test_a_call_to_a_tool_that_is_not_offered_is_asked_again_under_the_grammar(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    backend = NameInventingBackend(None)
    settings = default_model_settings(tmp_path, default_model_installed.parent, artifacts_dir)
    engine = Engine.create(settings, factories={"llama_cpp": lambda *a, **k: backend,
                                                "onnx_int4": lambda *a, **k: backend})
    try:
        result = engine.ask("What is six times seven?", AskOptions(max_tokens=40, store=False, tools=engine.open_tools()))
    finally:
        engine.close()
    assert [(c["tool"], c["ok"]) for c in result.tool_calls] == [("calculator", True)], result.tool_calls
    assert result.text == "42"
