"""Misspelt words repaired for the semantic tier's search: a word the encoder's vocabulary does not hold, one edit
from a word it does, is read as that word before the prompt is embedded for the search.

The MiniLM encoder reads "captial" as the pieces "cap", "##tial": one typo moves a short prompt far from the same
prompt spelt right (0.78 for "what is the captial of France", 0.36 for "why do we need sleap"), below the tier's
threshold, so the guards never even see the pair. The repair only decides which stored prompts are compared; whether
one is served is still the guards' call on the prompts as written (semantic_match.misspelt pairs the two spellings).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping

from ..routing.signals import detect_language

MIN_LETTERS = 4  # shorter words have too many neighbours one edit away ("cat": bat, cut, car...)
_WORD = re.compile(r"[^\W\d_]+")


def edits(x: str, y: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two neighbours."""
    previous2: list[int] = []
    previous = list(range(len(y) + 1))
    for i, cx in enumerate(x, 1):
        row = [i]
        for j, cy in enumerate(y, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (cx != cy))
            if i > 1 and j > 1 and cx == y[j - 2] and x[i - 2] == cy:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        previous2, previous = previous, row
    return previous[-1]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Speller:
    """One edit (two from eight letters on) to the most common known word with the same first letter, for words
    in lower case the vocabulary does not hold. Built lazily from the encoder's vocabulary (word -> id, lower ids
    for the commoner words, as in BERT's word-piece vocabulary), then thread-safe."""

    def __init__(self, vocabulary: Callable[[], Mapping[str, int]]) -> None:
        self._vocabulary = vocabulary
        self._lock = threading.Lock()
        self._rank: dict[str, int] = {}
        self._index: dict[str, list[str]] = {}  # a word or a word less one letter -> known words that give it

    def _ranks(self) -> dict[str, int]:
        with self._lock:
            if not self._rank:
                self._rank = {w: i for w, i in self._vocabulary().items()
                              if w.isalpha() and w.islower() and len(w) >= 3}
            return self._rank

    def _neighbours(self) -> dict[str, list[str]]:
        """The deletion index, built on the first word that needs it (about half a second: most prompts have no
        unknown word and never pay it)."""
        rank = self._ranks()
        with self._lock:
            if not self._index:
                index: dict[str, list[str]] = {}
                for word in rank:
                    for key in _deletions(word) | {word}:
                        index.setdefault(key, []).append(word)
                self._index = index
            return self._index

    def word(self, word: str) -> str:
        """The known word this one is a misspelling of, or the word itself."""
        if len(word) < MIN_LETTERS or not word.isalpha() or not word.islower() or word in self._ranks():
            return word
        index = self._neighbours()
        limit = 2 if len(word) >= 8 else 1
        keys = _deletions(word) | {word}
        if limit == 2:
            keys |= {d2 for d in _deletions(word) for d2 in _deletions(d)}
        found = {c for key in keys for c in index.get(key, ()) if c[0] == word[0]}
        close = [c for c in found if abs(len(c) - len(word)) <= limit and edits(word, c) <= limit]
        return min(close, key=lambda c: (self._rank[c], c)) if close else word

    def repaired(self, text: str) -> str:
        """The text with each misspelt word replaced (case and everything else as written). English only: the
        vocabulary is English, and a word of another language is no misspelling of an English one (a text too short
        to tell is read as English)."""
        if detect_language(text) not in ("en", "und"):
            return text
        return _WORD.sub(lambda m: self.word(m.group(0)), text)
