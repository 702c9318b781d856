"""Problem set-up as a short program: the model writes Python assignments (`cans_per_crate = 24`, ...,
`answer = cans_per_crate * crates_per_van * vans`), and the code reads them without running anything: each name is
replaced by the expression that defined it, so the program becomes one arithmetic expression over the question's
numbers and the unit factors, which is checked against the question (math_setup.check_setup) and calculated.

Why a program: the 0.5B coder model writes code far more reliably than it fills a JSON form, and a program may take
intermediate steps (`daily_cost = ...`, then `answer = daily_cost * days`) where the form allowed one expression.
On the fourth held-out split one greedy program per problem was right on 36 of 60 against 24 for the form, in a
tenth of the time, and the engine with it got 43 (seen: it was designed there); on the fifth split, written blind, it
got 8 of 60 against 10 with the form, in two thirds of the time. Nothing is executed: the statements are parsed
with `ast`, only assignments of arithmetic are read, and the calculator's own evaluator computes the result.
"""

from __future__ import annotations

import ast
import copy
import math
import re
from dataclasses import dataclass
from decimal import Decimal

from .arithmetic import CONSTANTS, FUNCTION_NAMES
from .context_facts import context_lines
from .date_facts import date_facts, named_date, time_facts
from .math_setup import check_setup, normalise_expression
from .unit_facts import conversion_factors, named_factor, named_facts, unit_facts

PROGRAM_INSTRUCTION = (
    "You solve arithmetic word problems by writing a short Python program. Give each number in the question a "
    "variable with a descriptive name, convert units with explicit factors (60 minutes per hour, 1000 grams per "
    "kilogram...), and end with `answer = ...`. Write only the program in a ```python block."
)
# Worked examples, shown as earlier turns: one step, then several (an intermediate value, a percentage as p / 100, a
# unit factor by its name). Each must pass the check on its own question (a test reads them).
EXAMPLES = (
    ("A crate holds 24 cans and a van carries 15 crates. How many cans do 4 vans carry?",
     "```python\ncans_per_crate = 24\ncrates_per_van = 15\nvans = 4\n"
     "answer = cans_per_crate * crates_per_van * vans\n```"),
    ("A runner jogs 4.5 km on each of 5 weekdays and, on Sunday, 40% more than a weekday. How many meters does she "
     "run in the week?",
     "```python\nkm_per_weekday = 4.5\nweekdays = 5\nsunday_km = km_per_weekday * (1 + 40 / 100)\n"
     "week_km = km_per_weekday * weekdays + sunday_km\nanswer = week_km * meters_per_kilometer\n```"),
)
# The program ends at its closing fence: what a model writes after it is prose nobody reads.
PROGRAM_STOP = ("\n```",)
ANSWER_NAMES = ("answer", "result", "total")
# Each name's expression, with the names it uses replaced, stays this small: model output is untrusted, and a program
# that doubles a name on each line (`b = a + a`, `c = b + b`, ...) would otherwise grow exponentially as it is read.
MAX_NODES = 400

_FENCED = re.compile(r"```[a-zA-Z]*\n(.*?)(?:```|$)", re.DOTALL)
_MODULES = frozenset({"math", "fractions", "decimal"})
_FUNCTION_ALIASES = {"int": "floor"}  # a count of whole items: int() of a positive number is its floor


@dataclass(frozen=True, slots=True)
class ProgramSetUp:
    """A program read as one expression: `expression` with its names replaced (ready for the calculator), and what
    is wrong with it as a set-up of the question (None when nothing is)."""
    expression: str
    problem: str | None


