"""Checks for code that contradicts itself, the bug classes name- and dataflow-based detectors target (DeepBugs,
Pradel & Sen 2018): a name that says "largest" on a loop that keeps the smallest, a mean computed with `//`, a buffer
flushed only inside its loop, a nested loop that repeats the outer bound while another dimension is at hand.

Each check needs the whole shape as evidence (the running extreme is assigned under the comparison that contradicts
its name; the buffer is grown, handed on and reset inside the loop and never read after it), so correct look-alikes
(`smallest` with `<`, `pages = total // per_page`, a loop that flushes after it ends) are not reported. Read-only AST
walks: the reviewed code is never run.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from .review_findings import AST_SOURCE, Finding

# Words that say which extreme a name holds. Words whose direction depends on what is compared (best, worst, oldest,
# latest) are left out: they are no evidence either way.
_MAX_WORDS = frozenset({"max", "maximum", "largest", "biggest", "highest", "high", "greatest", "longest", "heaviest",
                        "tallest", "most", "top", "peak"})
_MIN_WORDS = frozenset({"min", "minimum", "smallest", "lowest", "low", "least", "shortest", "lightest", "fewest",
                        "cheapest", "bottom"})
# Quotients that are fractions by nature: computed with `//` they lose everything after the point.
_FRACTION_WORDS = frozenset({"mean", "average", "avg", "ratio", "fraction", "proportion", "percent", "percentage",
                             "pct", "rate"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
_GROW_METHODS = frozenset({"append", "extend", "add", "insert", "update", "write"})
_HAND_ON_METHODS = frozenset({"append", "extend", "add", "insert", "update", "put", "write", "appendleft"})
_DIMENSION_PARAMS = frozenset({"rows", "cols", "columns", "height", "width", "nrows", "ncols", "n_rows", "n_cols",
                               "num_rows", "num_cols", "row_count", "col_count", "column_count"})

_Function = ast.FunctionDef | ast.AsyncFunctionDef


def _words(name: str) -> set[str]:
    """`lowest_reading` -> {lowest, reading}; `maxValue` -> {max, value}; `MAX_WEIGHT` -> {max, weight}."""
    return {w.lower() for w in _WORD.findall(name)}


def _direction(name: str) -> str | None:
    """"max" or "min" when the name says one extreme and not the other, else None."""
    words = _words(name)
    big, small = bool(words & _MAX_WORDS), bool(words & _MIN_WORDS)
    return "max" if big and not small else "min" if small and not big else None


def _functions(tree: ast.AST) -> Iterator[_Function]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _own_nodes(func: _Function) -> Iterator[ast.AST]:
    """The function's own nodes, not those of functions or classes nested in it (they are checked on their own)."""
    todo: list[ast.AST] = list(func.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _about(node: ast.AST, name: str) -> bool:
    """Whether node measures the value `name` holds: `name`, `name.weight`, `name[0]`, `len(name)`, `abs(name.x)`,
    `size(*name)`."""
    if ast.unparse(node) == name:
        return True
    if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        return _about(node.value, name)
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        return _about(node.args[0], name)
    return False


def _returned_names(func: _Function) -> set[str]:
    return {ast.unparse(n.value) for n in _own_nodes(func) if isinstance(n, ast.Return) and n.value is not None}


# ---- a name that says one extreme, code that keeps the other ---------------------------------------------------
def _kept_extreme(node: ast.If) -> tuple[str, str, int] | None:
    """(held, "max"|"min", line) for `if NEW > HELD: HELD = NEW` and its mirror images, the running-extreme idiom."""
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], (ast.Lt, ast.LtE, ast.Gt, ast.GtE))):
        return None
    left, right, greater = test.left, test.comparators[0], isinstance(test.ops[0], (ast.Gt, ast.GtE))
    for stmt in node.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        held, new = stmt.targets[0].id, ast.unparse(stmt.value)
        if held == new or isinstance(stmt.value, ast.Constant):
            continue
        if _about(left, new) and _about(right, held):  # if NEW > HELD: HELD = NEW keeps the largest
            return held, "max" if greater else "min", node.lineno
        if _about(left, held) and _about(right, new):  # if HELD > NEW: HELD = NEW keeps the smallest
            return held, "min" if greater else "max", node.lineno
    return None


