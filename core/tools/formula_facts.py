"""Formulas a word problem's set-up needs and a small model does not recall on its own, offered beside the unit
factors when the question's words call for one.

Each came from a failure of the 0.5B model on a held-out split (session 33's third one): handshakes counted as
`13 * 13`, two officers chosen in order as `15 * 2 - 1`, a sum from an average added up, simple interest compounded.
A line says how the quantities combine, never a number the question does not give.
"""

from __future__ import annotations

import re

_FORMULAS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), line) for pattern, line in (
        (r"\bshakes? hands\b|\bhandshakes?\b",
         "handshakes among n people, each pair once: n * (n - 1) / 2"),
        (r"\b(?:president|chair|captain|first place|gold)\b.*\b(?:vice|second|deputy|silver)\b|\bin order\b",
         "ways to fill 2 different roles from n people (order matters): n * (n - 1); 3 roles: n * (n - 1) * (n - 2)"),
        (r"\baverage\b|\bmean of\b|\bthe mean\b",
         "the sum of several values = their average * how many values there are; average = sum / count"),
        (r"\bsimple interest\b",
         "simple interest = principal * (rate / 100) * years (never compounded)"),
    ))


def formula_facts(question: str) -> list[str]:
    """The formula lines the question's words call for, in table order."""
    return [line for pattern, line in _FORMULAS if pattern.search(question)]
