"""Problem set-up for arithmetic: the model fills a small JSON form under a grammar (the quantities the question
gives, each named, with units; then one expression over those names) and the code puts the numbers in, normalises
the expression and checks it against the question before it is calculated.

Why: a small model calls the calculator readily but sets problems up wrong ("seconds in 3 days" became `3 * 28`).
Naming the quantities first makes it read them off the question; writing the expression over the names
(`minutes / minutes_per_hour`) leaves it to choose operations, while the digits and the unit factors come from
the code. An expression that uses a number which is neither in the question nor a unit factor, or a name that is
neither a quantity nor a factor, is sent back once with it named. Nothing here runs a tool.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .arithmetic import evaluate
from .context_facts import PERCENT, context_lines, context_numbers
from .date_facts import MINUTES_PER_DAY, date_facts, dates_in, named_date, time_facts, times_in, without_dates
from .registry import ToolError
from .unit_facts import (
    conversion_factors,
    fact_line,
    factor_numbers,
    given_temperature,
    named_factor,
    named_facts,
    stated_pairs,
    unit_facts,
    unit_named,
)

_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_EXPR_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")  # in an expression a comma separates arguments
_FACTORIAL = re.compile(r"(\d+)\s*(?:!|factorial)")
# Numbers any set-up may bring in without the question stating them: doubling, halving, a third, a quarter...
GENERIC_FACTORS = frozenset(Fraction(x) for x in ("0.5", "1", "2", "3", "4", "5", "10"))

SETUP_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "quantities": {"type": "array", "maxItems": 6, "items": {
            "type": "object", "properties": {
                "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"},
                "value": {"type": "number"}, "unit": {"type": "string", "maxLength": 24}},
            "required": ["name", "value", "unit"], "additionalProperties": False}},
        "asked": {"type": "string", "maxLength": 80},
        # arithmetic characters only: the 0.5B model went on past its expression inside the string
        # ('(17/100) * 2350}$$END OF TOOL RESULT$}...', 160 characters of it, ~30 s a set-up on a laptop), where a
        # string that cannot hold `}`, `$`, `=` or quotes can only be closed
        "expression": {"type": "string", "maxLength": 160, "pattern": "^[A-Za-z0-9_ +*/().,%!^-]*$"},
    },
    "required": ["quantities", "asked", "expression"], "additionalProperties": False,
}

SETUP_INSTRUCTION = (
    "# Set-up\n\nBefore anything is calculated, set the problem up as JSON. In \"quantities\" list each number the "
    "user's question gives: a short snake_case \"name\" saying what it counts, its \"value\" (a plain number, "
    "without $ or % signs) and its \"unit\". In \"asked\" say what the question asks for, with its unit. In "
    "\"expression\" write one arithmetic expression over those names (+ - * / ** and parentheses) that computes "
    "what the question asks. Convert units with the unit factors by their names (minutes_per_hour, "
    "grams_per_kilogram, days_per_week...); a percentage p is p / 100 of the whole. Write only the expression, "
    "never its result.\n\nExample: \"A crate holds 24 cans and a van carries 15 crates. How many cans do 4 vans "
    "carry?\" is set up as {\"quantities\": [{\"name\": \"cans_per_crate\", \"value\": 24, \"unit\": \"cans\"}, "
    "{\"name\": \"crates_per_van\", \"value\": 15, \"unit\": \"crates\"}, {\"name\": \"vans\", \"value\": 4, "
    "\"unit\": \"vans\"}], \"asked\": \"cans in 4 vans\", \"expression\": \"cans_per_crate * crates_per_van * vans\"}"
)


def setup_instruction(question: str) -> str:
    """The set-up instruction, with the exact conversion factors between the units the question names, by name, and
    the facts and formulas its words call for (context_facts.py)."""
    facts = named_facts(question) + unit_facts(question)[len(conversion_factors(question)):] + context_lines(question)
    moments = date_facts(question) + time_facts(question)
    return (SETUP_INSTRUCTION
            + ("\n\nUnit factors and formulas for this question:\n" + "\n".join(f"- {f}" for f in facts)
               if facts else "")
            + ("\n\nDates and times in this question, by name:\n" + "\n".join(f"- {f}" for f in moments)
               if moments else ""))


@dataclass(frozen=True, slots=True)
class Quantity:
    name: str
    value: str  # the number as the model wrote it, as a plain decimal
    unit: str


@dataclass(frozen=True, slots=True)
class SetUp:
    quantities: tuple[Quantity, ...]
    expression: str  # as the model wrote it: names and numbers, any result after an `=` dropped


@dataclass(frozen=True, slots=True)
class Settled:
    """A set-up made ready for the calculator: the expression with the numbers in, and what is wrong with it (None
    when nothing is)."""
    expression: str
    problem: str | None


def _plain_number(value: object) -> str | None:
    """A JSON number as plain decimal digits (never `1e-05`), so the check and the calculator read the same number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_setup(text: str) -> SetUp | None:
    """The filled form, or None when the output is not one (cut off, or an empty expression). Anything after an `=`
    is dropped: a model that writes the result too (`(372 / 4) = 93`) still gives a usable expression."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("expression"), str):
        return None
    expression = data["expression"].split("=")[0].strip()
    if not expression or not re.search(r"[\w(]", expression):
        return None
    quantities = []
    for q in data.get("quantities") or []:
        if not isinstance(q, dict):
            continue
        value = _plain_number(q.get("value"))
        if value is not None:
            quantities.append(Quantity(str(q.get("name") or ""), value, str(q.get("unit") or "")))
    return SetUp(tuple(quantities), expression)


# an identifier that is not a function being called ("sqrt(" stays for the calculator)
_NAME = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")
_KEPT_NAMES = frozenset({"pi", "e", "tau", "of"})  # the calculator's constants, and "17% of 2350"
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,]|\.\d*,)")
_TIMES_SPACED = re.compile(r"(?<=[\w)])\s+[xX×]\s+(?=[\w(])")
_TIMES_GLUED = re.compile(r"(?<=[\d)])[xX×](?=[\d(])")
_CURRENCY = re.compile(r"[$€£¥]")


_UNIT_AFTER_NUMBER = re.compile(r"(?<=[\d)])\s*([A-Za-z]+(?:\s*/\s*[A-Za-z]+)?)\b(?!\s*[(_])")
_RATE_UNITS = frozenset({"h", "mph", "kph", "kmh"})


def _is_unit(words: str) -> bool:
    return all(unit_named(w) is not None or w.strip().lower() in _RATE_UNITS for w in words.split("/"))


def normalise_expression(expression: str) -> str:
    """The expression in the calculator's plain notation: currency signs dropped, thousands separators removed
    (`2,400`; not where a function takes arguments, `max(1,200)`), `x` and `×` as `*`, `÷` as `/`, `^` as `**`,
    dashes as minus, and units written after numbers dropped (`4500 km / 900 km/h`). A small model writes money,
    products and quantities the way the question does."""
    text = _CURRENCY.sub("", expression)
    if not re.search(r"[A-Za-z_]\s*\(", text):
        text = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), text)
    text = _TIMES_GLUED.sub("*", _TIMES_SPACED.sub(" * ", text))
    text = _UNIT_AFTER_NUMBER.sub(lambda m: "" if _is_unit(m.group(1)) else m.group(), text)
    for old, new in (("×", "*"), ("·", "*"), ("÷", "/"), ("−", "-"), ("–", "-"), ("^", "**")):
        text = text.replace(old, new)
    return " ".join(text.split())


def settle(setup: SetUp, question: str) -> Settled:
    """The set-up's expression with each quantity's name and each unit factor's name replaced by its number,
    normalised, and checked against the question."""
    values = {q.name.lower(): q.value for q in setup.quantities if q.name}
    by_unit = _values_by_unit(setup.quantities)
    unknown: list[str] = []

    def number_for(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name.lower()) or by_unit.get(name.lower())
        if value is not None:
            return f"({value})" if value.startswith("-") else value
        factor = named_factor(name)
        if factor is not None:
            return factor
        day = named_date(name, question)
        if day is not None:
            return str(day)
        if name not in _KEPT_NAMES:
            unknown.append(name)
        return name

    expression = normalise_expression(_NAME.sub(number_for, normalise_expression(setup.expression)))
    if unknown:
        return Settled(expression, unknown_note(unknown, [q.name for q in setup.quantities if q.name]))
    if not _EXPR_NUMBER.search(expression):
        return Settled(expression, "Your expression has no numbers in it. Set the problem up again.")
    return Settled(expression, check_setup(expression, question))


def _values_by_unit(quantities: tuple[Quantity, ...]) -> dict[str, str]:
    """A quantity's value under its unit's names, where it is the only quantity in that unit: the model names its
    quantities `distance` and `time` and then writes `miles / hours`."""
    found: dict[str, list[str]] = {}
    for q in quantities:
        unit = unit_named(q.unit)
        if unit is not None:
            found.setdefault(unit.name, []).append(q.value)
    out: dict[str, str] = {}
    for q in quantities:
        unit = unit_named(q.unit)
        if unit is not None and len(found[unit.name]) == 1:
            out |= {q.unit.strip().lower(): q.value, unit.name: q.value, unit.plural: q.value}
    return out


def unknown_note(unknown: list[str], names: list[str]) -> str:
    """What the model is told when its expression used names it did not define."""
    known = f" (yours are {', '.join(names)})" if names else ""
    return (f"Your expression uses {', '.join(dict.fromkeys(unknown))}, which is neither one of your quantities' "
            f"names{known} nor a unit factor given. Set the problem up again, writing the expression over your "
            "quantities' names and the unit factors.")


def _numbers(text: str) -> list[Fraction]:
    return [Fraction(n.replace(",", "")) for n in _NUMBER.findall(text)]


def allowed_numbers(question: str) -> set[Fraction]:
    """The numbers an expression for `question` may use: the question's own, the forms a percentage takes in a
    calculation (p/100, 1 ± p/100, 100 ± p), the factors of a factorial it names, and the known unit factors."""
    dates = dates_in(question)
    allowed = (set(GENERIC_FACTORS) | factor_numbers(question) | context_numbers(question)
               | {Fraction(d.day_number) for d in dates})
    percent = PERCENT.search(question) is not None
    if dates:
        allowed |= MONTH_LENGTHS
    times = times_in(question)
    if times:
        allowed |= CLOCK_FACTORS | {Fraction(t.minute) for t in times}
    for n in _numbers(question):
        allowed |= {n, *_as_fractions(n), 100 - n, 100 + n} if percent else {n}
    for match in _FACTORIAL.finditer(question):
        allowed |= {Fraction(k) for k in range(1, min(int(match.group(1)), 1000) + 1)}
    return allowed


def _as_fractions(p: Fraction) -> tuple[Fraction, Fraction, Fraction]:
    """The forms a percentage p takes as a fraction in a calculation: p/100 of the whole, 1 + p/100, 1 - p/100."""
    return p / 100, 1 + p / 100, 1 - p / 100

MONTH_LENGTHS = frozenset(Fraction(n) for n in (28, 29, 30, 31))  # a question naming dates may count across months
# a question naming clock times may count in hours and minutes, across noon or midnight
CLOCK_FACTORS = frozenset(Fraction(n) for n in (12, 24, 60, MINUTES_PER_DAY // 2, MINUTES_PER_DAY))


def foreign_numbers(expression: str, question: str) -> list[str]:
    """The numbers in `expression` that come neither from the question nor from a known factor (empty: it passes)."""
    allowed = allowed_numbers(question)
    return [raw for raw in _EXPR_NUMBER.findall(expression) if Fraction(raw) not in allowed]


def unused_numbers(expression: str, question: str) -> list[str]:
    """The question's numbers the expression leaves out (a set-up that drops a given quantity is wrong: "12 minutes in
    milliseconds" written as `60 * 60`). A factorial's argument counts as used by any of its factors."""
    used = {Fraction(raw) for raw in _EXPR_NUMBER.findall(expression)}
    factorials = {Fraction(m.group(1)) for m in _FACTORIAL.finditer(question)}
    missing = [d.name for d in dates_in(question) if not {Fraction(d.day_number), Fraction(d.day)} & used]
    missing += [t.name for t in times_in(question)  # as a minute of the day, or as its hour and minutes
                if Fraction(t.minute) not in used and not (t.hour in used and (t.past == 0 or t.past in used))]
    for raw in _NUMBER.findall(without_dates(question)):
        n = Fraction(raw.replace(",", ""))
        if n == 0:  # a zero ("9:00") is nothing a set-up must use
            continue
        if n in used or n in factorials or {*_as_fractions(n), 100 - n} & used:
            continue
        missing.append(raw.replace(",", ""))
    return missing


