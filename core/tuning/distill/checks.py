"""What "a right answer" means for one prompt: an arithmetic value, a JSON shape, tests a function must pass, or
nothing checkable (the teacher judges). Derived from the prompt text alone, never from any answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("arithmetic", "json", "code", "judge")


@dataclass(frozen=True, slots=True)
class Check:
    """How answers to one prompt are verified. `kind` picks the verifier; the other fields are its material."""

    kind: str  # one of KINDS
    expression: str = ""  # arithmetic: what the calculator computes
    schema: Mapping[str, Any] = field(default_factory=dict)  # json: the JSON Schema the answer must meet
    tests: str = ""  # code: Python assert lines run after the answer's code

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.expression:
            out["expression"] = self.expression
        if self.schema:
            out["schema"] = dict(self.schema)
        if self.tests:
            out["tests"] = self.tests
        return out


JUDGE = Check("judge")

# digits, operators and brackets with at least one binary operator between two numbers: "17 * 23", "(4+5)*12-7"
_EXPRESSION = re.compile(r"[(\s]*-?\d+(?:\.\d+)?(?:\s*[-+*/^×÷]\s*[(\s]*-?\d+(?:\.\d+)?[)\s]*)+")
_ASSERT = re.compile(r"^\s*assert\s.+$", re.MULTILINE)
_JSON_WORD = re.compile(r"\bjson\b", re.IGNORECASE)
# keys named in the prompt: quoted ("name", 'age', `id`) after the word key(s)/field(s)/propert(y|ies)
_KEYS_PART = re.compile(r"\b(?:keys?|fields?|propert(?:y|ies))\b(.*)", re.IGNORECASE | re.DOTALL)
_QUOTED = re.compile(r"[\"'`]([A-Za-z_][A-Za-z0-9_]{0,63})[\"'`]")


def infer_check(prompt: str) -> Check:
    """The strongest check the prompt allows: tests it states (code), a JSON object with the keys it names, an
    arithmetic expression it contains; otherwise the judge."""
    tests = _ASSERT.findall(prompt)
    if tests:
        return Check("code", tests="\n".join(line.strip() for line in tests))
    if _JSON_WORD.search(prompt):
        keys_part = _KEYS_PART.search(prompt)
        keys = list(dict.fromkeys(_QUOTED.findall(keys_part.group(1)))) if keys_part else []
        if keys:
            return Check("json", schema={"type": "object", "required": keys,
                                         "properties": {k: {} for k in keys}})
    match = max(_EXPRESSION.finditer(prompt), key=lambda m: len(m.group()), default=None)
    if match is not None:
        expression = match.group().strip().replace("×", "*").replace("÷", "/").replace("^", "**")
        if expression.count("(") == expression.count(")"):
            return Check("arithmetic", expression=expression)
    return JUDGE
