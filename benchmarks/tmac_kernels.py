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
import json
import sys
import time
from pathlib import Path

from edgemind.core.bench.kernel_speed import STREAM_BYTES
from edgemind.core.bench.script import run_script
from edgemind.core.bench.tmac_speed import DEFAULT_SHAPES, goals_line, report, rows_table, run_tmac_microbench
from edgemind.kernels.bandwidth import measure_bandwidth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="one run per thread count")
    ap.add_argument("--stream-mb", type=int, default=STREAM_BYTES // 2**20,
                    help="distinct weight copies per call until a call reads this many MB (0: one cache-warm copy)")
    ap.add_argument("--shapes", nargs="+", metavar="KxN", help="instead of the bundled models' shapes")
    ap.add_argument("--out", help="write the rows and the goal summary as JSON here")
    args = ap.parse_args(argv)
    shapes: list = list(DEFAULT_SHAPES)
    if args.shapes:
        try:
            shapes = [tuple(int(v) for v in s.lower().split("x")) for s in args.shapes]
        except ValueError:
            print(f"error: shapes must look like 896x4864, got {args.shapes}", file=sys.stderr)
            return 2
    started = time.time()
    bw = measure_bandwidth()
    print(f"measured bandwidth: read {bw.read_gbs:.1f} GB/s, copy {bw.copy_gbs:.1f} GB/s")
    try:
        rows = run_tmac_microbench(shapes, threads=args.threads, repeats=args.repeats, read_gbs=bw.read_gbs,
                                   stream_bytes=args.stream_mb * 2**20)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
    result = report(command, bw, rows, args.stream_mb * 2**20, time.time() - started)
    print(rows_table(rows))
    print(goals_line(result["goals"]))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_script(main)
