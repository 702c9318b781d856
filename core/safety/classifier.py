"""The learned half of the safety check: the shared classifier of `core.classify.softmax` as logistic regression
(harmful vs benign) and a category head, over a sentence embedding joined with rule cues, multilingual concepts and
hashed word and character n-grams, the harm probability blended with a vote of the nearest training prompts.

Why both: MiniLM separates "kill a process" from "kill my neighbour" well in English but knows little Spanish or
German; the n-grams and concepts carry the words it misses there. Training takes minutes here (embedding the 3,450
training prompts and 2 x 2,000 gradient steps: 255 s on a 2-core machine at load 15), so weights are a cache in the
data folder keyed by everything they depend on, not a shipped artefact. Nothing here decides what to refuse: the
policy's thresholds in `checker.py` do.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy import sparse

from ..classify.labelled import LabelledPrompt, LabelSet, read_labelled
from ..classify.model_file import content_key, save_arrays
from ..classify.softmax import Fit, SplitRows, Vote, blend, fit_softmax, softmax, vote
from .policy import CATEGORIES

# Bump when feature or training code changes: it is part of the cache key (with every setting below), so weights
# trained by older code are never read back.
FEATURE_VERSION = "safety-features-5"
HASH_BUCKETS = 1 << 15
CHAR_NGRAMS = (3, 4, 5)
# Chosen on 5-fold cross-validation of the train split only (benchmarks/safety.py --cv): embedding + cues + n-grams
# beat each part alone; more steps or a smaller penalty fitted the folds' own topics better but not the other folds.
# On the 2,151-prompt split (over half of it not English) n-grams at weight 2-3 scored better on --cv (harmful refused
# at <= 10% benign: 0.90 against 0.89 with the concepts below) but drowned the embedding on short English requests:
# "How do I kill my neighbour?" fell to 0.13 from the regression, under the sentences that share its words.
LEXICAL_WEIGHT = 1.0
CUE_SCALE = 1.0
# The multilingual concepts of rules.CONCEPTS. On --cv they lifted harmful refused at <= 10% benign from 0.78
# to 0.89 (at 0.5; 1.0 scored 0.88), but that overstates them: the words were picked with the training prompts in
# view. On 143 prompts written afterwards and kept out of training the gain was smaller (AUC 0.876 -> 0.883 at 0.5,
# benign refused at 0.50 from 0.17 to 0.09) and 1.0 was worse (AUC 0.855), so the smaller weight.
CONCEPT_SCALE = 0.5
L2_PENALTY = 1e-3
STEPS = 2000
LEARNING_RATE = 1.0
# The regression's probability is blended with a vote of the NEIGHBOURS most similar training prompts (embedding +
# cues). On --cv this kept harmful refusals while refusing fewer benign prompts (1,142-prompt split, at 0.50: 0.888 /
# 0.074 against 0.865 / 0.087 for the regression alone): a look-alike the linear model scores high usually has benign
# twins in the training set. Session 29 (3,450 prompts, session 28's blind split among the dev files) made the vote
# sharper and heavier: each vote weighs exp(30 x (cosine - best cosine)), so the nearest twins decide, among 10
# neighbours with a 0.35 share. At 90% of harmful dev prompts refused (one threshold, no per-category shifts) that
# refused 7.1% of benign ones, against 9.4% for session 28's vote (5 neighbours weighted by cosine, 0.2 share); 5 or
# 20 neighbours and sharpness 10 scored between the two.
NEIGHBOURS = 10
NEIGHBOUR_WEIGHT = 0.35
NEIGHBOUR_SHARPNESS = 30.0
FIT = Fit(l2=L2_PENALTY, steps=STEPS, learning_rate=LEARNING_RATE, rows=True)
VOTE = Vote(neighbours=NEIGHBOURS, share=NEIGHBOUR_WEIGHT, sharpness=NEIGHBOUR_SHARPNESS)

HARMFUL = "harmful"
# Safety's labelled files: {"prompt", "label", "category"[, "lang"]}. A harmful prompt names its category; a benign
# one may name the category it only sounds like.
SAFETY_LABELS = LabelSet(key="label", labels=(HARMFUL, "benign"), categories=CATEGORIES, categorised=(HARMFUL,))

_WORD = re.compile(r"\w+", re.UNICODE)


def load_examples(path: Path) -> list[LabelledPrompt]:
    """Safety's labelled prompts; a broken line is a ConfigError naming the file and line."""
    return read_labelled(path, SAFETY_LABELS)


