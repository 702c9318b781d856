"""The CLI's number options: a value out of bounds or not a number is one line naming the value and the bounds."""

from __future__ import annotations

import argparse

import pytest

from edgemind.core.cli.arg_types import int_in, port, positive_int, temperature


@pytest.mark.parametrize(("read", "text", "says"), [
    (port, "70000", "70000 is not a TCP port (0-65535)"),
    (port, "http", "'http' is not a port number"),
    (positive_int, "0", "0 must be at least 1"),
    (temperature, "2.5", "2.5 must be between 0 and 2"),
    (int_in(1, 256), "257", "257 must be between 1 and 256"),
    (int_in(1, 256), "1.5", "'1.5' is not an integer"),
])
def test_a_bad_number_is_refused_with_what_was_wrong(read, text: str, says: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        read(text)
    assert str(refused.value) == says


def test_the_bounds_themselves_are_accepted() -> None:
    assert (port("0"), port("65535"), positive_int("1"), temperature("0"), temperature("2"), int_in(1, 256)("256")) \
        == (0, 65535, 1, 0.0, 2.0, 256)
