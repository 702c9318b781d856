"""T-MAC lookup-table GEMV against onnxruntime's MatMulNBits, memory bandwidth and numpy, on the models' shapes.

Speed is only ever a ratio to baselines measured in the same run, same threads: every kernel runs in ABBA order
(the order reverses every repeat, so drift in a shared machine's load hits all alike) and reports the median.
Each kernel runs over distinct weight copies in turn (like a decoder's layers) so weights come from memory, not a
warm cache; every call on one copy is one sample (short samples: a shared, busy machine seldom preempts one), and
the median is over repeats x copies. Every call goes through Python (MatMulNBits: one single-node session per copy,
bound inputs/outputs), so both sides pay a call's overhead. The LUT kernels' times include building the activation
tables every call (a decoder shares one set between q/k/v and between gate/up: the conservative count).
Library code: no printing.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from edgemind.core.bench.kernel_speed import MAX_COPIES, MODEL_SHAPES, STREAM_BYTES, goal_summary, matmulnbits_call
from edgemind.kernels import dequant, tmac
from edgemind.kernels.bandwidth import Bandwidth
from edgemind.kernels.matmulnbits import MatMulNBitsWeights, pack_matmulnbits
from edgemind.kernels.quantize import QuantizedMatrix
from edgemind.kernels.tmac import layout, ops

# The LM head (896 x 151936) is left out by default: one copy is 70 MB of 4-bit codes and its numpy baseline a
# 0.5 GB float matrix; `--shapes 896x151936` runs it.
DEFAULT_SHAPES = tuple(s for s in MODEL_SHAPES if "lm head" not in s[2])
ORT_ACC0, ORT_ACC4, NUMPY = "ort_matmulnbits_acc0", "ort_matmulnbits_acc4", "numpy_dequant_matmul"
LUT4, LUT2, LUT1 = "tmac_lut4", "tmac_lut2", "tmac_lut1"
SPEEDUP_GOAL = 1.3  # issue 22: 4-bit LUT >= 1.3x MatMulNBits
BANDWIDTH_GOAL = 0.60  # ... and >= 60% of measured read bandwidth
LOW_BIT_GOAL = 2.0  # 2-bit/ternary >= 2x the 4-bit kernel


@dataclass(frozen=True, slots=True)
class TmacRow:
    """One kernel on one shape: median time per weight copy and what it means."""

    kernel: str  # LUT4/LUT2/LUT1 (+ "@isa" for a forced path), ORT_ACC0/ORT_ACC4, NUMPY
    label: str
    k: int
    n: int
    threads: int
    repeats: int
    copies: int
    median_us: float
    weight_bytes: int  # bytes of weights (codes + scales) read per copy
    effective_gbs: float
    bandwidth_fraction: float
    speedup_vs_ort: float  # best MatMulNBits median / this median (same shape, same run)
    max_rel_error_vs_ort: float | None  # |y - y_ort| / max |y_ort| on the same 4-bit weights (None: other weights)


def low_bit_block(k: int) -> int:
    """The scale block for the 2-/1-bit kernels: TQ2_0's 256 where K allows, else the largest power of two that
    divides K (128 for Qwen's 896, 64 for SmolLM2's 576)."""
    return next(b for b in (256, 128, 64, 32) if k % b == 0)


def _q4_0_blocks(codes: np.ndarray, d: np.ndarray) -> np.ndarray:
    """ggml Q4_0 bytes of codes (n, k) and fp16 scales (n, k / 32): what the numpy baseline dequantizes."""
    n, k = codes.shape
    q = codes.reshape(n * k // 32, 32)
    packed = (q[:, :16] | (q[:, 16:] << np.uint8(4))).astype(np.uint8)
    return np.concatenate([d.reshape(-1, 1).view(np.uint8), packed], axis=1).reshape(-1)


@dataclass
class _Copies:
    lut: dict[str, list[layout.TmacWeights]]
    ort: list[MatMulNBitsWeights]
    q4_0: np.ndarray  # one copy's Q4_0 bytes, for the numpy baseline


def _weights(k: int, n: int, copies: int, rng: np.random.Generator) -> _Copies:
    lut: dict[str, list[layout.TmacWeights]] = {LUT4: [], LUT2: [], LUT1: []}
    ort: list[MatMulNBitsWeights] = []
    q4 = np.empty(0, np.uint8)
    for _ in range(copies):
        codes = rng.integers(0, 16, (n, k), dtype=np.uint8)
        d = rng.uniform(0.005, 0.02, (n, k // 32)).astype(np.float16)
        lut[LUT4].append(layout.pack(codes, d, bits=4, block=32, zero=8))
        ort.append(pack_matmulnbits(QuantizedMatrix(bits=4, block=32, q=codes, scales=d.astype(np.float32),
                                                    zero_points=None, shape=(n, k))))
        if not q4.size:
            q4 = _q4_0_blocks(codes, d)
        block = low_bit_block(k)
        ternary = rng.integers(0, 3, (n, k), dtype=np.uint8)
        d_low = rng.uniform(0.005, 0.02, (n, k // block)).astype(np.float16)
        lut[LUT2].append(layout.pack(ternary, d_low, bits=2, block=block, zero=1))
        lut[LUT1].append(layout.pack(ternary & np.uint8(1), d_low, bits=1, block=block))
    return _Copies(lut=lut, ort=ort, q4_0=q4)


def _lut_calls(ws: list[layout.TmacWeights], x: np.ndarray, threads: int,
               isa: str | None) -> list[Callable[[], None]]:
    """One call per weight copy: tables for x, then the product (the env var forces a SIMD path for the call)."""
    tables = ops.empty_tables(1, ws[0].k)
    out = np.empty((1, ws[0].n_padded), np.float32)

    def one(w: layout.TmacWeights) -> Callable[[], None]:
        def call() -> None:
            if isa:
                os.environ["EDGEMIND_TMAC_ISA"] = isa
            ops.build_tables(x, out=tables)
            ops.gemm(w, tables, threads=threads, out=out)
            if isa:
                del os.environ["EDGEMIND_TMAC_ISA"]

        return call

    return [one(w) for w in ws]


def _numpy_call(q4: np.ndarray, n: int, k: int, x: np.ndarray) -> Callable[[], None]:
    def call() -> None:
        w = dequant.dequantize(q4, dequant.Q4_0, (n, k))
        w @ x[0]

    return call


def run_tmac_microbench(shapes: Sequence[tuple[int, int] | tuple[int, int, str]] = DEFAULT_SHAPES, *,
                        threads: Sequence[int] = (1, 2), repeats: int = 9, read_gbs: float,
                        stream_bytes: int = STREAM_BYTES, seed: int = 0) -> list[TmacRow]:
    """Time every kernel on every (K, N) GEMV shape at each thread count (weights built once per shape),
    ABBA-interleaved, medians over `repeats` x copies."""
    if not threads or min(threads) < 1 or repeats < 1 or stream_bytes < 0:
        raise ValueError("the T-MAC microbench needs threads >= 1, repeats >= 1 and stream bytes >= 0")
    if not tmac.available():
        raise ValueError(str(tmac.why_unavailable()))
    simd = [isa for isa in tmac.isas() if isa != "scalar"]
    rng = np.random.default_rng(seed)
    rows: list[TmacRow] = []
    for shape in shapes:
        k, n = int(shape[0]), int(shape[1])
        label = str(shape[2]) if len(shape) > 2 else f"{k}x{n}"
        one = layout.pack(np.zeros((n, k), np.uint8), np.zeros((n, k // 32), np.float16), bits=4, block=32).nbytes
        copies = min(MAX_COPIES, max(1, -(-stream_bytes // one)))
        ws = _weights(k, n, copies, rng)
        x = rng.standard_normal((1, k)).astype(np.float32)
        for n_threads in threads:
            calls: dict[str, list[Callable[[], None]]] = {
                ORT_ACC0: [matmulnbits_call([w], x, accuracy_level=0, threads=n_threads) for w in ws.ort],
                ORT_ACC4: [matmulnbits_call([w], x, accuracy_level=4, threads=n_threads) for w in ws.ort],
                LUT4: _lut_calls(ws.lut[LUT4], x, n_threads, None),
                LUT2: _lut_calls(ws.lut[LUT2], x, n_threads, None),
                LUT1: _lut_calls(ws.lut[LUT1], x, n_threads, None),
                NUMPY: [_numpy_call(ws.q4_0, n, k, x)],
            }
            for isa in simd:  # each SIMD path of the 4-bit kernel, forced, so the report says which one wins here
                calls[f"{LUT4}@{isa}"] = _lut_calls(ws.lut[LUT4], x, n_threads, isa)
            per_copy = {name: len(c) for name, c in calls.items()}
            names = list(calls)
            for each in calls.values():  # warm up: first-call costs (pages, thread start) out of the samples
                for call in each:
                    call()
            samples: dict[str, list[float]] = {name: [] for name in names}
            for r in range(repeats):
                for name in (names if r % 2 == 0 else names[::-1]):  # A B ... B A
                    for call in calls[name]:  # each copy timed alone: a short sample a busy machine rarely preempts
                        t0 = time.perf_counter()
                        call()
                        samples[name].append(time.perf_counter() - t0)
            medians = {name: statistics.median(s) for name, s in samples.items()}
            best_ort = min(medians[ORT_ACC0], medians[ORT_ACC4])
            error = _error_vs_ort(ws, x, n_threads)
            bytes_of = {name: ws.lut[name.split("@")[0]][0].nbytes for name in names if name.startswith("tmac")}
            bytes_of |= {ORT_ACC0: ws.ort[0].nbytes, ORT_ACC4: ws.ort[0].nbytes, NUMPY: int(ws.q4_0.nbytes)}
            for name in names:
                gbs = bytes_of[name] / medians[name] / 1e9
                rows.append(TmacRow(
                    kernel=name, label=label, k=k, n=n, threads=n_threads, repeats=repeats, copies=per_copy[name],
                    median_us=medians[name] * 1e6, weight_bytes=bytes_of[name], effective_gbs=gbs,
                    bandwidth_fraction=gbs / read_gbs, speedup_vs_ort=best_ort / medians[name],
                    max_rel_error_vs_ort=error if name.startswith(LUT4) else None))
    return rows


def _error_vs_ort(ws: _Copies, x: np.ndarray, threads: int) -> float:
    """The 4-bit LUT's output against MatMulNBits' fp32-activation output (acc0) on the same weights: the cost of
    quantizing the tables to int8, relative to the output's scale."""
    y_lut = ops.gemv(ws.lut[LUT4][0], x[0], threads=threads)
    y_ref = x[0] @ ws.ort[0].dequantize().T
    return float(np.abs(y_lut - y_ref).max() / max(float(np.abs(y_ref).max()), 1e-30))


