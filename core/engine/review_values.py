"""Checks of values that undo or drop themselves: an expression whose two sides are the same value (`a["x"] - a["x"]`
is always 0), a list filled in a function that neither returns nor reads it, a guard `a > b` on a loop or branch that
takes `b` from `a` and hands it out (exactly enough is refused), windows `s[i:i + k]` over `range(len(s) - k)` (the
last window is never made), a sum per key set in a nested loop (a key that comes back replaces its sum). The shapes
of planted bugs the earlier checks missed in the seen sets (issue 18, session 35).

Each needs the whole shape (the same side-effect-free value on both sides; a collection that is only ever grown; the
same `b` in the guard, the subtraction and a hand-out or grant; no read of `s[i + k]` that would make the shorter
range right; keys from an inner loop), so `x - y`, a list handed to a callee, an excess over a limit
(`while day > days: day -= days`), windows followed by their next element and a total set once per key are not
reported. Read-only AST walks: the reviewed code is never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .review_findings import AST_SOURCE, Finding
from .review_logic import _functions, _len_of, _own_nodes, _words

_Function = ast.FunctionDef | ast.AsyncFunctionDef

# Operators whose result is fixed when both sides are one value: x - x == 0, x / x == 1, x // x == 1, x % x == 0,
# x ^ x == 0. Addition and multiplication are left out: `x + x` and `x * x` are ordinary doubling and squaring.
_FIXED = {ast.Sub: "0", ast.Div: "1", ast.FloorDiv: "1", ast.Mod: "0", ast.BitXor: "0"}
_GROW_METHODS = frozenset({"append", "extend", "add", "insert", "update", "appendleft", "extendleft", "setdefault"})
_EMPTY_CALLS = frozenset({"list", "dict", "set", "deque", "defaultdict", "OrderedDict", "Counter"})


def _pure(node: ast.AST) -> bool:
    """A value that reads the same twice: a name, an attribute or subscript chain of names and constants."""
    if isinstance(node, ast.Name | ast.Constant):
        return True
    if isinstance(node, ast.Attribute):
        return _pure(node.value)
    if isinstance(node, ast.Subscript):
        return _pure(node.value) and _pure(node.slice)
    if isinstance(node, ast.UnaryOp):
        return _pure(node.operand)
    return False


def _self_cancelling(tree: ast.AST) -> Iterator[Finding]:
    """`a[k] - a[k]`, `x / x`: both sides one value, so the result is a constant whatever the input."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and type(node.op) in _FIXED):
            continue
        left, right = node.left, node.right
        if isinstance(left, ast.Constant) or not _pure(left) or ast.dump(left) != ast.dump(right):
            continue
        yield Finding(node.lineno, "error", f"`{ast.unparse(node)}` is always {_FIXED[type(node.op)]}: both sides are "
                      f"`{ast.unparse(left)}`, so one of them names the wrong value.",
                      "use the value the other side should be", AST_SOURCE)


def _new_empty(node: ast.AST) -> bool:
    if isinstance(node, ast.List | ast.Dict | ast.Set) and not getattr(node, "elts", getattr(node, "keys", None)):
        return True
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _EMPTY_CALLS
            and not node.args and not node.keywords)


def _returns_value(func: _Function) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None and not (
        isinstance(n.value, ast.Constant) and n.value.value is None) or isinstance(n, ast.Yield | ast.YieldFrom)
               for n in _own_nodes(func))


def _dropped_collections(tree: ast.AST) -> Iterator[Finding]:
    """A local made empty, then only ever grown (`titles.append(...)`), in a function that returns nothing: the work
    is thrown away, most likely because `return titles` is missing."""
    for func in _functions(tree):
        if _returns_value(func):
            continue
        made = [(n.targets[0], n.targets[0].id) for n in _own_nodes(func) if isinstance(n, ast.Assign)
                and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) and _new_empty(n.value)]
        for made_name, name in made:
            if any(isinstance(n, ast.Global | ast.Nonlocal) and name in n.names for n in ast.walk(func)):
                continue
            # every other mention of the name, nested functions included (a closure reading it is a use)
            uses = [n for n in ast.walk(func) if isinstance(n, ast.Name) and n.id == name and n is not made_name]
            grown = [n for n in ast.walk(func) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
                     and isinstance(n.value.func, ast.Attribute) and n.value.func.attr in _GROW_METHODS
                     and isinstance(n.value.func.value, ast.Name) and n.value.func.value.id == name]
            if not grown or len(uses) != len(grown):
                continue
            yield Finding(func.end_lineno or func.lineno, "error", f"`{name}` is filled but never returned or read, "
                          f"and `{func.name}` returns nothing: a `return {name}` is missing (or the work is dead).",
                          f"return {name}", AST_SOURCE)


