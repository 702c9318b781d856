"""Checks for bounds and values that disagree with their neighbours: a slice one short of the count used beside it,
a skip past a found separator by the wrong length, a loop that stops one before the end without reading the next
element, a clamp with the wrong one of min/max, defaults that contradict each other, a sum built and never used, a
neighbour's row read with the cell's own column, a connection opened and never closed.

Each check needs the second piece of evidence (the count used whole elsewhere, the literal's length, the absent
`x[i + 1]`, the cap's name, the sibling default), so `items[:n - 1]` alone, `range(len(x) - 1)` over pairs and
`min(x, cap)` are not reported. Read-only AST walks: the reviewed code is never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .review_findings import AST_SOURCE, Finding
from .review_logic import _functions, _indexes, _len_of, _own_nodes, _reads, _statements, _words

_Function = ast.FunctionDef | ast.AsyncFunctionDef


def _minus_one(node: ast.AST | None) -> str | None:
    """`n` for `n - 1` where n is a plain name."""
    if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and isinstance(node.left, ast.Name)
            and isinstance(node.right, ast.Constant) and node.right.value == 1):
        return node.left.id
    return None


def _whole_count_uses(func: _Function, name: str) -> list[ast.expr]:
    """Places that use `name` whole as a count: `range(name)`, `x[:name]`, `len(x) - name`."""
    uses: list[ast.expr] = []
    for node in _own_nodes(func):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
                and any(isinstance(a, ast.Name) and a.id == name for a in node.args)):
            uses.append(node)
        elif isinstance(node, ast.Slice) and isinstance(node.upper, ast.Name) and node.upper.id == name:
            uses.append(node)  # `x[p:]` beside `x[:p - 1]` is no count: it skips a separator at p - 1
        elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and isinstance(node.right, ast.Name)
              and node.right.id == name and isinstance(node.left, ast.Call) and isinstance(node.left.func, ast.Name)
              and node.left.func.id == "len"):
            uses.append(node)
    return uses


_COUNT_PARAMS = frozenset({"n", "k", "count", "limit", "num", "number", "top", "how_many", "amount", "size"})


def _is_count_param(func: _Function, name: str) -> bool:
    params = [a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)]
    return name in params and (name in _COUNT_PARAMS or name.startswith(("n_", "num_", "max_")))


def _short_slices(tree: ast.AST) -> Iterator[Finding]:
    """`items[:n - 1]` keeps n - 1 items where the count `n` is used whole beside it (`range(n)`, `len(x) - n`),
    or `n` is a count parameter and the slice is what the function returns: one item short. A slice that something
    is appended to (`text[:limit - 1] + "…"`) is not reported."""
    for func in _functions(tree):
        extended = {id(n.left) for n in _own_nodes(func) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add)}
        for node in _own_nodes(func):
            if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)
                    and node.slice.lower is None and node.slice.step is None) or id(node) in extended:
                continue  # `text[:limit - 1] + "…"` makes up the count with what it appends
            count = _minus_one(node.slice.upper)
            if count is None:
                continue
            uses = _whole_count_uses(func, count)
            returned = any(isinstance(r, ast.Return) and r.value is node for r in _own_nodes(func))
            if not uses and not (returned and _is_count_param(func, count)):
                continue
            seq = ast.unparse(node.value)
            where = (f"line {uses[0].lineno} uses `{count}` whole" if uses
                     else f"`{count}` is the count asked for")
            yield Finding(node.lineno, "error", f"`{ast.unparse(node)}` keeps {count} - 1 items, but {where}: "
                          "one short (off by one).", f"use {seq}[:{count}]", AST_SOURCE)


def _found_at(func: _Function) -> dict[str, tuple[str, str]]:
    """name -> (string, literal) for `name = text.find("lit")` / `.rfind(...)` (strings only: a list's
    `.index("--")` finds one element, and `words[cut + 1:]` rightly skips just it)."""
    out = {}
    for node in _own_nodes(func):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr in ("find", "rfind") and len(node.value.args) == 1
                and isinstance(node.value.args[0], ast.Constant) and isinstance(node.value.args[0].value, str)):
            out[node.targets[0].id] = (ast.unparse(node.value.func.value), node.value.args[0].value)
    return out


def _separator_skips(tree: ast.AST) -> Iterator[Finding]:
    """`url[at + 2:]` after `at = url.find("://")` skips 2 of the separator's 3 characters (or one past it)."""
    for func in _functions(tree):
        found = _found_at(func)
        for node in _own_nodes(func):
            if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)):
                continue
            lower = node.slice.lower
            if not (isinstance(lower, ast.BinOp) and isinstance(lower.op, ast.Add) and isinstance(lower.left, ast.Name)
                    and lower.left.id in found and isinstance(lower.right, ast.Constant)
                    and isinstance(lower.right.value, int)):
                continue
            seq, literal = found[lower.left.id]
            step = lower.right.value
            if ast.unparse(node.value) != seq or step in (0, len(literal)):
                continue
            yield Finding(node.lineno, "error", f"`{lower.left.id}` is where {literal!r} starts ({len(literal)} "
                          f"characters), but `{ast.unparse(node)}` skips {step}: the cut is off by "
                          f"{abs(len(literal) - step)}.", f"use {seq}[{lower.left.id} + {len(literal)}:] "
                          f"(or + len({literal!r}))", AST_SOURCE)


