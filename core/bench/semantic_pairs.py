"""The semantic cache tier on its labelled paraphrases: the exact guard (same content words, the tier before the
word match) against the word match (synonyms by word embedding behind exact key slots), on the same pairs and the
same prompt threshold, and what the word match adds to a lookup in the real cache, measured in one run.

Plain data out (`SemanticPairsReport.as_dict()`) for benchmarks/semantic_cache.py. Runs in a temporary folder;
nothing of the user's is read or written but the built encoder.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..cache.answers import AnswerCache, CachedAnswer
from ..cache.entries import normalize_prompt
from ..cache.semantic import SHIPPED_THRESHOLD
from ..cache.semantic_guard import prompt_facts
from ..cache.semantic_match import WordEmbedder, WordThresholds, WordVectors
from ..cache.semantic_tuning import (
    PARAPHRASES_FILE,
    Evaluation,
    LabelledPair,
    ScoredPair,
    evaluate,
    load_pairs,
    score_pairs,
    tune_word_thresholds,
    with_word_match,
)
from ..classify.policy_file import resource_path

GUARDS = ("exact words (before)", "word match (now)")


@dataclass(frozen=True, slots=True)
class GuardFigures:
    guard: str
    split: str
    pairs: int
    hits_expected: int
    near_misses: int
    true_hits: int
    false_hits: int
    precision: float
    recall: float
    false_hit_rate: float
    served_by_kind: dict[str, str]  # kind -> "served/of that kind" (paraphrase kinds: hits; near-miss kinds: false)
    false_hit_examples: tuple[tuple[str, str, float], ...]


@dataclass(frozen=True, slots=True)
class LookupLatency:
    stored: int  # prompts in the cache's semantic table (one scope)
    probes: int  # held-out second prompts looked up, each with both guards
    exact_ms: float  # median lookup with the exact guard
    match_ms: float  # median lookup with the word match, its words already embedded once in this process
    match_new_words_ms: float  # median lookup with the word match when none of its words was embedded before
    added_ms: float  # match_ms - exact_ms
    added_new_words_ms: float  # match_new_words_ms - exact_ms
    exact_p90_ms: float  # the slowest tenth: lookups whose candidates reach the word match (and its encoder calls)
    match_new_words_p90_ms: float


@dataclass(frozen=True, slots=True)
class SemanticPairsReport:
    pairs_file: str
    threshold: float  # the prompts' cosine threshold, the same for both guards
    word_thresholds: dict[str, float]  # shipped
    tuned_word_thresholds: dict[str, float]  # what the tuning splits give in this run (must equal the shipped)
    figures: tuple[GuardFigures, ...]
    latency: LookupLatency | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        lines = [f"{self.pairs_file}, prompt threshold {self.threshold}, word thresholds {self.word_thresholds} "
                 f"(tuning gives {self.tuned_word_thresholds})",
                 f"  {'guard':<22} {'split':<8} {'pairs':>5} {'precision':>9} {'recall':>7} {'false hits':>10}"]
        for f in self.figures:
            lines.append(f"  {f.guard:<22} {f.split:<8} {f.pairs:>5} {f.precision:>9.3f} {f.recall:>7.3f} "
                         f"{f.false_hits:>10}")
        if self.latency is not None:
            t = self.latency
            lines.append(f"  lookup over {t.stored} stored prompts, {t.probes} probes (median): exact {t.exact_ms} ms, "
                         f"word match {t.match_ms} ms (+{t.added_ms}), with words never embedded before "
                         f"{t.match_new_words_ms} ms (+{t.added_new_words_ms}); 90th percentile exact "
                         f"{t.exact_p90_ms} ms, word match with new words {t.match_new_words_p90_ms} ms")
        return "\n".join(lines)


def _by_kind(rows: list[ScoredPair], threshold: float) -> dict[str, str]:
    served = Counter(s.pair.kind for s in rows if s.similarity >= threshold and s.guard is None)
    total = Counter(s.pair.kind for s in rows)
    return {kind: f"{served[kind]}/{total[kind]}" for kind in sorted(total)}


def _figures(guard: str, scored: list[ScoredPair], split: str, threshold: float) -> GuardFigures:
    e: Evaluation = evaluate(scored, threshold, split)
    rows = [s for s in scored if s.pair.split == split]
    return GuardFigures(guard, split, e.pairs, e.hits_expected, e.near_misses, e.true_hits, e.false_hits,
                        round(e.precision, 4), round(e.recall, 4), round(e.false_hit_rate, 4),
                        _by_kind(rows, threshold), e.false_hit_examples)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def measure_lookup_latency(embedder: WordEmbedder, pairs: list[LabelledPair]) -> LookupLatency:
    """Every labelled first prompt stored in a real cache file (one scope); each held-out second prompt looked up
    with the exact guard and with the word match, alternately, given its embedding (as the engine gives it)."""
    firsts = list(dict.fromkeys(normalize_prompt(p.a) for p in pairs))
    probes = [normalize_prompt(p.b) for p in pairs if p.split == "heldout"]
    exact: list[float] = []
    match: list[float] = []
    fresh: list[float] = []
    with tempfile.TemporaryDirectory(prefix="edgemind-semantic-bench-") as home:
        cache = AnswerCache(Path(home) / "cache.db")
        for i, (prompt, vector) in enumerate(zip(firsts, embedder.embed(firsts))):
            cache.store(f"k{i}", CachedAnswer("an answer", "m", 1, 1, cache.clock()))
            cache.semantic.put(f"k{i}", "scope", prompt, vector)
        vectors = embedder.embed(probes)
        warm = WordVectors(embedder)
        for prompt, vector in zip(probes, vectors):
            cold = WordVectors(embedder)  # none of this prompt's words (or its candidates') embedded yet
            started = time.perf_counter()
            cache.semantic.lookup("scope", prompt, vector, words=cold)
            fresh.append(time.perf_counter() - started)
            warm(list(prompt_facts(prompt).surface))  # its own words met before, as in a running engine
            for words, out in ((None, exact), (warm, match)):
                cache.semantic.lookup("scope", prompt, vector, words=words)  # once to settle, then timed
                started = time.perf_counter()
                cache.semantic.lookup("scope", prompt, vector, words=words)
                out.append(time.perf_counter() - started)
    e, m, f = statistics.median(exact), statistics.median(match), statistics.median(fresh)
    return LookupLatency(len(firsts), len(probes), _ms(e), _ms(m), _ms(f), _ms(m - e), _ms(f - e),
                         _ms(_p90(exact)), _ms(_p90(fresh)))


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def measure_semantic_pairs(embedder: WordEmbedder, *, latency: bool = True,
                           pairs_path: Path | None = None) -> SemanticPairsReport:
    """Both guards on both splits of the paraphrase set at the shipped prompt threshold, the word thresholds as
    tuned in this run, and (optionally) the lookup latency of each."""
    path = pairs_path or resource_path(PARAPHRASES_FILE)
    pairs = load_pairs(path)
    words = WordVectors(embedder)
    scored = score_pairs(pairs, embedder, words)
    tuned = tune_word_thresholds(scored + score_pairs(load_pairs(), embedder, words), SHIPPED_THRESHOLD)
    shipped = WordThresholds()
    matched = with_word_match(scored, shipped)
    figures = tuple(_figures(guard, rows, split, SHIPPED_THRESHOLD)
                    for split in ("heldout", "tune") for guard, rows in zip(GUARDS, (scored, matched)))
    return SemanticPairsReport(
        pairs_file=path.name, threshold=SHIPPED_THRESHOLD, word_thresholds=asdict(shipped),
        tuned_word_thresholds=asdict(tuned), figures=figures,
        latency=measure_lookup_latency(embedder, pairs) if latency else None)
