"""Problem set-up for arithmetic: the model fills a small JSON form under a grammar (the quantities the question
gives, with units, then one expression) and the expression is checked against the question before it is calculated.

Why: a small model calls the calculator readily but sets problems up wrong ("seconds in 3 days" became `3 * 28`).
Naming the quantities first makes it read them off the question, and an expression that uses a number which is
neither in the question nor a common unit factor is sent back once with that number named. Nothing here runs a tool.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction

from .unit_facts import conversion_factors, factor_numbers, unit_facts

_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_EXPR_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")  # in an expression a comma separates arguments
_FACTORIAL = re.compile(r"(\d+)\s*(?:!|factorial)")
# Factors a correct set-up may bring in without the question stating them: time, calendar, metric and imperial
# units, percentages, temperature (9/5, 32, 273.15), doubling and halving.
KNOWN_FACTORS = frozenset(Fraction(x) for x in (
    "0.5", "1", "2", "3", "4", "5", "7", "9", "10", "12", "16", "24", "28", "30", "31", "32", "36", "52", "60", "100",
    "360", "365", "366", "1000", "1024", "3600", "86400", "604800", "1000000", "1.8", "273.15", "2.54", "0.0254",
    "0.3048", "0.9144", "1.609344", "1609.344", "0.45359237", "453.59237", "2.2046226218", "28.349523125", "16",
    "3.785411784", "0.946352946", "0.621371", "39.37"))

SETUP_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "quantities": {"type": "array", "maxItems": 6, "items": {
            "type": "object", "properties": {"value": {"type": "number"}, "unit": {"type": "string", "maxLength": 24}},
            "required": ["value", "unit"], "additionalProperties": False}},
        "asked": {"type": "string", "maxLength": 80},
        "expression": {"type": "string", "maxLength": 160},
    },
    "required": ["quantities", "asked", "expression"], "additionalProperties": False,
}

SETUP_INSTRUCTION = (
    "# Set-up\n\nBefore anything is calculated, set the problem up as JSON. In \"quantities\" list each number the "
    "user's question gives, with its unit. In \"asked\" say what the question asks for, with its unit. In "
    "\"expression\" write one arithmetic expression (numbers, + - * / ** "
    "and parentheses) that computes what the question asks from those quantities, with any unit conversion written "
    "out as a factor (60 minutes in an hour, 24 hours in a day, 7 days in a week, 1000 grams in a kilogram, "
    "a percentage divided by 100). Write only the expression, never its result."
)


def setup_instruction(question: str) -> str:
    """The set-up instruction, with the exact conversion factors between the units the question names."""
    facts = unit_facts(question)
    return SETUP_INSTRUCTION + ("\n\nUnit facts for this question:\n" + "\n".join(f"- {f}" for f in facts)
                                if facts else "")


@dataclass(frozen=True, slots=True)
class SetUp:
    quantities: tuple[tuple[str, str], ...]  # (value, unit) as the model wrote them
    expression: str


def parse_setup(text: str) -> SetUp | None:
    """The filled form, or None when the output is not one (cut off, or an empty expression). Anything after an `=`
    is dropped: a model that writes the result too (`(372 / 4) = 93`) still gives a usable expression."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("expression"), str):
        return None
    expression = data["expression"].split("=")[0].strip()
    if not expression or not _EXPR_NUMBER.search(expression):
        return None
    quantities = tuple((str(q.get("value")), str(q.get("unit"))) for q in data.get("quantities") or []
                       if isinstance(q, dict))
    return SetUp(quantities, expression)


def _numbers(text: str) -> list[Fraction]:
    return [Fraction(n.replace(",", "")) for n in _NUMBER.findall(text)]


def allowed_numbers(question: str) -> set[Fraction]:
    """The numbers an expression for `question` may use: the question's own, the forms a percentage takes in a
    calculation (p/100, 1 ± p/100, 100 ± p), the factors of a factorial it names, and the known unit factors."""
    allowed = set(KNOWN_FACTORS) | factor_numbers(question)
    for n in _numbers(question):
        allowed |= {n, n / 100, 1 + n / 100, 1 - n / 100, 100 - n, 100 + n}
    for match in _FACTORIAL.finditer(question):
        allowed |= {Fraction(k) for k in range(1, min(int(match.group(1)), 1000) + 1)}
    return allowed


def foreign_numbers(expression: str, question: str) -> list[str]:
    """The numbers in `expression` that come neither from the question nor from a known factor (empty: it passes)."""
    allowed = allowed_numbers(question)
    return [raw for raw in _EXPR_NUMBER.findall(expression) if Fraction(raw) not in allowed]


def unused_numbers(expression: str, question: str) -> list[str]:
    """The question's numbers the expression leaves out (a set-up that drops a given quantity is wrong: "12 minutes in
    milliseconds" written as `60 * 60`). A factorial's argument counts as used by any of its factors."""
    used = {Fraction(raw) for raw in _EXPR_NUMBER.findall(expression)}
    factorials = {Fraction(m.group(1)) for m in _FACTORIAL.finditer(question)}
    missing = []
    for raw in _NUMBER.findall(question):
        n = Fraction(raw.replace(",", ""))
        if n in used or n in factorials or any(n / 100 == u or 1 + n / 100 == u or 1 - n / 100 == u or 100 - n == u
                                               for u in used):
            continue
        missing.append(raw.replace(",", ""))
    return missing


def check_setup(expression: str, question: str) -> str | None:
    """What is wrong with the expression as a set-up of the question, said to the model; None when nothing is."""
    foreign = foreign_numbers(expression, question)
    if foreign:
        return retry_note(foreign)
    pairs = conversion_factors(question)
    if pairs and all(Fraction(raw) in set(_numbers(question)) for raw in _EXPR_NUMBER.findall(expression)):
        facts = "; ".join(unit_facts(question))
        return (f"My question mixes units ({facts}), but your expression converts nothing. Set the problem up "
                "again, converting with those factors.")
    unused = unused_numbers(expression, question)
    if unused:
        return (f"Your expression leaves out {', '.join(unused)}, which my question gives. Set the problem up again "
                "so that the expression uses every quantity in the question.")
    return None


def has_numbers(question: str) -> bool:
    """Only a question that states numbers is set up (a math question without any is left to the usual loop)."""
    return _NUMBER.search(question) is not None


def retry_note(foreign: list[str]) -> str:
    """What the model is told when its expression used numbers from nowhere."""
    return (f"Your expression uses {', '.join(foreign)}, which the question does not give and which is not a unit "
            "factor. Set the problem up again, using only the numbers in my question and unit conversion factors.")