class TextEmbedder(Protocol):
    """What the classifier needs from an embedder: unit-length float32 rows, one per text."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise(text: str) -> str:
    """Case-folded NFKC text with accents kept; the one form both rules and n-grams read."""
    return unicodedata.normalize("NFKC", text).casefold()


def lexical_indices(text: str) -> dict[int, float]:
    """Hashed word unigrams, word bigrams and character n-grams of each word, as bucket -> log count."""
    words = _WORD.findall(normalise(text))
    counts: dict[int, float] = {}

    def add(gram: str) -> None:
        # crc32, not hash(): Python salts str hashes per process, and the weights outlive the process.
        bucket = zlib.crc32(gram.encode("utf-8")) & (HASH_BUCKETS - 1)
        counts[bucket] = counts.get(bucket, 0.0) + 1.0

    for i, word in enumerate(words):
        add("w:" + word)
        if i:
            add("b:" + words[i - 1] + " " + word)
        padded = f"<{word}>"
        for n in CHAR_NGRAMS:
            for start in range(max(len(padded) - n + 1, 0)):
                add("c:" + padded[start:start + n])
    if not counts:
        return {}
    values = np.log1p(np.fromiter(counts.values(), np.float64))
    scale = LEXICAL_WEIGHT / float(np.linalg.norm(values))
    return {bucket: float(v) * scale for bucket, v in zip(counts, values)}


def lexical_matrix(texts: Sequence[str]) -> sparse.csr_matrix:
    """Each text's lexical_indices as one sparse row over HASH_BUCKETS columns (a few hundred filled of 32,768)."""
    indptr: list[int] = [0]
    indices: list[int] = []
    values: list[float] = []
    for text in texts:
        grams = lexical_indices(text)
        indices.extend(grams)
        values.extend(grams.values())
        indptr.append(len(indices))
    matrix = sparse.csr_matrix((np.array(values, np.float32), np.array(indices, np.int32), np.array(indptr, np.int64)),
                               shape=(len(texts), HASH_BUCKETS))
    matrix.sort_indices()
    return matrix


def dense_part(embedding: np.ndarray, cues: Sequence[float], concepts: Sequence[float]) -> np.ndarray:
    """The embedding joined with the rule cues and concepts, scaled so a cue counts about as much as the embedding's
    length and a concept half as much."""
    return np.concatenate([embedding.astype(np.float32), np.asarray(cues, np.float32) * CUE_SCALE,
                           np.asarray(concepts, np.float32) * CONCEPT_SCALE])


def features(texts: Sequence[str], embeddings: np.ndarray, cues: Sequence[Sequence[float]],
             concepts: Sequence[Sequence[float]]) -> SplitRows:
    """Training rows: [embedding, scaled cues, scaled concepts | hashed n-grams], the n-grams kept sparse."""
    dense = np.vstack([dense_part(e, c, k) for e, c, k in zip(embeddings, cues, concepts)])
    return SplitRows(dense, lexical_matrix(texts))


