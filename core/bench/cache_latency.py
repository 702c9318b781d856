"""Answer-cache tiers against a cold answer in the same run, and llama.cpp's KV prefix reuse.

Per repeat: a new question answered cold (model warm, nothing cached); then its key looked up in L1, in L2 through
a fresh AnswerCache on the same file (a new process's view), and both hits end to end through `Engine.ask`. A
semantic tier, when the cache has one (`cache.TIERS`), is measured with a re-worded question, as far as the cache
reports a semantic hit for it. Goals from the issue: L1 <= 1 ms, L2 <= 10 ms, each >= 100x faster than cold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import cache as cache_module
from ..cache import AnswerCache
from ..engine import AskOptions, Engine
from .report import BenchError, Figure, Goal
from .timing import median

QUESTIONS = ("What is a Python decorator?", "What does HTTP 404 mean?", "What is a mutex?", "Explain big-O notation.",
             "What is a git branch?", "What is JSON?", "What does DNS do?", "What is a unit test?",
             "What is a REST API?")
LONG_SYSTEM = ("You are EdgeMind, a careful assistant for software developers. " * 30).strip()


@dataclass(slots=True)
class CacheResult:
    figures: dict[str, Figure] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    tiers: tuple[str, ...] = ()


def _ms(seconds: float) -> float:
    return seconds * 1000


def measure_cache(engine: Engine, model_id: str, *, repeats: int, max_tokens: int = 24, run_tag: str = "",
                  progress: Callable[[str], None] = lambda _m: None) -> CacheResult:
    if engine.cache is None:
        raise BenchError("the answer cache is disabled in settings (cache_enabled = false); nothing to measure")
    cache = engine.cache
    opts = AskOptions(model=model_id, temperature=0, max_tokens=max_tokens, store=False, tools=False)
    tiers = tuple(getattr(cache_module, "TIERS", ("l1", "l2")))
    cold_total, cold_ttft, l1_lookup, l2_lookup, l1_ask, l2_ask, semantic_ask = [], [], [], [], [], [], []
    semantic_misses = 0
    spec = engine.registry.get(model_id)
    for i in range(repeats):
        q = f"{QUESTIONS[i % len(QUESTIONS)]} ({run_tag}{i})"
        t0 = time.perf_counter()
        cold = engine.ask(q, opts)
        cold_total.append(time.perf_counter() - t0)
        cold_ttft.append(cold.ttft_ms / 1000)
        decision = engine.router.route(q, model_id)
        key = engine._cache_key(q, spec, decision.system_prompt, [],
                                engine._params(opts, getattr(decision, "params", None)))
        if key is None:
            raise BenchError("the engine made no cache key for a plain question; the cache cannot be measured")
        t0 = time.perf_counter()
        hit = cache.lookup(key)
        l1_lookup.append(time.perf_counter() - t0)
        if not hit or hit[0] != "l1":
            raise BenchError(f"a fresh answer was not in L1 (got {hit[0] if hit else 'a miss'})")
        t0 = time.perf_counter()
        tier = engine.ask(q, opts).cache
        l1_ask.append(time.perf_counter() - t0)
        if tier != "l1":
            raise BenchError(f"asking again was answered from {tier!r}, not L1")
        fresh = AnswerCache(cache.l2.path)  # a new process's view: empty L1, the same L2 file
        t0 = time.perf_counter()
        hit = fresh.lookup(key)
        l2_lookup.append(time.perf_counter() - t0)
        if not hit or hit[0] != "l2":
            raise BenchError(f"the answer was not in L2 (got {hit[0] if hit else 'a miss'})")
        cache.l1.drop(key)
        t0 = time.perf_counter()
        tier = engine.ask(q, opts).cache
        l2_ask.append(time.perf_counter() - t0)
        if "semantic" in tiers:
            reworded = "Please answer: " + q.lower().rstrip("?") + "?"
            t0 = time.perf_counter()
            tier = engine.ask(reworded, opts).cache
            if tier == "semantic":
                semantic_ask.append(time.perf_counter() - t0)
            else:
                semantic_misses += 1
        progress(f"cache repeat {i + 1}/{repeats}: cold {_ms(cold_total[-1]):.0f} ms, L1 {_ms(l1_lookup[-1]):.3f} ms, "
                 f"L2 {_ms(l2_lookup[-1]):.2f} ms")
    n = repeats
    cold_ms = _ms(median(cold_total))
    f: dict[str, Figure] = {
        "cold_answer_ms": Figure(cold_ms, "ms", n, "lower", note=f"{max_tokens} tokens at most, model warm"),
        "cold_ttft_ms": Figure(_ms(median(cold_ttft)), "ms", n, "lower"),
        "l1_lookup_ms": Figure(_ms(median(l1_lookup)), "ms", n, "lower", Goal("<=", 1.0)),
        "l2_lookup_ms": Figure(_ms(median(l2_lookup)), "ms", n, "lower", Goal("<=", 10.0)),
        "l1_hit_ask_ms": Figure(_ms(median(l1_ask)), "ms", n, "lower", note="through Engine.ask"),
        "l2_hit_ask_ms": Figure(_ms(median(l2_ask)), "ms", n, "lower", note="through Engine.ask"),
        "l1_speedup_x": Figure(cold_ms / _ms(median(l1_ask)), "x", n, "higher", Goal(">=", 100.0),
                               "cold answer / L1 hit, end to end"),
        "l2_speedup_x": Figure(cold_ms / _ms(median(l2_ask)), "x", n, "higher", Goal(">=", 100.0),
                               "cold answer / L2 hit, end to end"),
    }
    if "semantic" in tiers:
        f["semantic_hit_ask_ms"] = Figure(_ms(median(semantic_ask)), "ms", len(semantic_ask), "lower",
                                          note=f"re-worded question; {semantic_misses} of {n} were not semantic hits")
    return CacheResult(f, cache.stats(), tiers)


def measure_prefix_reuse(engine: Engine, model_id: str, *, repeats: int) -> dict[str, Figure]:
    """TTFT with a long system prompt llama.cpp has already evaluated (KV prefix reused) against the same after
    clearing its KV state. llama.cpp backends only (the KV state is theirs)."""
    spec = engine.registry.get(model_id)
    backend: Any = engine.backend_for(spec)
    if not hasattr(backend, "_lease"):
        return {}
    opts = AskOptions(model=model_id, temperature=0, max_tokens=4, store=False, use_cache=False, tools=False,
                      system_prompt=LONG_SYSTEM)
    reuse, cold = [], []
    for i in range(repeats):
        with backend._lease() as loaded:  # clear llama.cpp's KV so the next prompt is evaluated from scratch
            loaded.llm.reset()
        cold.append(engine.ask(QUESTIONS[i % len(QUESTIONS)], opts).ttft_ms)
        reuse.append(engine.ask(QUESTIONS[(i + 1) % len(QUESTIONS)], opts).ttft_ms)
    return {"prefix_cold_ttft_ms": Figure(median(cold), "ms", repeats, "lower", note="long system prompt evaluated"),
            "prefix_reused_ttft_ms": Figure(median(reuse), "ms", repeats, "lower", note="long system prompt reused")}
