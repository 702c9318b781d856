"""The calculator's unit table: exact factors (fractions.Fraction) to one base unit per dimension, so a conversion is
as exact as the definitions (1 lb = 0.45359237 kg, 1 in = 2.54 cm). It never guesses: an unknown or ambiguous unit
is refused with one line naming it."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from fractions import Fraction

from edgemind.core.tools.registry import ToolError

F = Fraction


@dataclass(frozen=True, slots=True)
class Unit:
    """`value * factor + offset` is the value in the dimension's base unit (offset: temperatures only)."""

    symbol: str
    dimension: str
    factor: Fraction
    offset: Fraction = Fraction(0)


# (symbol, dimension, factor to the base unit, other names). Base units: m, kg, s, K, m^3, m^2, m/s, byte, J, Pa, W.
# Names are matched exactly first, then without case when that is unambiguous ("mb" could be MB or Mb: refused).
_LB = F("0.45359237")
_GAL = F("3.785411784") / 1000  # US liquid gallon, in m^3
_INCH = F("0.0254")
_FOOT = F("0.3048")
_MILE = F("1609.344")
_G0 = F("9.80665")  # standard gravity: a pound-force is _LB * _G0 newtons
_TABLE: list[tuple[str, str, Fraction, tuple[str, ...]]] = [
    # length
    ("m", "length", F(1), ("meter", "metre")),
    ("km", "length", F(1000), ("kilometer", "kilometre")),
    ("cm", "length", F(1, 100), ("centimeter", "centimetre")),
    ("mm", "length", F(1, 1000), ("millimeter", "millimetre")),
    ("µm", "length", F(1, 10**6), ("um", "micrometer", "micrometre", "micron")),
    ("nm", "length", F(1, 10**9), ("nanometer", "nanometre")),
    ("in", "length", _INCH, ("inch", "inches", '"')),
    ("ft", "length", _FOOT, ("foot", "feet", "'")),
    ("yd", "length", F("0.9144"), ("yard",)),
    ("mi", "length", _MILE, ("mile", "statute mile")),
    ("nmi", "length", F(1852), ("nautical mile",)),
    # mass
    ("kg", "mass", F(1), ("kilogram", "kilo", "kgs")),
    ("g", "mass", F(1, 1000), ("gram", "gramme")),
    ("mg", "mass", F(1, 10**6), ("milligram",)),
    ("µg", "mass", F(1, 10**9), ("ug", "mcg", "microgram")),
    ("t", "mass", F(1000), ("tonne", "metric ton")),
    ("lb", "mass", _LB, ("pound", "lbs")),
    ("oz", "mass", _LB / 16, ("ounce",)),
    ("st", "mass", _LB * 14, ("stone",)),
    ("short ton", "mass", _LB * 2000, ("ton", "us ton")),
    ("long ton", "mass", _LB * 2240, ("imperial ton", "uk ton")),
    # time
    ("s", "time", F(1), ("sec", "second", "secs")),
    ("ms", "time", F(1, 1000), ("millisecond", "msec")),
    ("µs", "time", F(1, 10**6), ("us", "microsecond")),
    ("ns", "time", F(1, 10**9), ("nanosecond",)),
    ("min", "time", F(60), ("minute", "mins")),
    ("h", "time", F(3600), ("hr", "hour", "hrs")),
    ("day", "time", F(86400), ("d", "days")),
    ("week", "time", F(7 * 86400), ("wk", "weeks")),
    ("fortnight", "time", F(14 * 86400), ()),
    ("year", "time", F(365 * 86400), ("yr", "yrs", "common year")),  # a calendar year of 365 days
    ("julian year", "time", F(36525 * 864), ()),  # 365.25 days, as in light years and astronomy
    # volume
    ("m^3", "volume", F(1), ("m3", "m³", "cubic meter", "cubic metre")),
    ("L", "volume", F(1, 1000), ("l", "liter", "litre", "ltr")),
    ("mL", "volume", F(1, 10**6), ("ml", "milliliter", "millilitre", "cm^3", "cm3", "cm³", "cc", "cubic centimeter")),
    ("cL", "volume", F(1, 10**5), ("cl", "centiliter", "centilitre")),
    ("dL", "volume", F(1, 10**4), ("dl", "deciliter", "decilitre")),
    ("gal", "volume", _GAL, ("gallon", "us gallon")),
    ("imp gal", "volume", F("4.54609") / 1000, ("imperial gallon", "uk gallon")),
    ("qt", "volume", _GAL / 4, ("quart", "us quart")),
    ("pt", "volume", _GAL / 8, ("pint", "us pint")),
    ("cup", "volume", _GAL / 16, ("us cup",)),
    ("fl oz", "volume", _GAL / 128, ("floz", "fluid ounce", "us fluid ounce")),
    ("tbsp", "volume", _GAL / 256, ("tablespoon",)),
    ("tsp", "volume", _GAL / 768, ("teaspoon",)),
    ("ft^3", "volume", _FOOT**3, ("ft3", "ft³", "cubic foot", "cubic feet", "cu ft")),
    ("in^3", "volume", _INCH**3, ("in3", "in³", "cubic inch", "cubic inches", "cu in")),
    # area
    ("m^2", "area", F(1), ("m2", "m²", "square meter", "square metre", "sq m", "sqm")),
    ("km^2", "area", F(10**6), ("km2", "km²", "square kilometer", "square kilometre", "sq km")),
    ("cm^2", "area", F(1, 10**4), ("cm2", "cm²", "square centimeter", "square centimetre", "sq cm")),
    ("ha", "area", F(10**4), ("hectare",)),
    ("acre", "area", _FOOT**2 * 43560, ("ac",)),
    ("ft^2", "area", _FOOT**2, ("ft2", "ft²", "square foot", "square feet", "sq ft")),
    ("in^2", "area", _INCH**2, ("in2", "in²", "square inch", "square inches", "sq in")),
    ("mi^2", "area", _MILE**2, ("mi2", "mi²", "square mile", "sq mi")),
    # speed
    ("m/s", "speed", F(1), ("meters per second", "metres per second", "mps")),
    ("km/h", "speed", F(1000, 3600), ("kph", "kmh", "km/hr", "kilometers per hour", "kilometres per hour")),
    ("mph", "speed", _MILE / 3600, ("mi/h", "miles per hour")),
    ("kn", "speed", F(1852, 3600), ("knot", "kt", "kts")),
    ("ft/s", "speed", _FOOT, ("fps", "feet per second")),
    # data (SI prefixes are powers of 1000; KiB, MiB... are powers of 1024)
    ("B", "data", F(1), ("byte",)),
    ("bit", "data", F(1, 8), ("b", "bits")),
    ("kB", "data", F(10**3), ("KB", "kilobyte")),
    ("MB", "data", F(10**6), ("megabyte",)),
    ("GB", "data", F(10**9), ("gigabyte",)),
    ("TB", "data", F(10**12), ("terabyte",)),
    ("PB", "data", F(10**15), ("petabyte",)),
    ("KiB", "data", F(2**10), ("kibibyte",)),
    ("MiB", "data", F(2**20), ("mebibyte",)),
    ("GiB", "data", F(2**30), ("gibibyte",)),
    ("TiB", "data", F(2**40), ("tebibyte",)),
    ("kbit", "data", F(10**3, 8), ("kb", "Kb", "kilobit")),
    ("Mbit", "data", F(10**6, 8), ("Mb", "megabit")),
    ("Gbit", "data", F(10**9, 8), ("Gb", "gigabit")),
    ("Tbit", "data", F(10**12, 8), ("Tb", "terabit")),
    # energy
    ("J", "energy", F(1), ("joule",)),
    ("kJ", "energy", F(1000), ("kilojoule",)),
    ("MJ", "energy", F(10**6), ("megajoule",)),
    ("cal", "energy", F("4.184"), ("calorie", "thermochemical calorie")),
    ("kcal", "energy", F(4184), ("kilocalorie", "Cal", "food calorie")),
    ("Wh", "energy", F(3600), ("watt hour", "watt-hour")),
    ("kWh", "energy", F(3_600_000), ("kilowatt hour", "kilowatt-hour")),
    ("eV", "energy", F("1.602176634e-19"), ("electronvolt", "electron volt")),
    ("BTU", "energy", F("1055.05585262"), ("btu", "british thermal unit")),
    # pressure
    ("Pa", "pressure", F(1), ("pascal",)),
    ("kPa", "pressure", F(1000), ("kilopascal",)),
    ("bar", "pressure", F(10**5), ()),
    ("atm", "pressure", F(101325), ("atmosphere",)),
    ("psi", "pressure", _LB * _G0 / _INCH**2, ("pounds per square inch",)),
    ("mmHg", "pressure", F(101325, 760), ("torr",)),
    # power
    ("W", "power", F(1), ("watt",)),
    ("kW", "power", F(1000), ("kilowatt",)),
    ("MW", "power", F(10**6), ("megawatt",)),
    ("hp", "power", 550 * _FOOT * _LB * _G0, ("horsepower",)),  # mechanical: 550 ft·lbf/s
]
# temperature: to kelvin, with offsets (degF: (x + 459.67) * 5/9)
_TEMPERATURES: list[tuple[str, Fraction, Fraction, tuple[str, ...]]] = [
    ("K", F(1), F(0), ("kelvin", "kelvins", "degK", "°K")),
    ("°C", F(1), F("273.15"), ("C", "degC", "deg C", "celsius", "centigrade", "degree celsius", "degrees celsius",
                               "degrees C", "degree C", "ºC")),
    ("°F", F(5, 9), F("459.67") * F(5, 9), ("F", "degF", "deg F", "fahrenheit", "degree fahrenheit",
                                            "degrees fahrenheit", "degrees F", "degree F", "ºF")),
]


