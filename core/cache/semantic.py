"""The semantic cache tier: a stand-alone prompt that means the same as one already answered gets that answer.

Consulted after an L1/L2 miss, for the requests `ineligible` lets through: no conversation history, temperature 0, at
most MAX_PROMPT_CHARS. Only prompts asked with the same model (and SHA), system prompt and params are compared, and two
checks must both pass: the MiniLM embeddings' cosine similarity reaches a threshold tuned on a labelled set
(`resources/semantic_cache_pairs.jsonl`), and no guard objects: the key slots must agree exactly (`semantic_guard.py`:
numbers, negations, names, identifiers, quoted text, language, units, time frames) and every content word must have
its counterpart, the same word, a misspelling of it or a synonym by word embedding, in the same roles, unless it is
an extra word its prompt asks the same without (`semantic_match.py`). Its rows sit
in `cache.db`, each tied to the L2 answer it serves. It must never serve an answer to a prompt that means something
else; when unsure it misses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import EdgeMindError
from .entries import CachedAnswer, CacheRow, SemanticRow, normalize_prompt
from .semantic_guard import disagreement, prompt_facts
from .semantic_match import RULES, MatchRules, WordVectors, match_disagreement

log = logging.getLogger(__name__)

# Tuned on the tuning split of resources/semantic_cache_pairs.jsonl (semantic_tuning.py; benchmarks/cache.py reports
# it): the lowest cosine at which no near-miss of that split that passes the guards is served, plus a margin, and never
# below semantic_tuning.THRESHOLD_FLOOR. No tuning near-miss passes the guards, so the floor binds: the guards carry
# the precision and the threshold keeps unrelated phrasings apart. tests/core/test_semantic_cache.py
# re-tunes and fails if this drifts from the data.
SHIPPED_THRESHOLD = 0.80
TUNING_MARGIN = 0.02
# Longer prompts are pasted material (code, documents): two of them can differ in a line the embedding never sees
# (the router embeds only the head and tail of a long prompt), so only the exact tiers serve them.
MAX_PROMPT_CHARS = 400
MAX_CANDIDATES = 2048  # newest rows of one scope and signature compared per lookup
EMBEDDING_DIM = 384


def semantic_scope(*, model_id: str, model_version: str, system_prompt: str, params: dict[str, Any]) -> str:
    """Everything but the prompt that shapes an answer: only prompts asked in the same scope are compared."""
    material = {"model": model_id, "model_version": model_version, "system": system_prompt, "params": params}
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def ineligible(prompt: str, *, history: Sequence[Any], temperature: float) -> str | None:
    """Why this request may not use the semantic tier, or None when it may."""
    if history:
        return "the prompt has conversation history"
    if temperature != 0:
        return "sampling is not deterministic (temperature > 0)"
    if len(prompt) > MAX_PROMPT_CHARS:
        return f"the prompt is longer than {MAX_PROMPT_CHARS} characters"
    if not any(ch.isalnum() for ch in prompt):
        return "the prompt has no words"
    return None


@dataclass(frozen=True, slots=True)
class SemanticHit:
    key: str  # the L2 key of the answer served
    answer: CachedAnswer
    similarity: float
    prompt: str  # the earlier prompt whose answer this is


def _vector(embedding: np.ndarray) -> np.ndarray:
    vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if vector.shape != (EMBEDDING_DIM,) or not np.all(np.isfinite(vector)):
        raise ValueError(f"a prompt embedding must be {EMBEDDING_DIM} finite floats, got shape {vector.shape}")
    return vector


def _repaired_vector(text: str, words: WordVectors | None, rules: MatchRules) -> np.ndarray | None:
    """The embedding of the text with its misspelt words repaired, or None when nothing needs repair (or no
    speller, or the encoder failed: a search under the spelling as written only)."""
    if words is None or words.speller is None or not rules.typos:
        return None
    fixed = words.speller.repaired(text)
    if fixed == text:
        return None
    try:
        return _vector(words.sentences([fixed])[0])
    except (EdgeMindError, ValueError) as exc:
        log.warning("semantic spelling repair failed: %s", exc)
        return None


class SemanticIndex:
    """Prompt embeddings in the answer cache's SQLite file, searched per scope and guard signature."""

    def __init__(self, sessions: sessionmaker[Session], *, threshold: float = SHIPPED_THRESHOLD,
                 answers: Callable[[str], CachedAnswer | None] = lambda _key: None,
                 clock: Callable[[], float] = time.time) -> None:
        """`answers(key)` reads an L2 answer as L2 does (TTL, hit count): a semantic hit is an L2 row found by
        meaning, so it is read by the same code."""
        self._sessions = sessions
        self.threshold = threshold
        self._answers = answers
        self._clock = clock

    def lookup(self, scope: str, prompt: str, embedding: np.ndarray,
               words: WordVectors | None = None, rules: MatchRules = RULES) -> SemanticHit | None:
        """The closest earlier answer in this scope that passes the threshold and every guard, or None.

        With word vectors (the engine passes the prompt encoder's), a content word may be said in other words
        (semantic_match.py, under `rules`); without, the guard demands the same content words
        (semantic_guard.disagreement)."""
        facts = prompt_facts(normalize_prompt(prompt))
        queries = [_vector(embedding)]
        repaired = _repaired_vector(normalize_prompt(prompt), words, rules)
        if repaired is not None:  # searched under both spellings: the stored prompt may be spelt either way
            queries.append(repaired)
        try:
            with self._sessions() as s:
                # keys and vectors only: the prompts are read for the few candidates above the threshold
                rows = s.execute(
                    select(SemanticRow.key, SemanticRow.embedding)
                    .where(SemanticRow.scope == scope, SemanticRow.signature == facts.signature())
                    # newest first by rowid: the (scope, signature) index holds rowids in order, so no sort
                    .order_by(text("rowid DESC")).limit(MAX_CANDIDATES)
                ).all()
                # A row whose blob is not a whole vector (a damaged file that still opens) is skipped, never trusted.
                usable = [r for r in rows if isinstance(r[1], bytes) and len(r[1]) == EMBEDDING_DIM * 4]
                if not usable:
                    return None
                matrix = np.frombuffer(b"".join(r[1] for r in usable), dtype=np.float32).reshape(-1, EMBEDDING_DIM)
                similarities = np.max(np.stack([matrix @ query for query in queries]), axis=0)
                order = [int(i) for i in np.argsort(-similarities) if similarities[i] >= self.threshold]
                if not order:
                    return None
                keys = [usable[i][0] for i in order]
                prompts = dict(s.execute(
                    select(SemanticRow.key, SemanticRow.prompt).where(SemanticRow.key.in_(keys))).all())
        except SQLAlchemyError as exc:  # a cache failure must never fail the request
            log.warning("semantic cache read failed: %s", exc.__class__.__name__)
            return None
        for i, key in zip(order, keys):
            similarity = float(similarities[i])
            earlier = prompt_facts(prompts.get(key, ""))
            try:
                why = (disagreement(facts, earlier) if words is None
                       else match_disagreement(facts, earlier, words, similarity,
                                               (normalize_prompt(prompt), prompts.get(key, "")), rules=rules))
            except EdgeMindError as exc:  # the encoder failed on the words: a miss, never a failed request
                log.warning("semantic word match failed: %s", exc)
                return None
            if why is not None:
                log.debug("semantic candidate at %.3f refused: %s", similarity, why)
                continue
            answer = self._answers(key)
            if answer is not None:
                return SemanticHit(key, answer, similarity, prompts[key])
        return None

    def put(self, key: str, scope: str, prompt: str, embedding: np.ndarray, words: WordVectors | None = None,
            rules: MatchRules = RULES) -> None:
        """Remember a prompt whose answer was just stored in L2 under `key`; with word vectors, the vector kept
        is that of the prompt with its misspelt words repaired (spelling.py), as lookups search."""
        text = normalize_prompt(prompt)
        repaired = _repaired_vector(text, words, rules)
        blob = (repaired if repaired is not None else _vector(embedding)).tobytes()
        try:
            with self._sessions.begin() as s:
                if s.get(CacheRow, key) is None:  # the answer was not kept (L2 write failed): nothing to point at
                    return
                row = s.get(SemanticRow, key) or SemanticRow(key=key)
                row.scope, row.signature, row.prompt = scope, prompt_facts(text).signature(), text
                row.embedding, row.created_at = blob, self._clock()
                s.add(row)
        except SQLAlchemyError as exc:
            log.warning("semantic cache write failed: %s", exc.__class__.__name__)
