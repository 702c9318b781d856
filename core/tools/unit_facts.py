"""Exact conversion factors between the units a question names, stated to the model before it sets a problem up,
and named (`minutes_per_hour`) so that a set-up can use a factor by its name and the code supplies the number.

Why: a small model writes `60 * 60` for "milliseconds in 12 minutes"; told "1 minute = 60000 milliseconds" it
writes `12 * 60000`. The factors come from this table (exact by definition), never from the model, and the set-up
check accepts them as known numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .context_facts import NAMED_COUNTS


@dataclass(frozen=True, slots=True)
class Unit:
    name: str  # singular
    plural: str
    dimension: str
    size: Fraction  # in the dimension's base unit
    pattern: re.Pattern[str]


def _unit(name: str, plural: str, dimension: str, size: str, pattern: str) -> Unit:
    return Unit(name, plural, dimension, Fraction(size), re.compile(pattern, re.IGNORECASE))


UNITS = (
    _unit("millisecond", "milliseconds", "time", "0.001", r"\bmillisec|\bms\b"),
    _unit("second", "seconds", "time", "1", r"(?<!milli)\bseconds?\b|\bsecs?\b"),
    _unit("minute", "minutes", "time", "60", r"\bminutes?\b|\bmins?\b"),
    _unit("hour", "hours", "time", "3600", r"\bhours?\b|\bhrs?\b|/h\b|\bmph\b|\bkph\b"),
    _unit("day", "days", "time", "86400", r"\bdays?\b"),
    _unit("week", "weeks", "time", "604800", r"\bweeks?\b"),
    _unit("millimeter", "millimeters", "length", "0.001", r"(?<!square )\bmillimet|\bmm\b(?![2²])"),
    _unit("centimeter", "centimeters", "length", "0.01", r"(?<!cubic )(?<!square )\bcentimet|\bcm\b(?![2²3³])"),
    _unit("meter", "meters", "length", "1", r"(?<!kilo)(?<!centi)(?<!milli)(?<!cubic )(?<!square )\bmet(er|re)s?\b"),
    _unit("kilometer", "kilometers", "length", "1000", r"(?<!square )\bkilomet|\bkm\b(?![2²])|\bkm/h\b"),
    _unit("inch", "inches", "length", "0.0254", r"(?<!square )\binch(es)?\b"),
    _unit("foot", "feet", "length", "0.3048", r"(?<!square )\bfeet\b|(?<!square )\bfoot\b|\bft\b(?![2²])"),
    _unit("yard", "yards", "length", "0.9144", r"(?<!square )\byards?\b"),
    _unit("mile", "miles", "length", "1609.344", r"(?<!square )\bmiles?\b|\bmph\b"),
    _unit("milligram", "milligrams", "mass", "0.001", r"\bmilligram|\bmg\b"),
    _unit("gram", "grams", "mass", "1", r"(?<!kilo)(?<!milli)\bgrams?\b"),
    _unit("kilogram", "kilograms", "mass", "1000", r"\bkilogram|\bkg\b|\bkilos?\b"),
    _unit("ounce", "ounces", "mass", "28.349523125", r"\bounces?\b|\boz\b"),
    _unit("pound", "pounds", "mass", "453.59237", r"\bpounds?\b|\blbs?\b"),
    _unit("metric ton", "metric tons", "mass", "1000000", r"\bmetric tons?\b|\btonnes?\b"),
    _unit("milliliter", "milliliters", "volume", "0.001", r"\bmillilit|\bml\b"),
    _unit("liter", "liters", "volume", "1", r"(?<!milli)\blit(er|re)s?\b"),
    _unit("gallon", "gallons", "volume", "3.785411784", r"\bgallons?\b"),
    # US customary: 4 quarts to the gallon, 2 pints to the quart, 2 cups to the pint, 16 tablespoons to the cup, 3
    # teaspoons to the tablespoon (a gallon is 231 cubic inches exactly)
    _unit("quart", "quarts", "volume", "0.946352946", r"\bquarts?\b|\bqts?\b"),
    _unit("pint", "pints", "volume", "0.473176473", r"\bpints?\b"),
    _unit("cup", "cups", "volume", "0.2365882365", r"\bcups?\b"),
    _unit("tablespoon", "tablespoons", "volume", "0.01478676478125", r"\btablespoons?\b|\btbsp\b"),
    _unit("teaspoon", "teaspoons", "volume", "0.00492892159375", r"\bteaspoons?\b|\btsp\b"),
    # area, in square meters: the length units squared, and the hectare and the acre (exact by definition)
    _unit("square millimeter", "square millimeters", "area", "0.000001", r"\bsquare millimet|\bmm[2²]"),
    _unit("square centimeter", "square centimeters", "area", "0.0001", r"\bsquare centimet|\bcm[2²]"),
    _unit("square meter", "square meters", "area", "1", r"\bsquare met(er|re)s?\b|\bm[2²](?!\w)"),
    _unit("hectare", "hectares", "area", "10000", r"\bhectares?\b"),
    _unit("square kilometer", "square kilometers", "area", "1000000", r"\bsquare kilomet|\bkm[2²]"),
    _unit("square inch", "square inches", "area", "0.00064516", r"\bsquare inch(es)?\b"),
    _unit("square foot", "square feet", "area", "0.09290304", r"\bsquare (feet|foot)\b|\bsq\.? ?ft\b|\bft[2²]"),
    _unit("square yard", "square yards", "area", "0.83612736", r"\bsquare yards?\b"),
    _unit("acre", "acres", "area", "4046.8564224", r"\bacres?\b"),
    _unit("square mile", "square miles", "area", "2589988.110336", r"\bsquare miles?\b"),
    _unit("cubic centimeter", "cubic centimeters", "volume", "0.001", r"\bcubic centimet|\bcm[3³]|\bcc\b"),
    _unit("cubic meter", "cubic meters", "volume", "1000", r"\bcubic met(er|re)s?\b|\bm[3³]"),
    # decimal (SI) sizes, as storage makers and download speeds count; the binary ones have their own names
    _unit("byte", "bytes", "data", "1", r"(?<!kilo)(?<!mega)(?<!giga)(?<!tera)\bbytes?\b"),
    _unit("kilobyte", "kilobytes", "data", "1000", r"\bkilobytes?\b|\bkB\b"),
    _unit("megabyte", "megabytes", "data", "1000000", r"\bmegabytes?\b|\bMB\b"),
    _unit("gigabyte", "gigabytes", "data", "1000000000", r"\bgigabytes?\b|\bGB\b"),
    _unit("terabyte", "terabytes", "data", "1000000000000", r"\bterabytes?\b|\bTB\b"),
    _unit("kibibyte", "kibibytes", "data", "1024", r"\bkibibytes?\b|\bKiB\b"),
    _unit("mebibyte", "mebibytes", "data", "1048576", r"\bmebibytes?\b|\bMiB\b"),
    _unit("gibibyte", "gibibytes", "data", "1073741824", r"\bgibibytes?\b|\bGiB\b"),
)
_SHORT = {"ms": "millisecond", "sec": "second", "secs": "second", "min": "minute", "mins": "minute", "hr": "hour",
          "hrs": "hour", "mm": "millimeter", "cm": "centimeter", "km": "kilometer", "ft": "foot", "mg": "milligram",
          "g": "gram", "kg": "kilogram", "oz": "ounce", "lb": "pound", "lbs": "pound", "ml": "milliliter",
          "metre": "meter", "metres": "meter", "litre": "liter", "litres": "liter", "tonne": "metric ton",
          "tonnes": "metric ton", "qt": "quart", "qts": "quart", "tbsp": "tablespoon", "tsp": "teaspoon",
          "kb": "kilobyte", "mb": "megabyte", "gb": "gigabyte", "tb": "terabyte",
          "kib": "kibibyte", "mib": "mebibyte", "gib": "gibibyte"}
_BY_NAME = {n: u for u in UNITS for n in (u.name, u.plural, u.name.replace(" ", "_"), u.plural.replace(" ", "_"))}
_BY_NAME |= {short: _BY_NAME[long] for short, long in _SHORT.items()}
# `<unit>_per_<unit>` and the ways a model words the same name ("seconds_in_a_day", "hours_per_days")
_FACTOR_NAME = re.compile(r"((?:cubic_|metric_|square_)?[a-z]+)_(?:per|in|in_a|in_an|in_one|each)_"
                          r"((?:cubic_|metric_|square_)?[a-z]+)")
_CELSIUS = re.compile(r"celsius|°\s?c\b|\bdegc\b", re.IGNORECASE)
_FAHRENHEIT = re.compile(r"fahrenheit|°\s?f\b|\bdegf\b", re.IGNORECASE)
_GIVEN_DEGREES = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)\s*(?:°\s?|degrees?\s+|deg\s*)?(celsius|fahrenheit|c\b|f\b)",
                            re.IGNORECASE)


def decimal_text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.10f}".rstrip("0").rstrip(".")


def units_in(question: str) -> list[Unit]:
    return [u for u in UNITS if u.pattern.search(question)]


def conversion_factors(question: str) -> list[tuple[Unit, Unit, Fraction]]:
    """(larger unit, smaller unit, how many of the smaller make one larger) for each pair of units the question names
    in the same dimension."""
    found = units_in(question)
    pairs = []
    for i, big in enumerate(found):
        for small in found[i + 1:]:
            if big.dimension != small.dimension:
                continue
            if small.size > big.size:
                big, small = small, big
            pairs.append((big, small, big.size / small.size))
    return pairs


def unit_facts(question: str) -> list[str]:
    """One line per conversion the question may need, e.g. "1 minute = 60000 milliseconds"."""
    lines = [fact_line(big, small, ratio) for big, small, ratio in conversion_factors(question)]
    if _CELSIUS.search(question) and _FAHRENHEIT.search(question):
        # the formula in the direction the question asks, from the scale its number is in; both when it cannot be told
        # (given the Celsius-to-Fahrenheit formula alone, the 0.5B model used it for 140 degrees Fahrenheit too)
        given = {m.group(2)[0].lower() for m in _GIVEN_DEGREES.finditer(question)}
        if given != {"c"}:
            lines.append("degrees Celsius = (degrees Fahrenheit - 32) * 5 / 9")
        if given != {"f"}:
            lines.append("degrees Fahrenheit = degrees Celsius * 9 / 5 + 32")
    return lines


def given_temperature(question: str) -> tuple[Fraction, str] | None:
    """The one temperature a question converts, and its scale ("c" or "f"), when it names both scales and gives a
    number in one of them; None otherwise."""
    if not (_CELSIUS.search(question) and _FAHRENHEIT.search(question)):
        return None
    found = {(Fraction(m.group(1)), m.group(2)[0].lower()) for m in _GIVEN_DEGREES.finditer(question)}
    return found.pop() if len(found) == 1 else None


def fact_line(big: Unit, small: Unit, ratio: Fraction) -> str:
    """"1 minute = 60000 milliseconds"."""
    return f"1 {big.name} = {decimal_text(ratio)} {small.plural}"


def factor_name(big: Unit, small: Unit) -> str:
    """The name a set-up uses for how many `small` make one `big`: `minutes_per_hour`."""
    return f"{small.plural}_per_{big.name}".replace(" ", "_")


def named_factor(name: str) -> str | None:
    """The exact number a factor name stands for, written as it goes into an expression (`minutes_per_hour` is
    "60", `hours_per_minute` "(60 / 3600)"), from the unit table or the calendar; None for any other name. A factor
    that is no terminating decimal is written as the quotient of the two unit sizes, so it stays exact."""
    key = name.lower()
    if key in NAMED_COUNTS:
        return decimal_text(NAMED_COUNTS[key])
    match = _FACTOR_NAME.fullmatch(key)
    if match is None:
        return None
    part, whole = _BY_NAME.get(match.group(1)), _BY_NAME.get(match.group(2))
    if part is None or whole is None or part.dimension != whole.dimension:
        return None
    ratio = whole.size / part.size
    if _terminates(ratio):
        return decimal_text(ratio)
    return f"({decimal_text(whole.size)} / {decimal_text(part.size)})"


def _terminates(value: Fraction) -> bool:
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def unit_sizes() -> set[Fraction]:
    """Every unit's size in its dimension's base unit: a factor written as a quotient of two sizes uses these."""
    return {u.size for u in UNITS}


def named_facts(question: str) -> list[str]:
    """The factors between the units the question names, as names a set-up may use: "minutes_per_hour = 60"."""
    return [f"{factor_name(big, small)} = {decimal_text(ratio)}" for big, small, ratio in conversion_factors(question)]


def factor_numbers(question: str) -> set[Fraction]:
    """The numbers a set-up may use to convert between the units the question names: for each kind of unit it names
    two of, the factors between every unit of the table from the smallest to the largest it names (seconds in 3 days
    may go through hours and minutes: 24 and 60), with their reciprocals and the units' sizes (a factor written as a
    quotient of two sizes). Nothing for a kind it names one unit of: "liters per minute" and "minutes" need no 60."""
    out: set[Fraction] = set()
    named = units_in(question)
    for dimension in {u.dimension for u in named}:
        sizes = [u.size for u in named if u.dimension == dimension]
        if len(sizes) < 2:
            continue
        between = [u.size for u in UNITS if u.dimension == dimension and min(sizes) <= u.size <= max(sizes)]
        for a in between:
            out.add(a)
            for b in between:
                if a > b:
                    ratio = a / b
                    out |= {ratio, 1 / ratio}
                    if ratio.denominator != 1:
                        out.add(Fraction(decimal_text(ratio)))
    return out


def unit_named(word: str) -> Unit | None:
    """The unit a word names ("miles", "hrs", "kg"), or None."""
    return _BY_NAME.get(word.strip().lower())


# "16 hours a week", "3 meals per day": a number of one unit for each of another
_RATE = re.compile(r"\d[\d,.]*\s+([a-z]+)\s+(?:a|an|per|each|every)\s+([a-z]+)", re.IGNORECASE)


def stated_pairs(question: str) -> set[frozenset[str]]:
    """The pairs of units the question itself links by a rate ("works 16 hours a week": hour and week), by name: the
    set-up then needs no factor between them (a wage over weeks is hourly pay * hours a week * weeks)."""
    out: set[frozenset[str]] = set()
    for a, b in _RATE.findall(question):
        ua, ub = unit_named(a), unit_named(b)
        if ua is not None and ub is not None and ua != ub and ua.dimension == ub.dimension:
            out.add(frozenset((ua.name, ub.name)))
    return out