def _subtracted(body: list[ast.stmt], minuend: str, amount: str) -> bool:
    """Whether the statements take `amount` from `minuend` (`minuend -= amount` or `minuend = minuend - amount`)."""
    for stmt in body:
        for node in ast.walk(stmt):
            if (isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Sub)
                    and ast.unparse(node.target) == minuend and ast.unparse(node.value) == amount):
                return True
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and ast.unparse(node.targets[0]) == minuend
                    and isinstance(node.value, ast.BinOp) and isinstance(node.value.op, ast.Sub)
                    and ast.unparse(node.value.left) == minuend and ast.unparse(node.value.right) == amount):
                return True
    return False


def _dispensed(body: list[ast.stmt], amount: str) -> bool:
    """Whether the statements hand the amount out (`coins.append(coin)`) or grant the request (`return True`): then
    having exactly the amount must be enough. An excess over a limit (`while day > days_in_month: day -= ...`), where
    the amount is only taken away, is left alone."""
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and any(ast.unparse(a) == amount for a in node.args):
                return True
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant) and node.value.value is True:
                return True
    return False


def _short_guards(tree: ast.AST) -> Iterator[Finding]:
    """`while amount > coin: coins.append(coin); amount -= coin`, `if tokens > cost: tokens -= cost; return True`: the
    guard asks for more than the amount it then hands out, so exactly enough is refused (the greedy change leaves a
    whole coin, the last token is never spent)."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.While | ast.If) and isinstance(node.test, ast.Compare)
                and len(node.test.ops) == 1 and isinstance(node.test.ops[0], ast.Gt | ast.Lt)):
            continue
        left, right = node.test.left, node.test.comparators[0]
        minuend, amount = (left, right) if isinstance(node.test.ops[0], ast.Gt) else (right, left)
        if isinstance(amount, ast.Constant) or not _pure(minuend) or not _pure(amount):
            continue
        m, a = ast.unparse(minuend), ast.unparse(amount)
        if m == a or not _subtracted(node.body, m, a) or not _dispensed(node.body, a):
            continue
        yield Finding(node.lineno, "error", f"`{ast.unparse(node.test)}` then takes `{a}` from `{m}`: when `{m}` is "
                      f"exactly `{a}` the guard refuses, so exactly enough is not enough (off by one).",
                      f"use {m} >= {a}", AST_SOURCE)


def _window(node: ast.AST, seq: str, var: str, width: str) -> bool:
    """`seq[var:var + width]`."""
    return (isinstance(node, ast.Subscript) and ast.unparse(node.value) == seq and isinstance(node.slice, ast.Slice)
            and node.slice.lower is not None and ast.unparse(node.slice.lower) == var
            and node.slice.upper is not None and ast.unparse(node.slice.upper) in (f"{var} + {width}",
                                                                                  f"{width} + {var}"))


def _reads_past(nodes: list[ast.AST], seq: str, var: str, width: str) -> bool:
    """Whether `seq[var + width]` (or a slice from there) is read: then `range(len(seq) - width)` is right."""
    past = {f"{var} + {width}", f"{width} + {var}"}
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == seq:
                index = node.slice.lower if isinstance(node.slice, ast.Slice) else node.slice
                upper = node.slice.upper if isinstance(node.slice, ast.Slice) else None
                if (index is not None and ast.unparse(index) in past) or (
                        upper is not None and ast.unparse(upper) not in past and var in ast.unparse(upper)
                        and ast.unparse(upper) != var):
                    return True
    return False


def _range_minus(call: ast.AST) -> tuple[str, str] | None:
    """(seq, width) for `range(len(seq) - width)` with a non-constant width."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"
            and len(call.args) == 1 and isinstance(call.args[0], ast.BinOp) and isinstance(call.args[0].op, ast.Sub)
            and not isinstance(call.args[0].right, ast.Constant)):
        return None
    seq = _len_of(call.args[0].left)
    return (seq, ast.unparse(call.args[0].right)) if seq is not None else None


