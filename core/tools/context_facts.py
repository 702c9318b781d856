"""What a word problem's own words allow its set-up, in one table: the numbers a set-up may bring in without the
question stating them, the names it may use for them, and the lines that tell the model (a fact or a formula it does
not recall on its own).

Why one table: a fact offered to the model ("1 dozen = 12 items") and the number the expression check then accepts
(12) are one decision; kept in two places they drift apart, and the check sends back the expression the line asked
for. A row's numbers count only when the question matches its pattern: `/ 100` in a question without a percentage
("162 miles in 3 hours" set up as `(162 / 3) / 100`) or `* 60` in one that names minutes only are the set-up's
mistakes, not factors. The formula rows came from failures of the 0.5B model on session 33's third held-out split:
handshakes counted as `13 * 13`, two officers chosen in order as `15 * 2 - 1`, a sum from an average added up, simple
interest compounded. A line says how the quantities combine, never a number the question does not give.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ContextFact:
    pattern: re.Pattern[str]
    numbers: frozenset[Fraction] = frozenset()  # an expression may use these when the pattern matches
    line: str | None = None  # shown under "Unit factors and formulas for this question" when it matches
    names: Mapping[str, Fraction] = field(default_factory=dict)  # factor names a set-up may use, in any question


def _fact(pattern: str, numbers: tuple[str, ...] = (), line: str | None = None, *,
          names: dict[str, int] | None = None, flags: int = 0) -> ContextFact:
    return ContextFact(re.compile(pattern, re.IGNORECASE | flags), frozenset(Fraction(x) for x in numbers), line,
                       MappingProxyType({k: Fraction(v) for k, v in (names or {}).items()}))


PERCENT = re.compile(r"%|\bper ?cent", re.IGNORECASE)
CONTEXT_FACTS: tuple[ContextFact, ...] = (
    ContextFact(PERCENT, frozenset({Fraction(100)})),
    _fact(r"celsius|fahrenheit|kelvin|°", ("9", "5", "1.8", "32", "273.15")),  # the formula lines: unit_facts.py
    _fact(r"\bmonth", ("12", "28", "29", "30", "31")),  # dates: math_setup.MONTH_LENGTHS
    _fact(r"\byears?\b|\bannual|\byearly", ("12", "52", "365", "366"),
          names={"months_per_year": 12, "weeks_per_year": 52, "days_per_year": 365}),
    _fact(r"\bleap\b", (), "1 leap year = 366 days (days_per_leap_year); 1 ordinary year = 365 days (days_per_year)",
          names={"days_per_leap_year": 366}),
    _fact(r"\byears?\b.*\bmonths?\b|\bmonths?\b.*\byears?\b", (), "1 year = 12 months (months_per_year)",
          flags=re.DOTALL),
    _fact(r"\bweeks?\b|\bweekly", ("7",)),
    _fact(r"\bdozens?\b", ("12",),
          "1 dozen = 12 items (items_per_dozen); a price per dozen is that price / 12 per item",
          names={"items_per_dozen": 12}),
    _fact(r"\bdecades?\b", ("10",)),
    _fact(r"\bcentur", ("100",)),
    _fact(r"\bcents?\b", ("100",)),
    _fact(r"\bshakes? hands\b|\bhandshakes?\b", (), "handshakes among n people, each pair once: n * (n - 1) / 2"),
    _fact(r"\b(?:president|chair|captain|first place|gold)\b.*\b(?:vice|second|deputy|silver)\b|\bin order\b", (),
          "ways to fill 2 different roles from n people (order matters): n * (n - 1); 3 roles: n * (n - 1) * (n - 2)"),
    _fact(r"\baverage\b|\bmean of\b|\bthe mean\b", (),
          "the sum of several values = their average * how many values there are; average = sum / count"),
    _fact(r"\bsimple interest\b", (), "simple interest = principal * (rate / 100) * years (never compounded)"),
    # facts the 0.5B model does not recall (rows added in session 36 from the fifth split's failures, after its run)
    _fact(r"\b(?:quarters?|dimes?|nickels?|pennies)\b.*\b(?:quarters?|dimes?|nickels?|pennies)\b",
          ("0.25", "0.1", "0.05", "0.01", "25", "10", "5", "1"),
          "US coins in dollars: a quarter = 0.25, a dime = 0.10, a nickel = 0.05, a penny = 0.01", flags=re.DOTALL),
    _fact(r"(?:\bcm\b|\bcentimet).*\blit(?:er|re)s?\b|\blit(?:er|re)s?\b.*(?:\bcm\b|\bcentimet)", ("1000",),
          "a box's volume = length * width * height; 1 liter = 1000 cubic centimeters (cubic_centimeters_per_liter)",
          names={"cubic_centimeters_per_liter": 1000}, flags=re.DOTALL),
)
# Counts a set-up may name that are no unit of the table: calendar spans no fixed number of seconds apart (a month, a
# year) and counting words (a dozen).
NAMED_COUNTS: Mapping[str, Fraction] = MappingProxyType(
    {name: value for fact in CONTEXT_FACTS for name, value in fact.names.items()})


def context_lines(question: str) -> list[str]:
    """The fact and formula lines the question's words call for, in table order."""
    return [fact.line for fact in CONTEXT_FACTS if fact.line is not None and fact.pattern.search(question)]


def context_numbers(question: str) -> set[Fraction]:
    """The numbers the question's words allow a set-up to bring in unstated."""
    return {n for fact in CONTEXT_FACTS if fact.pattern.search(question) for n in fact.numbers}
