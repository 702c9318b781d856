"""Checks for conditions that cannot mean what they say: a range test joined with `or` (true for every value) or an
outside test joined with `and` (never true), a None guard that dereferences what it just found None, a predicate whose
name says "short" while it tests "longer than", an `if` ladder whose later rung can never be reached, a function named
"withdraw" that adds, a box test or an interval overlap joined with `or`.

Each check needs evidence from two places that disagree (two comparisons on the same value, a name and its test, two
rungs of one ladder), never a pattern alone: `x < lo or x > hi` (outside), `is_too_long` with `>` and an ascending
ladder of `<` rungs are not reported. Read-only AST walks: the reviewed code is never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .review_findings import AST_SOURCE, Finding
from .review_logic import _functions, _own_nodes, _words

_GREATER = (ast.Gt, ast.GtE)
_LESS = (ast.Lt, ast.LtE)
_FLIP = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}
_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _bounds(node: ast.AST) -> list[tuple[str, str, str]]:
    """(subject, "above"|"below", bound) for each ordering comparison in `node`, read from the subject's side:
    `x > lo` and `lo < x` both give (x, above, lo); a chain `lo <= x <= hi` gives (x, above, lo), (x, below, hi).
    Constants are bounds, never subjects."""
    if not isinstance(node, ast.Compare):
        return []
    out = []
    operands = [node.left, *node.comparators]
    for i, op in enumerate(node.ops):
        if not isinstance(op, (*_GREATER, *_LESS)):
            return []
        left, right = operands[i], operands[i + 1]
        above = isinstance(op, _GREATER)
        if not isinstance(left, ast.Constant):
            out.append((ast.unparse(left), "above" if above else "below", ast.unparse(right)))
        if not isinstance(right, ast.Constant):
            out.append((ast.unparse(right), "below" if above else "above", ast.unparse(left)))
    return out


def _is_number(text: str) -> bool:
    try:
        return isinstance(ast.literal_eval(text), (int, float))
    except (ValueError, SyntaxError):
        return False


_LOW_WORDS = frozenset({"min", "minimum", "lo", "low", "lower", "start", "first", "floor", "begin", "least", "zero"})
_HIGH_WORDS = frozenset({"max", "maximum", "hi", "high", "upper", "end", "last", "cap", "limit", "ceiling", "len",
                         "length", "size", "count", "stop"})


def _rank(bound: str) -> float | str | None:
    """A number for a numeric bound, "low"/"high" for a name that says which end it is, else None (unknown)."""
    if _is_number(bound):
        return float(ast.literal_eval(bound))
    words = _words(bound)
    low, high = bool(words & _LOW_WORDS), bool(words & _HIGH_WORDS)
    return "low" if low and not high else "high" if high and not low else None


def _below(lower: str, upper: str) -> bool | None:
    """Whether bound `lower` is known to lie below `upper` (True), above it (False), or unknown (None): two numbers,
    a low-named and a high-named bound, or zero/a negative number against a high-named one."""
    a, b = _rank(lower), _rank(upper)
    if isinstance(a, float) and isinstance(b, float):
        return a < b if a != b else None
    if {a, b} == {"low", "high"}:
        return a == "low"
    if isinstance(a, float) and b == "high" and a <= 0:
        return True
    if a == "high" and isinstance(b, float) and b <= 0:
        return False
    return None


def _range_joins(tree: ast.AST) -> Iterator[Finding]:
    """`x > 0 or x <= MAX` is true for every x: a range test needs `and`; `x > hi and x < lo` is never true: an
    outside test needs `or`. Reported only when the two bounds' order is known (numbers, or names that say low and
    high), so `x < lo or x > hi` (outside, right) is not."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.BoolOp):
            continue
        # a chained `lo <= x <= hi` is a whole range of its own: `a <= x <= b or c <= x <= d` is a union, right
        bounds = [_bounds(v) if isinstance(v, ast.Compare) and len(v.ops) == 1 else [] for v in node.values]
        found = None
        for i, first in enumerate(bounds):
            for second in bounds[i + 1:]:
                for subject, side, bound in first:
                    for subject2, side2, bound2 in second:
                        if subject != subject2 or side == side2 or bound == bound2 or found:
                            continue
                        lower, upper = (bound, bound2) if side == "above" else (bound2, bound)
                        order = _below(lower, upper)
                        if (isinstance(node.op, ast.Or) and order is True) or (
                                isinstance(node.op, ast.And) and order is False):
                            found = (subject, lower, upper)
        if found is None:
            continue
        subject, lower, upper = found
        text = ast.unparse(node)
        if isinstance(node.op, ast.Or):
            yield Finding(node.lineno, "error", f"`{text}` is true for every `{subject}` (any value is above "
                          f"{lower} or below {upper}): a range test joined with `or`.",
                          f"join the tests with `and`: {lower} < {subject} < {upper}", AST_SOURCE)
        else:
            yield Finding(node.lineno, "error", f"`{text}` is never true: no `{subject}` is both above {lower} and "
                          f"below {upper}, which lies under it; an outside test needs `or`.",
                          "join the tests with `or`", AST_SOURCE)


