"""Generation speed of one backend through the Backend protocol: load time, TTFT, prefill and decode tok/s,
inter-token latency percentiles and jitter.

Every backend (llama.cpp, onnx_int4, Ollama, OpenAI-compatible) is driven the same way: the same messages, greedy
sampling, the same token budget, timed from the consumer's side. Each repeat starts its system prompt with a
fresh nonce, so llama.cpp's KV prefix cache cannot skip the prefill and TTFT measures real prompt evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..backends.base import Backend, CancelToken, GenerationParams, Message
from ..errors import EdgeMindError
from ..events import BackendDone
from .report import Figure, Goal
from .timing import OthersCpu, Timeline, closing_stream, median, percentile

log = logging.getLogger(__name__)
JITTER_GOAL_MS = 10.0
PROMPTS = (
    "Write a short story about a lighthouse keeper who finds a message in a bottle. Use at least ten sentences.",
    "Explain, step by step and in detail, how a hash map stores and finds keys, including collisions.",
    "Describe a full day in the life of a city baker, from waking up until going to bed, in detail.",
    "Write a detailed guide to planting a vegetable garden for a beginner, with many practical tips.",
    "Explain how the water cycle works, covering evaporation, condensation, precipitation and runoff.",
    "Tell the story of a small robot that learns to paint, with dialogue and a happy ending.",
    "Explain the difference between processes and threads in an operating system, with examples.",
)
SYSTEM = "You are a helpful assistant. Answer fully and at length."


@dataclass(slots=True)
class Run:
    ttft_ms: float
    decode_tok_s: float
    prefill_tok_s: float
    prompt_tokens: int
    tokens: int
    gaps_ms: list[float]
    others_cpu_pct: float
    text: str


@dataclass(slots=True)
class GenerationResult:
    figures: dict[str, Figure] = field(default_factory=dict)
    itl_ms: list[float] = field(default_factory=list)  # every inter-token gap, pooled over repeats
    runs: list[dict[str, Any]] = field(default_factory=list)


def messages_for(repeat: int) -> list[Message]:
    """A nonce first, so no two repeats share more than the chat template's opening tokens."""
    return [Message("system", f"[run {repeat:04d}] {SYSTEM}"), Message("user", PROMPTS[repeat % len(PROMPTS)])]


def one_run(backend: Backend, messages: list[Message], params: GenerationParams) -> Run:
    prompt_tokens = backend.count_tokens(messages)  # before t0: the backend caches it for the stream
    others = OthersCpu()
    line = Timeline()
    done: BackendDone | None = None
    with closing_stream(backend.stream(messages, params, CancelToken())) as chunks:
        for chunk in chunks:
            if isinstance(chunk, BackendDone):
                done = chunk
                break
            line.piece(chunk)
    if done is None or not line.stamps:
        raise EdgeMindError(f"{getattr(backend, 'name', 'backend')} produced no text")
    n_prompt = prompt_tokens or done.prompt_tokens
    # TTFT covers prompt evaluation plus one sampled token: prompt tokens over it is prefill speed as users feel it.
    prefill = n_prompt / (line.ttft_ms / 1000) if n_prompt and line.ttft_ms > 0 else float("nan")
    return Run(ttft_ms=line.ttft_ms, decode_tok_s=line.decode_tok_s(done.tokens), prefill_tok_s=prefill,
               prompt_tokens=n_prompt or 0, tokens=done.tokens, gaps_ms=line.gaps_ms(),
               others_cpu_pct=others.percent(), text=line.text)


def measure_generation(backend: Backend, *, repeats: int, max_tokens: int, load_repeats: int = 1,
                       unload: Callable[[], None] | None = None,
                       progress: Callable[[str], None] = lambda _m: None) -> GenerationResult:
    """Warm-up (which loads the model), `load_repeats` timed loads when `unload` can drop it, then `repeats` timed
    generations; medians, pooled inter-token gaps."""
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0, seed=0)
    result = GenerationResult()
    backend.take_load_ms()
    one_run(backend, messages_for(9999), GenerationParams(max_tokens=4, temperature=0.0))  # warm-up, loads
    loads = [backend.take_load_ms()]
    if unload is not None:
        for _ in range(max(0, load_repeats - 1)):
            unload()
            backend.context_window()  # leases the model: loads it again, nothing else
            loads.append(backend.take_load_ms())
    runs = []
    for i in range(repeats):
        run = one_run(backend, messages_for(i), params)
        runs.append(run)
        progress(f"repeat {i + 1}/{repeats}: TTFT {run.ttft_ms:.0f} ms, decode {run.decode_tok_s:.1f} tok/s, "
                 f"{run.tokens} tokens")
    gaps = [g for r in runs for g in r.gaps_ms]
    p50, p95, p99 = (percentile(gaps, q) for q in (50, 95, 99))
    n = len(runs)
    local = any(ms > 0 for ms in loads)
    f = result.figures
    if local:
        f["load_ms"] = Figure(median(loads), "ms", len(loads), "lower",
                              note="first load in this process (warm OS file cache)" if len(loads) == 1 else "")
    f["ttft_ms"] = Figure(median([r.ttft_ms for r in runs]), "ms", n, "lower")
    f["prefill_tok_s"] = Figure(median([r.prefill_tok_s for r in runs]), "tok/s", n, "higher")
    f["decode_tok_s"] = Figure(median([r.decode_tok_s for r in runs]), "tok/s", n, "higher")
    f["itl_p50_ms"] = Figure(p50, "ms", len(gaps), "lower")
    f["itl_p95_ms"] = Figure(p95, "ms", len(gaps), "lower")
    f["itl_p99_ms"] = Figure(p99, "ms", len(gaps), "lower")
    f["jitter_ms"] = Figure(p99 - p50, "ms", len(gaps), "lower", Goal("<=", JITTER_GOAL_MS), "p99 - p50")
    f["prompt_tokens"] = Figure(median([r.prompt_tokens for r in runs]), "tokens", n)
    f["generated_tokens"] = Figure(median([r.tokens for r in runs]), "tokens", n)
    f["others_cpu_pct"] = Figure(max((r.others_cpu_pct for r in runs), default=0.0), "%", n,
                                 note="max CPU other processes used during a repeat; above 10% the figures are noisy")
    result.itl_ms = gaps
    result.runs = [{"ttft_ms": r.ttft_ms, "decode_tok_s": r.decode_tok_s, "prefill_tok_s": r.prefill_tok_s,
                    "prompt_tokens": r.prompt_tokens, "tokens": r.tokens, "others_cpu_pct": r.others_cpu_pct,
                    "text_start": r.text[:80]} for r in runs]
    return result
