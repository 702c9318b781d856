"""Checks of a function's name against what its body does, and of a value written back unchanged: the shapes of the
name-contradiction bugs in the planted-bug sets that no earlier check covered (issue 18, session 34).

- `top_played` that sorts ascending and keeps the head (`sorted(xs, key=k)[:n]`) returns the fewest, not the top;
- `has_explicit` that returns `all(...)` asks whether every item has it (`any` is what "has" says), `all_ready`
  returning `any(...)` the mirror image;
- `has_upper` whose only character test is `c.islower()` tests the other class of character;
- `count = seen.get(k, 0)` then `seen[k] = count`: the value goes back unchanged, the update (`+ 1`) is missing.

Each needs the whole shape: a name word that says one thing and a call that says its opposite, so `top` sorted with
`reverse=True`, a `has_all_digits` with `all`, or a counter that is incremented are not reported. Read-only AST walks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .review_findings import AST_SOURCE, Finding
from .review_logic import _functions, _is_empty, _own_nodes, _words

_HEAD_IS_LARGEST = frozenset({"top", "most", "highest", "largest", "biggest", "greatest", "popular"})
_HEAD_IS_SMALLEST = frozenset({"bottom", "least", "lowest", "smallest", "fewest", "cheapest"})
_SOME_WORDS = frozenset({"has", "any", "contains", "some"})
_EVERY_WORDS = frozenset({"all", "every", "each"})
# Character classes by the name word and the str method that tests them; digit, numeric and decimal are one class
# here (they differ only outside ASCII), alnum is left out (it holds alpha and digit).
_CHAR_CLASSES = {"upper": "upper", "lower": "lower", "digit": "digit", "numeric": "digit", "decimal": "digit",
                 "alpha": "alpha", "space": "space", "title": "title"}


def _descending(call: ast.Call) -> bool | None:
    """For `sorted(...)`: True with reverse=True, False without reverse (or reverse=False), None when unknown."""
    for kw in call.keywords:
        if kw.arg == "reverse":
            return kw.value.value if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool) else None
    return False


def _sorted_call(node: ast.AST, assigned: dict[str, ast.AST]) -> ast.Call | None:
    """The `sorted(...)` call node is (or a local assigned from one once)."""
    if isinstance(node, ast.Name) and node.id in assigned:
        node = assigned[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sorted":
        return node
    return None


def _head_slices(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        words = _words(func.name)
        wants = "largest" if words & _HEAD_IS_LARGEST else "smallest" if words & _HEAD_IS_SMALLEST else None
        if wants is None or (words & _HEAD_IS_LARGEST and words & _HEAD_IS_SMALLEST):
            continue
        assigned: dict[str, ast.AST] = {}
        for node in _own_nodes(func):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                assigned[name] = node.value if name not in assigned else ast.Constant(None)  # assigned twice: unknown
        for node in _own_nodes(func):
            if not (isinstance(node, ast.Return) and isinstance(node.value, ast.Subscript)
                    and isinstance(node.value.slice, ast.Slice) and node.value.slice.lower is None
                    and node.value.slice.upper is not None and node.value.slice.step is None):
                continue
            call = _sorted_call(node.value.value, assigned)
            descending = _descending(call) if call is not None else None
            if call is None or descending is None or descending == (wants == "largest"):
                continue
            keeps = "smallest" if wants == "largest" else "largest"
            yield Finding(call.lineno, "warning", f"`{func.name}` says it returns the {wants}, but "
                          f"`{ast.unparse(call)}` sorts {'descending' if descending else 'ascending'}, so the head "
                          f"slice keeps the {keeps}.", f"sort with reverse={not descending}", AST_SOURCE)


def _over(call: ast.Call, names: set[str]) -> bool:
    """Whether `any(...)`/`all(...)` runs over one of `names` (`all(t.x for t in tracks)`): a collection of items
    handed in, not the parts of one object (`has_safe_repr(value)` asking all its parts is a property of the whole)."""
    arg = call.args[0] if len(call.args) == 1 else None
    if isinstance(arg, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
        arg = arg.generators[0].iter
    return isinstance(arg, ast.Name) and arg.id in names


def _quantifier_names(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        words = _words(func.name)
        some, every = bool(words & _SOME_WORDS), bool(words & _EVERY_WORDS)
        if some == every:
            continue
        wrong = "all" if some else "any"
        plural = {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]
                  if len(a.arg) > 3 and a.arg.endswith("s") and not a.arg.endswith("ss")}
        for node in _own_nodes(func):
            if (isinstance(node, ast.Return) and isinstance(node.value, ast.Call)
                    and isinstance(node.value.func, ast.Name) and node.value.func.id == wrong
                    and _over(node.value, plural)):
                right = "any" if wrong == "all" else "all"
                yield Finding(node.lineno, "warning", f"`{func.name}` asks whether {'some' if some else 'every'} "
                              f"item qualifies, but `{wrong}(...)` asks whether {'every' if some else 'some'} one "
                              "does.", f"use {right}(...)", AST_SOURCE)


def _character_classes(tree: ast.AST) -> Iterator[Finding]:
    for func in _functions(tree):
        named = {_CHAR_CLASSES[w] for w in _words(func.name) if w in _CHAR_CLASSES}
        if len(named) != 1:
            continue
        want = next(iter(named))
        tests = [(n, _CHAR_CLASSES[n.func.attr[2:]]) for n in _own_nodes(func) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Attribute) and n.func.attr[:2] == "is" and n.func.attr[2:] in _CHAR_CLASSES]
        if tests and all(tested != want for _, tested in tests):
            first, tested = min(tests, key=lambda t: t[0].lineno)
            yield Finding(first.lineno, "error", f"`{func.name}` is about {want} characters, but its test "
                          f"`{ast.unparse(first)}` checks {tested} ones.", f"use .is{want}()", AST_SOURCE)


def _read_from(value: ast.AST) -> str | None:
    """`D[K]` as text for `D.get(K, ...)` or `D[K]`, else None."""
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "get"
            and value.args and not isinstance(value.args[0], ast.Starred)):
        if len(value.args) > 1 and _is_empty(value.args[1]):
            return None  # `d[k] = d.get(k, {})` stores a new container for later: the setdefault idiom
        return f"{ast.unparse(value.func.value)}[{ast.unparse(value.args[0])}]"
    if isinstance(value, ast.Subscript) and not isinstance(value.slice, ast.Slice):
        return ast.unparse(value)
    return None


def _unchanged_write_backs(tree: ast.AST) -> Iterator[Finding]:
    """`n = d.get(k, 0)` then `d[k] = n`, with neither `n` nor `d` used between: the update the read was for is
    missing. (`lookup = d.get(k, {})`, filled, then stored back is the setdefault idiom: `lookup` is used between.)"""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        read: dict[str, str] = {}  # local -> the slot it was read from, while unchanged
        for stmt in body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target = stmt.targets[0]
                if (isinstance(target, ast.Subscript) and isinstance(stmt.value, ast.Name)
                        and read.get(stmt.value.id) == ast.unparse(target)):
                    yield Finding(stmt.lineno, "error", f"`{ast.unparse(stmt)}` writes back the value just read "
                                  f"from `{ast.unparse(target)}`, unchanged: the update is missing.",
                                  f"{ast.unparse(target)} = {stmt.value.id} + 1 (or the change meant)", AST_SOURCE)
                    continue
            touched = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            for name, slot in list(read.items()):  # the local or the container used again: no longer the same value
                if name in touched or slot.split("[", 1)[0].split(".", 1)[0] in touched:
                    del read[name]
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                source = _read_from(stmt.value)
                if source is not None:
                    read[stmt.targets[0].id] = source


CHECKS = (_head_slices, _quantifier_names, _character_classes, _unchanged_write_backs)


def name_findings(tree: ast.AST) -> Iterator[Finding]:
    """Every finding of the checks above on a parsed module."""
    for check in CHECKS:
        yield from check(tree)
