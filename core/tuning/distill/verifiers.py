"""Verifiers: each takes a prompt's Check and one candidate answer and says whether it is right, with a score to
rank candidates. One small class per kind of check; none trusts the answer (it is model output).

Core may not import plugins, so the calculator and the sandboxed code runner are reached as tools (by name, through
whatever runs tools: the engine's permission broker and audit log in the product), passed in as `RunTool`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import jsonschema

from ...errors import DistillError
from .checks import Check

# (tool name, arguments) -> (ok, content): a tool call through the tool runner
RunTool = Callable[[str, dict[str, Any]], tuple[bool, str]]
# (messages as (role, content) pairs, seed) -> the model's reply text, sampled
Generate = Callable[[list[tuple[str, str]], int], str]


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    score: float  # higher is better; passed answers always outrank failed ones
    reason: str


class Verifier(Protocol):
    kind: str

    def verify(self, prompt: str, check: Check, answer: str) -> Verdict: ...


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_EXACT = re.compile(r"=\s*(-?\d+(?:\.\d+)?(?:/\d+)?)(?:\s|$)")


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def final_number(answer: str) -> Fraction | None:
    """The number an answer ends on ("17 * 23 = 391." -> 391): small models state the result last."""
    found = _NUMBER.findall(answer)
    return _number(found[-1]) if found else None


class ArithmeticVerifier:
    """Right when the answer's final number equals the calculator's exact value (to 1e-6 relative)."""

    kind = "arithmetic"

    def __init__(self, run_tool: RunTool) -> None:
        self._run_tool = run_tool
        self._values: dict[str, Fraction] = {}

    def value(self, expression: str) -> Fraction:
        if expression not in self._values:
            ok, content = self._run_tool("calculator", {"expression": expression})
            exact = _EXACT.search(content) if ok else None
            value = _number(exact.group(1)) if exact else None
            if value is None:
                raise DistillError(f"the calculator could not evaluate {expression[:80]!r}: {content[:120]}")
            self._values[expression] = value
        return self._values[expression]

    def verify(self, prompt: str, check: Check, answer: str) -> Verdict:
        expected = self.value(check.expression)
        got = final_number(answer)
        if got is None:
            return Verdict(False, 0.0, "no number in the answer")
        if abs(got - expected) <= abs(expected) * Fraction(1, 10**6):
            # among right answers the shorter one teaches the small student less noise
            return Verdict(True, 1.0 + 1.0 / (1 + len(answer)), f"= {expected}")
        return Verdict(False, 0.0, f"ends on {got}, expected {expected}")


_FENCE = re.compile(r"```[a-zA-Z]*\n(.*?)```", re.DOTALL)


def json_text(answer: str) -> str:
    """The JSON an answer holds: a fenced block, else from the first { to the last }."""
    fenced = _FENCE.search(answer)
    if fenced:
        return fenced.group(1).strip()
    start, end = answer.find("{"), answer.rfind("}")
    return answer[start:end + 1] if 0 <= start < end else answer.strip()


class JsonVerifier:
    """Right when the answer's JSON parses and meets the schema."""

    kind = "json"

    def verify(self, prompt: str, check: Check, answer: str) -> Verdict:
        try:
            value = json.loads(json_text(answer))
        except json.JSONDecodeError as exc:
            return Verdict(False, 0.0, f"not JSON ({exc.msg})")
        try:
            jsonschema.validate(value, dict(check.schema))
        except jsonschema.ValidationError as exc:
            return Verdict(False, 0.5, f"JSON but {exc.message[:120]}")
        except jsonschema.SchemaError as exc:
            raise DistillError(f"the JSON check's schema is invalid: {exc.message[:120]}") from None
        return Verdict(True, 1.0 + 1.0 / (1 + len(answer)), "meets the schema")


def code_text(answer: str) -> str:
    """The Python an answer holds: its fenced blocks joined, else the whole answer."""
    blocks = _FENCE.findall(answer)
    return "\n".join(blocks) if blocks else answer


