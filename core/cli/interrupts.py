"""Ctrl-C as a user means it: the first press stops the answer cleanly, a second one interrupts for real."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..backends.base import CancelToken


@contextmanager
def ctrl_c_cancels(cancel: CancelToken) -> Iterator[None]:
    """First Ctrl-C stops the answer cleanly (within one token); a second one interrupts for real."""
    def handler(signum: int, frame: Any) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (embedded use): no handler, cancel still works programmatically
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