def repeated_factors(expression: str, question: str) -> list[str]:
    """Factors the question does not give that the expression uses more than twice (`27 * 5 * 60 / 60 / 60 * 60 ...`,
    a small model looping inside its expression); seconds in days uses 60 twice at most (`3 * 24 * 60 * 60`)."""
    given = set(_numbers(question))
    counts: dict[str, int] = {}
    for raw in _EXPR_NUMBER.findall(expression):
        if Fraction(raw) not in given:
            counts[raw] = counts.get(raw, 0) + 1
    return [raw for raw, n in counts.items() if n > 2]


_OVER_100 = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*/\s*100(?![\d.])")


def percent_divided_twice(expression: str, question: str) -> str | None:
    """A percentage the expression divides by 100 after writing it as a fraction already: `1.02 / 100 * 8400` for a
    2% growth (1.02 is 1 + 2/100). Returns that number as written, or None."""
    if PERCENT.search(question) is None:
        return None
    given = set(_numbers(question))
    as_fractions = {f for n in given for f in _as_fractions(n)} - given
    return next((m.group(1) for m in _OVER_100.finditer(expression) if Fraction(m.group(1)) in as_fractions), None)


def exact_value(expression: str) -> Fraction | None:
    """The exact value of an arithmetic expression as the calculator reads it; None where it is rounded (an irrational
    function), undefined or not arithmetic."""
    try:
        value = evaluate(expression)
    except ToolError:
        return None
    return value if isinstance(value, Fraction) else None