class CodeVerifier:
    """Right when the answer's code, followed by the prompt's asserts, runs to the end in the sandboxed code runner.

    The end is marked by a random token printed after the last assert, so an answer cannot fake a pass by printing
    what a pass looks like or exiting early with status 0."""

    kind = "code"

    def __init__(self, run_tool: RunTool, sleep: Callable[[float], None] = time.sleep, retries: int = 20) -> None:
        self._run_tool = run_tool
        self._sleep = sleep
        self._retries = retries

    def verify(self, prompt: str, check: Check, answer: str) -> Verdict:
        marker = secrets.token_hex(16)
        program = f"{code_text(answer)}\n\n{check.tests}\nprint({marker!r})\n"
        for _ in range(self._retries):
            ok, content = self._run_tool("python_run", {"code": program})
            if "rate limit" not in content[:200]:  # the runner allows so many runs a minute: wait for a slot
                break
            self._sleep(3.0)
        if not ok:
            raise DistillError(f"the code runner could not run the tests: {content[:160]}")
        if marker in content and content.startswith("exit code: 0"):
            return Verdict(True, 1.0 + 1.0 / (1 + len(answer)), "tests pass")
        last = [line for line in content.splitlines() if line.strip()][-1:] or ["no output"]
        return Verdict(False, 0.0, f"tests fail: {last[0][:120]}")


_SCORE = re.compile(r"\b(10|[0-9])\b")
JUDGE_PROMPT = ("Rate the answer to the question below for correctness and helpfulness on a scale of 0 to 10. "
                "Reply with the number only.\n\nQuestion:\n{prompt}\n\nAnswer:\n{answer}")


class JudgeVerifier:
    """The teacher grades the answer 0-10; it passes at `threshold` or above. The answer is quoted as data inside
    the grading prompt; what it says can change its grade but grants nothing."""

    kind = "judge"

    def __init__(self, generate: Generate, threshold: int = 7, seed: int = 0) -> None:
        self._generate = generate
        self._threshold = threshold
        self._seed = seed

    def verify(self, prompt: str, check: Check, answer: str) -> Verdict:
        reply = self._generate([("user", JUDGE_PROMPT.format(prompt=prompt[:4000], answer=answer[:4000]))],
                               self._seed)
        found = _SCORE.search(reply)
        if found is None:
            return Verdict(False, 0.0, "the judge gave no grade")
        grade = int(found.group(1))
        return Verdict(grade >= self._threshold, grade / 10, f"judged {grade}/10")


class Verifiers:
    """The verifier for each kind of check."""

    def __init__(self, verifiers: Mapping[str, Verifier]) -> None:
        self._by_kind = dict(verifiers)

    @classmethod
    def standard(cls, run_tool: RunTool, judge: Generate | None) -> Verifiers:
        found: dict[str, Verifier] = {"arithmetic": ArithmeticVerifier(run_tool), "json": JsonVerifier(),
                                      "code": CodeVerifier(run_tool)}
        if judge is not None:
            found["judge"] = JudgeVerifier(judge)
        return cls(found)

    def kinds(self) -> tuple[str, ...]:
        return tuple(self._by_kind)

    def verify(self, prompt: str, check: Check, answer: str) -> Verdict:
        verifier = self._by_kind.get(check.kind)
        if verifier is None:
            raise DistillError(f"no verifier for {check.kind!r} checks (have: {', '.join(self._by_kind)})")
        return verifier.verify(prompt, check, answer)


class _ToolsLike(Protocol):
    def run(self, name: str, arguments: Any, *, dry_run: bool = False,
            raise_if_denied: bool = False) -> Any: ...


def tool_runner(tools: _ToolsLike) -> RunTool:
    """`RunTool` over the engine's Tools service: every call checked, granted and audited as the tool loop's are. A
    denied call (no code.exec grant for the code runner) is a DistillError naming it, not a failed answer."""
    def run(name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        outcome = tools.run(name, arguments)
        if str(outcome.decision).startswith("denied"):
            scopes = " ".join(outcome.scopes)
            raise DistillError(f"{name}: permission denied; grant it with `edgemind tools grant {name} {scopes}`")
        return bool(outcome.ok), str(outcome.content)

    return run