def _superlative_of(name: str, measured: ast.AST) -> bool:
    """Whether `name` holds a superlative of the very measure compared: `brightest` over `brightness(c)`,
    `warmest` over `warmth`. A superlative of some other measure (`darkest` over `brightness`) is no evidence."""
    called = {n.id for n in ast.walk(measured) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(measured) if isinstance(n, ast.Attribute)}
    stems = {w[:-3] for w in _words(name) if w.endswith("est") and len(w) >= 6}
    return any(c.lower().startswith(stem) and c.lower() != stem + "est" for stem in stems for c in called)


def _intent(held: str, func: _Function, measured: ast.AST | None = None) -> tuple[str, str] | None:
    """(direction, whose name says it): the held variable's own name first; the function's name only when the
    function returns the held value (then its name is the value's name). A superlative of the compared measure
    (`brightest` comparing `brightness`) says the largest of it."""
    own = _direction(held)
    if own:
        return own, f"`{held}`"
    if held in _returned_names(func):
        named = _direction(func.name)
        if named:
            return named, f"`{func.name}`"
        if measured is not None and _superlative_of(func.name, measured):
            return "max", f"`{func.name}`"
    return None


_OPPOSITE = {"max": "min", "min": "max"}
_KEEPS = {"max": "the largest", "min": "the smallest"}


def _extreme_contradictions(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        in_loops = {id(n): n for loop in _own_nodes(func) if isinstance(loop, (ast.For, ast.While))
                    for n in _statements(loop.body) if isinstance(n, ast.If)}
        for node in in_loops.values():  # the idiom runs over values; `if x < 1: x = 1` alone is a clamp
            kept = _kept_extreme(node)
            if kept is None:
                continue
            held, keeps, line = kept
            intent = _intent(held, func, node.test)
            if intent is None or intent[0] == keeps:
                continue
            test = node.test
            assert isinstance(test, ast.Compare)
            flipped = {ast.Lt: ">", ast.LtE: ">=", ast.Gt: "<", ast.GtE: "<="}[type(test.ops[0])]
            yield Finding(line, "warning", f"{intent[1]} says it holds {_KEEPS[intent[0]]} value, but "
                          f"`{ast.unparse(test)}` replaces `{held}` whenever the new value is "
                          f"{'smaller' if keeps == 'min' else 'larger'}, so it ends with {_KEEPS[keeps]}.",
                          f"compare the other way: {ast.unparse(test.left)} {flipped} "
                          f"{ast.unparse(test.comparators[0])}", AST_SOURCE)


# `max_size = min(...)` is a limit (the tightest of several caps), not a contradiction: for `min(...)`/`max(...)`
# only the words that name a chosen element count, not max/min/most/least/high/low.
# An element picked by a key: the nearest or closest is the one at the smallest distance, the farthest at the largest.
_ELEMENT_WORDS = {"max": _MAX_WORDS - {"max", "maximum", "most", "high", "peak"} | {"farthest", "furthest"},
                  "min": _MIN_WORDS - {"min", "minimum", "least", "low"} | {"nearest", "closest"}}


def _element_direction(name: str) -> str | None:
    words = _words(name)
    big, small = bool(words & _ELEMENT_WORDS["max"]), bool(words & _ELEMENT_WORDS["min"])
    return "max" if big and not small else "min" if small and not big else None


def _aggregate(node: ast.AST) -> str | None:
    """"max"/"min" for `max(xs)` / `min(xs, key=...)`: one iterable, an aggregate; `min(x, cap)` is a clamp."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("max", "min")
            and len(node.args) == 1 and not isinstance(node.args[0], ast.Starred)
            and all(k.arg in ("key", "default") for k in node.keywords)):
        return node.func.id
    return None


def _aggregate_contradictions(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        for node in _own_nodes(func):
            if isinstance(node, ast.Return) and node.value is not None:
                named, whose = _element_direction(func.name), f"`{func.name}`"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                named, whose = _element_direction(node.targets[0].id), f"`{node.targets[0].id}`"
            else:
                continue
            took = _aggregate(node.value) if node.value is not None else None
            if named and took and took != named:
                yield Finding(node.lineno, "warning", f"{whose} says it is {_KEEPS[named]}, but "
                              f"`{took}(...)` picks {_KEEPS[took]}.",
                              f"use {_OPPOSITE[took]}(...)", AST_SOURCE)


# ---- a fraction computed with floor division -----------------------------------------------------------------------
def _floor_division(node: ast.AST) -> ast.BinOp | None:
    """The `a // b` that the expression's value is made of (at its top, inside its top-level arithmetic, or one
    element of a returned tuple such as a point's coordinates)."""
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.FloorDiv):
            return node
        return _floor_division(node.left) or _floor_division(node.right)
    if isinstance(node, ast.Tuple):
        return next((f for f in map(_floor_division, node.elts) if f is not None), None)
    return None