def _plural(name: str) -> list[str]:
    """A unit name's plural ("inch" -> "inches"; "foot" lists "feet" itself); one- and two-letter symbols never get
    one ("ms" is not a plural of "m")."""
    if len(name) < 3 or not name[-1].isalpha() or any(c in name for c in "/^²³°º"):
        return []
    words = name.split(" ")
    last = words[-1]
    plural = last + ("es" if last.endswith(("ch", "sh", "s", "x")) else "s")
    return [" ".join([*words[:-1], plural])]


def _build() -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    entries = [(sym, dim, factor, F(0), names) for sym, dim, factor, names in _TABLE]
    entries += [(sym, "temperature", factor, offset, names) for sym, factor, offset, names in _TEMPERATURES]
    for symbol, dimension, factor, offset, names in entries:
        unit = Unit(symbol, dimension, factor, offset)
        for name in (symbol, *names, *[p for n in (symbol, *names) for p in _plural(n)]):
            if name in units and units[name] != unit:
                raise AssertionError(f"unit name {name!r} is declared twice")  # a table bug, caught at import
            units[name] = unit
    return units


UNITS = _build()
_FOLDED: dict[str, set[Unit]] = {}
for _name, _unit in UNITS.items():
    _FOLDED.setdefault(_name.casefold(), set()).add(_unit)


