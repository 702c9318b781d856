"""The calculator tool: one expression in, one result line out, exact where the numbers allow ("= 399.5") and
marked "≈" where they are rounded. `<number> <unit> to <unit>` converts units with the exact table in units.py.
The arithmetic itself (core/tools/arithmetic.py, which the math set-up checks share) never calls eval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from edgemind.core.tools.arithmetic import CONSTANTS, FUNCTION_NAMES, MAX_CHARS, Number, checked, compute, evaluate
from edgemind.core.tools.number_text import describe
from edgemind.core.tools.registry import ToolError
from edgemind.plugins.sdk import tool

from .units import Unit, convert, find_unit, unit

__all__ = ["MAX_CHARS", "TOOLS", "calculate", "calculator", "evaluate", "split_conversion"]


@dataclass(frozen=True, slots=True)
class Conversion:
    """`<quantity> <source> to <target>`, split."""

    quantity: str
    source: Unit
    target: Unit
    source_text: str
    target_text: str


# " to " / " in " / " into " / " as " / "->" between two parts; the last one splits ("5 in to cm": inches)
_SEPARATOR = re.compile(r"\s+(?:to|in|into|as)(?=\s)|\s*->|\s*→", re.IGNORECASE)
# a number glued to its unit ("30°C", "1kg"), but not scientific notation ("1e5")
_GLUED = re.compile(r"(?<=[\d.)])(?![eE][+-]?\d)(?=[^\W\d_]|[°º\"'µ])")


def split_conversion(expression: str) -> Conversion | None:
    """The parts of a unit conversion, or None when the expression has no `to <unit>` part (plain arithmetic).
    ToolError names a unit that is not known."""
    separators = list(_SEPARATOR.finditer(expression))
    if not separators:
        return None
    last = separators[-1]
    left, target_text = expression[:last.start()].strip(), expression[last.end():].strip()
    if not target_text or target_text[0].isdigit() or target_text.startswith(("(", "-", "+")):
        return None
    tokens = _GLUED.sub(" ", left).split()
    for i in range(1, len(tokens)):
        source_text = " ".join(tokens[i:])
        source = find_unit(source_text)
        if source is not None:
            return Conversion(" ".join(tokens[:i]), source, unit(target_text), source_text, target_text)
    numeric = [i for i, t in enumerate(tokens) if not any(c.isalpha() for c in t)]
    named = " ".join(tokens[numeric[-1] + 1:]) if numeric else left
    if not named:
        raise ToolError(f"calculator: no unit before {last.group().strip()!r}; write <expression> <unit> to <unit>")
    unit(named)  # raises, naming the unknown unit
    raise ToolError(f"calculator: cannot read {left[:80]!r} as <expression> <unit>")


def _unit_in(expression: str) -> str | None:
    """The first unit named in an expression that is not a conversion ("30°C * 9/5", "1 kg"), if any."""
    words = re.findall(r"[^\W\d_][\w/^²³]*|[°º][A-Za-z]?", _GLUED.sub(" ", expression))
    for word in words:
        if word not in FUNCTION_NAMES and word not in CONSTANTS and word.lower() != "of":
            try:
                if find_unit(word) is not None:
                    return word
            except ToolError:
                return word
    return None


def calculate(expression: str) -> str:
    """The result line the tool returns: the expression, then its value exactly or rounded after "≈"."""
    if len(expression) > MAX_CHARS:
        raise ToolError(f"calculator: expression longer than {MAX_CHARS} characters")
    if re.search(r"(?<![<>=!])=(?!=)|≈", expression):  # a result line sent back ("(372 / 4) = 93")
        raise ToolError("calculator: the expression already has a result ('=' or '≈'); the result above stands")
    conversion = split_conversion(expression)
    if conversion is None:
        try:
            return f"{expression.strip()} {describe(compute(expression))}"
        except ToolError as exc:
            named = _unit_in(expression)
            if named is None or "not allowed" not in str(exc) and "cannot parse" not in str(exc):
                raise
            raise ToolError(f"calculator: {named!r} is a unit: arithmetic takes plain numbers, and a conversion "
                            "is written <number> <unit> to <unit>") from None
    value = compute(conversion.quantity)
    exact = isinstance(value, Fraction)
    result: Number = (convert(value, conversion.source, conversion.target) if isinstance(value, Fraction)
                      else float(convert(Fraction(value), conversion.source, conversion.target)))
    text = describe(checked(result))
    if not exact:
        text = "≈" + text[1:] if text.startswith("=") else text
    return f"{conversion.quantity} {conversion.source_text} {text} {conversion.target_text}"


@tool(plugin="calculator", timeout_s=5, rate_limit_per_min=600)
def calculator(expression: str) -> str:
    """Exact arithmetic and unit conversion. The expression is either arithmetic on plain numbers (+ - * / **,
    parentheses, n% for percent, n! for factorial, sqrt, log, sin and the other math functions, pi, e) or a unit
    conversion written <number> <unit> to <unit>, with unit names or symbols and no conversion factor."""
    return calculate(expression)


TOOLS = [calculator]
