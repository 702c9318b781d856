"""The arithmetic every benchmark figure shares: medians, percentiles, a stream's timeline, others' CPU use.

Kept in one place so a TTFT or a p95 means the same thing in `edgemind bench` and in every script under
benchmarks/. Pure measurement: it never starts, loads or changes anything.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import psutil

NOISY_PCT = 10.0  # other processes' CPU share (% of all cores) above which a measurement is flagged as noisy

T = TypeVar("T")


def median(values: Sequence[float]) -> float:
    """Median, NaN for no values (a figure that could not be measured stays visibly missing, never 0)."""
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in 0..100; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@contextmanager
def closing_stream(stream: Iterator[T]) -> Iterator[Iterator[T]]:
    """contextlib.closing for a stream typed as a plain Iterator (Backend.stream, Engine.stream): a measurement that
    leaves the loop early closes the generator, which cancels the generation behind it."""
    try:
        yield stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


@dataclass(slots=True)
class Timeline:
    """What a consumer of a token stream sees: t0 before the call, a timestamp per non-empty piece.

    TTFT = first piece - t0; decode tok/s = (tokens - 1) / (last piece - first piece), because the first token's
    time is the prefill's; inter-token latencies are the gaps between successive pieces."""

    t0: float = field(default_factory=time.perf_counter)
    stamps: list[float] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)

    def piece(self, text: str | None) -> None:
        if not text:
            return
        self.stamps.append(time.perf_counter())
        self.pieces.append(text)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def ttft_ms(self) -> float:
        return (self.stamps[0] - self.t0) * 1000 if self.stamps else float("nan")

    @property
    def decode_ms(self) -> float:
        return (self.stamps[-1] - self.stamps[0]) * 1000 if len(self.stamps) > 1 else 0.0

    def decode_tok_s(self, tokens: int) -> float:
        seconds = self.decode_ms / 1000
        return (tokens - 1) / seconds if tokens > 1 and seconds > 0 else float("nan")

    def gaps_ms(self) -> list[float]:
        return [(b - a) * 1000 for a, b in zip(self.stamps, self.stamps[1:])]


class OthersCpu:
    """CPU that *other* processes used since construction, as % of all cores: on a 2-core laptop a busy neighbour
    slows llama.cpp's threads several-fold, so every figure carries this noise indicator."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._start = self._read()

    def _read(self) -> tuple[float, float, float]:
        sys_t = psutil.cpu_times()
        busy = sum(sys_t) - sys_t.idle - getattr(sys_t, "iowait", 0.0)
        mine = sum(self._me.cpu_times()[:4])  # user, system, children_user, children_system
        return time.perf_counter(), busy, mine

    def percent(self) -> float:
        wall0, busy0, mine0 = self._start
        wall1, busy1, mine1 = self._read()
        if wall1 <= wall0:
            return 0.0
        other = max(0.0, (busy1 - busy0) - (mine1 - mine0))
        return 100.0 * other / ((wall1 - wall0) * (psutil.cpu_count() or 1))


def wait_for_idle(max_wait_s: float, window_s: float = 1.0) -> float:
    """Wait (up to max_wait_s) until other processes use under NOISY_PCT of the CPU for a window; return the wait."""
    started = time.perf_counter()
    while time.perf_counter() - started < max_wait_s:
        probe = OthersCpu()
        time.sleep(window_s)
        if probe.percent() < NOISY_PCT:
            break
    return time.perf_counter() - started
