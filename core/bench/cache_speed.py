"""Measures the answer cache's tiers and prefix (KV) reuse on the local backend against baselines taken in the same run.

Plain data out (`CacheBenchReport.as_dict()`), for `benchmarks/cache.py` and `edgemind bench`. It runs in a
temporary data folder (the user's cache and conversations are never touched) with the user's models and built
artifacts. Medians over repeats; on a shared machine only the ratios mean much.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.pooled import PooledGGUFBackend
from ..cache.answers import AnswerCache, CachedAnswer, SemanticRow
from ..cache.semantic import SHIPPED_THRESHOLD
from ..cache.semantic_guard import prompt_facts
from ..cache.semantic_match import WordThresholds, word_vectors
from ..cache.semantic_tuning import evaluate, load_pairs, score_pairs, tune_threshold, with_word_match
from ..embeddings.embedder import embeddings_cache_dir, shared_embedder
from ..engine import AskOptions, Engine
from ..routing.decision import DEFAULT_SYSTEM_PROMPT
from ..settings import Settings

QUESTIONS = ("What is a Python decorator?", "What does HTTP 404 mean?", "What is a mutex?", "Explain big-O notation.",
             "What is a git branch?", "What is JSON?", "What does DNS do?", "What is a unit test?",
             "What is a REST API?", "What is a hash table?", "What is recursion?", "What is a compiler?")
# each one's rephrasing: same content words, other phrasing (what the semantic tier is for)
PARAPHRASES = ("what's a Python decorator", "what does HTTP 404 mean", "what's a mutex",
               "Can you explain big-O notation?", "what's a git branch", "what's JSON", "what does DNS do",
               "what's a unit test", "what's a REST API", "what's a hash table", "what's recursion",
               "what's a compiler")
LONG_SYSTEM_A = ("You are EdgeMind, a careful assistant for software developers. Prefer short code. " * 12).strip()
LONG_SYSTEM_B = ("You are EdgeMind, a friendly assistant for everyday questions. Be brief. " * 12).strip()
GOALS_MS = {"l1": 1.0, "l2": 10.0, "semantic": 50.0}
GOAL_RATIO = 100.0


@dataclass(frozen=True, slots=True)
class TierFigure:
    tier: str
    lookup_ms: float  # the cache call alone (semantic: the index search, given the prompt's embedding)
    ask_ms: float  # a whole Engine.ask answered from this tier (router, safety, store, audit included)
    ratio_vs_cold: float  # cold answer's total time / ask_ms
    goal_ms: float
    meets_goal: bool  # lookup_ms <= goal_ms and ratio_vs_cold >= 100


@dataclass(frozen=True, slots=True)
class SemanticAccuracy:
    threshold: float  # the shipped threshold, as tuned on the tuning split
    tuned_threshold: float  # what tuning gives on this run's data (must equal the shipped one)
    heldout_pairs: int
    precision: float
    recall: float
    false_hit_rate: float
    false_hits: int
    threshold_alone_false_hit_rate: float  # the same split with the guards off, threshold tuned the same way
    threshold_alone_recall: float
    threshold_alone_threshold: float
    unguarded_false_hit_rate: float  # the shipped threshold with the guards off: what the guards prevent
    # the figures above are the exact guard's (same content words); the engine's lookups use the word match
    # (semantic_match.py, synonyms by word embedding), measured on the same pairs here:
    word_match_precision: float = 0.0
    word_match_recall: float = 0.0
    word_match_false_hits: int = 0


@dataclass(frozen=True, slots=True)
class PrefixFigure:
    scenario: str
    ttft_reused_ms: float
    ttft_baseline_ms: float
    ratio: float  # baseline / reused: how many times faster the first token comes
    saved_ms: float
    same_text: bool


@dataclass(frozen=True, slots=True)
class CacheBenchReport:
    model: str
    repeats: int
    cold_ttft_ms: float
    cold_total_ms: float
    tiers: tuple[TierFigure, ...]
    semantic_miss_ms: float  # a semantic lookup that finds nothing after comparing `semantic_rows` stored prompts
    semantic_rows: int
    embedding_ms: float  # one prompt embedding (what a miss costs when the router's embedding cannot be reused)
    accuracy: SemanticAccuracy | None
    prefix: tuple[PrefixFigure, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """The report as the lines benchmarks/cache.py prints."""
        lines = [f"model {self.model}, {self.repeats} repeats; cold answer: first token {self.cold_ttft_ms} ms, "
                 f"whole answer {self.cold_total_ms} ms",
                 f"  {'tier':<9} {'lookup ms':>10} {'goal ms':>8} {'ask ms':>9} {'x faster than cold':>19}  goal"]
        for t in self.tiers:
            lines.append(f"  {t.tier:<9} {t.lookup_ms:>10} {t.goal_ms:>8} {t.ask_ms:>9} {t.ratio_vs_cold:>19}  "
                         f"{'PASS' if t.meets_goal else 'FAIL'}")
        lines.append(f"  semantic miss: {self.semantic_miss_ms} ms searching {self.semantic_rows} stored prompts; "
                     f"one prompt embedding {self.embedding_ms} ms (reused from the router when it routed the same "
                     "text)")
        a = self.accuracy
        if a is not None:
            lines.append(
                f"  semantic, {a.heldout_pairs} held-out pairs at threshold {a.threshold} (tuning gives "
                f"{a.tuned_threshold}): precision {a.precision:.3f}, recall {a.recall:.3f}, false-hit rate "
                f"{a.false_hit_rate:.3f} ({a.false_hits}) {'PASS' if a.false_hits == 0 else 'FAIL'}; "
                f"without the guards at {a.threshold}: false-hit rate {a.unguarded_false_hit_rate:.3f}; threshold "
                f"alone tuned the same way ({a.threshold_alone_threshold}): false-hit rate "
                f"{a.threshold_alone_false_hit_rate:.3f}, recall {a.threshold_alone_recall:.3f}; the engine's word "
                f"match: precision {a.word_match_precision:.3f}, recall {a.word_match_recall:.3f}, false hits "
                f"{a.word_match_false_hits}")
        for p in self.prefix:
            lines.append(f"  prefix reuse, {p.scenario}: first token {p.ttft_reused_ms} ms vs {p.ttft_baseline_ms} ms "
                         f"({p.ratio}x, {p.saved_ms} ms saved); same text: {p.same_text}")
        return "\n".join(lines)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _median_ms(values: list[float]) -> float:
    return _ms(statistics.median(values))


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def measure_semantic_accuracy(embedder: Any) -> SemanticAccuracy:
    """The labelled pairs: held-out precision, recall, false-hit rate at the shipped threshold (exact guard and
    word match), and the same with the threshold alone (no guards), tuned the same way, as the baseline the guards
    are measured against."""
    scored = score_pairs(load_pairs(), embedder, word_vectors(embedder))
    result = evaluate(scored, SHIPPED_THRESHOLD, "heldout")
    matched = evaluate(with_word_match(scored, WordThresholds()), SHIPPED_THRESHOLD, "heldout")
    unguarded = [replace(s, guard=None) for s in scored]
    alone = evaluate(unguarded, tune_threshold(unguarded), "heldout")
    return SemanticAccuracy(
        threshold=SHIPPED_THRESHOLD, tuned_threshold=tune_threshold(scored), heldout_pairs=result.pairs,
        precision=round(result.precision, 4), recall=round(result.recall, 4),
        false_hit_rate=round(result.false_hit_rate, 4), false_hits=result.false_hits,
        threshold_alone_false_hit_rate=round(alone.false_hit_rate, 4), threshold_alone_recall=round(alone.recall, 4),
        threshold_alone_threshold=alone.threshold,
        unguarded_false_hit_rate=round(evaluate(unguarded, SHIPPED_THRESHOLD, "heldout").false_hit_rate, 4),
        word_match_precision=round(matched.precision, 4), word_match_recall=round(matched.recall, 4),
        word_match_false_hits=matched.false_hits,
    )


def measure_cache_tiers(settings: Settings, *, model: str | None = None, repeats: int = 7, max_tokens: int = 48,
                        semantic_rows: int = 1000, accuracy: bool = True, prefix: bool = True) -> CacheBenchReport:
    """Cold answers vs L1, L2 and semantic hits, the semantic tier's cost on a miss and its accuracy, and the first
    token with vs without prefix (KV) reuse. Runs in a temporary data folder; returns plain data."""
    repeats = max(1, min(repeats, len(QUESTIONS)))
    home = Path(tempfile.mkdtemp(prefix="edgemind-cache-bench-"))
    try:
        bench_settings = replace(settings, home=home, cache_enabled=True, cache_semantic_enabled=True)
        # the bench holds the cache it gives the engine, so it can time that cache's own lookups
        cache = AnswerCache.from_settings(bench_settings)
        engine = Engine.create(bench_settings, cache=cache)
        engine.summarize_in_background = False
        try:
            embedder = shared_embedder(embeddings_cache_dir(bench_settings))
            return _measure(engine, cache, embedder, home, model or settings.default_model, repeats, max_tokens,
                            semantic_rows, accuracy, prefix)
        finally:
            engine.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _stored(cache: AnswerCache, prompt: str) -> tuple[str, str]:
    """The key and semantic scope the engine stored `prompt`'s answer under: read back, not derived again."""
    with cache.l2.sessions() as s:
        row = s.query(SemanticRow.key, SemanticRow.scope).filter_by(prompt=prompt).first()
    assert row is not None, f"{prompt!r}'s answer was not stored for the semantic tier"
    return row.key, row.scope