def _none_test(node: ast.AST) -> tuple[str, bool] | None:
    """(name, True) for `x is None`, (name, False) for `x is not None`."""
    if (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Is, ast.IsNot))
            and isinstance(node.comparators[0], ast.Constant) and node.comparators[0].value is None):
        return ast.unparse(node.left), isinstance(node.ops[0], ast.Is)
    return None


def _dereferences(node: ast.AST, name: str) -> bool:
    """Whether node reads `name.attr`, `name[...]` or calls `name(...)`."""
    for inner in ast.walk(node):
        target = inner.value if isinstance(inner, (ast.Attribute, ast.Subscript)) else (
            inner.func if isinstance(inner, ast.Call) else None)
        if target is not None and ast.unparse(target) == name:
            return True
    return False


def _none_guards(tree: ast.AST) -> Iterator[Finding]:
    """`x is None and x.attr` reads an attribute of None (AttributeError); `x is not None or x.attr` does the same
    whenever x is None: the guard's operator is the wrong one."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.BoolOp):
            continue
        for i, value in enumerate(node.values[:-1]):
            test = _none_test(value)
            if test is None or test[1] != isinstance(node.op, ast.And):
                continue
            name = test[0]
            later = next((v for v in node.values[i + 1:] if _dereferences(v, name)), None)
            if later is not None:
                right = "is not None and" if isinstance(node.op, ast.And) else "is None or"
                yield Finding(node.lineno, "error", f"`{ast.unparse(node)}` reaches `{ast.unparse(later)}` only when "
                              f"`{name}` is None (AttributeError/TypeError): the guard is inverted.",
                              f"use `{name} {right} ...`", AST_SOURCE)
                break


# ---- a predicate whose name says the opposite of its test ---------------------------------------------------------
_SMALL = frozenset({"short", "small", "low", "under", "below", "few", "less", "little", "tiny", "shorter", "smaller",
                    "lower", "fewer", "underflow", "insufficient", "dark", "dim"})
_BIG = frozenset({"long", "large", "big", "high", "over", "above", "many", "more", "exceeds", "exceeded", "longer",
                  "larger", "bigger", "higher", "overflow", "excessive", "exceed", "bright"})
_EMPTY = frozenset({"empty", "blank"})
_NEGATIONS = frozenset({"not", "non", "no"})
_PREDICATE_PREFIXES = frozenset({"is", "has", "are", "too", "was", "should"})


def _predicate_words(name: str) -> set[str] | None:
    """The name's words when it reads as a yes/no question (`is_too_short`, `has_few_items`), else None; a negated
    name (`is_not_empty`, `non_empty`) is no evidence either way."""
    words = _words(name)
    ordered = [w.lower() for w in name.replace("__", "_").split("_") if w]
    if not ordered or ordered[0] not in _PREDICATE_PREFIXES or words & _NEGATIONS:
        return None
    return words


def _measures(node: ast.AST) -> bool:
    """A size being compared: `len(x)`, or a name/attribute (not a constant)."""
    return not isinstance(node, ast.Constant)


def _emptiness(node: ast.AST) -> str | None:
    """"empty" for `len(x) == 0` / `not x`, "nonempty" for `len(x) > 0` / `len(x) != 0` / `len(x) >= 1`."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return "empty"
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    left, op, right = node.left, node.ops[0], node.comparators[0]
    if not (isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "len"
            and isinstance(right, ast.Constant) and isinstance(right.value, int)):
        return None
    value = right.value
    if (isinstance(op, ast.Eq) and value == 0) or (isinstance(op, ast.Lt) and value == 1) or (
            isinstance(op, ast.LtE) and value == 0):
        return "empty"
    if (isinstance(op, ast.NotEq) and value == 0) or (isinstance(op, ast.Gt) and value == 0) or (
            isinstance(op, ast.GtE) and value == 1):
        return "nonempty"
    return None


