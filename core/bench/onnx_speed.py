"""Decode speed and TTFT of onnx_int4 against llama.cpp on one GGUF: same threads, prompt and token count.

Both sides run the bare loop a backend runs (prefill, then one token at a time, greedy argmax over the logits), in
ABBA order, with medians over repeats and ratios taken within the run. `edgemind bench` and
benchmarks/onnx_vs_llama.py call `compare_speed`; nothing here decides a verdict beyond reporting the ratio.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.llama_cpp_backend import load_llama
from ..backends.llama_native import NativeGuard
from ..backends.onnx_int4_backend import load_onnx
from ..models.manifest import ModelSpec
from .greedy_loop import PROMPT, First, Run, Step, llama_side, time_abba


@dataclass(frozen=True, slots=True)
class SpeedComparison:
    model: str
    threads: int
    prompt_tokens: int
    new_tokens: int
    repeats: int
    provider: str
    weights: str
    llama: tuple[Run, ...]
    onnx: tuple[Run, ...]

    @property
    def decode_ratio(self) -> float:
        """Median onnx decode tok/s over median llama.cpp decode tok/s (> 1: onnx_int4 is faster)."""
        onnx = statistics.median(t.decode_tok_s for t in self.onnx)
        return onnx / statistics.median(t.decode_tok_s for t in self.llama)

    @property
    def ttft_ratio(self) -> float:
        """Median onnx TTFT over median llama.cpp TTFT (< 1: onnx_int4 answers sooner)."""
        return statistics.median(t.ttft_ms for t in self.onnx) / statistics.median(t.ttft_ms for t in self.llama)

    def as_dict(self) -> dict[str, Any]:
        med = statistics.median
        out = asdict(self)
        for side in ("llama", "onnx"):  # the per-step times are not kept: the file holds each run's figures
            out[side] = [r.figures() for r in getattr(self, side)]
        out.update(
            llama_decode_tok_s=med(t.decode_tok_s for t in self.llama),
            onnx_decode_tok_s=med(t.decode_tok_s for t in self.onnx),
            llama_ttft_ms=med(t.ttft_ms for t in self.llama), onnx_ttft_ms=med(t.ttft_ms for t in self.onnx),
            decode_ratio=self.decode_ratio, ttft_ratio=self.ttft_ratio,
        )
        return out

    def summary(self) -> str:
        """The comparison as the lines benchmarks/onnx_vs_llama.py prints."""
        d = self.as_dict()
        return "\n".join([
            f"{self.model} ({self.weights} weights): {self.threads} threads, {self.prompt_tokens} prompt tokens, "
            f"{self.new_tokens} new",
            f"  decode tok/s  llama.cpp {d['llama_decode_tok_s']:.1f}   onnx_int4 {d['onnx_decode_tok_s']:.1f}"
            f"   ratio {self.decode_ratio:.2f}x (goal >= 1.0)",
            f"  TTFT ms       llama.cpp {d['llama_ttft_ms']:.1f}   onnx_int4 {d['onnx_ttft_ms']:.1f}"
            f"   ratio {self.ttft_ratio:.2f}x (lower is better)",
        ])


def compare_speed(gguf: Path, *, data_dir: Path, threads: int, new_tokens: int = 64, repeats: int = 5,
                  prompt: str = PROMPT, provider: str = "CPUExecutionProvider", weights: str = "accurate",
                  model_id: str = "", native: NativeGuard | None = None,
                  progress: Callable[[str], None] | None = None) -> SpeedComparison:
    """Load the GGUF in both engines once, then time `repeats` ABBA pairs of prompt + `new_tokens` greedy tokens.
    End-of-generation tokens are not honoured, so both sides always produce exactly `new_tokens`."""
    spec = ModelSpec(id=model_id or gguf.stem, backend="onnx_int4", path=gguf)
    context = 2048
    native = native or NativeGuard(data_dir / "cache" / "native", threads=threads)
    llama = load_llama(spec, gguf, threads=threads, context_cap=context, native=native)
    onnx = load_onnx(spec, gguf, data_dir=data_dir, threads=threads, context_cap=context, provider=provider,
                     native=native, weights=weights)
    tokens = llama.tokenize(prompt)
    if tokens != onnx.tokenize(prompt):
        raise AssertionError("the two engines tokenize the prompt differently")
    llm = llama.llm

    def onnx_side() -> tuple[First, Step]:
        state: dict[str, Any] = {}

        def first() -> np.ndarray:
            logits, state["cache"] = onnx.step(tokens, onnx.empty_cache(), len(tokens))
            state["total"] = len(tokens)
            return logits[-1]

        def step(token: int) -> np.ndarray:
            state["total"] += 1
            logits, state["cache"] = onnx.step([token], state["cache"], state["total"])
            return logits[-1]

        return first, step

    try:
        runs = time_abba({"llama": lambda: llama_side(llm, tokens), "onnx": onnx_side}, new_tokens, repeats,
                         progress or (lambda _m: None))
    finally:
        llama.close()
        onnx.close()
    return SpeedComparison(model=spec.id, threads=threads, prompt_tokens=len(tokens), new_tokens=new_tokens,
                           repeats=repeats, provider=provider, weights=weights, llama=tuple(runs["llama"]),
                           onnx=tuple(runs["onnx"]))
