"""Whether a math answer states what the calculator returned. After a calculator call the 0.5B model sometimes
writes another number than the result it was handed (asked 17% of 2350, the calculator gave 399.5 and the answer
said "58.6"): the answer is then not shown, the model is asked again, and if it still disagrees the calculation
itself is the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .runner import ToolOutcome

_NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True, slots=True)
class CalculatedResult:
    """The last successful calculation: `line` as the calculator wrote it ("17/100 * 2350 = 399.5")."""

    line: str
    value: Decimal


def calculated_result(outcomes: Sequence[ToolOutcome], tool: str = "calculator") -> CalculatedResult | None:
    """The last ok call of `tool` whose result ends in "= <number>", or None."""
    for outcome in reversed(outcomes):
        if outcome.tool != tool or not outcome.ok:
            continue
        line = " ".join(outcome.content.split())
        _, sep, tail = line.rpartition("=")
        value = _decimal(tail) if sep else None
        if value is not None:
            return CalculatedResult(line, value)
    return None


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip().replace(",", "").replace("−", "-"))
    except InvalidOperation:
        return None


def states_result(answer: str, result: CalculatedResult) -> bool:
    """True when a number in the answer is the result, written in full or rounded to the decimal places it shows
    ("399.5", "399.50", "1,234.57" for 1234.5678; not "400" for 399.5, nor "1235" for 1234.5678)."""
    for match in _NUMBER.finditer(answer):
        number = _decimal(match.group())
        if number is None or not number.is_finite():
            continue
        exponent = number.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if number == result.value or (places and number == round(result.value, places)):
            return True
    return False