def span_backwards(expression: str, question: str) -> str | None:
    """What is wrong when the expression uses the numbers of a question's two dates (or two clock times) and does not
    count from the earlier to the later: its value must grow with the later one and shrink with the earlier one.
    `74 - 2 + 107 - 2` for the days from March 15 to April 17 adds both day numbers."""
    spans = (("days", [(d.name, d.text, d.day_number) for d in dates_in(question)]),
             ("minutes", [(t.name, t.text, t.minute) for t in times_in(question)]))
    base = exact_value(expression)
    if base is None:
        return None
    for what, mentions in spans:
        if len(mentions) != 2 or mentions[0][2] == mentions[1][2]:
            continue
        (early, early_text, early_n), (late, late_text, late_n) = mentions
        slopes = [_slope(expression, n, base) for n in (early_n, late_n)]
        if slopes[0] is not None and slopes[1] is not None and not slopes[0] < 0 < slopes[1]:
            return (f"Your expression does not count the {what} from {early_text} to {late_text}: that is {late} - "
                    f"{early} ({late_n} - {early_n}), the later number minus the earlier one. Set the problem up "
                    "again.")
    return None


def temperature_backwards(expression: str, question: str) -> str | None:
    """What is wrong when the expression converts the question's temperature the wrong way (140 degrees Fahrenheit
    to Celsius as `140 * 9 / 5 + 32`): a change of one degree in the given scale is 5/9 of a degree Celsius or 9/5
    of a degree Fahrenheit in the other."""
    given = given_temperature(question)
    base = exact_value(expression)
    if given is None or base is None or given[0].denominator != 1:
        return None
    degrees, scale = given
    slope = _slope(expression, int(degrees), base)
    if slope is None or slope == (Fraction(5, 9) if scale == "f" else Fraction(9, 5)):
        return None
    formula = f"({degrees} - 32) * 5 / 9" if scale == "f" else f"{degrees} * 9 / 5 + 32"
    source, target = ("Fahrenheit", "Celsius") if scale == "f" else ("Celsius", "Fahrenheit")
    return (f"Your expression does not convert {degrees} degrees {source} to {target}: that is {formula}. Set the "
            "problem up again.")