def _measure(engine: Engine, cache: AnswerCache, embedder: Any, home: Path, model: str, repeats: int,
             max_tokens: int, semantic_rows: int, accuracy: bool, prefix: bool) -> CacheBenchReport:
    # one system prompt for all: a rephrasing the router sends to another intent would be another scope
    opts = AskOptions(model=model, temperature=0, max_tokens=max_tokens, store=False,
                      system_prompt=DEFAULT_SYSTEM_PROMPT)
    engine.ask("Say hello.", opts)  # load the model and warm every stage
    cold_ttft: list[float] = []
    cold_total: list[float] = []
    lookups: dict[str, list[float]] = {"l1": [], "l2": [], "semantic": []}
    asks: dict[str, list[float]] = {"l1": [], "l2": [], "semantic": []}
    for i in range(repeats):
        q = QUESTIONS[i]
        seconds, r = _timed(partial(engine.ask, q, opts))
        assert r.cache == "miss", f"a new question was answered from {r.cache}"
        cold_total.append(seconds)
        cold_ttft.append(r.ttft_ms / 1000)
        key, scope = _stored(cache, q)
        seconds, hit = _timed(partial(cache.lookup, key))
        assert hit is not None and hit[0] == "l1"
        lookups["l1"].append(seconds)
        seconds, r = _timed(partial(engine.ask, q, opts))
        assert r.cache == "l1"
        asks["l1"].append(seconds)
        fresh = AnswerCache(home / "cache.db")  # a new process's view: empty L1, same file
        seconds, hit = _timed(partial(fresh.lookup, key))
        assert hit is not None and hit[0] == "l2"
        lookups["l2"].append(seconds)
        cache.l1.drop(key)
        seconds, r = _timed(partial(engine.ask, q, opts))
        assert r.cache == "l2"
        asks["l2"].append(seconds)
        p = PARAPHRASES[i]
        vector = embedder.embed([p])[0]
        seconds, found = _timed(partial(cache.semantic.lookup, scope, p, vector))
        assert found is not None, f"{p!r} was not served {q!r}'s answer"
        lookups["semantic"].append(seconds)
        seconds, r = _timed(partial(engine.ask, p, opts))
        assert r.cache == "semantic", f"{p!r} came from {r.cache}"
        asks["semantic"].append(seconds)

    cold = statistics.median(cold_total)
    tiers = []
    for tier in ("l1", "l2", "semantic"):
        lookup_ms, ask_ms = _median_ms(lookups[tier]), _median_ms(asks[tier])
        ratio = round(cold / statistics.median(asks[tier]), 1)
        tiers.append(TierFigure(tier, lookup_ms, ask_ms, ratio, GOALS_MS[tier],
                                lookup_ms <= GOALS_MS[tier] and ratio >= GOAL_RATIO))
    miss_ms, embed_ms, compared = _semantic_miss_cost(home, embedder, semantic_rows, repeats)
    return CacheBenchReport(
        model=model, repeats=repeats, cold_ttft_ms=_median_ms(cold_ttft), cold_total_ms=_ms(cold), tiers=tuple(tiers),
        semantic_miss_ms=miss_ms, semantic_rows=compared, embedding_ms=embed_ms,
        accuracy=measure_semantic_accuracy(embedder) if accuracy else None,
        prefix=_measure_prefix(engine, model, repeats) if prefix else (),
    )


