"""EdgeMind's own Python checks for bugs ruff has no rule for: an index that runs one past the end, `== None`, an
exception swallowed whole, a true division used as an index, the result of a function that never returns one; and
code that contradicts itself (review_logic), conditions that cannot mean what they say (review_conditions), bounds and
values that disagree with their neighbours (review_bounds), values that undo or drop themselves (review_values).
Read-only AST walks: the reviewed code is never run.

Each check looks for the bug's whole shape (the loop variable is used to index the same sequence; the quotient is
used as an index), not a pattern alone, so a legitimate `range(len(x) + 1)` over cut positions is not reported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .review_bounds import bounds_findings
from .review_conditions import condition_findings
from .review_findings import AST_SOURCE, Finding
from .review_logic import _indexes, _len_of, logic_findings
from .review_names import name_findings
from .review_values import value_findings

_SWALLOWED_TYPES = {"Exception", "BaseException"}


def _len_plus_one(node: ast.AST) -> str | None:
    if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.right, ast.Constant)
            and node.right.value == 1):
        return _len_of(node.left)
    return None


def _off_by_one(tree: ast.AST) -> Iterator[Finding]:
    for node in ast.walk(tree):
        if (isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Call)
                and isinstance(node.iter.func, ast.Name) and node.iter.func.id == "range" and node.iter.args):
            seq = _len_plus_one(node.iter.args[-1])
            if seq is not None and _indexes(node.body, seq, node.target.id):
                yield Finding(node.lineno, "error", f"Off-by-one: the loop runs to len({seq}) inclusive, so "
                              f"`{seq}[{node.target.id}]` reads past the end (IndexError on the last pass).",
                              f"use range(len({seq}))", AST_SOURCE)
        elif isinstance(node, ast.While) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1:
            left, op, right = node.test.left, node.test.ops[0], node.test.comparators[0]
            seq = _len_of(right) if isinstance(op, ast.LtE) else None
            if seq is not None and isinstance(left, ast.Name) and _indexes(node.body, seq, left.id):
                yield Finding(node.lineno, "error", f"Off-by-one: `{left.id} <= len({seq})` lets `{seq}[{left.id}]` "
                              "read one past the end.", f"use {left.id} < len({seq})", AST_SOURCE)
        elif isinstance(node, ast.Subscript) and _len_of(node.slice) == ast.unparse(node.value):
            seq = ast.unparse(node.value)
            yield Finding(node.lineno, "error", f"Off-by-one: `{seq}[len({seq})]` is always out of range.",
                          f"use {seq}[-1] or {seq}[len({seq}) - 1]", AST_SOURCE)


def _none_comparisons(tree: ast.AST) -> Iterator[Finding]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.Eq, ast.NotEq)) and isinstance(right, ast.Constant) and right.value is None:
                    word = "is" if isinstance(op, ast.Eq) else "is not"
                    yield Finding(node.lineno, "warning", "Comparison to None with `==`/`!=`: an object with its own "
                                  f"__eq__ can answer wrongly; use `{word} None`.", f"use `{word} None`", AST_SOURCE)


def _swallowed(tree: ast.AST) -> Iterator[Finding]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.ExceptHandler):
            continue
        broad = node.type is None or (isinstance(node.type, ast.Name) and node.type.id in _SWALLOWED_TYPES)
        silent = all(isinstance(s, (ast.Pass, ast.Continue))
                     or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in node.body)
        if broad and silent:
            what = "A bare `except:`" if node.type is None else f"`except {ast.unparse(node.type)}:`"
            yield Finding(node.lineno, "warning", f"{what} swallows every error silently: real failures (and bugs) "
                          "vanish without a trace.", "catch the specific exception and handle or log it", AST_SOURCE)


def _float_index(tree: ast.AST) -> Iterator[Finding]:
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            continue
        quotients: dict[str, int] = {}
        for node in ast.walk(func):
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.BinOp) and isinstance(node.value.op, ast.Div)):
                quotients.setdefault(node.targets[0].id, node.lineno)
        for node in ast.walk(func):
            if not isinstance(node, ast.Subscript):
                continue
            index = node.slice
            if isinstance(index, ast.BinOp) and isinstance(index.op, ast.Div):
                yield Finding(node.lineno, "error", "True division `/` gives a float, which cannot index a sequence "
                              "(TypeError).", "use integer division `//`", AST_SOURCE)
            elif isinstance(index, ast.Name) and index.id in quotients:
                line = quotients[index.id]
                yield Finding(line, "error", f"`{index.id}` comes from true division `/` (a float) and is used as an "
                              "index (TypeError).", "use integer division `//`", AST_SOURCE)


def _returns_a_value(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function's own body (not nested functions) returns a value or yields."""
    todo: list[ast.AST] = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            return True
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))
    return False


def _missing_return(tree: ast.AST) -> Iterator[Finding]:
    """A module-level function that never returns a value, whose result the module uses: a return is missing."""
    body = tree.body if isinstance(tree, ast.Module) else []
    valueless = {f.name: f for f in body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and not _returns_a_value(f) and not f.decorator_list}
    statements = {id(s.value) for s in ast.walk(tree) if isinstance(s, ast.Expr)}
    reported: set[str] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in valueless
                and id(node) not in statements and node.func.id not in reported):
            func = valueless[node.func.id]
            reported.add(func.name)
            yield Finding(func.end_lineno or func.lineno, "error", f"`{func.name}` never returns a value, but line "
                          f"{node.lineno} uses its result (always None): a return is missing.",
                          "return the value the function builds", AST_SOURCE)


def ast_findings(tree: ast.AST) -> list[Finding]:
    """Every finding of our own checks on a parsed module, one per line (the first check's), in line order: two
    checks on one line describe one bug (a function that fills a list and returns nothing is also one whose result
    is used), and the merge would keep both."""
    found: dict[int, Finding] = {}
    for check in (_off_by_one, _none_comparisons, _swallowed, _float_index, _missing_return, logic_findings,
                  condition_findings, bounds_findings, name_findings, value_findings):
        for f in check(tree):
            found.setdefault(f.line, f)
    return sorted(found.values(), key=lambda f: f.line)
