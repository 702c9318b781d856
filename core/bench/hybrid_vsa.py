"""VSA gradient compression on the real LoRA gradients of the 135M model: the compression ratio against the
reconstruction (relative L2 error, cosine) over several hypervector dimensions, and the question that matters --
does a tune whose every step applies the compressed-then-reconstructed gradient reach the plain tune's held-out
loss? Behind `benchmarks/hybrid_trainer.py --lora-vsa` (needs --lora-steps and the model file).

`bundled` is how many gradient chunks share one hypervector: the hypervector dimension (= chunk size) is the
gradient's length over it, so a float hypervector is `bundled` times smaller than the gradient. With random keys
the unbound chunk is the original plus the other chunks' crosstalk, so for chunks of similar energy the relative
error grows like sqrt(bundled - 1) and the cosine falls like 1/sqrt(bundled): `expected_float_error`.

The curve maths are pure functions of numpy vectors (tests/core/test_hybrid_bench.py)."""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..training.vsa import compression_curve, round_trip
from ..tuning.stack import Base
from .hybrid_lora import LOSS_TOLERANCE, report_row, run_tune

BUNDLED = (1, 2, 4, 16, 64)  # gradient chunks per hypervector on the curve
# The short tunes that apply a compressed gradient every step: (method, chunks bundled per hypervector).
TRAINED = (("vsa-float", 2), ("vsa-float", 16), ("vsa-ternary", 2), ("ternary-only", 1))
PROBE_EVERY = 8  # steps between two recorded gradients of the plain tune (its first step included)


def dimension(length: int, bundled: int) -> int:
    """The hypervector dimension (chunk size) that bundles `bundled` chunks of a `length`-value gradient."""
    return max(1, math.ceil(length / bundled))


def expected_float_error(bundled: int) -> tuple[float, float]:
    """(relative error, cosine) a float hypervector of `bundled` equal-energy chunks should give: the yardstick the
    measured curve is read against."""
    return math.sqrt(bundled - 1), 1 / math.sqrt(bundled)


def curve(gradients: Sequence[np.ndarray], bundled: Sequence[int] = BUNDLED, seed: int = 0) -> list[dict[str, Any]]:
    """One point per method and dimension: the compression ratio, and the median over the gradients of the
    relative L2 error and cosine similarity of the reconstruction (plus their worst)."""
    if not gradients:
        return []
    length = int(np.asarray(gradients[0]).size)
    dims = [dimension(length, b) for b in bundled]
    per_gradient = [compression_curve(g, dims, seed) for g in gradients]
    points = []
    for i, first in enumerate(per_gradient[0]):
        same = [pg[i] for pg in per_gradient]
        errors, cosines = [p.error for p in same], [p.cosine for p in same]
        points.append({"method": first.method, "dim": first.dim,
                       "bundled": round(length / first.dim) if first.method != "ternary-only" else 1,
                       "ratio": round(first.ratio, 2), "error": round(statistics.median(errors), 4),
                       "worst_error": round(max(errors), 4), "cosine": round(statistics.median(cosines), 4),
                       "worst_cosine": round(min(cosines), 4)})
    return points


@dataclass
class GradientProbe:
    """Records the plain tune's real gradient every `every` steps and hands it back unchanged."""

    every: int = PROBE_EVERY
    gradients: list[np.ndarray] = field(default_factory=list)

    def __call__(self, step: int, flat: np.ndarray) -> np.ndarray:
        if (step - 1) % self.every == 0:
            self.gradients.append(np.array(flat, dtype=np.float32, copy=True))
        return flat


