"""The math set-up's parts that need no model: normalising an expression the way a small model writes it, a set-up
program's names and unit factors replaced by their numbers, and the vote between sampled set-ups (over a backend
that writes given programs; the runner, the calculator and the loop are real). The set-up with the real model is in
test_tool_loop_chat.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from edgemind.core.backends.base import BackendDone, CancelToken, Chunk, GenerationParams, Message
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.tools.arithmetic import evaluate
from edgemind.core.tools.loop import PROPOSAL_MAX_TOKENS
from edgemind.core.tools.math_setup import check_setup, normalise_expression, written_expression
from edgemind.core.tools.program_setup import PROGRAM_STOP, program_instruction, read_program
from edgemind.core.tools.unit_facts import named_factor
from tests.support.engines import default_model_settings
from tests.support.stand_in_backend import StandInBackend


@pytest.mark.parametrize("written, plain", [
    ("$2,400 * 35%", "2400 * 35%"),
    ("12 x 4.5", "12 * 4.5"),
    ("12x4", "12*4"),
    ("(3 + 4) × 2", "(3 + 4) * 2"),
    ("120 * (1 − 25 / 100)", "120 * (1 - 25 / 100)"),
    ("900 ÷ 4", "900 / 4"),
    ("1.5^2", "1.5**2"),
    ("2,400,000 / 3", "2400000 / 3"),
    ("max(1,200)", "max(1,200)"),  # a comma between a function's arguments is no thousands separator
    ("box_count * 3", "box_count * 3"),  # an x inside a name stays
])
def test_an_expression_is_normalised_to_the_calculators_notation(written: str, plain: str) -> None:
    assert normalise_expression(written) == plain


def _program(quantities: dict[str, float], expression: str) -> str:
    lines = [f"{name} = {value}" for name, value in quantities.items()] + [f"answer = {expression}"]
    return "```python\n" + "\n".join(lines) + "\n```"


@pytest.mark.parametrize("question, quantities, expression, value", [
    ("Walking at 5 km/h, how many km do you cover in 150 minutes?", {"speed": 5, "minutes": 150},
     "speed * minutes / minutes_per_hour", Fraction(25, 2)),
    ("How many seconds are there in 3 days?", {"days": 3}, "days * seconds_per_day", Fraction(259200)),
    ("How many seconds are there in 3 days?", {"days": 3}, "days * hours_per_day * seconds_in_an_hour",
     Fraction(259200)),
    ("A bottle holds 250 ml. How many liters do 6 bottles hold?", {"ml": 250, "bottles": 6},
     "ml * bottles / milliliters_per_liter", Fraction(3, 2)),
    ("Apples cost $4.49 per kilogram. How much do 750 grams cost?", {"price": 4.49, "grams": 750},
     "price * grams / grams_per_kilogram", Fraction(449 * 750, 100_000)),
    ("How many hours is 150 minutes?", {"minutes": 150}, "minutes * hours_per_minute", Fraction(5, 2)),
    ("A phone plan costs $26 a month. What does it cost over 3 years?", {"monthly": 26, "years": 3},
     "monthly * months_per_year * years", Fraction(936)),
])
def test_names_are_replaced_by_their_numbers_exactly(question: str, quantities: dict[str, float], expression: str,
                                                      value: Fraction) -> None:
    settled = read_program(_program(quantities, expression), question)
    assert settled is not None and settled.problem is None, settled
    assert evaluate(settled.expression) == value


@pytest.mark.parametrize("quantities, expression, wrong", [
    ({"speed": 5}, "speed * mins / 60", "mins"),  # a name it never defined
    ({"speed": 5, "minutes": 17}, "speed * minutes / 60", "17"),  # a value the question does not give
    ({"speed": 5, "minutes": 150}, "speed * minutes", "converts nothing"),
    ({"speed": 5, "minutes": 150}, "minutes / minutes_per_hour", "leaves out 5"),
])
def test_a_named_setup_is_sent_back_naming_what_is_wrong(quantities: dict[str, float], expression: str,
                                                         wrong: str) -> None:
    setup = read_program(_program(quantities, expression), "Walking at 5 km/h, how many km do you cover in 150 "
                         "minutes?")
    assert setup is not None and setup.problem is not None and wrong in setup.problem


def test_a_factor_name_between_different_kinds_of_unit_is_no_factor() -> None:
    assert named_factor("grams_per_hour") is None and named_factor("apples_per_box") is None
    assert evaluate(named_factor("ounces_per_kilogram") or "") * Fraction("28.349523125") == 1000  # exact


def test_the_instruction_names_the_factors_between_the_questions_units() -> None:
    text = program_instruction("How many milliseconds are in 12 minutes?")
    assert "milliseconds_per_minute = 60000" in text
    assert "milliseconds_per_minute" not in program_instruction("What is 17% of 2350?")


class SetupWritingBackend(StandInBackend):
    """The BACKEND only, standing in for a model whose greedy set-up is wrong and whose sampled set-ups mostly agree
    on the right one (the real model cannot be made to do that on demand); it answers with the last result."""

    name = "setup-writer"

    def __init__(self, greedy: str, sampled: dict[int, str]) -> None:
        self.greedy, self.sampled = greedy, sampled
        self.forms: list[GenerationParams] = []

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> Iterator[Chunk]:
        if params.stop == PROGRAM_STOP:
            self.forms.append(params)
            expression = self.greedy if params.temperature == 0 else self.sampled[params.seed or 0]
            text = _program({"minutes": 150}, expression)
        else:
            text = messages[-1].content.split("=")[-1].split()[0] if "=" in messages[-1].content else "no idea"
        yield text
        yield BackendDone("stop", 1, 10)


def _ask(backend: StandInBackend, settings_dir: Path, model: Path, artifacts: Path,
         question: str = "A movie lasts 150 minutes. How many hours is that?") -> tuple[str, list[str]]:
    engine = Engine.create(default_model_settings(settings_dir, model.parent, artifacts),
                           factories={"llama_cpp": lambda *a, **k: backend, "onnx_int4": lambda *a, **k: backend})
    try:
        result = engine.ask(question,
                            AskOptions(max_tokens=40, store=False, use_cache=False, tools=engine.open_tools()))
    finally:
        engine.close()
    return result.text, [c["arguments"]["expression"] for c in result.tool_calls]


@pytest.mark.default_model
def test_the_value_most_sampled_setups_reach_is_taken_over_the_greedy_one(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    # the greedy set-up is wrong in a way no check sees (a stray + 1)
    backend = SetupWritingBackend("minutes / minutes_per_hour + 1", {1: "minutes / minutes_per_hour",
                                                                     2: "minutes / 60"})
    text, calls = _ask(backend, tmp_path, default_model_installed, artifacts_dir)
    assert calls == ["150 / 60"] and "2.5" in text  # two of three set-ups reach 2.5: the first of them is called
    assert [(p.temperature, p.seed) for p in backend.forms[1:]] == [(0.7, 1), (0.7, 2)]  # fixed seeds: repeatable


@pytest.mark.default_model
def test_sampling_stops_once_a_value_has_a_majority(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    backend = SetupWritingBackend("minutes / minutes_per_hour", {1: "minutes / 60", 2: "minutes * 60"})
    text, calls = _ask(backend, tmp_path, default_model_installed, artifacts_dir)
    assert calls == ["150 / 60"] and "2.5" in text
    assert len(backend.forms) == 2  # greedy and one sample agreed: the third was never drawn


@pytest.mark.default_model
def test_a_set_up_the_check_rejects_gets_no_vote(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    # 17 is in neither the question nor a unit factor: the greedy program is sent back once, and its retry too is left out
    backend = SetupWritingBackend("minutes * 17", {1: "minutes / minutes_per_hour", 2: "minutes * 17"})
    text, calls = _ask(backend, tmp_path, default_model_installed, artifacts_dir)
    assert calls == ["150 / 60"] and "2.5" in text
    retry = [p for p in backend.forms if p.temperature == 0]
    assert len(retry) == 2  # the greedy program and the one written after hearing what was wrong


@pytest.mark.default_model
def test_when_no_set_up_passes_none_of_them_is_calculated(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    backend = SetupWritingBackend("minutes * 17", {1: "minutes * 17", 2: "minutes * 19"})  # two agree, both wrong
    _text, calls = _ask(backend, tmp_path, default_model_installed, artifacts_dir)
    assert calls == []
    assert len(backend.forms) == 4  # greedy, its one retry, two samples: each heard nothing it could pass


@pytest.mark.parametrize("question, expression", [
    ("What is 1234 * 5678 + 91?", "1234 * 5678 + 91"),
    ("Calculate (17 + 3) × 4.", "(17 + 3) * 4"),
    ("What is 12 x 4?", "12 * 4"),
    ("what's 2^10", "2**10"),
    ("Compute 7 - 2", "7 - 2"),
    ("What is 1,234 * 5?", "1234 * 5"),
    ("What is 12 * 7, rounded to 2 decimals?", None),  # a number outside the expression: the model sets it up
    ("What is 3 + 4? And 5 * 6?", None),  # two expressions
    ("What day of the week is 12/25/2024?", None),  # a date, not a division
    ("Is 2024-01-05 a Friday?", None),
    ("Call 555-1234 and ask for 2 tickets.", None),
    ("What is 10/4", None),  # a slash without spaces may be a date: the set-up decides
    ("What is 17% of 2350?", None),
    ("What is 15!/13!?", None),
    ("How many seconds are in 3 days?", None),
    ("What is (2 + 3", None),
])
def test_an_expression_the_question_writes_out_is_found_only_when_it_is_all_the_question_gives(
        question: str, expression: str | None) -> None:
    assert written_expression(question) == expression


@pytest.mark.default_model
def test_a_written_out_expression_is_calculated_as_written_without_a_set_up(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    backend = SetupWritingBackend("minutes * 60", {1: "minutes * 60", 2: "minutes * 60"})  # set-ups that would be wrong
    text, calls = _ask(backend, tmp_path, default_model_installed, artifacts_dir, "What is 1234 * 5678 + 91?")
    assert calls == ["1234 * 5678 + 91"] and "7006743" in text
    assert backend.forms == []  # no set-up was asked of the model


class WrongNumberBackend(SetupWritingBackend):
    """The BACKEND only, standing in for a model that sets the problem up right, then answers with another number
    than the calculator's (seen with the 0.5B model: 17% of 2350 calculated as 399.5, answered "58.6"); sampling, it
    answers `sampled_answer`."""

    def __init__(self, sampled_answer: str) -> None:
        super().__init__("minutes / minutes_per_hour", {1: "minutes / 60", 2: "minutes / 60"})
        self.sampled_answer = sampled_answer
        self.answers: list[GenerationParams] = []

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> Iterator[Chunk]:
        if params.stop == PROGRAM_STOP:
            yield from super().stream(messages, params, cancel)
            return
        self.answers.append(params)
        yield "That is 58.6 hours." if params.temperature < 0.5 else self.sampled_answer
        yield BackendDone("stop", 6, 10)


@pytest.mark.default_model
@pytest.mark.parametrize("sampled_answer, shown", [
    ("That is 2.50 hours.", "That is 2.50 hours."),  # the second try states the result: it is the answer
    ("About 3 hours.", "150 / 60 = 2.5"),  # it does not either: the calculation is the answer
])
def test_an_answer_that_contradicts_the_calculation_is_never_shown(
        sampled_answer: str, shown: str, default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    backend = WrongNumberBackend(sampled_answer)
    text, calls = _ask(backend, tmp_path, default_model_installed, artifacts_dir)
    assert calls == ["150 / 60"]
    assert text == shown and "58.6" not in text
    assert [p.temperature >= 0.5 for p in backend.answers] == [False, True]


@pytest.mark.parametrize("question, quantities, expression, value", [
    # dates are day numbers from the calendar
    ("How many days pass from October 12 to October 20 of the same year?", {}, "October_20 - October_12",
     Fraction(8)),
    ("How many days are there from December 28 to January 3?", {}, "january_3 - december_28", Fraction(6)),
    ("How many days pass from March 7 to March 28 of the same year?", {}, "28 - 7", Fraction(21)),
    ("How many days are there from February 20, 2024 to March 1, 2024?", {},
     "march_1_2024 - february_20_2024", Fraction(10)),  # a leap year
    # a rate the question states links its units: no factor is missing
    ("A worker earns $17 per hour and works 16 hours a week. How much does she earn in 7 weeks, in dollars?",
     {"wage": 17, "hours": 16, "weeks": 7}, "wage * hours * weeks", Fraction(1904)),
    # metric tons, data sizes and a dozen are in the table by name
    ("A barge carries 7 tonnes of gravel. How many kilograms is that?", {"load": 7},
     "load * kilograms_per_metric_ton", Fraction(7000)),
    ("A 3 GB video arrives at 6 MB per second. How many seconds does it take?", {"size": 3, "rate": 6},
     "size * megabytes_per_gigabyte / rate", Fraction(500)),
    ("A 2 GiB image is copied in pieces of 512 MiB. How many pieces are there?", {"image": 2, "piece": 512},
     "image * mebibytes_per_gibibyte / piece", Fraction(4)),
    ("Bagels cost $9 a dozen. What do 30 bagels cost, in dollars?", {"price": 9, "bagels": 30},
     "price / items_per_dozen * bagels", Fraction(45, 2)),
])
def test_factor_names_dates_and_stated_rates_settle_to_the_right_value(
        question: str, quantities: dict[str, float], expression: str, value: Fraction) -> None:
    settled = read_program(_program(quantities, expression), question)
    assert settled is not None and settled.problem is None, settled
    assert evaluate(settled.expression) == value


@pytest.mark.parametrize("question, formula", [
    ("Eight friends meet and each shakes hands once with every other friend. How many handshakes?",
     "n * (n - 1) / 2"),
    ("A team of 11 picks a captain and a vice-captain. In how many ways can it do that?", "n * (n - 1)"),
    ("The average of 5 parcels' weights is 14 kg. What do they weigh together?", "= their average *"),
    ("A deposit of $500 earns 3% simple interest a year. How much interest after 4 years?", "never compounded"),
    ("A lease of 2 years and 5 months: how many months?", "1 year = 12 months (months_per_year)"),
    ("Rolls cost $6 a dozen. What does one roll cost?", "items_per_dozen"),
    ("A jar holds 12 quarters and 7 dimes. How much money is in it, in dollars?", "a dime = 0.10"),
    ("A tank is 50 cm long, 30 cm wide and 40 cm high. How many liters does it hold?", "1 liter = 1000 cubic"),
])
def test_the_set_up_offers_the_formula_the_question_calls_for(question: str, formula: str) -> None:
    assert formula in program_instruction(question)


def test_a_question_that_calls_for_no_formula_gets_none() -> None:
    instruction = program_instruction("What is 15% of 80 apples?")
    assert "formulas for this question" not in instruction and "n * (n - 1)" not in instruction


@pytest.mark.parametrize("question, expression, wrong", [
    ("A printer prints 27 pages per minute. How many pages does it print in 5 hours?", "27 * 5", "converts nothing"),
    ("A printer prints 27 pages per minute. How many pages does it print in 5 hours?",
     "27 * 5 * 60 / 60 / 60 * 60 / 60 * 60", "uses 60 over and over"),
    ("A town of 8400 people grows by 2%. What is its new population?", "1.02 / 100 * 8400", "1.02 is already"),
    ("How many days pass from March 7 to March 28 of the same year?", "31 - 28", "leaves out march_7"),
    ("A meeting starts at 9:00 and ends at 13:30. How many minutes does it last?", "13 - 9",
     "leaves out time_13_30, which"),  # the half hour; and not the zeros of 9:00
])
def test_a_setup_that_converts_nothing_divides_a_percentage_twice_or_skips_a_date_is_sent_back(
        question: str, expression: str, wrong: str) -> None:
    setup = read_program(_program({}, expression), question)
    assert setup is not None and setup.problem is not None and wrong in setup.problem, setup


def test_the_instruction_gives_the_questions_dates_as_day_numbers() -> None:
    text = program_instruction("How many days pass from October 12 to October 20 of the same year?")
    assert "october_12 = 285" in text and "october_20 = 293" in text
    assert "Dates and times in this question" not in program_instruction("What is 12% of 20?")


class DirectCallBackend(StandInBackend):
    """The BACKEND only, standing in for a model whose set-up program is prose and which then writes the calculator
    call itself with a number the question does not give; it records what it is asked to answer from."""

    name = "direct-caller"

    def __init__(self, expression: str = "150 / 60 * 100") -> None:
        self.expression = expression
        self.answer_prompts: list[list[Message]] = []

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> Iterator[Chunk]:
        if params.stop == PROGRAM_STOP:
            yield "I would divide the minutes by sixty."
        elif params.max_tokens == PROPOSAL_MAX_TOKENS:
            call = json.dumps({"name": "calculator", "arguments": {"expression": self.expression}})
            yield f"<tool_call>\n{call}\n</tool_call>"
        else:
            self.answer_prompts.append(list(messages))
            yield "About two and a half hours."
        yield BackendDone("stop", 1, 10)


@pytest.mark.default_model
def test_a_direct_call_the_check_rejects_never_runs_and_its_note_is_not_what_the_model_answers_from(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    backend = DirectCallBackend()
    _text, calls = _ask(backend, tmp_path, default_model_installed, artifacts_dir)
    assert calls == []  # 100: no percentage in the question
    assert backend.answer_prompts, "the model was never asked to answer"
    final = backend.answer_prompts[-1]
    assert not any("which the question does not give" in m.content for m in final)
    assert final[-1].role == "user" and "150 minutes" in final[-1].content


@pytest.mark.default_model
def test_a_direct_call_with_units_in_its_expression_runs_without_them(
        default_model_installed: Path, artifacts_dir: Path, tmp_path: Path) -> None:
    backend = DirectCallBackend("150 minutes / 60 minutes/hour")  # the calculator refuses unit words
    _text, calls = _ask(backend, tmp_path, default_model_installed, artifacts_dir)
    assert calls == ["150 / 60"]


@pytest.mark.parametrize("question, expression, wrong", [
    # two dates or two clock times: the later one's number minus the earlier one's
    ("How many days are there from March 15 to April 17?", "74 - 2 + 107 - 2", "april_17 - march_15 (107 - 74)"),
    ("How many days are there from March 15 to April 17?", "74 - 107", "the later number minus the earlier"),
    ("A meeting starts at 9:00 and ends at 12:30. How many minutes does it last?", "540 + 750",
     "time_12_30 - time_9_00"),
    # a temperature converted the other way
    ("What is 140 degrees Fahrenheit in degrees Celsius?", "140 * 9 / 5 + 32", "that is (140 - 32) * 5 / 9"),
    ("What is 30 degrees Celsius in Fahrenheit?", "(30 - 32) * 5 / 9", "that is 30 * 9 / 5 + 32"),
    # a number already in the unit asked for, converted again
    ("How many centimeters are in 3 meters and 39 centimeters?", "3 * 100 + 39 * 100", "converts 39 centimeters"),
    ("How many centimeters are in 3 meters and 39 centimeters?", "(3 + 39) * 100", "in centimeters already"),
])
def test_a_span_counted_backwards_a_temperature_converted_the_wrong_way_or_a_unit_converted_twice_is_sent_back(
        question: str, expression: str, wrong: str) -> None:
    problem = check_setup(expression, question)
    assert problem is not None and wrong in problem, problem


@pytest.mark.parametrize("question, expression", [
    ("How many days are there from March 15 to April 17?", "107 - 74"),
    ("How many days are there from March 15 to April 17?", "(31 - 15) + 17"),  # day-of-month numbers: no day numbers
    ("A meeting starts at 9:00 and ends at 12:30. How many minutes does it last?", "750 - 540"),
    ("A meeting starts at 9:00 and ends at 12:30. How many minutes does it last?", "(12 - 9) * 60 + 30"),
    ("What is 140 degrees Fahrenheit in degrees Celsius?", "(140 - 32) / 1.8"),
    ("What is 30 degrees Celsius in Fahrenheit?", "30 * 1.8 + 32"),
    ("How many centimeters are in 3 meters and 39 centimeters?", "3 * 100 + 39"),
    ("A swimming pool holds 51 cubic meters of water. How many liters is that?", "51 * 1000"),
])
def test_the_right_set_ups_of_those_questions_pass(question: str, expression: str) -> None:
    assert check_setup(expression, question) is None


@pytest.mark.parametrize("question, line", [
    ("What is 140 degrees Fahrenheit in degrees Celsius?", "degrees Celsius = (degrees Fahrenheit - 32) * 5 / 9"),
    ("How many degrees Fahrenheit is 30 °C?", "degrees Fahrenheit = degrees Celsius * 9 / 5 + 32"),
    ("A swimming pool holds 51 cubic meters of water. How many liters is that?", "liters_per_cubic_meter = 1000"),
    ("How many days are in 4 ordinary years and 2 leap years?", "1 leap year = 366 days"),
    ("A meeting starts at 9:00 and ends at 12:30. How many minutes?", "time_12_30 = 750 (minute of the day"),
    ("The shop is open from 10 pm to 2 a.m. How many hours?", "time_2_00 = 1560"),  # past midnight: the next day
])
def test_the_instruction_states_the_facts_the_question_needs(question: str, line: str) -> None:
    assert line in program_instruction(question)


def test_the_other_temperature_formula_is_not_offered() -> None:
    assert "degrees Fahrenheit = degrees Celsius" not in program_instruction("What is 140 degrees Fahrenheit in "
                                                                           "degrees Celsius?")


@pytest.mark.parametrize("written, plain", [
    ("4500 km / 900 km/h", "4500 / 900"),
    ("3 days * 24 hours", "3 * 24"),
    ("2 pi * 3", "2 pi * 3"),  # not a unit
    ("10 * minutes_per_hour", "10 * minutes_per_hour"),
])
def test_units_written_after_numbers_are_dropped(written: str, plain: str) -> None:
    assert normalise_expression(written) == plain
