"""INT4 GEMV/GEMM kernels for the bundled models' real shapes, against fp32 MatMul measured in the same run.

    .venv/bin/python benchmarks/int4_kernels.py [--repeats 15] [--threads 2] [--block 32] [--out FILE.json]

For each (K, N) of Qwen2.5-0.5B and SmolLM2-135M and M = 1 (GEMV, decode) and M = 64 (GEMM, prefill): onnxruntime
MatMulNBits INT4 (accuracy_level 0 and 4) and fp32 MatMul on the same weights, same intra-op threads, interleaved,
medians over repeats. GEMV calls run distinct copies of the weights (like a decoder's layers) so they come from
memory, not a warm cache; times are per copy. Prints time, speedup over fp32, effective GB/s (packed weights +
scales read per call / time) and that as a fraction of the streaming read bandwidth measured at the start of the run.
Goals from issue 8, for GEMV: >= 3x fp32 and >= 60% of measured bandwidth.
"""

from __future__ import annotations

import argparse

from edgemind.core.bench.kernel_speed import (
    MODEL_SHAPES,
    STREAM_BYTES,
    goals_line,
    microbench_report,
    rows_table,
    run_int4_microbench,
)
from edgemind.core.bench.microbench_cli import BenchArgumentError, parse_shapes, run_microbench
from edgemind.core.bench.script import run_script


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--m", type=int, nargs="+", default=[1, 64], help="rows of X (1 = GEMV)")
    ap.add_argument("--stream-mb", type=int, default=STREAM_BYTES // 2**20,
                    help="GEMV runs distinct weight copies until a call reads this many MB (0: one cache-warm copy)")
    ap.add_argument("--shapes", nargs="+", metavar="KxN", help="instead of the bundled models' shapes")
    ap.add_argument("--out", help="write the rows and the goal summary as JSON here")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        raise BenchArgumentError("--repeats and --threads must be at least 1")
    shapes = parse_shapes(args.shapes, MODEL_SHAPES)
    stream = args.stream_mb * 2**20
    return run_microbench(
        argv, args.out,
        measure=lambda read_gbs: run_int4_microbench(shapes, threads=args.threads,
                                                     repeats=args.repeats, ms=args.m, block=args.block,
                                                     read_gbs=read_gbs, stream_bytes=stream),
        build_report=lambda command, bw, rows, seconds: microbench_report(command, bw, rows, stream, seconds),
        rows_table=rows_table, goals_line=goals_line)


if __name__ == "__main__":
    run_script(main)