_ASKED_UNIT = re.compile(r"\bhow many ([a-z]+)\b", re.IGNORECASE)


def converted_twice(expression: str, question: str) -> str | None:
    """What is wrong when a number the question gives in the unit it asks for is multiplied by a conversion factor
    ("how many centimeters are in 3 meters and 39 centimeters" as `3 * 100 + 39 * 100`): it is in that unit already."""
    asked_words = _ASKED_UNIT.findall(question)
    asked = unit_named(asked_words[0]) if asked_words else None
    base = exact_value(expression)
    if asked is None or base is None:
        return None
    factors = {ratio for _big, _small, ratio in conversion_factors(question)}
    factors |= {1 / f for f in factors}
    for match in _NUMBER.finditer(question):
        following = question[match.end():].split()
        if not following or unit_named(following[0].strip(".,?!;:")) != asked or "," in match.group():
            continue
        number = Fraction(match.group())
        if number.denominator != 1:
            continue
        slope = _slope(expression, int(number), base)
        if slope is not None and abs(slope) in factors:
            return (f"Your expression converts {match.group()} {following[0].strip('.,?!;:')} again, but it is in "
                    f"{asked.plural} already, the unit my question asks for. Set the problem up again.")
    return None


def _slope(expression: str, number: int, base: Fraction) -> Fraction | None:
    """How the expression's value moves when `number` (wherever it is written) grows by one; None if it is not
    written."""
    pattern = re.compile(rf"(?<![\w.]){number}(?![\w.])")
    if pattern.search(expression) is None:
        return None
    moved = exact_value(pattern.sub(str(number + 1), expression))
    return None if moved is None else moved - base


