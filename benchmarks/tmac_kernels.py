"""T-MAC lookup-table GEMV (our C kernels) against onnxruntime MatMulNBits, memory bandwidth and numpy.

    .venv/bin/python benchmarks/tmac_kernels.py [--repeats 7] [--threads 1 2] [--shapes KxN ...] [--out FILE.json]

For each (K, N) of Qwen2.5-0.5B and SmolLM2-135M (the LM head only with --shapes 896x151936): the 4-bit LUT kernel
on the same Q4_0-style weights as MatMulNBits (accuracy_level 0 and 4), the 2-bit (ternary) and 1-bit kernels on
weights of the same shape, the 4-bit kernel forced onto each SIMD path, and numpy dequantize + matmul; same run,
same threads, ABBA order, medians. Goals from issue 22: 4-bit LUT >= 1.3x MatMulNBits and >= 60% of the measured
read bandwidth; 2-bit >= 2x the 4-bit kernel.
"""

from __future__ import annotations

import argparse

from edgemind.core.bench.kernel_speed import STREAM_BYTES
from edgemind.core.bench.microbench_cli import parse_shapes, run_microbench
from edgemind.core.bench.script import run_script
from edgemind.core.bench.tmac_speed import DEFAULT_SHAPES, goals_line, report, rows_table, run_tmac_microbench


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="one run per thread count")
    ap.add_argument("--stream-mb", type=int, default=STREAM_BYTES // 2**20,
                    help="distinct weight copies per call until a call reads this many MB (0: one cache-warm copy)")
    ap.add_argument("--shapes", nargs="+", metavar="KxN", help="instead of the bundled models' shapes")
    ap.add_argument("--out", help="write the rows and the goal summary as JSON here")
    args = ap.parse_args(argv)
    shapes = parse_shapes(args.shapes, DEFAULT_SHAPES)
    stream = args.stream_mb * 2**20
    return run_microbench(
        argv, args.out,
        measure=lambda read_gbs: run_tmac_microbench(shapes, threads=args.threads,
                                                     repeats=args.repeats, read_gbs=read_gbs, stream_bytes=stream),
        build_report=lambda command, bw, rows, seconds: report(command, bw, rows, stream, seconds),
        rows_table=rows_table, goals_line=goals_line)


if __name__ == "__main__":
    run_script(main)
