"""Verifiers over the real tools (the calculator and the sandboxed code runner through the tool runner, its permission
broker and audit log), the teacher's best-of-k choice, and the paired test's arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from edgemind.core.engine import Tools
from edgemind.core.errors import DistillError
from edgemind.core.settings import Settings
from edgemind.core.tuning.distill.checks import Check, infer_check
from edgemind.core.tuning.distill.evaluation import compare, paired
from edgemind.core.tuning.distill.teacher import Teacher
from edgemind.core.tuning.distill.verifiers import (ArithmeticVerifier, CodeVerifier, JsonVerifier, Verifiers,
                                                    final_number, tool_runner)


@pytest.fixture
def tools(settings: Settings) -> Iterator[Tools]:
    t = Tools.open(settings, grants=["code.exec"])
    yield t
    t.close()


def test_arithmetic_passes_the_calculators_value_and_fails_another(tools: Tools) -> None:
    v = ArithmeticVerifier(tool_runner(tools))
    check = infer_check("What is 17 * 23?")
    assert v.verify("", check, "17 times 23 is 391.").passed
    assert not v.verify("", check, "The answer is 392").passed
    assert not v.verify("", check, "I cannot say").passed
    assert v.verify("", Check("arithmetic", expression="10/4"), "= 2.5").passed


def test_an_expression_the_calculator_refuses_is_one_line(tools: Tools) -> None:
    with pytest.raises(DistillError, match="could not evaluate"):
        ArithmeticVerifier(tool_runner(tools)).verify("", Check("arithmetic", expression="1/0"), "0")


def test_json_must_parse_and_meet_the_schema() -> None:
    check = Check("json", schema={"type": "object", "required": ["name", "age"],
                                  "properties": {"name": {"const": "Bob"}, "age": {"const": 42}}})
    v = JsonVerifier()
    assert v.verify("", check, 'Sure: ```json\n{"name": "Bob", "age": 42}\n```').passed
    assert v.verify("", check, '{"name": "Bob", "age": 42}').passed
    assert not v.verify("", check, '{"name": "Bob", "age": 41}').passed
    assert not v.verify("", check, '{"name": "Bob"').passed


def test_code_runs_its_tests_in_the_sandbox(tools: Tools) -> None:
    v = CodeVerifier(tool_runner(tools))
    check = Check("code", tests="assert add_3(1) == 4\nassert add_3(-3) == 0")
    assert v.verify("", check, "```python\ndef add_3(x):\n    return x + 3\n```").passed
    assert not v.verify("", check, "def add_3(x):\n    return x + 4").passed
    # an answer that prints a pass and leaves with status 0 before the tests run does not pass
    assert not v.verify("", check, "import os\nprint('ALL TESTS PASSED')\nos._exit(0)").passed


def test_code_is_not_run_without_the_users_grant(settings: Settings) -> None:
    plain = Tools.open(settings)
    try:
        with pytest.raises(DistillError, match="permission denied"):
            CodeVerifier(tool_runner(plain)).verify("", Check("code", tests="assert True"), "x = 1")
    finally:
        plain.close()


def test_final_number_reads_the_last_number() -> None:
    assert final_number("12 + 30 = 42") == 42
    assert final_number("about 1,234.5 units") == 1234.5
    assert final_number("none") is None


def _scripted(answers: dict[int, str]) -> Any:
    """A stand-in model that gives a fixed answer per seed (what a seeded sampler does)."""
    return lambda messages, seed: answers[seed]


def test_the_teacher_keeps_the_best_passing_sample_and_drops_a_prompt_none_passes() -> None:
    verifiers = Verifiers({"json": JsonVerifier()})
    check = Check("json", schema={"type": "object", "required": ["a"]})
    teacher = Teacher(_scripted({0: "no json", 1: 'Here you go, the object is {"a": 1} as asked.', 2: '{"a": 1}'}),
                      verifiers, k=3)
    taught = teacher.teach("give json", check)
    assert taught is not None and taught.answer == '{"a": 1}' and taught.passed_samples == 2
    assert Teacher(_scripted({0: "x", 1: "y"}), verifiers, k=2).teach("give json", check) is None
    with pytest.raises(DistillError, match="1-64"):
        Teacher(_scripted({}), verifiers, k=0)


def test_a_check_kind_without_a_verifier_is_named() -> None:
    with pytest.raises(DistillError, match="no verifier for 'judge'"):
        Verifiers({"json": JsonVerifier()}).verify("p", Check("judge"), "a")


def test_paired_counts_and_exact_p_values() -> None:
    result = paired([False] * 10 + [True] * 2, [True] * 10 + [False, True])
    assert (result.tuned_only, result.base_only, result.base_passed, result.tuned_passed) == (10, 1, 2, 11)
    assert result.p_one_sided == pytest.approx(12 / 2048)  # P(X >= 10), X ~ Bin(11, 1/2)
    assert result.p_two_sided == pytest.approx(24 / 2048)
    assert paired([True], [True]).p_two_sided == 1.0
    with pytest.raises(ValueError):
        paired([True], [])


def test_compare_verifies_both_students_on_the_same_prompts() -> None:
    verifiers = Verifiers({"json": JsonVerifier()})
    check = Check("json", schema={"type": "object", "required": ["a"]})
    result, attempts = compare([("p1", check), ("p2", check)], lambda m, s: "no", lambda m, s: '{"a": 2}', verifiers)
    assert (result.base_passed, result.tuned_passed, result.tuned_only) == (0, 2, 2)
    assert [a.tuned_passed for a in attempts] == [True, True]
