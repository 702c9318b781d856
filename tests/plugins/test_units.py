"""Unit conversions in the calculator: exact factors from the definitions, and one clear line for a unit it does not
know, a unit name that could mean two units, or two units that measure different things."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy.orm import sessionmaker

from edgemind.core.settings import Settings
from edgemind.core.storage.db import open_database
from edgemind.core.tools.registry import ToolError
from edgemind.core.tools.session import open_tool_runner
from edgemind.plugins.builtin.calculator import calculate, split_conversion
from edgemind.plugins.builtin.units import UNITS, convert, unit


@pytest.mark.parametrize(("value", "source", "target", "expected"), [
    ("1", "oz", "g", "28.349523125"),  # exact by definition: 1 lb = 0.45359237 kg, 1 oz = 1/16 lb
    ("30", "°C", "°F", "86"),
    ("212", "degF", "celsius", "100"),
    ("-40", "F", "C", "-40"),
    ("0", "K", "°C", "-273.15"),
    ("3", "days", "s", "259200"),
    ("1", "mile", "km", "1.609344"),
    ("1", "ft", "in", "12"),
    ("1", "gal", "L", "3.785411784"),
    ("1", "fl oz", "mL", "29.5735295625"),
    ("1", "acre", "m^2", "4046.8564224"),
    ("1", "ha", "m²", "10000"),
    ("60", "mph", "km/h", "96.56064"),
    ("1", "kWh", "MJ", "3.6"),
    ("1", "kcal", "kJ", "4.184"),
    ("1", "GiB", "MB", "1073.741824"),
    ("100", "Mbit", "MB", "12.5"),
    ("1", "atm", "kPa", "101.325"),
    ("2", "weeks", "hours", "336"),
])
def test_known_conversions_are_exact(value: str, source: str, target: str, expected: str) -> None:
    assert convert(Fraction(value), unit(source), unit(target)) == Fraction(expected)


@pytest.mark.parametrize(("expression", "line"), [
    ("30 degC to degF", "30 degC = 86 degF"),
    ("30°C to °F", "30 °C = 86 °F"),
    ("3 days to s", "3 days = 259200 s"),
    ("1 kg to oz", "1 kg ≈ 35.2739619496 oz"),
    ("5 in to cm", "5 in = 12.7 cm"),  # "in" the unit, "to" the separator
    ("2 * 3 ft in m", "2 * 3 ft = 1.8288 m"),
    ("1.5kg to lb", "1.5 kg ≈ 3.30693393277 lb"),
    ("2 sq ft to sq in", "2 sq ft = 288 sq in"),
])
def test_the_calculator_converts_an_expression_with_units(expression: str, line: str) -> None:
    assert calculate(expression) == line


def test_plain_arithmetic_is_not_read_as_a_conversion() -> None:
    assert split_conversion("(17 * 23) + sqrt(144)") is None
    assert split_conversion("2 ** 10") is None


@pytest.mark.parametrize(("expression", "message"), [
    ("3 furlongs to m", "calculator: unknown unit 'furlongs'"),
    ("1 kg to stones weight", "calculator: unknown unit 'stones weight'"),
    ("1 kg to m", "calculator: cannot convert kg (mass) to m (length)"),
    ("30 degC to km/h", "calculator: cannot convert °C (temperature) to km/h (speed)"),
    ("1 mb to kB", "calculator: unit 'mb' is ambiguous: write MB or Mbit"),
    ("2 to m", "calculator: no unit before 'to'"),
])
def test_a_conversion_it_cannot_do_is_one_line_naming_the_problem(expression: str, message: str) -> None:
    with pytest.raises(ToolError) as caught:
        calculate(expression)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_every_unit_converts_to_itself_and_back_exactly() -> None:
    for name, u in UNITS.items():
        assert convert(convert(Fraction(7, 3), u, u), u, u) == Fraction(7, 3), name
        base = next(other for other in UNITS.values() if other.dimension == u.dimension)
        assert convert(convert(Fraction(7, 3), u, base), base, u) == Fraction(7, 3), name


def test_a_conversion_runs_through_the_runner_without_any_grant(settings: Settings) -> None:
    runner = open_tool_runner(settings, sessionmaker(open_database(settings.db_path), expire_on_commit=False))
    outcome = runner.call("calculator", {"expression": "1 kg to oz"})
    assert outcome.ok and outcome.decision == "allowed:pure" and "35.2739619496 oz" in outcome.content
    refused = runner.call("calculator", {"expression": "1 kg to parsecs"})
    assert not refused.ok and refused.content == "error: calculator: unknown unit 'parsecs'"


@pytest.mark.parametrize(("expression", "unit_named"), [
    ("1 kg", "kg"),  # a quantity with no target unit
    ("30°C * 9/5 + 32", "°C"),  # a model's own formula with the unit left in
    ("5 miles * 1.609 kilometers per mile", "miles"),
])
def test_units_left_in_arithmetic_get_an_error_that_says_how_to_convert(expression: str, unit_named: str) -> None:
    with pytest.raises(ToolError) as caught:
        calculate(expression)
    assert str(caught.value) == (f"calculator: {unit_named!r} is a unit: arithmetic takes plain numbers, and a "
                                 "conversion is written <number> <unit> to <unit>")
