"""The check a problem set-up passes before it is calculated: the expression it comes to (program_setup.py reads the
model's program into one) may use only the question's numbers and known factors, must use every quantity the
question gives, and must not convert units backwards, twice or not at all; and the normalising that puts an
expression the way a small model writes it (`$2,400 x 35%`) into the calculator's notation.

Why: a small model calls the calculator readily but sets problems up wrong ("seconds in 3 days" became `3 * 28`).
What is wrong is said to the model in words, so it can set the problem up again. Nothing here runs a tool.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .arithmetic import evaluate
from .context_facts import PERCENT, context_numbers
from .date_facts import MINUTES_PER_DAY, dates_in, times_in, without_dates
from .registry import ToolError
from .unit_facts import (
    Unit,
    conversion_factors,
    decimal_text,
    fact_line,
    factor_numbers,
    given_temperature,
    stated_pairs,
    unit_named,
)

_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_EXPR_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")  # in an expression a comma separates arguments
_FACTORIAL = re.compile(r"(\d+)\s*(?:!|factorial)")
# Numbers any set-up may bring in without the question stating them: doubling, halving, a third, a quarter...
GENERIC_FACTORS = frozenset(Fraction(x) for x in ("0.5", "1", "2", "3", "4", "5", "10"))

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


_ASKED_UNIT = re.compile(r"\bhow many ([a-z]+(?: [a-z]+)?)", re.IGNORECASE)


def _unit_in_words(words: list[str]) -> tuple[Unit, str] | None:
    """The unit the first words name ("square meters", "hectares"), two words tried before one, with the words."""
    for n in (2, 1):
        text = " ".join(w.strip(".,?!;:") for w in words[:n])
        unit = unit_named(text) if len(words) >= n else None
        if unit is not None:
            return unit, text
    return None


def converted_wrongly(expression: str, question: str) -> str | None:
    """What is wrong when a number the question gives in a unit is converted to the unit it asks for the wrong way
    round ("how many quarts does a 19-gallon jug hold" as `19 / 4`; 336 hours in days as `336 * 24`), or converted
    at all when it is in that unit already ("how many centimeters are in 3 meters and 39 centimeters" as
    `3 * 100 + 39 * 100`). Only the exact factor counts: a number that also meets a rate is left alone."""
    asked_words = _ASKED_UNIT.findall(question)
    found = _unit_in_words(asked_words[0].split()) if asked_words else None
    base = exact_value(expression)
    if found is None or base is None:
        return None
    asked = found[0]
    factors = {ratio for _big, _small, ratio in conversion_factors(question)}
    factors |= {1 / f for f in factors}
    for match in _NUMBER.finditer(question):
        unit = _unit_in_words(question[match.end():].split())
        if unit is None or unit[0].dimension != asked.dimension or "," in match.group():
            continue
        given = unit[0]
        slope = _slope(expression, Fraction(match.group()), base)
        if slope is None:
            continue
        written = f"{match.group()} {unit[1]}"
        if given == asked and abs(slope) in factors:
            return (f"Your expression converts {written} again, but it is in {asked.plural} already, the unit my "
                    "question asks for. Set the problem up again.")
        if given != asked and slope == asked.size / given.size:
            big, small = (given, asked) if given.size > asked.size else (asked, given)
            step = "*" if given.size > asked.size else "/"
            return (f"Your expression converts {written} to {asked.plural} the wrong way round: 1 {big.name} = "
                    f"{decimal_text(big.size / small.size)} {small.plural}, so {given.plural} {step} "
                    f"{decimal_text(big.size / small.size)} gives {asked.plural}. Set the problem up again.")
    return None


_ASKS_AMOUNT = re.compile(r"\bhow (?:many|much|old|long|far)\b", re.IGNORECASE)


def negative_amount(expression: str, question: str) -> str | None:
    """What is wrong when the question asks how many, how much, how old, how long or how far and the expression
    comes to less than zero (an age as `2003 - 2033`): such an answer is never negative."""
    value = exact_value(expression)
    if value is None or value >= 0 or _ASKS_AMOUNT.search(question) is None:
        return None
    return (f"Your expression comes to {decimal_text(value)}, below zero, but my question asks for an amount, which "
            "is never negative: subtract the smaller number from the larger. Set the problem up again.")


def _slope(expression: str, number: int | Fraction, base: Fraction) -> Fraction | None:
    """How the expression's value moves when `number` (wherever it is written, as plain decimal digits) grows by one;
    None if it is not written."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(decimal_text(Fraction(number)))}(?![\w.])")
    if pattern.search(expression) is None:
        return None
    moved = exact_value(pattern.sub(decimal_text(Fraction(number) + 1), expression))
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
                 or converted_wrongly(expression, question) or negative_amount(expression, question))
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