@dataclass
class Compressor:
    """Replaces each step's gradient by what a receiver reconstructs from its compressed form; fresh keys every step
    (seeded by the step, which sender and receiver share), so the crosstalk is not the same bias every step."""

    method: str
    bundled: int
    ratio: float = 0.0
    seconds: float = 0.0
    cosines: list[float] = field(default_factory=list)

    def __call__(self, step: int, flat: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        back, self.ratio = round_trip(flat, self.method, dimension(flat.size, self.bundled), seed=step)
        self.seconds += time.perf_counter() - started
        a, b = flat.astype(np.float64), back.astype(np.float64)
        norms = float(np.linalg.norm(a) * np.linalg.norm(b))
        self.cosines.append(float(a @ b) / norms if norms else 0.0)
        return back


def trained_row(plain: dict[str, Any], compressed: dict[str, Any], compressor: Compressor) -> dict[str, Any]:
    """A compressed-gradient tune against the plain one of the same seed and steps."""
    ratio = compressed["heldout_after"] / plain["heldout_after"] if plain["heldout_after"] else math.inf
    steps = max(1, compressed["steps"])
    return {"method": compressor.method, "bundled": compressor.bundled, "ratio": round(compressor.ratio, 2),
            "heldout_after": compressed["heldout_after"], "heldout_ratio": round(ratio, 2),
            "heldout_within_2pct": ratio <= 1 + LOSS_TOLERANCE,
            "median_step_cosine": round(statistics.median(compressor.cosines), 4) if compressor.cosines else None,
            "general_ratio": compressed["general_ratio"], "train_seconds": compressed["train_seconds"],
            "compress_ms_per_step": round(1000 * compressor.seconds / steps, 1)}


def vsa_lora(base: Base, model: Path, steps: int, lr: float = 3e-4, seed: int = 0) -> dict[str, Any]:
    """The curve on gradients recorded during a plain tune, then one tune per TRAINED compression."""
    with tempfile.TemporaryDirectory(prefix="hybrid-vsa-") as tmp:
        work = Path(tmp)
        probe = GradientProbe()
        plain = report_row(run_tune(base, model, "plain", "conservative", steps, lr, seed, work, probe))
        points = curve(probe.gradients)
        trained = []
        for method, bundled in TRAINED:
            compressor = Compressor(method, bundled)
            row = report_row(run_tune(base, model, "plain", "conservative", steps, lr, seed, work, compressor))
            trained.append(trained_row(plain, row, compressor))
            print(f"vsa {method} x{bundled}: held-out {row['heldout_after']} (plain {plain['heldout_after']})",
                  file=sys.stderr)
    length = int(probe.gradients[0].size) if probe.gradients else 0
    return {"source": f"the LoRA gradient (rank 8, all seven projections) of {model.name}, recorded every "
                      f"{PROBE_EVERY} steps of a plain {steps}-step tune (seed {seed})",
            "values": length, "gradients": len(probe.gradients), "steps": steps, "seed": seed,
            "plain": {"heldout_after": plain["heldout_after"], "heldout_before": plain["heldout_before"],
                      "train_seconds": plain["train_seconds"], "general_ratio": plain["general_ratio"]},
            "points": points, "trained": trained,
            "helps": helps(points, trained)}


def helps(points: Sequence[dict[str, Any]], trained: Sequence[dict[str, Any]]) -> str:
    """The plain answer to "does VSA help anything here?", from the numbers: a compression that kept the held-out
    loss, and what it would save; else what it cost."""
    kept = [t for t in trained if t["heldout_within_2pct"] and t["method"] != "ternary-only"]
    baseline = next((t for t in trained if t["method"] == "ternary-only"), None)
    if kept:
        best = max(kept, key=lambda t: t["ratio"])
        return (f"{best['method']} bundling {best['bundled']} chunks ({best['ratio']}x smaller) kept the held-out "
                f"loss; it saves nothing in a one-machine tune (the full gradient is computed and held anyway), "
                f"only bytes sent or stored, at {best['compress_ms_per_step']} ms a step")
    worst = max(trained, key=lambda t: t["heldout_ratio"]) if trained else None
    parts = ["no VSA compression kept the held-out loss within 2%"]
    if worst is not None:
        parts.append(f"the worst ended {worst['heldout_ratio']}x plain's ({worst['method']} x{worst['bundled']})")
    if baseline is not None:
        parts.append(f"plain ternary quantization ({baseline['ratio']}x smaller) ended "
                     f"{baseline['heldout_ratio']}x plain's")
    parts.append("and in a one-machine tune it could save neither memory (the full gradient is computed anyway) "
                 "nor time (it adds the encode and decode)")
    return "; ".join(parts)
