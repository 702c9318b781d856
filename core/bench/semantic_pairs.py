"""The semantic cache tier on its labelled pairs: the exact guard (same content words), the word match as it was
before issue 17, and the word match now (extra words, typos, graded opposites: semantic_match.MatchRules), on the
same pairs and the same prompt threshold, and what each adds to a lookup in the real cache, measured in one run.

Four labelled files: `semantic_heldout2.jsonl`, written for issue 17 and never tuned on (the figure the issue asks
for); `semantic_heldout.jsonl`, written before the rules were designed, whose first run showed false hits
(benchmarks/results/semantic_heldout_first_look.json) and which became a development set when they were fixed; and
the two older files, development sets too (their `heldout` splits included), reported so a regression shows.

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
from ..cache.semantic_match import (
    BEFORE_ISSUE_17,
    RULES,
    MatchRules,
    WordEmbedder,
    WordThresholds,
    WordVectors,
    word_vectors,
)
from ..cache.semantic_tuning import (
    FIRST_HELDOUT_FILE,
    HELDOUT_FILE,
    PAIRS_FILE,
    PARAPHRASES_FILE,
    Evaluation,
    LabelledPair,
    ScoredPair,
    evaluate,
    load_pairs,
    score_pairs,
    tune_deletion,
    tune_word_thresholds,
    with_word_match,
)
from ..classify.policy_file import resource_path

EXACT, BEFORE, NOW = "exact words", "word match before issue 17", "word match now"
GUARDS = (EXACT, BEFORE, NOW)
# (file, split) in the order reported: the new held-out set first, then the development sets
SETS = ((HELDOUT_FILE, "heldout"), (FIRST_HELDOUT_FILE, "heldout"), (PARAPHRASES_FILE, "heldout"),
        (PARAPHRASES_FILE, "tune"), (PAIRS_FILE, "heldout"), (PAIRS_FILE, "tune"))


@dataclass(frozen=True, slots=True)
class GuardFigures:
    """One guard on one labelled file's split: semantic_tuning's Evaluation (the counts the tests hold the cache to),
    and what it served of each kind of pair."""

    guard: str
    pairs_file: str
    split: str
    evaluation: Evaluation
    served_by_kind: dict[str, str]  # kind -> "served/of that kind" (paraphrase kinds: hits; near-miss kinds: false)

    def as_dict(self) -> dict[str, Any]:
        """Flat, as benchmarks/results/semantic_cache.json holds it (docs_page reads it so), rates to 4 places."""
        e = asdict(self.evaluation)
        e.update({key: round(e[key], 4) for key in ("precision", "recall", "false_hit_rate")})
        return {"guard": self.guard, "pairs_file": self.pairs_file, "split": self.split, **e,
                "served_by_kind": self.served_by_kind}


@dataclass(frozen=True, slots=True)
class LookupLatency:
    stored: int  # prompts in the cache's semantic table (one scope): every first prompt of every file
    probes: int  # second prompts of the new held-out file looked up, each with every guard
    exact_ms: float  # median lookup with the exact guard
    before_ms: float  # median lookup with the word match before issue 17, its words met before in this process
    now_ms: float  # median lookup with the word match now, its words met before in this process
    now_new_words_ms: float  # median lookup with the word match now when none of its words was embedded before
    before_p90_ms: float  # the slowest tenth: lookups whose candidates reach the word match
    now_p90_ms: float  # (the extra-word and swap checks each cost an encoder call)
    now_new_words_p90_ms: float
    speller_index_ms: float  # once per process, on the first prompt with a word the vocabulary lacks


@dataclass(frozen=True, slots=True)
class SemanticPairsReport:
    threshold: float  # the prompts' cosine threshold, the same for every guard
    word_thresholds: dict[str, float]  # shipped
    tuned_word_thresholds: dict[str, float]  # what the development sets give in this run (must equal the shipped)
    figures: tuple[GuardFigures, ...]
    latency: LookupLatency | None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "figures": [f.as_dict() for f in self.figures]}

    def summary(self) -> str:
        lines = [f"prompt threshold {self.threshold}, word thresholds {self.word_thresholds} "
                 f"(tuning gives {self.tuned_word_thresholds})",
                 f"  {'guard':<27} {'pairs file':<27} {'split':<8} {'pairs':>5} {'precision':>9} {'recall':>7} "
                 f"{'false hits':>10}"]
        for f in self.figures:
            e = f.evaluation
            lines.append(f"  {f.guard:<27} {f.pairs_file:<27} {f.split:<8} {e.pairs:>5} {e.precision:>9.3f} "
                         f"{e.recall:>7.3f} {e.false_hits:>10}")
        if self.latency is not None:
            t = self.latency
            lines.append(f"  lookup over {t.stored} stored prompts, {t.probes} probes (median): exact {t.exact_ms} ms, "
                         f"before {t.before_ms} ms, now {t.now_ms} ms, now with words never embedded before "
                         f"{t.now_new_words_ms} ms; 90th percentile before {t.before_p90_ms} ms, now {t.now_p90_ms} "
                         f"ms, now with new words {t.now_new_words_p90_ms} ms")
        return "\n".join(lines)


def _by_kind(rows: list[ScoredPair], threshold: float) -> dict[str, str]:
    served = Counter(s.pair.kind for s in rows if s.similarity >= threshold and s.guard is None)
    total = Counter(s.pair.kind for s in rows)
    return {kind: f"{served[kind]}/{total[kind]}" for kind in sorted(total)}


def guard_figures(guard: str, pairs_file: str, scored: list[ScoredPair], split: str,
                  threshold: float) -> GuardFigures:
    """One guard's figures on one split of one file's scored pairs, at the prompts' threshold."""
    rows = [s for s in scored if s.pair.split == split]
    return GuardFigures(guard, pairs_file, split, evaluate(scored, threshold, split), _by_kind(rows, threshold))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def measure_lookup_latency(embedder: WordEmbedder, stored: list[LabelledPair],
                           probed: list[LabelledPair]) -> LookupLatency:
    """Every first prompt of `stored` in a real cache file (one scope); each second prompt of `probed` looked up
    with each guard in turn, given its embedding (as the engine gives it)."""
    firsts = list(dict.fromkeys(normalize_prompt(p.a) for p in stored))
    probes = [normalize_prompt(p.b) for p in probed]
    times: dict[str, list[float]] = {"exact": [], "before": [], "now": [], "fresh": []}
    with tempfile.TemporaryDirectory(prefix="edgemind-semantic-bench-") as home:
        cache = AnswerCache(Path(home) / "cache.db")
        for i, (prompt, vector) in enumerate(zip(firsts, embedder.embed(firsts))):
            cache.store(f"k{i}", CachedAnswer("an answer", "m", 1, 1, cache.clock()))
            cache.semantic.put(f"k{i}", "scope", prompt, vector)
        vectors = embedder.embed(probes)
        warm_before, warm_now = WordVectors(embedder), word_vectors(embedder)
        started = time.perf_counter()
        if warm_now.speller is not None:
            warm_now.speller.word("speling")  # the first unknown word in a process builds the speller's index
        speller_build = time.perf_counter() - started
        for prompt, vector in zip(probes, vectors):
            # none of this prompt's words (or its candidates') embedded yet; the speller's index built already
            cold = WordVectors(embedder, known=warm_now.known, speller=warm_now.speller)
            started = time.perf_counter()
            cache.semantic.lookup("scope", prompt, vector, words=cold)
            times["fresh"].append(time.perf_counter() - started)
            for warm in (warm_before, warm_now):
                warm(list(prompt_facts(prompt).surface))  # its own words met before, as in a running engine
            runs: tuple[tuple[str, WordVectors | None, MatchRules], ...] = (
                ("exact", None, RULES), ("before", warm_before, BEFORE_ISSUE_17), ("now", warm_now, RULES))
            for name, words, rules in runs:
                cache.semantic.lookup("scope", prompt, vector, words=words, rules=rules)  # once to settle
                started = time.perf_counter()
                cache.semantic.lookup("scope", prompt, vector, words=words, rules=rules)
                times[name].append(time.perf_counter() - started)
    median = {name: statistics.median(values) for name, values in times.items()}
    return LookupLatency(len(firsts), len(probes), _ms(median["exact"]), _ms(median["before"]), _ms(median["now"]),
                         _ms(median["fresh"]), _ms(_p90(times["before"])), _ms(_p90(times["now"])),
                         _ms(_p90(times["fresh"])), _ms(speller_build))


