"""INT4 GEMV/GEMM microbenchmark: onnxruntime MatMulNBits against fp32 MatMul on the same weights, same run.

Speed here is only ever a ratio to a baseline measured in the same run (kernels interleaved, medians over repeats),
plus effective GB/s against the machine's measured read bandwidth: decode reads every weight once per token, so a
GEMV is good when it streams its packed weights near memory speed. Library code: no printing, no CLI.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from edgemind.kernels.bandwidth import Bandwidth, measure_bandwidth
from edgemind.kernels.matmulnbits import MS_DOMAIN, MatMulNBitsWeights, matmulnbits_node, pack_matmulnbits
from edgemind.kernels.quantize import QuantizedMatrix

log = logging.getLogger(__name__)

# (K, N, what it is) for the bundled models: Qwen2.5-0.5B (hidden 896, 2 KV heads x 64, ffn 4864, vocab 151936)
# and SmolLM2-135M (hidden 576, ffn 1536).
MODEL_SHAPES: tuple[tuple[int, int, str], ...] = (
    (896, 896, "qwen2 attn q/o"),
    (896, 128, "qwen2 attn k/v"),
    (896, 4864, "qwen2 ffn gate/up"),
    (4864, 896, "qwen2 ffn down"),
    (896, 151936, "qwen2 lm head"),
    (576, 576, "smollm2 attn q/o"),
    (576, 1536, "smollm2 ffn gate/up"),
    (1536, 576, "smollm2 ffn down"),
)
FP32 = "fp32_matmul"
INT4_ACC0 = "int4_matmulnbits_acc0"
INT4_ACC4 = "int4_matmulnbits_acc4"
KERNELS = (FP32, INT4_ACC0, INT4_ACC4)
_SAMPLE_SECONDS = 0.01
# GEMV weights are streamed through at least this many bytes per call (twice a large laptop/server L3), in at most
# MAX_COPIES copies.
STREAM_BYTES = 64 * 1024 * 1024
MAX_COPIES = 64  # one timing sample repeats a call until it lasts about this long
# Goals from issue 8, for GEMV: the best INT4 kernel >= 3x fp32 and >= 60% of the measured read bandwidth.
SPEEDUP_GOAL = 3.0
BANDWIDTH_GOAL = 0.60


@dataclass(frozen=True, slots=True)
class MicrobenchRow:
    """One kernel on one shape: median time and what it means against fp32 and memory bandwidth."""

    kernel: str  # FP32, INT4_ACC0 or INT4_ACC4
    label: str
    k: int
    n: int
    m: int  # rows of X: 1 is a GEMV (decode), more a GEMM (prefill)
    block: int | None  # INT4 block size along K; None for fp32
    threads: int
    repeats: int
    copies: int  # distinct weight sets run per call (GEMV reads them from memory, not cache); times are per copy
    median_ms: float
    speedup_vs_fp32: float  # fp32 median / this median, same shape and M, same run
    weight_bytes: int  # bytes of weights read per call: packed codes + scales for INT4, K*N*4 for fp32
    effective_gbs: float  # weight_bytes / median time
    bandwidth_fraction: float  # effective_gbs / measured streaming read bandwidth
    read_gbs: float  # the measured bandwidth it is judged against


def _random_int4(k: int, n: int, block: int, rng: np.random.Generator) -> MatMulNBitsWeights:
    """Random symmetric INT4 weights of a trained layer's scale (codes uniform, scales ~1e-2): timing does not depend
    on the values, and making codes directly avoids quantizing a 0.5 GB float matrix for the LM head."""
    n_blocks = -(-k // block)
    q = rng.integers(0, 16, (n, n_blocks * block), dtype=np.uint8)
    scales = rng.uniform(0.005, 0.02, (n, n_blocks)).astype(np.float32)
    return pack_matmulnbits(QuantizedMatrix(bits=4, block=block, q=q, scales=scales, zero_points=None, shape=(n, k)))


def _fp32_of(weights: MatMulNBitsWeights) -> np.ndarray:
    """The same weights as a float32 [K, N] MatMul operand, decoded a slab of rows at a time to bound memory."""
    w = np.empty((weights.K, weights.N), dtype=np.float32)
    n_blocks = weights.k_blocks
    step = 4096
    for start in range(0, weights.N, step):
        stop = min(start + step, weights.N)
        part = MatMulNBitsWeights(B=weights.B[start:stop],
                                  scales=weights.scales[start * n_blocks:stop * n_blocks],
                                  zero_points=None, K=weights.K, N=stop - start, bits=weights.bits,
                                  block_size=weights.block_size)
        w[:, start:stop] = part.dequantize().T
    return w


def _external(name: str, array: np.ndarray) -> onnx.TensorProto:
    """An initializer whose data the session takes from our numpy array (add_external_initializers): a 0.5 GB fp32
    LM head then lives once in memory instead of in a proto, its serialization and the session's copy."""
    tensor = TensorProto(name=name, data_type=helper.np_dtype_to_tensor_dtype(array.dtype), dims=array.shape)
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="supplied-at-session-creation")
    return tensor