def _word(i: int) -> str:
    letters = ""
    while True:
        i, r = divmod(i, 26)
        letters += chr(ord("a") + r)
        if i == 0:
            return letters


def _semantic_miss_cost(home: Path, embedder: Any, rows: int, repeats: int) -> tuple[float, float, int]:
    """A lookup that compares against `rows` stored prompts of the same scope and signature and finds none."""
    cache = AnswerCache(home / "semantic-miss.db")
    rng = np.random.default_rng(0)
    for i in range(rows):
        key = f"k{i}"
        cache.l2.put(key, CachedAnswer("answer", "m", 1, 1, cache.clock()))
        v = rng.standard_normal(384).astype(np.float32)
        # same scope and guard signature as the probe (no numbers, names...), so every row is compared
        cache.semantic.put(key, "scope", f"What is the meaning of {_word(i)}?", v / np.linalg.norm(v))
    prompt = "What is the meaning of zzzzzz?"
    vector = embedder.embed([prompt])[0]
    misses, embeds = [], []
    with cache.l2.sessions() as s:
        compared = s.query(SemanticRow).filter_by(signature=prompt_facts(prompt).signature()).count()
    # (a few made-up words are filler or number words: those rows have another signature and are not compared)
    for _ in range(repeats):
        seconds, found = _timed(lambda: cache.semantic.lookup("scope", prompt, vector))
        assert found is None
        misses.append(seconds)
        seconds, _ = _timed(lambda: embedder.embed([prompt]))
        embeds.append(seconds)
    return _median_ms(misses), _median_ms(embeds), compared


