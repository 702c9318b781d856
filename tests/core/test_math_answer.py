"""A math answer counts as stating the calculator's result only when one of its numbers is that result, in full or
rounded to the decimal places it shows."""

from __future__ import annotations

import pytest

from edgemind.core.tools.math_answer import calculated_result, states_result
from edgemind.core.tools.runner import ToolOutcome


def calc(content: str, ok: bool = True, tool: str = "calculator") -> ToolOutcome:
    return ToolOutcome(tool, {"expression": content.split("=")[0]}, "allowed:pure", ok, content)


@pytest.mark.parametrize("answer, states", [
    ("17% of 2,350 is 399.5.", True),
    ("399.50", True),
    ("The answer is 58.6.", False),  # the number the 0.5B model wrote instead
    ("about 400", False),  # rounded to a whole number: not the result
    ("It is 17.", False),  # a number from the question is not the result
    ("", False),
])
def test_an_answer_states_the_result_or_not(answer: str, states: bool) -> None:
    result = calculated_result([calc("17/100 * 2350 = 399.5")])
    assert result is not None and states_result(answer, result) is states


def test_a_rounded_result_counts_at_the_places_the_answer_shows() -> None:
    result = calculated_result([calc("10 / 3 = 3.3333333333333335")])
    assert result is not None
    assert states_result("about 3.33 each", result) and states_result("3.3333", result)
    assert not states_result("3.34", result) and not states_result("3", result)


def test_the_last_successful_calculation_is_the_result() -> None:
    outcomes = [calc("2 + 2 = 4"), calc("1 / 0", ok=False), calc("5 * 5 = 25"),
                calc("error: no such file", tool="files_read")]
    result = calculated_result(outcomes)
    assert result is not None and result.line == "5 * 5 = 25" and states_result("25", result)
    assert calculated_result([calc("1 / 0", ok=False)]) is None
    assert calculated_result([calc("x = not a number")]) is None
