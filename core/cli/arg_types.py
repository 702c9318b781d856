"""argparse `type=` callables for numbers within bounds: a bad value is argparse's one-line usage error that says
what was wrong with it, never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def bounded(parse: Callable[[str], N], noun: str, ok: Callable[[N], bool], refusal: str) -> Callable[[str], N]:
    """A `type=` that reads the text with `parse` ("'x' is not {noun}" when it cannot) and refuses a value `ok`
    rejects with "{value} {refusal}"."""

    def read(text: str) -> N:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{value} {refusal}")
        return value

    return read


def int_in(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`, both included."""
    return bounded(int, "an integer", lambda v: low <= v <= high, f"must be between {low} and {high}")


positive_int = bounded(int, "an integer", lambda v: v >= 1, "must be at least 1")
temperature = bounded(float, "a number", lambda v: 0.0 <= v <= 2.0, "must be between 0 and 2")
port = bounded(int, "a port number", lambda v: 0 <= v <= 65535, "is not a TCP port (0-65535)")