def _stops_short(tree: ast.AST) -> Iterator[Finding]:
    """`for i in range(len(x) - 1)` whose body reads `x[i]` but never an `i + 1` (so it is not a loop over pairs):
    the last element is skipped."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Call)
                and isinstance(node.iter.func, ast.Name) and node.iter.func.id == "range"
                and len(node.iter.args) == 1):
            continue
        arg = node.iter.args[0]
        if not (isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Sub) and isinstance(arg.right, ast.Constant)
                and arg.right.value == 1):
            continue
        seq, var = _len_of(arg.left), node.target.id
        if seq is None:
            continue
        neighbour = any(isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub)) and _reads(n, var)
                        for stmt in node.body for n in ast.walk(stmt))
        if _indexes(node.body, seq, var) and not neighbour:
            yield Finding(node.lineno, "error", f"`range(len({seq}) - 1)` stops before the last element, and the "
                          f"body reads only `{seq}[{var}]` (no `{var} + 1`): the last one is skipped.",
                          f"use range(len({seq}))", AST_SOURCE)


_CAP_WORDS = frozenset({"cap", "capacity", "ceiling", "limit", "upper", "maximum", "max"})
_FLOOR_WORDS = frozenset({"lower", "minimum", "min"})  # not "floor": `min(LOOSE_FLOOR, x)` caps at a floor value


def _clamps(tree: ast.AST) -> Iterator[Finding]:
    """`max(x, cap)` is never below the cap (the cap is a floor then); `min(x, floor)` never above the floor. A running
    extreme (`max_len = max(max_len, n)`) is not a clamp."""
    for node in ast.walk(tree):
        targets: set[str] = set()
        value = node
        if isinstance(node, ast.Assign):
            targets, value = {ast.unparse(t) for t in node.targets}, node.value
        elif isinstance(node, ast.Return) and node.value is not None:
            value = node.value
        else:
            continue
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("max", "min")
                and len(value.args) == 2 and not value.keywords):
            continue
        words = _CAP_WORDS if value.func.id == "max" else _FLOOR_WORDS
        other_side = _FLOOR_WORDS if value.func.id == "max" else _CAP_WORDS
        if any(_words(ast.unparse(a)) & other_side for a in value.args):
            continue  # `max(min_size, limit)`: the larger of two floors (a limit can be a floor), no clamp
        for arg in value.args:
            if isinstance(arg, (ast.Name, ast.Attribute)) and _words(ast.unparse(arg)) & words \
                    and ast.unparse(arg) not in targets:
                other = "min" if value.func.id == "max" else "max"
                bound = ast.unparse(arg)
                yield Finding(value.lineno, "error", f"`{ast.unparse(value)}` is never "
                              f"{'below' if value.func.id == 'max' else 'above'} `{bound}`, which reads as a "
                              f"{'cap' if value.func.id == 'max' else 'floor'}: {value.func.id} and {other} are "
                              "mixed up.", f"use {other}(...)", AST_SOURCE)
                break


_PAIRS = (("start", "end"), ("min", "max"), ("low", "high"), ("lo", "hi"), ("first", "last"), ("begin", "end"),
          ("from", "to"), ("lower", "upper"))


def _defaults(func: _Function) -> dict[str, ast.expr]:
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    out = {a.arg: d for a, d in zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True)}
    out.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None})
    return out


def _crossed_defaults(tree: ast.AST) -> Iterator[Finding]:
    """`start_hour=9, end_hour=5`: defaults of a start/end (min/max, low/high) pair that cross, so the default
    range is empty or backwards."""
    for func in _functions(tree):
        defaults = {k: v.value for k, v in _defaults(func).items() if isinstance(v, ast.Constant)
                    and isinstance(v.value, (int, float)) and not isinstance(v.value, bool)}
        for low_word, high_word in _PAIRS:
            for low_name, low in defaults.items():
                parts = low_name.split("_")
                if low_word not in parts:
                    continue
                high_name = "_".join(high_word if p == low_word else p for p in parts)
                high = defaults.get(high_name)
                if high is not None and low > high:
                    yield Finding(func.lineno, "warning", f"The defaults cross: `{low_name}={low}` is after "
                                  f"`{high_name}={high}`, so the default range is backwards (empty).",
                                  f"give `{high_name}` a default above {low}", AST_SOURCE)


_POLLS = frozenset({"poll", "select", "wait", "peek", "try"})  # a zero timeout there is a non-blocking check


def _zero_timeouts(tree: ast.AST) -> Iterator[Finding]:
    """`timeout=0` as a default: no wait at all (most clients fail at once or go non-blocking); None is no limit."""
    for func in _functions(tree):
        if _words(func.name) & _POLLS:
            continue
        for name, default in _defaults(func).items():
            if "timeout" in _words(name) and isinstance(default, ast.Constant) and default.value == 0 \
                    and not isinstance(default.value, bool):
                yield Finding(func.lineno, "warning", f"`{name}=0` by default gives every call no time at all (a "
                              "zero timeout fails at once, or makes the call non-blocking).",
                              f"use {name}=None for no limit, or a positive number of seconds", AST_SOURCE)


def _unused_sums(tree: ast.AST) -> Iterator[Finding]:
    """A local summed in a loop (`total += x`) and never read after it, in a function that returns something else:
    the function most likely returns the wrong value."""
    for func in _functions(tree):
        returns = [n.value for n in _own_nodes(func) if isinstance(n, ast.Return) and n.value is not None]
        if not returns:
            continue
        for loop in _statements(func.body):
            if not isinstance(loop, (ast.For, ast.While)):
                continue
            end = loop.end_lineno or loop.lineno
            summed = {s.target.id: s for s in _statements(loop.body)
                      if isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Name)}
            after = [s for s in _statements(func.body) if s.lineno > end]
            for name, stmt in summed.items():
                if not after or any(isinstance(s, ast.Global | ast.Nonlocal) for s in _statements(func.body)):
                    continue
                if any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
                       for n in ast.walk(func)):
                    continue  # read somewhere (as a buffer in the loop, after it, in a nested function): used
                yield Finding(stmt.lineno, "warning", f"`{name}` is built up in the loop but never read; the function "
                              f"returns `{ast.unparse(returns[-1])}` instead: either that is the wrong value "
                              f"or `{name}` is dead.", f"return {name} (or drop it)", AST_SOURCE)


def _offset_pairs(func: _Function) -> dict[str, str]:
    """derived -> base for `nr, nc = r + dr, c + dc` (and `nx = x + dx`): a neighbour's coordinate."""
    out = {}
    for stmt in _statements(func.body):
        if not isinstance(stmt, ast.Assign):
            continue
        targets = stmt.targets[0].elts if isinstance(stmt.targets[0], ast.Tuple) else [stmt.targets[0]]
        values = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
        if len(targets) != len(values):
            continue
        for target, value in zip(targets, values, strict=True):
            if (isinstance(target, ast.Name) and isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add,
                                                                                                        ast.Sub))
                    and isinstance(value.left, ast.Name)):
                out[target.id] = value.left.id
    return out