def _normal(text: str) -> str:
    text = " ".join(text.replace("°", " °").replace("º", " º").split()).strip(" .")
    text = re.sub(r"^(degrees?|deg) ?°", "°", text)
    return text.replace("° ", "°").replace("º ", "º").replace("sq. ", "sq ").replace("cu. ", "cu ")


def find_unit(text: str) -> Unit | None:
    """The unit a name stands for, or None when no unit has it; ToolError when it could be two units."""
    name = _normal(text)
    if name in UNITS:
        return UNITS[name]
    matches = _FOLDED.get(name.casefold(), set())
    if len(matches) > 1:
        options = " or ".join(sorted(u.symbol for u in matches))
        raise ToolError(f"calculator: unit {text.strip()!r} is ambiguous: write {options}")
    return next(iter(matches), None)


def unit(text: str) -> Unit:
    """The unit a name stands for, or ToolError naming the unknown unit (and the closest known names)."""
    found = find_unit(text)
    if found is not None:
        return found
    close = difflib.get_close_matches(_normal(text), list(UNITS), n=3, cutoff=0.75)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ToolError(f"calculator: unknown unit {text.strip()!r}{hint}")


def convert(value: Fraction, source: Unit, target: Unit) -> Fraction:
    """`value` in `source` expressed in `target`, exactly; ToolError when the two measure different things."""
    if source.dimension != target.dimension:
        raise ToolError(f"calculator: cannot convert {source.symbol} ({source.dimension}) "
                        f"to {target.symbol} ({target.dimension})")
    base = value * source.factor + source.offset
    return (base - target.offset) / target.factor
