"""INT4 GEMV/GEMM microbenchmark: onnxruntime MatMulNBits against fp32 MatMul on the same weights, same run.

Speed here is only ever a ratio to a baseline measured in the same run (kernels interleaved, medians over repeats),
plus effective GB/s against the machine's measured read bandwidth: decode reads every weight once per token, so a
GEMV is good when it streams its packed weights near memory speed. Library code: no printing, no CLI.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from .bandwidth import measure_bandwidth
from .matmulnbits import MatMulNBitsWeights, matmulnbits_model, pack_matmulnbits
from .quantize import QuantizedMatrix

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
_SAMPLE_SECONDS = 0.01  # one timing sample repeats a call until it lasts about this long


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


def _fp32_model(w: np.ndarray) -> onnx.ModelProto:
    k, n = w.shape
    graph = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "fp32_matmul",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["M", k])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", n])],
                              [numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def _session(model: onnx.ModelProto, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _bound_call(session: ort.InferenceSession, x: np.ndarray, n: int) -> Callable[[], None]:
    """One call with input and a preallocated output bound once, so a sample times the kernel rather than Python's
    feed handling and output allocation."""
    binding = session.io_binding()
    binding.bind_cpu_input("X", x)
    binding.bind_ortvalue_output("Y", ort.OrtValue.ortvalue_from_shape_and_type((x.shape[0], n), np.float32))
    session.run_with_iobinding(binding)

    def call() -> None:
        session.run_with_iobinding(binding)

    return call


def _calls_per_sample(call: Callable[[], None]) -> int:
    t0 = time.perf_counter()
    call()
    once = time.perf_counter() - t0
    return max(1, int(_SAMPLE_SECONDS / max(once, 1e-7)))


def run_int4_microbench(shapes: Sequence[tuple[int, int] | tuple[int, int, str]] = MODEL_SHAPES,
                        threads: int = 2, repeats: int = 15, *, ms: Sequence[int] = (1, 64), block: int = 32,
                        read_gbs: float | None = None, seed: int = 0) -> list[MicrobenchRow]:
    """Time fp32 MatMul and INT4 MatMulNBits (accuracy_level 0 and 4) for each (K, N) shape and each M.

    The three kernels run interleaved (their order rotating every repeat) so drift in a shared machine's load hits
    them alike; each reports the median of `repeats` samples. `read_gbs` defaults to a fresh measure_bandwidth().
    """
    if threads < 1 or repeats < 1 or not ms or block < 16 or block & (block - 1):
        raise ValueError("microbench needs threads >= 1, repeats >= 1, some M, and a power-of-two block >= 16")
    if read_gbs is None:
        read_gbs = measure_bandwidth().read_gbs
    rng = np.random.default_rng(seed)
    rows: list[MicrobenchRow] = []
    for shape in shapes:
        k, n = int(shape[0]), int(shape[1])
        label = str(shape[2]) if len(shape) > 2 else f"{k}x{n}"
        int4 = _random_int4(k, n, block, rng)
        sessions = {FP32: _session(_fp32_model(_fp32_of(int4)), threads),
                    INT4_ACC0: _session(matmulnbits_model(int4, accuracy_level=0), threads),
                    INT4_ACC4: _session(matmulnbits_model(int4, accuracy_level=4), threads)}
        weight_bytes = {FP32: k * n * 4, INT4_ACC0: int4.nbytes, INT4_ACC4: int4.nbytes}
        for m in ms:
            x = rng.standard_normal((m, k)).astype(np.float32)
            calls = {name: _bound_call(s, x, n) for name, s in sessions.items()}
            inner = {name: _calls_per_sample(call) for name, call in calls.items()}
            samples: dict[str, list[float]] = {name: [] for name in KERNELS}
            for r in range(repeats):
                order = KERNELS[r % 3:] + KERNELS[:r % 3]
                for name in order:
                    call, count = calls[name], inner[name]
                    t0 = time.perf_counter()
                    for _ in range(count):
                        call()
                    samples[name].append((time.perf_counter() - t0) / count)
            medians = {name: statistics.median(s) for name, s in samples.items()}
            for name in KERNELS:
                gbs = weight_bytes[name] / medians[name] / 1e9
                rows.append(MicrobenchRow(
                    kernel=name, label=label, k=k, n=n, m=m, block=None if name == FP32 else block,
                    threads=threads, repeats=repeats, median_ms=medians[name] * 1e3,
                    speedup_vs_fp32=medians[FP32] / medians[name], weight_bytes=weight_bytes[name],
                    effective_gbs=gbs, bandwidth_fraction=gbs / read_gbs, read_gbs=read_gbs))
            log.info("%s M=%d: fp32 %.3f ms, int4 acc0 %.3f ms, acc4 %.3f ms", label, m, medians[FP32] * 1e3,
                     medians[INT4_ACC0] * 1e3, medians[INT4_ACC4] * 1e3)
        del sessions
    return rows