@dataclass(frozen=True, slots=True)
class SafetyWeights:
    """Harmful-vs-benign logistic regression plus a category head, both over `features`."""

    harm_w: np.ndarray  # (dim,)
    harm_b: float
    cat_w: np.ndarray  # (dim, n_categories)
    cat_b: np.ndarray  # (n_categories,)
    categories: tuple[str, ...]
    memory: np.ndarray  # (n, dense dim): the training rows' dense parts, for the neighbour vote
    memory_harmful: np.ndarray  # (n,): 1.0 where that training prompt is harmful

    def harm_probability(self, dense: np.ndarray, lexical: dict[int, float]) -> float:
        """The regression's probability blended with the neighbour vote; what the policy's thresholds compare."""
        regression = 1.0 / (1.0 + np.exp(-self.harm_logit(dense, lexical)))
        return float(blend(regression, self.neighbour_vote(dense[None, :])[0], VOTE))

    def harm_probabilities(self, x: SplitRows) -> np.ndarray:
        """harm_probability for whole feature rows from `features` (benchmarks and cross-validation)."""
        regression = 1.0 / (1.0 + np.exp(-(x @ self.harm_w + self.harm_b)))
        return blend(regression, self.neighbour_vote(x.dense), VOTE)

    def neighbour_vote(self, dense: np.ndarray) -> np.ndarray:
        """Share of harmful prompts among each row's NEIGHBOURS nearest training prompts, the nearest weighing most."""
        return vote(dense, self.memory, self.memory_harmful, 2, VOTE)[0][:, 1]

    def harm_logit(self, dense: np.ndarray, lexical: dict[int, float]) -> float:
        """`dense` from dense_part; the n-grams are read as a sparse dot product (a few hundred buckets)."""
        dim = dense.shape[0]
        lex = sum(float(self.harm_w[dim + bucket]) * value for bucket, value in lexical.items())
        return float(dense @ self.harm_w[:dim]) + lex + self.harm_b

    def category_probs(self, dense: np.ndarray, lexical: dict[int, float]) -> np.ndarray:
        dim = dense.shape[0]
        logits = dense @ self.cat_w[:dim] + self.cat_b
        if lexical:
            buckets = np.fromiter(lexical, np.int64) + dim
            logits = logits + np.fromiter(lexical.values(), np.float32) @ self.cat_w[buckets]
        return softmax(logits[None, :])[0]

    def save(self, path: Path, *, stale: str | None = None) -> None:
        """Atomically, removing the files next to it that match `stale`; OSError is the caller's."""
        save_arrays(path, {"harm_w": self.harm_w, "harm_b": np.array(self.harm_b), "cat_w": self.cat_w,
                           "cat_b": self.cat_b, "categories": np.array(self.categories), "memory": self.memory,
                           "memory_harmful": self.memory_harmful}, stale=stale)

    @classmethod
    def load(cls, path: Path) -> SafetyWeights:
        with np.load(path, allow_pickle=False) as data:
            return cls(harm_w=data["harm_w"], harm_b=float(data["harm_b"]), cat_w=data["cat_w"],
                       cat_b=data["cat_b"], categories=tuple(str(c) for c in data["categories"]),
                       memory=data["memory"], memory_harmful=data["memory_harmful"])


def train(x: SplitRows, harmful: np.ndarray, category: Sequence[str | None],
          categories: Sequence[str]) -> SafetyWeights:
    """Fit both heads on feature rows `x`; `category` is read only where `harmful` is true."""
    # Two-class softmax is logistic regression; the difference of the two columns is the usual weight vector.
    w2, b2 = fit_softmax(x, harmful.astype(np.int64), 2, FIT)
    # keyed by name; a harmful row without a category (load_examples refuses one) would fail here, by name
    index: dict[str | None, int] = {name: i for i, name in enumerate(categories)}
    rows = np.flatnonzero(harmful)
    wc, bc = fit_softmax(x[rows], np.array([index[category[int(i)]] for i in rows]), len(categories), FIT)
    memory = np.ascontiguousarray(x.dense, np.float32)
    return SafetyWeights(harm_w=w2[:, 1] - w2[:, 0], harm_b=float(b2[1] - b2[0]), cat_w=wc, cat_b=bc,
                         categories=tuple(categories), memory=memory, memory_harmful=harmful.astype(np.float32))


def cache_key(*parts: bytes | str) -> str:
    """A short hash of everything trained weights depend on: the parts given plus this module's settings."""
    settings = (f"{FEATURE_VERSION}|{HASH_BUCKETS}|{CHAR_NGRAMS}|{LEXICAL_WEIGHT}|{CUE_SCALE}|{CONCEPT_SCALE}|"
                f"{L2_PENALTY}|{STEPS}|{LEARNING_RATE}|{NEIGHBOURS}|{NEIGHBOUR_WEIGHT}|{NEIGHBOUR_SHARPNESS}")
    return content_key(settings, *parts)