def _measure_prefix(engine: Engine, model: str, repeats: int) -> tuple[PrefixFigure, ...]:
    """Two scenarios, each against its baseline in the same run:
    * a conversation's second turn, with the first turn's KV still live vs the KV cleared first;
    * a prompt whose (long) system prompt is shared with earlier requests, right after a request with another
      system prompt: restored from a snapshot vs evaluated again (snapshots off)."""
    backend = engine.backend_for(engine.local_spec(engine.models.get(model)))
    # both local backends (llama.cpp, ONNX int4) keep their loaded model's KV and snapshots the same way
    assert isinstance(backend, PooledGGUFBackend), f"{model!r} runs on no local backend with a KV to reuse"
    nocache = AskOptions(model=model, temperature=0, use_cache=False)
    short = replace(nocache, max_tokens=8)

    def clear_kv() -> None:
        with backend._lease() as loaded:
            loaded.forget_kv()

    def set_snapshots(on: bool) -> None:
        with backend._lease() as loaded:
            if loaded.prefixes is not None:
                loaded.prefixes.clear()
                loaded.prefixes.max_bytes = engine.settings.prefix_cache_mb * 2**20 if on else 0

    turn_live, turn_cold, texts_live, texts_cold = [], [], [], []
    for i in range(repeats):
        first = engine.ask(QUESTIONS[i], replace(nocache, system_prompt=LONG_SYSTEM_A, max_tokens=24))
        follow = replace(short, system_prompt=LONG_SYSTEM_A, conversation_id=first.conversation_id, store=False)
        clear_kv()
        r = engine.ask("Say that in five words.", follow)
        turn_cold.append(r.ttft_ms)
        texts_cold.append(r.text)
        # the same second turn again, right after the first turn's KV is back in place
        engine.ask(QUESTIONS[i], replace(nocache, system_prompt=LONG_SYSTEM_A, max_tokens=24, store=False))
        r = engine.ask("Say that in five words.", follow)
        turn_live.append(r.ttft_ms)
        texts_live.append(r.text)

    shared: dict[bool, list[float]] = {True: [], False: []}
    shared_texts: dict[bool, list[str]] = {True: [], False: []}
    for on in (True, False):
        set_snapshots(on)
        for i in range(repeats + 2):  # two to see both system prompts, then `repeats` measured requests
            system = LONG_SYSTEM_A if i % 2 == 0 else LONG_SYSTEM_B
            r = engine.ask(QUESTIONS[i % len(QUESTIONS)], replace(short, system_prompt=system, store=False))
            if i >= 2:  # from the third request on, each system prompt was seen before, and the other ran since
                shared[on].append(r.ttft_ms)
                shared_texts[on].append(r.text)
    set_snapshots(True)

    def figure(name: str, reused: list[float], baseline: list[float], same: bool) -> PrefixFigure:
        a, b = statistics.median(reused), statistics.median(baseline)
        return PrefixFigure(name, round(a, 2), round(b, 2), round(b / a, 2) if a else 0.0, round(b - a, 2), same)

    return (
        figure("second turn of a conversation: live KV vs KV cleared", turn_live, turn_cold, texts_live == texts_cold),
        # (llama.cpp's sums depend on how a prompt is cut into batches: a reused conversation prefix is not
        # bit-identical to evaluating it again, so a greedy answer may differ at a near-tie; see README)
        figure("shared system prompt after another one ran: snapshot restored vs evaluated again",
               shared[True], shared[False], shared_texts[True] == shared_texts[False]),
    )