def _a_sum(node: ast.AST) -> bool:
    """`sum(...)`: a total divided by a count is a mean whatever the names say."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sum"


def _scaled(node: ast.AST) -> bool:
    """`x * 100`: a dividend scaled first, as in `done * 100 // total`, asks for a whole percent on purpose (as a
    literal divisor does: `(red1 + red2) // 2` is a pixel value)."""
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) and any(
        isinstance(side, ast.Constant) and isinstance(side.value, (int, float)) for side in (node.left, node.right))


def _fraction_floor_division(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        for node in _own_nodes(func):
            if isinstance(node, ast.Return) and node.value is not None:
                name = func.name
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
            else:
                continue
            floor = _floor_division(node.value) if node.value is not None else None
            if (floor is None or not (_words(name) & _FRACTION_WORDS or _a_sum(floor.left)) or _scaled(floor.left)
                    or isinstance(floor.right, ast.Constant)):
                continue
            what = ast.unparse(floor)
            what_is = f"`{name}` is a fraction" if _words(name) & _FRACTION_WORDS else "a total over a count is a mean"
            yield Finding(node.lineno, "error", f"{what_is}, but `{what}` is floor division: it drops "
                          "everything after the point (an average of 2.5 comes out 2, a share below 1 as 0).",
                          f"use true division: {what.replace('//', '/', 1)}", AST_SOURCE)


# ---- a buffer flushed inside its loop and never after it -----------------------------------------------------------
def _is_empty(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in ("", b"")
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return not node.elts
    if isinstance(node, ast.Dict):
        return not node.keys
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
        "list", "dict", "set", "str", "bytearray") and not node.args and not node.keywords


def _assigned_pairs(stmt: ast.stmt) -> Iterator[tuple[str, ast.AST]]:
    """(name, value) for `x = v` and `a, b = v1, v2`."""
    if not isinstance(stmt, ast.Assign):
        return
    for target in stmt.targets:
        if isinstance(target, ast.Name):
            yield target.id, stmt.value
        elif (isinstance(target, ast.Tuple) and isinstance(stmt.value, ast.Tuple)
              and len(target.elts) == len(stmt.value.elts)):
            for t, v in zip(target.elts, stmt.value.elts, strict=True):
                if isinstance(t, ast.Name):
                    yield t.id, v


def _reads(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) for n in ast.walk(node))


def _grows(stmt: ast.AST, name: str) -> bool:
    """`name += x`, `name = name + x`, `name.append(x)` (and extend/add/...)."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
        return True
    if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == name and isinstance(stmt.value, ast.BinOp) and _reads(stmt.value.left, name)):
        return True
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute) and stmt.value.func.attr in _GROW_METHODS
            and isinstance(stmt.value.func.value, ast.Name) and stmt.value.func.value.id == name)


def _hands_on(stmt: ast.AST, name: str) -> str | None:
    """The collection `name`'s contents go to: `out.append(name)`, `out[k] = name`, `out += [name]`, `yield name`."""
    if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr in _HAND_ON_METHODS and not _about(stmt.value.func.value, name)
            and any(_reads(a, name) for a in [*stmt.value.args, *(k.value for k in stmt.value.keywords)])):
        return ast.unparse(stmt.value.func.value)
    if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Subscript)
            and not _about(stmt.targets[0].value, name) and (_reads(stmt.value, name)
                                                             or _reads(stmt.targets[0].slice, name))):
        return ast.unparse(stmt.targets[0].value)
    if (isinstance(stmt, ast.AugAssign) and not (isinstance(stmt.target, ast.Name) and stmt.target.id == name)
            and _reads(stmt.value, name)):
        return ast.unparse(stmt.target)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.Yield, ast.YieldFrom)) and stmt.value.value \
            and _reads(stmt.value.value, name):
        return "the caller"
    return None


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement in the block, nested blocks included, nested functions not."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(stmt, field, []) or [])
        for handler in getattr(stmt, "handlers", []) or []:
            yield from _statements(handler.body)
        for case in getattr(stmt, "cases", []) or []:
            yield from _statements(case.body)