def _mixed_coordinates(tree: ast.AST) -> Iterator[Finding]:
    """`grid[nr][c]` after `nr, nc = r + dr, c + dc`: the neighbour's row with the cell's own column."""
    for func in _functions(tree):
        derived = _offset_pairs(func)
        if len(derived) < 2:
            continue
        for node in _own_nodes(func):
            if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Subscript)
                    and isinstance(node.slice, ast.Name) and isinstance(node.value.slice, ast.Name)):
                continue
            first, second = node.value.slice.id, node.slice.id
            for new, old in ((first, second), (second, first)):
                if new in derived and old in derived.values() and derived[new] != old:
                    wanted = next(d for d, b in derived.items() if b == old)
                    yield Finding(node.lineno, "error", f"`{ast.unparse(node)}` mixes the moved `{new}` with the "
                                  f"unmoved `{old}`; `{wanted}` is the matching coordinate.",
                                  f"use `{ast.unparse(node).replace(f'[{old}]', f'[{wanted}]')}`", AST_SOURCE)
                    break


_OPENERS = frozenset({"connect", "socket", "urlopen", "create_connection"})


def _handles(node: ast.AST, opened: ast.Assign, name: str) -> bool:
    """Whether node closes the opened `name`, returns or yields it, enters it in `with`, or hands it on (stores it,
    passes it to a helper such as closing() or a pool): then someone closes it."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == name:
        return node.attr in ("close", "__exit__", "detach")
    if isinstance(node, (ast.Return, ast.Yield)):
        return node.value is not None and _reads(node.value, name)
    if isinstance(node, ast.withitem):
        return _reads(node.context_expr, name)
    if isinstance(node, ast.Assign):
        return node is not opened and _reads(node.value, name)
    if isinstance(node, ast.Call):
        return node is not opened.value and any(isinstance(a, ast.Name) and a.id == name for a in node.args)
    return False


def _unclosed(tree: ast.AST) -> Iterator[Finding]:
    """`conn = sqlite3.connect(...)` never closed, returned, stored or used in `with`: the connection leaks (and with
    sqlite, uncommitted writes are lost)."""
    for func in _functions(tree):
        for stmt in _statements(func.body):
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.Call)):
                continue
            call = stmt.value.func
            opener = call.attr if isinstance(call, ast.Attribute) else call.id if isinstance(call, ast.Name) else ""
            if opener not in _OPENERS:
                continue
            name = stmt.targets[0].id
            handled = any(_handles(node, stmt, name) for node in _own_nodes(func))
            if not handled:
                yield Finding(stmt.lineno, "warning", f"`{name} = {ast.unparse(stmt.value.func)}(...)` is never "
                              "closed: the connection leaks (and uncommitted work is lost).",
                              f"close it in a finally, or use `with contextlib.closing({ast.unparse(stmt.value)}) as "
                              f"{name}:`", AST_SOURCE)


CHECKS = (_short_slices, _separator_skips, _stops_short, _clamps, _crossed_defaults, _zero_timeouts, _unused_sums,
          _mixed_coordinates, _unclosed)


def bounds_findings(tree: ast.AST) -> Iterator[Finding]:
    """Every finding of the checks above on a parsed module."""
    for check in CHECKS:
        yield from check(tree)