def plain_number(value: object) -> str | None:
    """A number as plain decimal digits (never `1e-05`), so the check and the calculator read the same number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class _NotArithmetic(Exception):
    """A statement or name the program set-up does not read (a loop, a function, an attribute of an object)."""


def program_instruction(question: str) -> str:
    """The instruction, with the exact unit factors, facts and formulas the question's words call for, and its dates
    and times by name (the same lines the calculator's check accepts)."""
    facts = named_facts(question) + unit_facts(question)[len(conversion_factors(question)):] + context_lines(question)
    moments = date_facts(question) + time_facts(question)
    return (PROGRAM_INSTRUCTION
            + ("\n\nUnit factors and formulas for this question (use these names or numbers):\n"
               + "\n".join(f"- {f}" for f in facts) if facts else "")
            + ("\n\nDates and times in this question, by name:\n" + "\n".join(f"- {f}" for f in moments)
               if moments else ""))


def program_text(text: str) -> str:
    """The code of the first fenced block (a cut-off block counts), or the whole text when there is no fence."""
    match = _FENCED.search(text)
    return match.group(1) if match else text


class _Inliner(ast.NodeTransformer):
    """Replaces each name by the expression that defined it, a unit factor's or a date's name by its number, and
    `math.sqrt` by the calculator's `sqrt`."""

    def __init__(self, defined: dict[str, ast.expr], question: str) -> None:
        self.defined = defined
        self.question = question

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.defined:
            return copy.deepcopy(self.defined[node.id])
        factor = named_factor(node.id)
        if factor is None:
            day = named_date(node.id, self.question)
            factor = None if day is None else str(day)
        if factor is not None:
            return ast.parse(factor, mode="eval").body
        return ast.Name(_FUNCTION_ALIASES.get(node.id, node.id), ast.Load())

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        if isinstance(node.value, ast.Name) and node.value.id in _MODULES:
            return self.visit_Name(ast.Name(node.attr, ast.Load()))
        raise _NotArithmetic(ast.unparse(node))

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        plain = plain_number(node.value)
        if plain is None:
            raise _NotArithmetic(repr(node.value))
        return ast.Name(plain, ast.Load())  # written out as plain digits, never 1e-05


def _statements(code: str) -> list[tuple[str, ast.expr]]:
    """(target, expression) for each arithmetic statement in order: `x = ...`, `x += ...`, `a, b = 1, 2`, and a
    printed or bare final expression as `answer`. Imports are skipped; anything else is not a set-up."""
    out: list[tuple[str, ast.expr]] = []
    for stmt in ast.parse(code).body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            continue
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                out.append((target.id, stmt.value))
                continue
            names = [t.id for t in target.elts if isinstance(t, ast.Name)] if isinstance(target, ast.Tuple) else []
            if (isinstance(stmt.value, ast.Tuple) and isinstance(target, ast.Tuple)
                    and len(names) == len(target.elts) == len(stmt.value.elts)):
                out.extend(zip(names, stmt.value.elts, strict=True))
                continue
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            out.append((stmt.target.id, stmt.value))
            continue
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            out.append((stmt.target.id, ast.BinOp(ast.Name(stmt.target.id, ast.Load()), stmt.op, stmt.value)))
            continue
        if isinstance(stmt, ast.Expr):
            value = stmt.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print":
                if len(value.args) != 1:
                    continue  # print("The answer is", answer): the answer is assigned already
                value = value.args[0]
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                continue  # a docstring or a printed sentence
            out.append(("answer", value))
            continue
        raise _NotArithmetic(type(stmt).__name__)
    return out


def unknown_note(unknown: list[str], names: list[str]) -> str:
    """What the model is told when its program uses names it never assigned."""
    known = f" (it assigns {', '.join(names)})" if names else ""
    return (f"Your program uses {', '.join(dict.fromkeys(unknown))}, which it never assigns{known} and which is not "
            "a unit factor given. Write the program again, assigning each name before using it.")


def read_program(text: str, question: str) -> ProgramSetUp | None:
    """The program in `text` as one checked expression, or None when there is no arithmetic program in it (prose, a
    loop, a syntax error). The answer is the name `answer` (or `result`, `total`) when the program assigns it, else
    the last name it assigns: a small model often stops right before `answer = ...`."""
    try:
        statements = _statements(program_text(text))
    except (SyntaxError, ValueError, _NotArithmetic):
        return None
    if not statements:
        return None
    defined: dict[str, ast.expr] = {}
    try:
        for target, node in statements:
            defined[target] = _Inliner(defined, question).visit(copy.deepcopy(node))
            if sum(1 for _ in ast.walk(defined[target])) > MAX_NODES:
                raise _NotArithmetic(f"{target} is too long")
        asked = next((name for name in ANSWER_NAMES if name in defined), statements[-1][0])
        expression = normalise_expression(ast.unparse(defined[asked]))
    except (_NotArithmetic, ValueError, RecursionError):
        return None
    unknown = [n.id for n in ast.walk(defined[asked]) if isinstance(n, ast.Name) and not n.id[0].isdigit()
               and n.id not in CONSTANTS and n.id not in FUNCTION_NAMES]
    if unknown:
        return ProgramSetUp(expression, unknown_note(unknown, list(defined)))
    return ProgramSetUp(expression, check_setup(expression, question))
