"""The calculator: exact arithmetic from a walked AST; names, attributes, calls and giant numbers are refused."""

from __future__ import annotations

import ast
import inspect
import math
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.settings import Settings
from edgemind.core.storage.db import open_database
from edgemind.core.tools import arithmetic, number_text
from edgemind.core.tools.registry import ToolError
from edgemind.core.tools.runner import ToolRunner
from edgemind.core.tools.session import open_tool_runner
from edgemind.plugins.builtin import calculator, units
from edgemind.plugins.builtin.calculator import MAX_CHARS, calculate, evaluate


@pytest.fixture
def runner(settings: Settings) -> ToolRunner:
    # no grants and nobody to ask: the calculator declares no scope, so it must still run
    return open_tool_runner(settings, sessionmaker(open_database(settings.db_path), expire_on_commit=False))


@pytest.mark.parametrize(("expression", "value"), [
    ("2 + 3 * 4", 14),
    ("(2 + 3) * 4", 20),
    ("10 - 4 - 3", 3),
    ("2 ** 3 ** 2", 512),
    ("-2 ** 2", -4),
    ("2^10", 1024),
    ("7 // 2", 3),
    ("7 % 3", 1),
    ("7 / 2", 3.5),
    ("sqrt(144)", 12),
    ("sqrt(2)", math.sqrt(2)),
    ("(17 * 23) + sqrt(144)", 403),
    ("3 × 4 ÷ 2", 6),
    ("123456789 * 987654321", 121932631112635269),
    ("2 * pi", math.tau),
    ("max(3, 9, 4) - min(3, 9, 4)", 6),
])
def test_evaluates_arithmetic_to_the_right_value(expression: str, value: float) -> None:
    assert evaluate(expression) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize(("expression", "value"), [
    ("17/100 * 2350", Fraction(799, 2)),  # a float gives 399.50000000000006
    ("0.1 + 0.2", Fraction(3, 10)),
    ("1/3 * 3", 1),
    ("15!/13!", 210),
    ("factorial(15)/factorial(13)", 210),
    ("(3 + 2)!", 120),
    ("0!", 1),
    ("2 ** -2", Fraction(1, 4)),
    ("1.1 ** 3", Fraction(1331, 1000)),
    ("8 ** (1/3)", 2),
    ("4 ** 0.5", 2),
    ("sqrt(9/4)", Fraction(3, 2)),
    ("cbrt(-27)", -3),
    ("hypot(3, 4)", 5),
    ("7 // 2 + 7 % 2", 4),
    ("round(2/3, 2)", Fraction(67, 100)),
    ("comb(10, 3)", 120),
    ("1e-3 * 1000", 1),
    ("2 ** 64", 2**64),
])
def test_rational_arithmetic_is_exact(expression: str, value: Fraction) -> None:
    result = evaluate(expression)
    assert isinstance(result, Fraction) and result == value


def test_irrational_functions_and_constants_give_floats() -> None:
    for expression in ("sqrt(2)", "2 ** 0.5", "sin(1)", "log(10)", "2 * pi"):
        assert isinstance(evaluate(expression), float), expression
    assert evaluate("1.0001 ** 10000") == pytest.approx(math.exp(10000 * math.log1p(0.0001)))  # too big to be exact


@pytest.mark.parametrize(("expression", "line"), [
    ("17/100 * 2350", "17/100 * 2350 = 399.5"),
    ("15!/13!", "15!/13! = 210"),
    ("(17 * 23) + sqrt(144)", "(17 * 23) + sqrt(144) = 403"),
    ("1/3", "1/3 = 1/3 ≈ 0.333333333333"),
    ("2/3 * 100", "2/3 * 100 = 200/3 ≈ 66.6666666667"),
    ("1/7 + 1/123456789", "1/7 + 1/123456789 ≈ 0.142857150957"),
    ("sqrt(2)", "sqrt(2) ≈ 1.41421356237"),
    ("0.1 ** 30", "0.1 ** 30 = 1e-30"),
    ("2 ** 64", "2 ** 64 = 18446744073709551616"),
    ("1.5 * 4", "1.5 * 4 = 6"),
    ("17% of 2350", "17% of 2350 = 399.5"),  # n% is a percentage when no operand follows the %
    ("2350 * 17%", "2350 * 17% = 399.5"),
    ("7 % 3", "7 % 3 = 1"),  # and the remainder when one does
    ("$215 * (1 - 0.10)", "$215 * (1 - 0.10) = 193.5"),  # an amount of money is a plain number
    ("$50 - ($2.13 + $1.59)", "$50 - ($2.13 + $1.59) = 46.28"),
    ("12.50€ * 3", "12.50€ * 3 = 37.5"),
])
def test_the_result_line_is_exact_or_says_it_is_rounded(expression: str, line: str) -> None:
    assert calculate(expression) == line


