"""Exact arithmetic on one expression: parsed into an AST and walked; nothing is ever passed to eval.

Numbers are fractions.Fraction, so + - * / and whole powers are exact (17/100 * 2350 is 399.5, not
399.50000000000006); only irrational functions (sqrt of a non-square, sin, log...) and the constants pi, e and tau
give floats. Limits keep a hostile expression from eating the machine (10**10**10, (1/3)**100000, factorial of a
million): each is refused before it is computed.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from fractions import Fraction

from .number_text import describe
from .registry import ToolError

Number = Fraction | float  # Fraction: exact; float: after an irrational function or constant

MAX_CHARS = 500
MAX_EXPONENT = 10_000
MAX_MAGNITUDE = 10**300
# Numerator and denominator of an exact value stay under this many bits (about 1200 digits): every operation on
# two such values is then microseconds, and a power that would exceed it is done in floating point instead.
MAX_BITS = 4000
MAX_ROOT_DEGREE = 1000  # x ** (p/q) is tried exactly (a whole root) only for q up to this
MAX_ROUND_DIGITS = 100

_ARITHMETIC: dict[type, Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_FLOAT_ARITHMETIC: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_FLOAT_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "log": math.log, "log10": math.log10, "log2": math.log2, "exp": math.exp, "degrees": math.degrees,
    "radians": math.radians,
}
CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _bits(value: Fraction) -> int:
    return max(value.numerator.bit_length(), value.denominator.bit_length())


def checked(value: object) -> Number:
    if isinstance(value, complex):  # (-8) ** (1/3) is complex in Python; a calculator answers with real numbers
        raise ToolError("calculator: the result is not a real number")
    if isinstance(value, int):
        value = Fraction(value)
    if isinstance(value, Fraction):
        if abs(value) > MAX_MAGNITUDE:
            raise ToolError("calculator: result too large")
        if _bits(value) > MAX_BITS:
            raise ToolError("calculator: result too precise to compute exactly (its fraction has over "
                            f"{MAX_BITS} bits)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise ToolError("calculator: result too large")
        return value
    raise ToolError(f"calculator: unexpected result type {type(value).__name__}")


def _whole(value: Number, what: str) -> int:
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ToolError(f"calculator: {what} needs a whole number, not {describe(value).lstrip('=≈ ')}")


def _integer_root(n: int, degree: int) -> int | None:
    """The whole `degree`-th root of n >= 0 when there is one (Newton's method on integers), else None."""
    if n < 2:
        return n
    x = 1 << -(-n.bit_length() // degree)  # above the root
    while True:
        y = ((degree - 1) * x + n // x ** (degree - 1)) // degree
        if y >= x:
            break
        x = y
    return x if x**degree == n else None


def _exact_root(value: Fraction, degree: int) -> Fraction | None:
    """The exact `degree`-th root of a non-negative fraction when both its parts are perfect powers."""
    top, bottom = _integer_root(value.numerator, degree), _integer_root(value.denominator, degree)
    return Fraction(top, bottom) if top is not None and bottom is not None else None


def _float(value: Number) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ToolError("calculator: result too large") from None


def _whole_power(base: Fraction, exponent: int) -> Number:
    """Exact when the result's fraction stays small enough; in floating point otherwise, unless that underflows."""
    if base == 0 and exponent < 0:
        raise ToolError("calculator: division by zero")
    if _bits(base) * abs(exponent) <= MAX_BITS or abs(base) in (0, 1):
        return base**exponent
    try:
        result = _float(base) ** exponent
    except OverflowError:
        raise ToolError("calculator: result too large") from None
    if result == 0 or not math.isfinite(result):
        raise ToolError("calculator: result too small to show (it rounds to zero)" if result == 0
                        else "calculator: result too large")
    return result


def _power(base: Number, exponent: Number) -> Number:
    if not -MAX_EXPONENT <= exponent <= MAX_EXPONENT:
        raise ToolError(f"calculator: exponent larger than {MAX_EXPONENT}")
    if isinstance(base, Fraction) and isinstance(exponent, Fraction):
        if exponent.denominator == 1:
            return _whole_power(base, exponent.numerator)
        if base < 0:
            raise ToolError("calculator: the result is not a real number")
        if exponent.denominator <= MAX_ROOT_DEGREE:
            root = _exact_root(base, exponent.denominator)
            if root is not None:
                return _whole_power(root, exponent.numerator)
    if _float(base) < 0 and not float(exponent).is_integer():
        raise ToolError("calculator: the result is not a real number")
    try:
        return _float(base) ** _float(exponent)
    except OverflowError:
        raise ToolError("calculator: result too large") from None
    except ZeroDivisionError:
        raise ToolError("calculator: division by zero") from None


def _root(value: Number, degree: int, name: str) -> Number:
    if isinstance(value, Fraction):
        if value < 0 and degree % 2 == 1:
            root = _exact_root(-value, degree)
            return -root if root is not None else -(_float(-value) ** (1 / degree))
        if value >= 0:
            root = _exact_root(value, degree)
            if root is not None:
                return root
    if value < 0 and degree % 2 == 0:
        raise ToolError(f"calculator: {name}: math domain error")
    return math.sqrt(value) if degree == 2 else math.copysign(abs(_float(value)) ** (1 / degree), value)


def _factorial(value: Number, name: str = "factorial") -> int:
    n = _whole(value, name)
    if n < 0:
        raise ToolError(f"calculator: {name} needs a whole number of 0 or more")
    if math.lgamma(n + 1) / math.log(10) > 300:  # checked before computing: factorial(10**9) would take minutes
        raise ToolError("calculator: result too large")
    return math.factorial(n)


def _choose(n_value: Number, k_value: Number, name: str) -> int:
    n, k = _whole(n_value, name), _whole(k_value, name)
    if n < 0 or k < 0:
        raise ToolError(f"calculator: {name} needs whole numbers of 0 or more")
    if k > n:
        return 0
    digits = (math.lgamma(n + 1) - math.lgamma(n - k + 1)
              - (math.lgamma(k + 1) if name == "comb" else 0)) / math.log(10)
    if digits > 300:
        raise ToolError("calculator: result too large")
    return math.comb(n, k) if name == "comb" else math.perm(n, k)


def _hypot(*values: Number) -> Number:
    return _root(sum((v * v for v in values), Fraction(0)), 2, "hypot")


def _round(value: Number, digits: Number | None = None) -> Number:
    if digits is None:
        return Fraction(round(value))
    places = _whole(digits, "round")
    if abs(places) > MAX_ROUND_DIGITS:
        raise ToolError(f"calculator: round: at most {MAX_ROUND_DIGITS} digits")
    return round(Fraction(value), places) if isinstance(value, Fraction) else round(value, places)


def _gcd(*values: Number) -> int:
    return math.gcd(*(_whole(v, "gcd") for v in values))


def _lcm(*values: Number) -> int:
    return math.lcm(*(_whole(v, "lcm") for v in values))


_EXACT_FUNCTIONS: dict[str, Callable[..., Number | int]] = {
    "sqrt": lambda x: _root(x, 2, "sqrt"), "cbrt": lambda x: _root(x, 3, "cbrt"), "abs": abs, "round": _round,
    "floor": lambda x: Fraction(math.floor(x)), "ceil": lambda x: Fraction(math.ceil(x)), "min": min, "max": max,
    "hypot": _hypot, "gcd": _gcd, "lcm": _lcm, "factorial": _factorial,
    "comb": lambda n, k: _choose(n, k, "comb"), "perm": lambda n, k: _choose(n, k, "perm"),
}
FUNCTION_NAMES = sorted({*_FLOAT_FUNCTIONS, *_EXACT_FUNCTIONS})


def _literal(node: ast.Constant, source: str) -> Fraction:
    """A number exactly as written: 0.17 is 17/100, not the float nearest to it."""
    if isinstance(node.value, int):
        return Fraction(node.value)
    text = ast.get_source_segment(source, node) or repr(node.value)
    try:
        return Fraction(text.replace("_", ""))
    except (ValueError, ZeroDivisionError):
        raise ToolError(f"calculator: cannot read the number {text[:40]!r}") from None


def _eval(node: ast.AST, source: str) -> Number:
    if isinstance(node, ast.Expression):
        return _eval(node.body, source)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return checked(_literal(node, source))
    if isinstance(node, ast.BinOp) and (type(node.op) in _ARITHMETIC or isinstance(node.op, ast.Pow)):
        left, right = _eval(node.left, source), _eval(node.right, source)
        try:
            if isinstance(node.op, ast.Pow):
                return checked(_power(left, right))
            if isinstance(left, Fraction) and isinstance(right, Fraction):
                return checked(_ARITHMETIC[type(node.op)](left, right))
            return checked(_FLOAT_ARITHMETIC[type(node.op)](_float(left), _float(right)))
        except ZeroDivisionError:
            raise ToolError("calculator: division by zero") from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        value = _eval(node.operand, source)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        return CONSTANTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTION_NAMES \
            and not node.keywords and len(node.args) <= 8:
        name = node.func.id
        args = [_eval(a, source) for a in node.args]
        try:
            if name in _EXACT_FUNCTIONS:
                return checked(_EXACT_FUNCTIONS[name](*args))
            return checked(_FLOAT_FUNCTIONS[name](*(_float(a) for a in args)))
        except (ValueError, TypeError, OverflowError, ZeroDivisionError) as exc:
            raise ToolError(f"calculator: {name}: {exc}") from None
    raise ToolError(f"calculator: {type(node).__name__} is not allowed; use numbers, + - * / // % **, n!, "
                    f"parentheses, {', '.join(sorted(CONSTANTS))} and {', '.join(FUNCTION_NAMES)}")


def _operand_start(text: str, end: int) -> int:
    """Where the operand that ends just before `end` starts: a number, a name, or a bracketed group with the
    function name before it."""
    i = end
    if i > 0 and text[i - 1] == ")":
        depth = 0
        while i > 0:
            i -= 1
            depth += {")": 1, "(": -1}.get(text[i], 0)
            if depth == 0:
                break
        if depth != 0:
            raise ToolError("calculator: unbalanced parentheses before '!'")
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "._"):
        i -= 1
    return i


def _percent_operands(text: str) -> str:
    """Bracket the number before each percentage sign, so "17%" can become "(17/100)"."""
    out, last = [], 0
    for m in _PERCENT.finditer(text):
        end = len(text[:m.start()].rstrip())
        start = _operand_start(text, end)
        if start == end:
            raise ToolError("calculator: '%' needs a number before it")
        out.append(f"{text[last:start]}({text[start:end]}")
        last = m.start()
    return "".join(out) + text[last:]


def _postfix_factorials(text: str) -> str:
    """`15!/13!` becomes `factorial(15)/factorial(13)`: the AST knows no postfix operator."""
    while (bang := re.search(r"!(?!=)", text)) is not None:
        at = bang.start()
        if text[at + 1:at + 2] == "!":
            raise ToolError("calculator: double factorial (n!!) is not supported; write factorial(n)")
        end = len(text[:at].rstrip())
        start = _operand_start(text, end)
        if start == end:
            raise ToolError("calculator: '!' needs a number before it")
        text = f"{text[:start]}factorial({text[start:end]}){text[at + 1:]}"
    return text


# a currency sign on an amount ("$215 * 0.9", "50€"): money is a plain number to the arithmetic
_CURRENCY = re.compile(r"[$€£¥](?=\s*[\d.(])|(?<=[\d.])\s*[€£¥$](?![\w$€£¥])")
# n% where no operand follows the % is a percentage ("17% of 2350", "17% * 2350", "2350 * 17%"); "7 % 3" stays modulo
_PERCENT = re.compile(r"%(?=\s*(?:$|[-+*/)^,]|of\b))", re.IGNORECASE)
_OF = re.compile(r"(?<=/100\))\s*of\b", re.IGNORECASE)


def compute(expression: str) -> Number:
    """The value of an arithmetic expression (no units)."""
    cleaned = (expression.replace("^", "**").replace("×", "*").replace("÷", "/").replace("−", "-")
               .replace("\u00b7", "*").strip())
    cleaned = _CURRENCY.sub("", cleaned)
    cleaned = _OF.sub(" *", _PERCENT.sub("/100)", _percent_operands(cleaned)))
    cleaned = _postfix_factorials(cleaned)
    try:
        tree = ast.parse(cleaned, mode="eval")
    except (SyntaxError, ValueError):
        raise ToolError(f"calculator: cannot parse {expression[:80]!r}") from None
    try:
        return _eval(tree, cleaned)
    except RecursionError:
        raise ToolError("calculator: expression nested too deeply") from None
    except OverflowError:
        raise ToolError("calculator: result too large") from None


def evaluate(expression: str) -> Number:
    """The value of an arithmetic expression, or ToolError naming what is not allowed. Fraction when exact."""
    if len(expression) > MAX_CHARS:
        raise ToolError(f"calculator: expression longer than {MAX_CHARS} characters")
    return compute(expression)