def _blocks(body: list[ast.stmt]) -> Iterator[list[ast.stmt]]:
    """The block and every block nested in it (if/else, loops, try, with, match), nested functions not."""
    yield body
    for stmt in _statements(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            if getattr(stmt, field, None):
                yield getattr(stmt, field)
        for inner in [*(getattr(stmt, "handlers", []) or []), *(getattr(stmt, "cases", []) or [])]:
            yield inner.body


def _then_reset(loop_body: list[ast.stmt], handed: ast.stmt, name: str) -> bool:
    """Whether `handed` runs only on some passes (not at the loop body's top level) and `name` is emptied right after
    it in the same block: the buffer's shape. A hand-on at the top level flushes on every pass, so nothing is left."""
    if any(stmt is handed for stmt in loop_body):
        return False
    return any(any(n is handed for n in ast.walk(stmt))
               and any(n == name and _is_empty(v) for later in block[i + 1:] for n, v in _assigned_pairs(later))
               for block in _blocks(loop_body) for i, stmt in enumerate(block))


def _unflushed_buffers(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        emptied_before: dict[str, int] = {}
        for stmt in _statements(func.body):
            for name, value in _assigned_pairs(stmt):
                if _is_empty(value):
                    emptied_before.setdefault(name, stmt.lineno)
        for loop in _statements(func.body):
            if not isinstance(loop, (ast.For, ast.While)):
                continue
            inside = list(_statements(loop.body))
            end = loop.end_lineno or loop.lineno
            after = [*_statements(loop.orelse), *(s for s in _statements(func.body) if s.lineno > end)]
            pending: dict[int, tuple[ast.stmt, str, list[str]]] = {}
            for name, first in emptied_before.items():
                if first >= loop.lineno:
                    continue
                handed = next(((s, to) for s in inside if (to := _hands_on(s, name))
                               and _then_reset(loop.body, s, name)), None)
                if handed is None or not any(_grows(s, name) for s in inside):
                    continue
                if any(_reads(s, name) for s in after):
                    continue
                pending.setdefault(id(handed[0]), (handed[0], handed[1], []))[2].append(name)
            for flush, target, names in pending.values():
                held = ", ".join(f"`{n}`" for n in names)
                line = after[0].lineno if after else end
                yield Finding(line, "error", f"{held} {'collects' if len(names) == 1 else 'collect'} a pending item "
                              f"in the loop and {'is' if len(names) == 1 else 'are'} handed to "
                              f"{target if target == 'the caller' else '`' + target + '`'} only inside it "
                              f"(line {flush.lineno}); whatever is still pending when the loop ends is dropped.",
                              f"after the loop: if {names[0]}: {ast.unparse(flush).strip()}", AST_SOURCE)


# ---- a nested loop that repeats the outer bound --------------------------------------------------------------------
def _range_bound(loop: ast.For) -> str | None:
    """`n` for `for v in range(n)` (one argument, a plain name), else None."""
    it = loop.iter
    if (isinstance(loop.target, ast.Name) and isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
            and it.func.id == "range" and len(it.args) == 1 and isinstance(it.args[0], ast.Name)):
        return it.args[0].id
    return None


def _len_of(node: ast.AST) -> str | None:
    """`X` when node is `len(X)` for a plain name or attribute X (as source text), else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"
            and len(node.args) == 1 and not node.keywords):
        return ast.unparse(node.args[0])
    return None


def _indexes(body: list[ast.stmt], seq: str, var: str) -> bool:
    """Whether the statements read `seq[var]` (the sequence indexed by the loop variable itself)."""
    for stmt in body:
        for node in ast.walk(stmt):
            if (isinstance(node, ast.Subscript) and ast.unparse(node.value) == seq
                    and isinstance(node.slice, ast.Name) and node.slice.id == var):
                return True
    return False


def _paired_sizes(func: _Function) -> dict[str, set[str]]:
    """Each dimension name and the other dimensions it is paired with: sizes assigned in one statement
    (`rows, cols = len(m), len(m[0])`, `h, w = img.shape`), a row's length beside its table's (`n = len(grid)`,
    `m = len(grid[0])`), or dimension-named parameters (`height`, `width`)."""
    pairs: dict[str, set[str]] = {}

    def pair(names: list[str]) -> None:
        for name in names:
            pairs.setdefault(name, set()).update(n for n in names if n != name)

    pair([a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)
          if a.arg in _DIMENSION_PARAMS])
    lengths: dict[str, str] = {}
    for stmt in _statements(func.body):
        together = [name for name, value in _assigned_pairs(stmt) if _len_of(value) is not None]
        lengths.update({name: str(_len_of(value)) for name, value in _assigned_pairs(stmt)
                        if _len_of(value) is not None})
        if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Attribute) and stmt.value.attr == "shape"
                and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Tuple)):
            together = [t.id for t in stmt.targets[0].elts if isinstance(t, ast.Name)]
        pair(together)
    for table, of in lengths.items():
        for row, row_of in lengths.items():
            if row_of.startswith(of + "[") and row_of != of:
                pair([table, row])
    return pairs


def _indexes_both(body: list[ast.stmt], outer: str, inner: str) -> str | None:
    """The first `X[outer][inner]` (or `X[inner][outer]`) the statements read or write, as text."""
    for stmt in body:
        for node in ast.walk(stmt):
            if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Subscript)
                    and isinstance(node.slice, ast.Name) and isinstance(node.value.slice, ast.Name)
                    and {node.slice.id, node.value.slice.id} == {outer, inner}):
                return ast.unparse(node)
    return None


def _repeated_bounds(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        pairs = _paired_sizes(func)
        loops = [s for s in _statements(func.body) if isinstance(s, ast.For)]
        used = {b for b in map(_range_bound, loops) if b}
        for outer in loops:
            bound = _range_bound(outer)
            others = sorted(pairs.get(bound or "", set()) - used)
            if not others:
                continue
            for inner in (s for s in outer.body if isinstance(s, ast.For)):
                if _range_bound(inner) != bound:
                    continue
                assert isinstance(outer.target, ast.Name) and isinstance(inner.target, ast.Name)
                cell = _indexes_both(inner.body, outer.target.id, inner.target.id)
                if cell:
                    yield Finding(inner.lineno, "error", f"Both loops run to `{bound}`, but `{cell}` indexes two "
                                  f"dimensions and `{others[0]}` is the other one's size: a non-square input is "
                                  "read partly, or past its end.", f"for {inner.target.id} in range({others[0]}):",
                                  AST_SOURCE)


# ---- a total overwritten on every pass of its loop ---------------------------------------------------------------
# Names that hold one pass's value on purpose (`last = x` in a loop keeps the last one).
_ONE_PASS_WORDS = frozenset({"last", "prev", "previous", "current", "cur", "latest", "final", "tail", "result"})


def _zero(node: ast.AST) -> bool:
    return _is_empty(node) or (isinstance(node, ast.Constant) and node.value in (0, 0.0)
                               and not isinstance(node.value, bool))


def _overwritten_totals(tree: ast.AST) -> Iterator[Finding]:
    """`total = 0` before a loop, `total = f(item)` at the top of its body (never read or grown in the loop, so no
    per-pass temporary), `total` read after it: every pass throws the previous ones away, so only the last item
    counts."""
    for func in _functions(tree):
        for block in _blocks(func.body):
            for i, loop in enumerate(block):
                if not isinstance(loop, ast.For) or i == 0 or any(
                        isinstance(n, (ast.Break, ast.Continue, ast.Return)) for n in _statements(loop.body)):
                    continue  # a pass that can be skipped or end the loop keeps a chosen value, not the last
                started = {name for stmt in block[:i] for name, value in _assigned_pairs(stmt) if _zero(value)}
                after = block[i + 1:]
                per_item = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
                for stmt in loop.body:
                    for name, value in _assigned_pairs(stmt):
                        if (name not in started or _reads(value, name) or _words(name) & _ONE_PASS_WORDS
                                or not any(_reads(value, item) for item in per_item)
                                or any(_grows(s, name) or _reads(s, name) for s in _statements(loop.body))
                                or not any(_reads(s, name) for s in after)):
                            continue
                        yield Finding(stmt.lineno, "error", f"`{name}` starts empty before the loop, but "
                                      f"`{ast.unparse(stmt)}` replaces it on every pass: only the last "
                                      f"`{ast.unparse(loop.target)}` counts.",
                                      f"accumulate: {name} += {ast.unparse(value)}", AST_SOURCE)


CHECKS = (_extreme_contradictions, _aggregate_contradictions, _fraction_floor_division, _unflushed_buffers,
          _repeated_bounds, _overwritten_totals)


def logic_findings(tree: ast.AST) -> Iterator[Finding]:
    """Every finding of the checks above on a parsed module."""
    for check in CHECKS:
        yield from check(tree)