def measure_semantic_pairs(embedder: WordEmbedder, *, latency: bool = True,
                           heldout_path: Path | None = None) -> SemanticPairsReport:
    """Every guard on every labelled set at the shipped prompt threshold, the word thresholds as tuned in this run
    from the development sets, and (optionally) the lookup latency of each guard."""
    paths = {PAIRS_FILE: resource_path(PAIRS_FILE), PARAPHRASES_FILE: resource_path(PARAPHRASES_FILE),
             FIRST_HELDOUT_FILE: resource_path(FIRST_HELDOUT_FILE),
             HELDOUT_FILE: heldout_path or resource_path(HELDOUT_FILE)}
    pairs = {name: load_pairs(path) for name, path in paths.items()}
    plain, words = WordVectors(embedder), word_vectors(embedder)
    scored_now = {name: score_pairs(rows, embedder, words, RULES) for name, rows in pairs.items()}
    scored_before = {name: score_pairs(rows, embedder, plain, BEFORE_ISSUE_17) for name, rows in pairs.items()}
    development = scored_now[PAIRS_FILE] + scored_now[PARAPHRASES_FILE] + scored_now[FIRST_HELDOUT_FILE]
    tuned = tune_word_thresholds(development, SHIPPED_THRESHOLD)
    tuned = WordThresholds(tuned.word, tuned.loose, tuned.close_prompts, tuned.substitution,
                           tune_deletion(development, SHIPPED_THRESHOLD, tuned))
    shipped = WordThresholds()
    rows = {EXACT: scored_before, BEFORE: {n: with_word_match(s, shipped) for n, s in scored_before.items()},
            NOW: {n: with_word_match(s, shipped) for n, s in scored_now.items()}}
    figures = tuple(guard_figures(guard, name, rows[guard][name], split, SHIPPED_THRESHOLD)
                    for name, split in SETS for guard in GUARDS)
    every = [p for rows_ in pairs.values() for p in rows_]
    return SemanticPairsReport(
        threshold=SHIPPED_THRESHOLD, word_thresholds=asdict(shipped), tuned_word_thresholds=asdict(tuned),
        figures=figures,
        latency=measure_lookup_latency(embedder, every, pairs[HELDOUT_FILE]) if latency else None)
