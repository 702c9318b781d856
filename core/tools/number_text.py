"""How the calculator writes a result: exact values exactly ("= 399.5", "= 210"), a repeating fraction as itself and
rounded ("= 1/3 ≈ 0.333333333333"), anything rounded or inexact after "≈", so a reader (or a model) can tell which
digits are certain. It never prints a binary float's noise (399.50000000000006)."""

from __future__ import annotations

from decimal import Context, Decimal
from fractions import Fraction

SIGNIFICANT = 12  # digits shown of a rounded value: beyond a float's noise, enough for any everyday answer
MAX_EXACT_DIGITS = 20  # a terminating decimal with more significant digits than this is shown rounded
MAX_FRACTION_CHARS = 12  # "n/d" is shown beside the rounded value when it is at most this long


def _plain(d: Decimal) -> str:
    """Positional notation for everyday magnitudes, scientific beyond them; no trailing zeros."""
    if d == 0:
        return "0"
    exponent = d.adjusted()
    if -7 < exponent < 21:
        text = format(d, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, _, power = format(d.normalize(), "e").partition("e")
    return f"{mantissa}e{power}"


def _terminating_digits(value: Fraction) -> int | None:
    """Decimal places of `value` when its decimal expansion ends (denominator of only 2s and 5s), else None."""
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    return max(twos, fives) if den == 1 else None


def rounded(value: Fraction | float) -> str:
    """`value` to SIGNIFICANT significant digits."""
    context = Context(prec=SIGNIFICANT)
    if isinstance(value, Fraction):
        d = context.divide(Decimal(value.numerator), Decimal(value.denominator))
    else:
        d = context.plus(Decimal(repr(value)))
    return _plain(d)


def describe(value: Fraction | float) -> str:
    """The result's text after the expression: "= <exact>", "= <n/d> ≈ <rounded>" or "≈ <rounded>"."""
    if isinstance(value, float):
        return f"≈ {rounded(value)}"
    if value.denominator == 1:
        return f"= {value.numerator}"
    places = _terminating_digits(value)
    if places is not None:
        shifted = abs(value.numerator) * 10**places // value.denominator
        # str() of a huge int is slow (and refused past 4300 digits): only short ones are measured
        digits = len(str(shifted)) if shifted.bit_length() <= 80 else MAX_EXACT_DIGITS + 1
        if digits <= MAX_EXACT_DIGITS:
            exact = Context(prec=digits + 2).divide(Decimal(value.numerator), Decimal(value.denominator))
            return f"= {_plain(exact)}"
    fraction = f"{value.numerator}/{value.denominator}"
    if len(fraction) <= MAX_FRACTION_CHARS:
        return f"= {fraction} ≈ {rounded(value)}"
    return f"≈ {rounded(value)}"