def goals(rows: list[TmacRow], stream_bytes: int) -> dict[str, Any]:
    """Per shape: the 4-bit LUT (default path) against the best MatMulNBits and bandwidth, and 2-bit vs 4-bit."""
    per_shape: list[dict[str, Any]] = []
    for r in rows:
        if r.kernel != LUT4:
            continue
        same = {x.kernel: x for x in rows if (x.k, x.n, x.threads) == (r.k, r.n, r.threads)}
        from_memory = r.weight_bytes * r.copies >= stream_bytes
        low2 = same[LUT2].speedup_vs_ort / r.speedup_vs_ort
        per_shape.append({
            "label": r.label, "k": r.k, "n": r.n, "threads": r.threads, "streamed": from_memory,
            "lut4_vs_ort": round(r.speedup_vs_ort, 2), "lut4_bandwidth_fraction": round(r.bandwidth_fraction, 3),
            "lut2_vs_lut4": round(low2, 2), "lut1_vs_lut4": round(same[LUT1].speedup_vs_ort / r.speedup_vs_ort, 2),
            "lut4_vs_numpy": round(same[NUMPY].median_us / r.median_us, 1),
            "speedup_goal_met": r.speedup_vs_ort >= SPEEDUP_GOAL,
            "bandwidth_goal_met": r.bandwidth_fraction >= BANDWIDTH_GOAL,
            "low_bit_goal_met": low2 >= LOW_BIT_GOAL})
    return goal_summary({"speedup": SPEEDUP_GOAL, "bandwidth": BANDWIDTH_GOAL, "low_bit": LOW_BIT_GOAL}, per_shape)