@pytest.mark.parametrize(("expression", "message"), [
    ("__import__('os').system('x')", "Call is not allowed"),
    ("(1).__class__", "Attribute is not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "not allowed"),
    ("open('/etc/passwd')", "Call is not allowed"),
    ("eval('1+1')", "Call is not allowed"),
    ("lambda: 1", "Lambda is not allowed"),
    ("[x for x in (1, 2)]", "ListComp is not allowed"),
    ("(x for x in (1, 2))", "GeneratorExp is not allowed"),
    ("x", "Name is not allowed"),
    ("sqrt", "Name is not allowed"),
    ("'a' * 3", "Constant is not allowed"),
    ("True + 1", "Constant is not allowed"),
    ("max(*[1, 2])", "Starred is not allowed"),
    ("round(2.5, ndigits=0)", "Call is not allowed"),
    ("1 if 1 else 2", "IfExp is not allowed"),
    ("(a := 3)", "NamedExpr is not allowed"),
    ("10**10**10", "exponent larger than"),
    ("(1/3)**100000", "exponent larger than"),
    ("(1/3)**9999", "too small to show"),
    ("factorial(10**9)", "result too large"),
    ("1000000!", "result too large"),
    ("comb(10**6, 5 * 10**5)", "result too large"),
    ("round(1/3, 10**9)", "at most 100 digits"),
    ("2.5!", "factorial needs a whole number"),
    ("(-3)!", "factorial needs a whole number of 0 or more"),
    ("5!!", "double factorial"),
    ("9 ** 9999", "result too large"),
    ("(10 ** 150) ** 3", "result too large"),
    ("1e308 * 10", "result too large"),
    ("exp(1000)", "exp:"),
    ("1 / 0", "division by zero"),
    ("5 % 0", "division by zero"),
    ("sqrt(-1)", "sqrt: math domain error"),
    ("(-8) ** (1 / 3)", "not a real number"),
    ("1 +", "cannot parse"),
    ("import os", "cannot parse"),
    ("1; 2", "cannot parse"),
])
def test_refuses_with_a_clear_error(expression: str, message: str) -> None:
    with pytest.raises(ToolError, match="^calculator: ") as caught:
        evaluate(expression)
    assert message in str(caught.value)


@pytest.mark.parametrize("expression", ["10**10**10", "(1/3)**100000", "(1/3)**9999", "(7/3)**9999 * (3/7)**9998",
                                        "factorial(10**100)", "2**10000 - 2**9999"])
def test_huge_rationals_are_refused_in_one_line_through_the_runner_never_by_the_timeout(runner: ToolRunner,
                                                                                         expression: str) -> None:
    outcome = runner.call("calculator", {"expression": expression})
    assert not outcome.ok and outcome.content.startswith("error: calculator: ")
    assert "took longer" not in outcome.content and "\n" not in outcome.content


@pytest.mark.parametrize("line", ["(372 / 4) = 93", "1 kg ≈ 35.274 oz", "5 miles = 8.04672 kilometers"])
def test_a_result_line_sent_back_is_refused_in_one_line(line: str) -> None:
    with pytest.raises(ToolError, match=r"^calculator: the expression already has a result"):
        calculate(line)


def test_over_long_expressions_are_refused_before_parsing() -> None:
    with pytest.raises(ToolError, match=f"longer than {MAX_CHARS} characters"):
        evaluate("1+" * (MAX_CHARS // 2) + "1")


def test_deep_nesting_within_the_length_limit_is_an_error_or_a_value_never_a_crash() -> None:
    assert evaluate("-" * (MAX_CHARS - 1) + "1") == -1
    for text in ("(" * 240 + "1" + ")" * 240, "sqrt(" * 80 + "16" + ")" * 80):
        try:
            evaluate(text)
        except ToolError:
            pass


def test_hostile_code_has_no_effect(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for text in (f"__import__('os').system('touch {marker}')",
                 f"open('{marker}', 'w').write('x')",
                 f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]('touch {marker}')"):
        with pytest.raises(ToolError):
            evaluate(text)
    assert not marker.exists()


@pytest.mark.parametrize("module", [calculator, arithmetic, units, number_text])
def test_the_modules_never_call_eval_exec_or_compile(module: ModuleType) -> None:
    tree = ast.parse(inspect.getsource(module))
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_runs_through_the_runner_without_any_grant(runner: ToolRunner) -> None:
    outcome = runner.call("calculator", {"expression": "(17 * 23) + sqrt(144)"})
    assert outcome.ok and outcome.decision == "allowed:pure"
    assert outcome.content == "(17 * 23) + sqrt(144) = 403"


def test_a_refused_expression_comes_back_as_an_error_through_the_runner(runner: ToolRunner) -> None:
    outcome = runner.call("calculator", {"expression": "__import__('os').system('id')"})
    assert not outcome.ok
    assert outcome.content.startswith("error: calculator: Call is not allowed")


def test_arguments_are_checked_against_the_schema(runner: ToolRunner) -> None:
    assert runner.call("calculator", {"expression": 12}).decision == "rejected"
    assert runner.call("calculator", {"expression": "1", "extra": 1}).decision == "rejected"
    assert runner.call("calculator", {}).decision == "rejected"
