"""The set-up as a short program: the model's assignments are read (never run) into one expression over the
question's numbers and the unit factors, and checked against the question before anything is calculated."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from edgemind.core.tools.arithmetic import evaluate
from edgemind.core.tools.program_setup import EXAMPLES, program_instruction, read_program


def _program(*lines: str) -> str:
    return "```python\n" + "\n".join(lines) + "\n```"


@pytest.mark.parametrize("question, program, value", [
    ("A crate holds 24 cans and a van carries 15 crates. How many cans do 4 vans carry?",
     _program("cans_per_crate = 24", "crates_per_van = 15", "vans = 4",
              "answer = cans_per_crate * crates_per_van * vans"), Fraction(1440)),
    # intermediate steps, each replaced by what defined it, precedence kept
    ("A heater uses 1.5 kW for 6 hours a day. Power costs $0.20 per kWh. What does it cost over 30 days?",
     _program("power_kw = 1.5", "hours_per_day_used = 6", "price = 0.20", "days = 30",
              "daily_kwh = power_kw * hours_per_day_used", "daily_cost = daily_kwh * price",
              "answer = daily_cost * days"), Fraction(54)),
    # a unit factor by its name, and the last assignment when the model stops before `answer = ...`
    ("How many seconds are there in 3 days?",
     _program("days = 3", "hours = days * hours_per_day", "seconds = hours * 3600"), Fraction(259200)),
    # printed instead of assigned; an augmented assignment; a tuple assignment
    ("Tom has 12 apples, buys 7 more and gives away 5. How many are left?",
     _program("apples, bought = 12, 7", "apples += bought", "apples -= 5", "print(apples)"), Fraction(14)),
    # a percentage as p / 100 of the whole, and `math.` functions as the calculator names them
    ("A circle has a radius of 10 cm. What is its area, using pi = 3.14?",
     _program("import math", "radius = 10", "pi_value = 3.14", "answer = pi_value * math.pow(radius, 2)"), None),
    ("What is 15% of 80?", _program("percent = 15", "whole = 80", "answer = percent / 100 * whole"), Fraction(12)),
    # a tiny number stays plain digits (never 1e-05, which would read as 1 and 5)
    ("A grain weighs 0.00001 kg. What do 3000 grains weigh in kg?",
     _program("grain_kg = 0.00001", "grains = 3000", "answer = grain_kg * grains"), Fraction(3, 100)),
])
def test_a_program_is_read_as_one_expression_with_the_same_value(question: str, program: str,
                                                                 value: Fraction | None) -> None:
    setup = read_program(program, question)
    if value is None:  # math.pow is not the calculator's: the program is read, and the unknown name is said
        assert setup is not None and setup.problem is not None and "pow" in setup.problem
        return
    assert setup is not None and setup.problem is None, setup
    assert evaluate(setup.expression) == value
    assert "1e-05" not in setup.expression


@pytest.mark.parametrize("question, program, said", [
    # seconds in 3 days set up as `3 * 28`: 28 is in neither the question nor a unit factor
    ("How many seconds are there in 3 days?", _program("days = 3", "answer = days * 28"), "28"),
    # a name nobody defined
    ("A shirt costs $20 and is 25% off. What does it cost now?",
     _program("price = 20", "answer = price * (1 - discount)"), "discount"),
    # a given quantity dropped
    ("A car goes 240 km on 16 liters. How far does it go on 40 liters?",
     _program("km = 240", "liters = 16", "answer = km * 40 / 40"), "16"),
])
def test_a_program_the_check_rejects_says_what_is_wrong(question: str, program: str, said: str) -> None:
    setup = read_program(program, question)
    assert setup is not None and setup.problem is not None and said in setup.problem


@pytest.mark.parametrize("text", [
    "The answer is 42 apples.",  # prose
    _program("for i in range(3):", "    total = i"),  # a loop is no set-up
    _program("def f(x):", "    return x * 2", "answer = f(3)"),
    _program("answer = (1 +"),  # cut off mid-expression
    _program("answer = 'twelve'"),
    _program("answer = obj.value * 2"),
    "",
])
def test_what_is_not_an_arithmetic_program_is_no_set_up(text: str) -> None:
    assert read_program(text, "A box holds 12 eggs. How many eggs are in 3 boxes?") is None


def test_a_program_is_read_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hostile = _program("import os", f"os.system('touch {marker}')", f"open('{marker}', 'w')",
                       "answer = __import__('os').getcwd()")
    setup = read_program(hostile, "A box holds 12 eggs. How many eggs are in 3 boxes?")
    assert setup is None or setup.problem is not None
    assert not marker.exists()


@pytest.mark.timeout(60)  # without the size cap, reading it never ends (or runs out of memory)
def test_a_program_that_grows_as_it_is_read_is_refused() -> None:
    lines = ["a0 = 2"] + [f"a{i} = a{i - 1} + a{i - 1}" for i in range(1, 60)]  # 2**60 nodes if copied out
    assert read_program(_program(*lines), "What is 2 doubled 59 times?") is None


def test_the_instruction_gives_the_question_s_unit_factors_by_name_and_an_example() -> None:
    text = program_instruction("How many milliseconds are in 12 minutes?")
    assert "milliseconds_per_minute = 60000" in text and "answer = " in text
    assert "milliseconds_per_minute" not in program_instruction("What is 17% of 2350?")


def test_the_worked_examples_pass_the_check_and_come_to_their_answers() -> None:
    answers = [Fraction(1440), Fraction(28800)]  # 24 * 15 * 4 cans; (4.5 * 5 + 4.5 * 1.4) km in meters
    for (question, program), answer in zip(EXAMPLES, answers, strict=True):
        setup = read_program(program, question)
        assert setup is not None and setup.problem is None, setup
        assert evaluate(setup.expression) == answer
