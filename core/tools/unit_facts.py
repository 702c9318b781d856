"""Exact conversion factors between the units a question names, stated to the model before it sets a problem up.

Why: a small model writes `60 * 60` for "milliseconds in 12 minutes"; told "1 minute = 60000 milliseconds" it
writes `12 * 60000`. The factors come from this table (exact by definition), never from the model, and the set-up
check accepts them as known numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction


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
    _unit("millimeter", "millimeters", "length", "0.001", r"\bmillimet|\bmm\b"),
    _unit("centimeter", "centimeters", "length", "0.01", r"\bcentimet|\bcm\b"),
    _unit("meter", "meters", "length", "1", r"(?<!kilo)(?<!centi)(?<!milli)\bmet(er|re)s?\b"),
    _unit("kilometer", "kilometers", "length", "1000", r"\bkilomet|\bkm\b|\bkm/h\b"),
    _unit("inch", "inches", "length", "0.0254", r"\binch(es)?\b"),
    _unit("foot", "feet", "length", "0.3048", r"\bfeet\b|\bfoot\b|\bft\b"),
    _unit("yard", "yards", "length", "0.9144", r"\byards?\b"),
    _unit("mile", "miles", "length", "1609.344", r"\bmiles?\b|\bmph\b"),
    _unit("milligram", "milligrams", "mass", "0.001", r"\bmilligram|\bmg\b"),
    _unit("gram", "grams", "mass", "1", r"(?<!kilo)(?<!milli)\bgrams?\b"),
    _unit("kilogram", "kilograms", "mass", "1000", r"\bkilogram|\bkg\b|\bkilos?\b"),
    _unit("ounce", "ounces", "mass", "28.349523125", r"\bounces?\b|\boz\b"),
    _unit("pound", "pounds", "mass", "453.59237", r"\bpounds?\b|\blbs?\b"),
    _unit("milliliter", "milliliters", "volume", "0.001", r"\bmillilit|\bml\b"),
    _unit("liter", "liters", "volume", "1", r"(?<!milli)\blit(er|re)s?\b"),
    _unit("gallon", "gallons", "volume", "3.785411784", r"\bgallons?\b"),
)
_CELSIUS = re.compile(r"celsius|°\s?c\b|\bdegc\b", re.IGNORECASE)
_FAHRENHEIT = re.compile(r"fahrenheit|°\s?f\b|\bdegf\b", re.IGNORECASE)


def _decimal(value: Fraction) -> str:
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
    lines = [f"1 {big.name} = {_decimal(ratio)} {small.plural}" for big, small, ratio in conversion_factors(question)]
    if _CELSIUS.search(question) and _FAHRENHEIT.search(question):
        lines.append("degrees Fahrenheit = degrees Celsius * 9 / 5 + 32")
    return lines


def factor_numbers(question: str) -> set[Fraction]:
    """The factors unit_facts states, as exact numbers (with their reciprocals): the set-up check accepts them."""
    out: set[Fraction] = set()
    for _big, _small, ratio in conversion_factors(question):
        out |= {ratio, 1 / ratio}
        if ratio.denominator != 1:
            out.add(Fraction(_decimal(ratio)))
    return out
