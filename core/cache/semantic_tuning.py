"""The semantic cache's labelled pairs: tune its threshold on the tuning split, measure it on the held-out split.

A pair is two prompts and whether the second may be served the first's answer (`hit`: a paraphrase) or not
(`miss`: a near-miss that means something else). Tuning looks at the tuning split only; the held-out figures are
what we report and what the tests hold to (no false hit at all).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..classify.policy_file import resource_path
from ..errors import ConfigError
from .entries import normalize_prompt
from .semantic import TUNING_MARGIN
from .semantic_guard import disagreement, prompt_facts

PAIRS_FILE = "semantic_cache_pairs.jsonl"
# Never tune below this: with every near-miss of the tuning split stopped by a guard, the data would allow any
# threshold, and unrelated prompts that happen to pass every guard ("what is X" / "what is Y") must still miss.
THRESHOLD_FLOOR = 0.80


class PairEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class LabelledPair:
    a: str
    b: str
    label: str  # hit | miss
    kind: str  # paraphrase, negation, number, name, language, identifier, antonym, swap, quoted, topic
    lang: str
    split: str  # tune | heldout


@dataclass(frozen=True, slots=True)
class ScoredPair:
    pair: LabelledPair
    similarity: float
    guard: str | None  # why a guard refuses the pair, or None


@dataclass(frozen=True, slots=True)
class Evaluation:
    threshold: float
    pairs: int
    hits_expected: int
    near_misses: int
    true_hits: int
    false_hits: int
    precision: float
    recall: float
    false_hit_rate: float
    false_hit_examples: tuple[tuple[str, str, float], ...]
    stopped_by_guard: int  # near-misses above the threshold that a guard stopped (what the threshold alone would serve)


def load_pairs(path: Path | None = None) -> list[LabelledPair]:
    """The shipped labelled pairs (or another file of the same shape); a bad line is a ConfigError naming it."""
    path = path or resource_path(PAIRS_FILE)
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pair = LabelledPair(str(row["a"]), str(row["b"]), row["label"], row["kind"], row["lang"], row["split"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: not a labelled pair ({exc.__class__.__name__}: {exc})") from None
        if pair.label not in ("hit", "miss") or pair.split not in ("tune", "heldout"):
            raise ConfigError(f"{path}:{number}: label must be hit|miss and split tune|heldout")
        pairs.append(pair)
    return pairs


def score_pairs(pairs: Sequence[LabelledPair], embedder: PairEmbedder) -> list[ScoredPair]:
    """Each pair's cosine similarity and the guards' verdict, as the cache would compute them."""
    texts = [normalize_prompt(t) for p in pairs for t in (p.a, p.b)]
    vectors = embedder.embed(texts)
    scored = []
    for i, pair in enumerate(pairs):
        a, b = vectors[2 * i], vectors[2 * i + 1]
        guard = disagreement(prompt_facts(texts[2 * i]), prompt_facts(texts[2 * i + 1]))
        scored.append(ScoredPair(pair, float(a @ b), guard))
    return scored


def tune_threshold(scored: Sequence[ScoredPair], margin: float = TUNING_MARGIN) -> float:
    """The lowest threshold (rounded up to 0.01) at which no tuning near-miss that passes the guards is served,
    plus a margin, never below THRESHOLD_FLOOR. Held-out pairs are ignored."""
    leaking = [s.similarity for s in scored if s.pair.split == "tune" and s.pair.label == "miss" and s.guard is None]
    worst = max(leaking, default=0.0)
    return float(min(1.0, max(THRESHOLD_FLOOR, np.ceil((worst + margin) * 100) / 100)))


def evaluate(scored: Sequence[ScoredPair], threshold: float, split: str = "heldout") -> Evaluation:
    """Precision, recall and false-hit rate of threshold + guards on one split."""
    rows = [s for s in scored if s.pair.split == split]
    served = [s for s in rows if s.similarity >= threshold and s.guard is None]
    true_hits = sum(1 for s in served if s.pair.label == "hit")
    false = [s for s in served if s.pair.label == "miss"]
    expected = sum(1 for s in rows if s.pair.label == "hit")
    near = sum(1 for s in rows if s.pair.label == "miss")
    stopped = sum(1 for s in rows if s.pair.label == "miss" and s.similarity >= threshold and s.guard is not None)
    return Evaluation(
        threshold=threshold, pairs=len(rows), hits_expected=expected, near_misses=near, true_hits=true_hits,
        false_hits=len(false), precision=true_hits / len(served) if served else 1.0,
        recall=true_hits / expected if expected else 0.0, false_hit_rate=len(false) / near if near else 0.0,
        false_hit_examples=tuple((s.pair.a, s.pair.b, round(s.similarity, 4)) for s in false),
        stopped_by_guard=stopped,
    )