def check_setup(expression: str, question: str) -> str | None:
    """What is wrong with the expression as a set-up of the question, said to the model; None when nothing is."""
    foreign = foreign_numbers(expression, question)
    if foreign:
        return retry_note(foreign)
    repeated = repeated_factors(expression, question)
    if repeated:
        return (f"Your expression uses {', '.join(repeated)} over and over. Set the problem up again with each unit "
                "converted once.")
    twice = percent_divided_twice(expression, question)
    if twice is not None:
        return (f"In your expression {twice} is already a percentage taken as a fraction; dividing it by 100 again "
                "makes the result 100 times too small. Set the problem up again.")
    backwards = (span_backwards(expression, question) or temperature_backwards(expression, question)
                 or converted_twice(expression, question))
    if backwards is not None:
        return backwards
    stated = stated_pairs(question)
    pairs = [p for p in conversion_factors(question) if frozenset((p[0].name, p[1].name)) not in stated]
    if pairs and all(Fraction(raw) in set(_numbers(question)) for raw in _EXPR_NUMBER.findall(expression)):
        facts = "; ".join(fact_line(*pair) for pair in pairs)
        return (f"My question mixes units ({facts}), but your expression converts nothing. Set the problem up "
                "again, converting with those factors.")
    unused = unused_numbers(expression, question)
    if unused:
        return (f"Your expression leaves out {', '.join(unused)}, which my question gives. Set the problem up again "
                "so that the expression uses every quantity in the question.")
    return None


def has_numbers(question: str) -> bool:
    """Only a question that states numbers is set up (a math question without any is left to the usual loop)."""
    return _NUMBER.search(question) is not None


# A run of numbers, operators and brackets the user typed: "1234 * 5678 + 91", "(17 + 3) × 4", "2^10"
_WRITTEN_RUN = re.compile(r"[-−(]*\d[\d\s.,+\-*/^×÷−()]*[\d)]|[-−(]*\d")
_SPACED_TIMES = re.compile(r"(?<=[\d)])\s+[xX]\s+(?=[\d(])")
# Unmistakably arithmetic: "12/25/2024" and "2024-01-05" are dates, "555-1234" a phone number, so a slash or a dash
# counts only with spaces around it
_ARITHMETIC = re.compile(r"[+*^×÷()]|\s[-−/]\s")


def written_expression(question: str) -> str | None:
    """The expression the question writes out, when it is the whole of what the question gives: "What is 1234 * 5678
    + 91?" needs no set-up by the model (three generations on a laptop) but the calculator on exactly that. None when
    a number stands outside the expression ("12 * 7, rounded to 2 places"), when more than one run of arithmetic is
    written, or when the run is not unmistakably arithmetic (dates, phone numbers, a lone number)."""
    text = _SPACED_TIMES.sub(" * ", question)
    runs = [m for m in _WRITTEN_RUN.finditer(text) if _NUMBER.search(m.group())]
    if len(runs) != 1:
        return None
    run = runs[0].group().strip().rstrip(",.")
    if not _ARITHMETIC.search(run) or run.count("(") != run.count(")"):
        return None
    if _NUMBER.search(text[: runs[0].start()] + " " + text[runs[0].end():]):
        return None
    return normalise_expression(run)


def retry_note(foreign: list[str]) -> str:
    """What the model is told when its expression used numbers from nowhere."""
    return (f"Your expression uses {', '.join(foreign)}, which the question does not give and which is not a unit "
            "factor. Set the problem up again, using only the numbers in my question and unit conversion factors.")