def rows_table(rows: list[TmacRow]) -> str:
    lines = [f"{'shape':20} {'K':>5} {'N':>6} {'thr':>3} {'copies':>6} {'kernel':28} {'us':>9} {'x ort':>6} "
             f"{'GB/s':>6} {'of bw':>6}"]
    for r in rows:
        lines.append(f"{r.label:20} {r.k:5} {r.n:6} {r.threads:3} {r.copies:6} {r.kernel:28} {r.median_us:9.1f} "
                     f"{r.speedup_vs_ort:6.2f} {r.effective_gbs:6.1f} {r.bandwidth_fraction:6.0%}")
    return "\n".join(lines)


def goals_line(summary: dict[str, Any]) -> str:
    return (f"4-bit LUT >= {SPEEDUP_GOAL:g}x best MatMulNBits on {summary['speedup_goal_met_on']} shape/thread runs; "
            f">= {BANDWIDTH_GOAL:.0%} of read bandwidth on {summary['bandwidth_goal_met_on_streamed']} streamed "
            f"shapes; 2-bit >= {LOW_BIT_GOAL:g}x the 4-bit kernel on {summary['low_bit_goal_met_on']} shapes")


def report(command: str, bw: Bandwidth, rows: list[TmacRow], stream_bytes: int, seconds: float) -> dict[str, Any]:
    """benchmarks/results/tmac_kernels.json's shape."""
    return {
        "command": command,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "tmac_isas": tmac.isas(), "tmac_default_isa": tmac.selected_isa(),
                    "onnxruntime": ort.__version__, "numpy": np.__version__, "python": platform.python_version(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "bandwidth": dataclasses.asdict(bw),
        "seconds": round(seconds, 1),
        "rows": [dataclasses.asdict(r) for r in rows],
        "goals": goals(rows, stream_bytes),
    }