def _last_window_dropped(tree: ast.AST) -> Iterator[Finding]:
    """`[s[i:i + k] for i in range(len(s) - k)]`: the windows start at 0..len(s) - k, so the range needs `+ 1`; as
    written the last window is never made."""
    for node in ast.walk(tree):
        loops: list[tuple[ast.For | ast.comprehension, list[ast.AST]]] = []
        if isinstance(node, ast.For):
            loops.append((node, list(node.body)))
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for gen in node.generators:
                loops.append((gen, [*parts, *gen.ifs]))
        for loop, body in loops:
            target, iterable = loop.target, loop.iter
            found = _range_minus(iterable)
            if found is None or not isinstance(target, ast.Name):
                continue
            seq, width = found
            var = target.id
            if not any(_window(n, seq, var, width) for root in body for n in ast.walk(root)):
                continue
            if _reads_past(body, seq, var, width):
                continue
            yield Finding(iterable.lineno, "error", f"`{ast.unparse(iterable)}` stops one window early: "
                          f"`{seq}[{var}:{var} + {width}]` can start at len({seq}) - {width}, so the last window is "
                          "never made.", f"use range(len({seq}) - {width} + 1)", AST_SOURCE)


# Names that say a mapping sums what it is given (counts are left out: `counts[k] = len(group)` sets a count once).
_TOTAL_WORDS = frozenset({"total", "totals", "sum", "sums", "tally", "tallies", "subtotal", "subtotals"})


def _overwritten_sums(tree: ast.AST) -> Iterator[Finding]:
    """`totals = {}`, then `totals[name] = amount` in a loop nested in another: the inner keys come back on a later
    outer pass (the same ingredient in two recipes) and each one replaces the sum so far instead of adding to it."""
    for func in _functions(tree):
        started = {n.targets[0].id for n in _own_nodes(func) if isinstance(n, ast.Assign) and len(n.targets) == 1
                   and isinstance(n.targets[0], ast.Name) and _new_empty(n.value)}
        sums = {name for name in started if _words(name) & _TOTAL_WORDS}
        for outer in _own_nodes(func):
            if not isinstance(outer, ast.For):
                continue
            for inner in (n for stmt in outer.body for n in ast.walk(stmt) if isinstance(n, ast.For)):
                for stmt in inner.body:
                    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                            and isinstance(stmt.targets[0], ast.Subscript)
                            and isinstance(stmt.targets[0].value, ast.Name) and stmt.targets[0].value.id in sums):
                        continue
                    name = stmt.targets[0].value.id
                    if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(stmt.value)) or any(
                            isinstance(n, ast.AugAssign) and ast.unparse(n.target).startswith(f"{name}[")
                            for n in ast.walk(func)):
                        continue  # read while it is set, or added to elsewhere: a sum after all
                    key = ast.unparse(stmt.targets[0].slice)
                    yield Finding(stmt.lineno, "error", f"`{ast.unparse(stmt)}` replaces `{name}[{key}]` whenever "
                                  f"`{key}` comes back on a later pass of the outer loop: earlier amounts are lost "
                                  "instead of added.", f"accumulate: {name}[{key}] = {name}.get({key}, 0) + "
                                  f"{ast.unparse(stmt.value)}", AST_SOURCE)


CHECKS = (_self_cancelling, _dropped_collections, _short_guards, _last_window_dropped, _overwritten_sums)


def value_findings(tree: ast.AST) -> Iterator[Finding]:
    """Every finding of the checks above on a parsed module."""
    for check in CHECKS:
        yield from check(tree)