@dataclass(frozen=True, slots=True)
class _Bench:
    session: ort.InferenceSession
    arrays: dict[str, np.ndarray]  # the weights the session reads; kept alive as long as it is


def _bench(nodes: list[onnx.NodeProto], arrays: dict[str, np.ndarray], k: int, n: int, threads: int) -> _Bench:
    """A session over a graph of independent products of one X (outputs Y0..Yc-1), weights shared from `arrays`."""
    outputs = [helper.make_tensor_value_info(f"Y{i}", TensorProto.FLOAT, ["M", n]) for i in range(len(nodes))]
    graph = helper.make_graph(nodes, "microbench", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["M", k])],
                              outputs, [_external(name, a) for name, a in arrays.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS_DOMAIN, 1)])
    model.ir_version = 9
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1  # the copies run one after another, as a decoder's layers do
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    names = list(arrays)
    opts.add_external_initializers(names, [ort.OrtValue.ortvalue_from_numpy(arrays[name]) for name in names])
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return _Bench(session=session, arrays=arrays)


def _fp32_bench(copies: list[MatMulNBitsWeights], threads: int) -> _Bench:
    nodes = [helper.make_node("MatMul", ["X", f"W{i}"], [f"Y{i}"]) for i in range(len(copies))]
    arrays = {f"W{i}": _fp32_of(w) for i, w in enumerate(copies)}
    return _bench(nodes, arrays, copies[0].K, copies[0].N, threads)


def _int4_bench(copies: list[MatMulNBitsWeights], accuracy_level: int, threads: int) -> _Bench:
    nodes: list[onnx.NodeProto] = []
    arrays: dict[str, np.ndarray] = {}
    for i, w in enumerate(copies):
        node, inits = matmulnbits_node(w, "X", f"Y{i}", prefix=f"w{i}", accuracy_level=accuracy_level)
        nodes.append(node)
        # matmulnbits_node's initializers come in the order B, scales, zero points; share ours, not their copies
        arrays.update({t.name: a for t, a in zip(inits, (w.B, w.scales, w.zero_points)) if a is not None})
    return _bench(nodes, arrays, copies[0].K, copies[0].N, threads)


def _benches(k: int, n: int, block: int, copies: int, threads: int,
             rng: np.random.Generator) -> tuple[dict[str, _Bench], int]:
    """The three kernels' sessions over `copies` distinct random weight sets, and one INT4 set's bytes."""
    int4 = [_random_int4(k, n, block, rng) for _ in range(copies)]
    benches = {FP32: _fp32_bench(int4, threads), INT4_ACC0: _int4_bench(int4, 0, threads),
               INT4_ACC4: _int4_bench(int4, 4, threads)}
    return benches, int4[0].nbytes


def _bound_call(session: ort.InferenceSession, x: np.ndarray, n: int) -> Callable[[], None]:
    """One call with input and preallocated outputs bound once, so a sample times the kernels rather than Python's
    feed handling and output allocation."""
    binding = session.io_binding()
    binding.bind_cpu_input("X", x)
    for out in session.get_outputs():
        binding.bind_ortvalue_output(out.name, ort.OrtValue.ortvalue_from_shape_and_type((x.shape[0], n), np.float32))
    session.run_with_iobinding(binding)

    def call() -> None:
        session.run_with_iobinding(binding)

    return call


