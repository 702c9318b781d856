"""The command-line half shared by the kernel microbenchmarks (benchmarks/int4_kernels.py, tmac_kernels.py).

Both measure the machine's bandwidth first, run their rows against it, then print a table and the goals and write the
JSON report; keeping that sequence in one place keeps their reports comparable and their errors alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgemind.kernels.bandwidth import Bandwidth, measure_bandwidth

from .report import BenchError
from .script import write_result


class BenchArgumentError(BenchError):
    """A benchmark option that cannot be used (a malformed shape, a size the kernels refuse)."""

    exit_code = 2


def parse_shapes(texts: Sequence[str] | None, default: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """`--shapes 896x4864 ...` as (K, N) tuples, or the default shapes when none are given."""
    if not texts:
        return list(default)
    try:
        return [tuple(int(v) for v in s.lower().split("x")) for s in texts]
    except ValueError:
        raise BenchArgumentError(f"shapes must look like 896x4864, got {' '.join(texts)}") from None


def run_microbench(argv: Sequence[str] | None, out: str | None, *,
                   measure: Callable[[float], list[Any]],
                   build_report: Callable[[str, Bandwidth, list[Any], float], dict[str, Any]],
                   rows_table: Callable[[list[Any]], str], goals_line: Callable[[Any], str]) -> int:
    """Bandwidth, then `measure(read_gbs)` rows, then the report (`build_report(command, bandwidth, rows, seconds)`)
    printed and written to `out`."""
    started = time.time()
    bw = measure_bandwidth()
    print(f"measured bandwidth: read {bw.read_gbs:.1f} GB/s, copy {bw.copy_gbs:.1f} GB/s "
          f"(median of {bw.repeats}, {bw.buffer_mb} MB buffer)")
    try:
        rows = measure(bw.read_gbs)
    except ValueError as exc:
        raise BenchArgumentError(str(exc)) from exc
    command = " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
    result = build_report(command, bw, rows, time.time() - started)
    print(rows_table(rows))
    print(goals_line(result["goals"]))
    if out:
        write_result(out, result)
        print(f"wrote {out}")
    return 0