def _returned_test(func: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    """The expression of a function whose body is one `return <expr>` (after an optional docstring)."""
    body = [s for s in func.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        return body[0].value
    return None


def _inverted_predicates(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        words = _predicate_words(func.name)
        test = _returned_test(func)
        if words is None or test is None:
            continue
        if words & _EMPTY and _emptiness(test) == "nonempty":
            yield Finding(test.lineno, "error", f"`{func.name}` asks whether it is empty, but `{ast.unparse(test)}` "
                          "is true when it is not: the condition is inverted.",
                          "test for emptiness: len(...) == 0 (or `not ...`)", AST_SOURCE)
            continue
        small, big = bool(words & _SMALL), bool(words & _BIG)
        if small == big or not (isinstance(test, ast.Compare) and len(test.ops) == 1):
            continue
        op = type(test.ops[0])
        if op not in _SYMBOL or not _measures(test.left):
            continue
        says_small = op in (ast.Lt, ast.LtE)
        if says_small == small:
            continue
        wanted = _SYMBOL[_FLIP[op]] if op in (ast.Lt, ast.Gt) else {ast.LtE: ">", ast.GtE: "<"}[op]
        yield Finding(test.lineno, "error", f"`{func.name}` says {'small' if small else 'large'}, but "
                      f"`{ast.unparse(test)}` is true when `{ast.unparse(test.left)}` is "
                      f"{'larger' if says_small is False else 'smaller'}: the comparison is inverted.",
                      f"compare the other way: {ast.unparse(test.left)} {wanted} "
                      f"{ast.unparse(test.comparators[0])}", AST_SOURCE)


# ---- an if ladder whose later rung is shadowed by an earlier one --------------------------------------------------
def _threshold(test: ast.AST) -> tuple[str, str, float] | None:
    """(subject, "above"|"below", constant) for `x >= 60` / `x < 10` / `60 <= x`."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _SYMBOL):
        return None
    left, right, op = test.left, test.comparators[0], type(test.ops[0])
    if isinstance(left, ast.Constant):
        left, right, op = right, left, _FLIP[op]
    if not (isinstance(right, ast.Constant) and isinstance(right.value, (int, float))
            and not isinstance(right.value, bool)) or isinstance(left, ast.Constant):
        return None
    return ast.unparse(left), "above" if op in _GREATER else "below", float(right.value)


def _leaves(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break))


def _ladder(body: list[ast.stmt]) -> Iterator[tuple[ast.If, ast.AST]]:
    """(if statement, its test) for each rung of the ladders in a block: consecutive `if ...: return` statements and
    `if/elif` chains, in order."""
    for stmt in body:
        node: ast.stmt | None = stmt
        while isinstance(node, ast.If):
            yield node, node.test
            node = node.orelse[0] if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If) else None


def _shadowed_rungs(tree: ast.AST) -> Iterator[Finding]:
    """`if s >= 60: return "D"` before `if s >= 70: return "C"`: every score of 70 or more already left at the first
    rung, so the second never runs. Rungs are compared only when the earlier one leaves (return/raise or elif)."""
    for func in _functions(tree):
        blocks = [func.body, *(n.body for n in _own_nodes(func) if isinstance(n, (ast.For, ast.While, ast.If)))]
        reported: set[int] = set()
        for block in blocks:
            seen: list[tuple[str, str, float, ast.If]] = []
            for stmt in block:
                if not isinstance(stmt, ast.If):
                    if not isinstance(stmt, (ast.Expr, ast.Pass)):
                        seen = []
                    continue
                for rung, test in _ladder([stmt]):
                    got = _threshold(test)
                    if got is None:
                        continue
                    subject, side, value = got
                    earlier = next((r for s, d, v, r in seen if s == subject and d == side
                                    and (value > v if side == "above" else value < v)), None)
                    if earlier is not None and id(earlier) not in reported:
                        reported.add(id(earlier))
                        yield Finding(earlier.lineno, "error", f"`{ast.unparse(earlier.test)}` comes first and "
                                      f"leaves, so `{ast.unparse(test)}` (line {rung.lineno}) can never be reached: "
                                      "the rungs are in the wrong order.",
                                      f"test the {'higher' if side == 'above' else 'lower'} threshold first",
                                      AST_SOURCE)
                    is_elif_chain = bool(rung.orelse)
                    if _leaves(rung.body) or is_elif_chain:
                        seen.append((subject, side, value, rung))


# ---- a function named for taking away that adds (and the mirror) --------------------------------------------------
_TAKE = frozenset({"withdraw", "subtract", "decrement", "decrease", "deduct", "debit", "spend", "consume", "take"})
_GIVE = frozenset({"deposit", "increment", "increase", "credit", "refund", "earn", "add", "topup", "top"})


def _direction_contradictions(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        words = _words(func.name)
        takes, gives = bool(words & _TAKE), bool(words & _GIVE)
        if takes == gives:
            continue
        params = {a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)} - {"self", "cls"}
        changes = [n for n in _own_nodes(func) if isinstance(n, ast.AugAssign) and isinstance(n.value, ast.Name)
                   and n.value.id in params and isinstance(n.op, (ast.Add, ast.Sub))]
        wrong = ast.Add if takes else ast.Sub
        if changes and all(isinstance(n.op, wrong) for n in changes):
            first = min(changes, key=lambda n: n.lineno)
            sign, other = ("+=", "-=") if takes else ("-=", "+=")
            yield Finding(first.lineno, "error", f"`{func.name}` {'takes away' if takes else 'adds'}, but "
                          f"`{ast.unparse(first)}` {'adds' if takes else 'takes away'} `{ast.unparse(first.value)}`.",
                          f"use `{other}` instead of `{sign}`", AST_SOURCE)


# ---- two coordinates' ranges, or two intervals' ends, joined with `or` ---------------------------------------------
_START_WORDS = frozenset({"start", "begin", "from", "lo", "low", "first", "open", "opens"})
_END_WORDS = frozenset({"end", "stop", "until", "hi", "high", "last", "close", "closes"})


def _chained_range(node: ast.AST) -> str | None:
    """The middle term of `lo <= x <= hi` (both comparisons one way), else None."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 2):
        return None
    ops = [type(op) for op in node.ops]
    if all(op in _LESS for op in ops) or all(op in _GREATER for op in ops):
        return ast.unparse(node.comparators[0])
    return None


def _end_kind(node: ast.AST) -> str | None:
    """"start" or "end" when the value's name says which end of an interval it is (`a_start`, `b.end`)."""
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    words = _words(name)
    start, end = bool(words & _START_WORDS), bool(words & _END_WORDS)
    return "start" if start and not end else "end" if end and not start else None


def _owner(node: ast.AST) -> str:
    """What an end belongs to: `a` for `a_start`, `a_end` or `a.start`."""
    if isinstance(node, ast.Attribute):
        return ast.unparse(node.value)
    name = node.id if isinstance(node, ast.Name) else ""
    return "_".join(w for w in name.lower().split("_") if w not in _START_WORDS | _END_WORDS)


def _crossed_ends(node: ast.AST) -> tuple[str, str] | None:
    """(owner of the start, owner of the end) for `a_start < b_end` (or `b_end > a_start`), else None."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (*_LESS, *_GREATER))):
        return None
    low, high = (node.left, node.comparators[0]) if isinstance(node.ops[0], _LESS) else (node.comparators[0], node.left)
    if _end_kind(low) == "start" and _end_kind(high) == "end" and _owner(low) != _owner(high):
        return _owner(low), _owner(high)
    return None


def _either_joins(tree: ast.AST) -> Iterator[Finding]:
    """`left <= p[0] <= right or top <= p[1] <= bottom`: a point is inside a box only when every coordinate is in
    its range (a union of ranges of one value, `a <= x <= b or c <= x <= d`, is right and not reported);
    `a_start < b_end or b_start < a_end`: true for any two intervals, so it cannot test overlap (`and` does)."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and len(node.values) == 2):
            continue
        first, second = node.values
        middles = _chained_range(first), _chained_range(second)
        one, two = _crossed_ends(first), _crossed_ends(second)
        if None not in middles and middles[0] != middles[1]:
            yield Finding(node.lineno, "error", f"`{ast.unparse(node)}` is true when only one of `{middles[0]}` and "
                          f"`{middles[1]}` is in its range: inside a box needs both.",
                          "join the range tests with `and`", AST_SOURCE)
        elif one is not None and two is not None and one == two[::-1]:
            yield Finding(node.lineno, "error", f"`{ast.unparse(node)}` is true for any two intervals (each starts "
                          "before it ends): an overlap test needs both comparisons.",
                          "join the comparisons with `and`", AST_SOURCE)


CHECKS = (_range_joins, _none_guards, _inverted_predicates, _shadowed_rungs, _direction_contradictions, _either_joins)


def condition_findings(tree: ast.AST) -> Iterator[Finding]:
    """Every finding of the checks above on a parsed module."""
    for check in CHECKS:
        yield from check(tree)