def matmulnbits_call(copies: list[MatMulNBitsWeights], x: np.ndarray, *, accuracy_level: int,
                     threads: int) -> Callable[[], None]:
    """One bound call running MatMulNBits on each weight copy in turn (outputs preallocated); the session lives as
    long as the returned function. For other benchmarks that race a kernel against onnxruntime's (tmac_speed)."""
    bench = _int4_bench(copies, accuracy_level, threads)
    call = _bound_call(bench.session, x, copies[0].N)

    def run() -> None:
        _ = bench  # keep the session and its weight arrays alive with the call
        call()

    return run


def _calls_per_sample(call: Callable[[], None]) -> int:
    t0 = time.perf_counter()
    call()
    once = time.perf_counter() - t0
    return max(1, int(_SAMPLE_SECONDS / max(once, 1e-7)))


def run_int4_microbench(shapes: Sequence[tuple[int, int] | tuple[int, int, str]] = MODEL_SHAPES,
                        threads: int = 2, repeats: int = 15, *, ms: Sequence[int] = (1, 64), block: int = 32,
                        read_gbs: float | None = None, stream_bytes: int = STREAM_BYTES,
                        seed: int = 0) -> list[MicrobenchRow]:
    """Time fp32 MatMul and INT4 MatMulNBits (accuracy_level 0 and 4) for each (K, N) shape and each M.

    The three kernels run interleaved (their order rotating every repeat) so drift in a shared machine's load hits
    them alike; each reports the median of `repeats` samples. For GEMV (M = 1) each call runs enough distinct copies
    of the weights to read at least `stream_bytes` of INT4 weights (up to 64 copies), as a decoder's layers do, so
    the weights come from memory rather than a warm cache; times are per copy. `read_gbs` defaults to a fresh
    measure_bandwidth().
    """
    if threads < 1 or repeats < 1 or not ms or block < 16 or block & (block - 1) or stream_bytes < 0:
        raise ValueError("microbench needs threads >= 1, repeats >= 1, some M, and a power-of-two block >= 16")
    if read_gbs is None:
        read_gbs = measure_bandwidth().read_gbs
    rng = np.random.default_rng(seed)
    rows: list[MicrobenchRow] = []
    for shape in shapes:
        k, n = int(shape[0]), int(shape[1])
        label = str(shape[2]) if len(shape) > 2 else f"{k}x{n}"
        one_copy = _random_int4(k, n, block, rng).nbytes
        built: dict[int, tuple[dict[str, _Bench], int]] = {}
        for m in ms:
            copies = min(MAX_COPIES, max(1, -(-stream_bytes // one_copy))) if m == 1 else 1
            if copies not in built:
                built.clear()  # one shape's sessions at a time: the fp32 copies can be hundreds of MB
                built[copies] = _benches(k, n, block, copies, threads, rng)
            benches, int4_bytes = built[copies]
            x = rng.standard_normal((m, k)).astype(np.float32)
            calls = {name: _bound_call(b.session, x, n) for name, b in benches.items()}
            inner = {name: _calls_per_sample(call) for name, call in calls.items()}
            samples: dict[str, list[float]] = {name: [] for name in KERNELS}
            for r in range(repeats):
                order = KERNELS[r % 3:] + KERNELS[:r % 3]
                for name in order:
                    call, count = calls[name], inner[name]
                    t0 = time.perf_counter()
                    for _ in range(count):
                        call()
                    samples[name].append((time.perf_counter() - t0) / count / copies)
            medians = {name: statistics.median(s) for name, s in samples.items()}
            weight_bytes = {FP32: k * n * 4, INT4_ACC0: int4_bytes, INT4_ACC4: int4_bytes}
            for name in KERNELS:
                gbs = weight_bytes[name] / medians[name] / 1e9
                rows.append(MicrobenchRow(
                    kernel=name, label=label, k=k, n=n, m=m, block=None if name == FP32 else block,
                    threads=threads, repeats=repeats, copies=copies, median_ms=medians[name] * 1e3,
                    speedup_vs_fp32=medians[FP32] / medians[name], weight_bytes=weight_bytes[name],
                    effective_gbs=gbs, bandwidth_fraction=gbs / read_gbs, read_gbs=read_gbs))
            log.info("%s M=%d x%d copies: fp32 %.3f ms, int4 acc0 %.3f ms, acc4 %.3f ms", label, m, copies,
                     medians[FP32] * 1e3, medians[INT4_ACC0] * 1e3, medians[INT4_ACC4] * 1e3)
    return rows


def goals(rows: list[MicrobenchRow], stream_bytes: int) -> dict[str, Any]:
    """Per GEMV shape, the best INT4 kernel's speedup and bandwidth fraction against the issue's goals. The bandwidth
    goal is judged only where a call streamed at least `stream_bytes` of weights: below that (the 64 copies of a
    tiny K/V projection) they stay in cache and "GB/s" measures the cache."""
    per_shape = []
    for r in rows:
        if r.m != 1 or r.kernel == FP32:
            continue
        best = max((x for x in rows if (x.k, x.n, x.m) == (r.k, r.n, 1) and x.kernel != FP32),
                   key=lambda x: x.speedup_vs_fp32)
        if best is not r:
            continue
        per_shape.append({"label": r.label, "k": r.k, "n": r.n, "kernel": r.kernel,
                          "speedup_vs_fp32": round(r.speedup_vs_fp32, 2),
                          "bandwidth_fraction": round(r.bandwidth_fraction, 3),
                          "streamed": r.weight_bytes * r.copies >= stream_bytes,
                          "speedup_goal_met": r.speedup_vs_fp32 >= SPEEDUP_GOAL,
                          "bandwidth_goal_met": r.bandwidth_fraction >= BANDWIDTH_GOAL})
    return goal_summary({"speedup": SPEEDUP_GOAL, "bandwidth": BANDWIDTH_GOAL}, per_shape)


def goal_summary(targets: dict[str, float], per_shape: list[dict[str, Any]]) -> dict[str, Any]:
    """The "goals" block of a GEMV microbenchmark's result, the same for every kernel benchmark: each goal's target
    (`<goal>_goal`), the rows per shape (each with its `streamed` and `<goal>_goal_met` flags), and on how many
    shapes each goal was met (`<goal>_goal_met_on`, "met/shapes"). The bandwidth goal counts only the shapes whose
    weights streamed from memory (`bandwidth_goal_met_on_streamed`): on the others "GB/s" measures the cache."""
    streamed = [s for s in per_shape if s["streamed"]]
    summary: dict[str, Any] = {f"{goal}_goal": target for goal, target in targets.items()}
    summary["per_shape"] = per_shape
    for goal in targets:
        among, key = ((streamed, "bandwidth_goal_met_on_streamed") if goal == "bandwidth"
                      else (per_shape, f"{goal}_goal_met_on"))
        summary[key] = f"{sum(bool(s[f'{goal}_goal_met']) for s in among)}/{len(among)}"
    return summary


def rows_table(rows: list[MicrobenchRow]) -> str:
    lines = [f"{'shape':20} {'K':>5} {'N':>6} {'M':>3} {'copies':>6} {'kernel':23} {'ms':>9} {'x fp32':>7} "
             f"{'GB/s':>6} {'of bw':>6}"]
    for r in rows:
        lines.append(f"{r.label:20} {r.k:5} {r.n:6} {r.m:3} {r.copies:6} {r.kernel:23} {r.median_ms:9.3f} "
                     f"{r.speedup_vs_fp32:7.2f} {r.effective_gbs:6.1f} {r.bandwidth_fraction:6.0%}")
    return "\n".join(lines)


def goals_line(summary: dict[str, Any]) -> str:
    return (f"GEMV goals (best INT4 kernel per shape): >= {SPEEDUP_GOAL:g}x fp32 on {summary['speedup_goal_met_on']} "
            f"shapes; >= {BANDWIDTH_GOAL:.0%} of read bandwidth on {summary['bandwidth_goal_met_on_streamed']} shapes "
            "streamed from memory")


def microbench_report(command: str, bw: Bandwidth, rows: list[MicrobenchRow], stream_bytes: int,
                      seconds: float) -> dict[str, Any]:
    """benchmarks/results/int4_kernels.json's shape: the command, machine, bandwidth, rows and goal summary."""
    return {
        "command": command,
        "kernels": [FP32, INT4_ACC0, INT4_ACC4],
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "onnxruntime": ort.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "bandwidth": dataclasses.asdict(bw),
        "seconds": round(seconds, 1),
        "rows": [dataclasses.asdict(r) for r in rows],
        "goals": goals(rows, stream_bytes),
    }
