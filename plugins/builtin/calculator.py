"""Safe arithmetic: the expression is parsed into an AST and walked; nothing is ever passed to eval.

Limits keep a hostile expression from eating the machine (10**10**10, factorial of a million).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from edgemind.core.tools.registry import ToolError
from edgemind.plugins.sdk import tool

MAX_CHARS = 500
MAX_EXPONENT = 10_000
MAX_MAGNITUDE = 1e300

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "log": math.log, "log10": math.log10, "log2": math.log2, "exp": math.exp, "abs": abs,
    "round": round, "floor": math.floor, "ceil": math.ceil, "min": min, "max": max, "hypot": math.hypot,
    "degrees": math.degrees, "radians": math.radians, "gcd": math.gcd,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _check(value: Any) -> Any:
    if isinstance(value, complex):  # (-8) ** (1/3) is complex in Python; a calculator answers with real numbers
        raise ToolError("calculator: the result is not a real number")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
        raise ToolError("calculator: result too large")
    return value


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolError(f"calculator: exponent larger than {MAX_EXPONENT}")
        if isinstance(node.op, ast.Pow) and isinstance(left, int) and isinstance(right, int) and right > 0 \
                and abs(left) > 1 and right * math.log10(abs(left)) > 300:
            raise ToolError("calculator: result too large")
        try:
            return _check(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError:
            raise ToolError("calculator: division by zero") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
            and not node.keywords and len(node.args) <= 8:
        args = [_eval(a) for a in node.args]
        try:
            return _check(_FUNCTIONS[node.func.id](*args))
        except (ValueError, TypeError, OverflowError) as exc:
            raise ToolError(f"calculator: {node.func.id}: {exc}") from None
    raise ToolError(f"calculator: {type(node).__name__} is not allowed; use numbers, + - * / // % **, "
                    f"parentheses, {', '.join(sorted(_CONSTANTS))} and {', '.join(sorted(_FUNCTIONS))}")


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression, or ToolError naming what is not allowed."""
    if len(expression) > MAX_CHARS:
        raise ToolError(f"calculator: expression longer than {MAX_CHARS} characters")
    cleaned = expression.replace("^", "**").replace("×", "*").replace("÷", "/").strip()
    try:
        tree = ast.parse(cleaned, mode="eval")
    except SyntaxError:
        raise ToolError(f"calculator: cannot parse {expression[:80]!r}") from None
    try:
        value = _eval(tree)
    except OverflowError:
        raise ToolError("calculator: result too large") from None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


@tool(plugin="calculator", timeout_s=5, rate_limit_per_min=600)
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly (e.g. "(17 * 23) + sqrt(144)"); use it for any arithmetic."""
    return f"{expression} = {evaluate(expression)}"


TOOLS = [calculator]
