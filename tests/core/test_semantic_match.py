"""The semantic tier's word match: a paraphrase in other words is served (the issue's boiling-point example through
the real engine), each kind of near-miss never is (real encoder, real SQLite cache), and the shipped thresholds are
what the tuning splits give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgemind.core.cache.answers import AnswerCache, CachedAnswer
from edgemind.core.cache.semantic import SHIPPED_THRESHOLD
from edgemind.core.cache.semantic_guard import prompt_facts
from edgemind.core.cache.semantic_match import (
    CLOSE_PROMPTS, LOOSE_WORD_THRESHOLD, SUBSTITUTION, WORD_THRESHOLD, WordThresholds, WordVectors,
    match_disagreement, word_vectors,
)
from edgemind.core.cache.semantic_tuning import (
    PARAPHRASES_FILE, evaluate, load_pairs, score_pairs, tune_word_thresholds, with_word_match,
)
from edgemind.core.classify.policy_file import resource_path
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.errors import ConfigError, ModelError

OPTS = AskOptions(temperature=0.0, max_tokens=12)
BOILING = "what is the boiling point of water at sea level in Celsius?"
BOILING_AGAIN = "at sea level, what temperature in Celsius does water boil at?"


# ---- through the engine -------------------------------------------------------------------------------------------
def test_the_issues_boiling_point_paraphrase_is_served_from_the_semantic_tier(engine: Engine) -> None:
    first = engine.ask(BOILING, OPTS)
    again = engine.ask(BOILING_AGAIN, OPTS)
    assert (first.cache, again.cache) == ("miss", "semantic")
    assert again.text == first.text


def test_the_engine_never_serves_the_boiling_point_in_another_unit(engine: Engine) -> None:
    engine.ask(BOILING, OPTS)
    assert engine.ask("at sea level, what temperature in Fahrenheit does water boil at?", OPTS).cache == "miss"


# ---- the real cache and encoder, one near-miss of each kind -------------------------------------------------------
@pytest.fixture(scope="module")
def words(embedder: Embedder) -> WordVectors:
    return word_vectors(embedder)


def served(tmp_path: Path, embedder: Embedder, words: WordVectors, first: str, second: str) -> bool:
    """Whether the real cache (SQLite file, MiniLM vectors) serves `second` the answer stored for `first`."""
    cache = AnswerCache(tmp_path / "cache.db")
    cache.store("k", CachedAnswer("an answer", "m", 2, 5, cache.clock()))
    first_vector, second_vector = embedder.embed([first, second])
    cache.semantic.put("k", "scope", first, first_vector, words=words)
    return cache.semantic.lookup("scope", second, second_vector, words=words) is not None


@pytest.mark.parametrize("first, second", [
    (BOILING, BOILING_AGAIN),
    ("How do I purchase a domain name?", "How can I buy a domain name?"),  # a synonym
    ("What is the tallest mountain in the world?", "Which mountain is the tallest in the world?"),  # reordered
    ("How old is the universe?", "What is the age of the universe?"),  # another question form
    ("Why do cats purr?", "What makes cats purr?"),
    ("How do I fix a leaking faucet?", "How can I repair a leaky faucet?"),  # fix/repair 0.64 alone, in place 0.98
    ("Who wrote Pride and Prejudice?", "Who is the author of Pride and Prejudice?"),
])
def test_paraphrases_in_other_words_are_served(tmp_path: Path, embedder: Embedder, words: WordVectors,
                                               first: str, second: str) -> None:
    assert served(tmp_path, embedder, words, first, second)


@pytest.mark.parametrize("kind, first, second", [
    ("number", "How many minutes are in 3 hours?", "How many minutes are in 4 hours?"),
    ("number", "How far does light travel in one second?", "How far does light travel in ten seconds?"),
    ("negation", "Which animals can swim?", "Which animals cannot swim?"),
    ("negation", "Is it safe to drink tap water in Mexico?", "Is it unsafe to drink tap water in Mexico?"),
    ("entity", "what is the population of spain", "what is the population of italy"),
    ("entity", "How do cats communicate?", "How do dogs communicate?"),
    ("swapped roles", "Did Brazil beat Germany in 2014?", "Did Germany beat Brazil in 2014?"),
    ("swapped roles", "Why is Python slower than C?", "Why is C slower than Python?"),
    ("unit", BOILING, "what is the boiling point of water at sea level in Fahrenheit?"),
    ("unit", "What is 100 degrees Fahrenheit in Celsius?", "What is 100 degrees Celsius in Fahrenheit?"),
    ("time frame", "What is the weather like today?", "What is the weather like tomorrow?"),
    ("time frame", "Who won the election last year?", "Who won the election this year?"),
    ("same words, other question", "What is the melting point of iron?", "What is the boiling point of iron?"),
    ("same words, other question", "How fast can a horse run?", "How far can a horse run?"),
    ("same words, other question", "Why do birds migrate?", "How do birds migrate?"),
    ("opposite", "What are the advantages of solar power?", "What are the disadvantages of solar power?"),
])
def test_near_misses_of_every_kind_are_never_served(tmp_path: Path, embedder: Embedder, words: WordVectors,
                                                    kind: str, first: str, second: str) -> None:
    assert not served(tmp_path, embedder, words, first, second), kind
    assert not served(tmp_path / "reverse", embedder, words, second, first), kind


def test_a_near_miss_says_which_slot_or_word_refused_it(words: WordVectors) -> None:
    a, b = prompt_facts("What is the weather like today?"), prompt_facts("What is the weather like tomorrow?")
    assert match_disagreement(a, b, words, 0.95) == "times differ"
    a, b = prompt_facts("How do cats communicate?"), prompt_facts("How do dogs communicate?")
    assert "no synonym" in (match_disagreement(a, b, words, 0.85) or "")


def test_word_vectors_embed_each_word_once(embedder: Embedder) -> None:
    class Counting:
        def __init__(self) -> None:
            self.texts: list[str] = []

        def embed(self, texts: list[str]) -> np.ndarray:
            self.texts += texts
            return embedder.embed(texts)

    counting = Counting()
    vectors = WordVectors(counting, max_words=3)
    first = vectors(["film", "movie", "film"])
    assert counting.texts == ["film", "movie"] and first.shape == (3, 384)
    assert float(first[0] @ first[1]) >= WORD_THRESHOLD  # synonyms, by the real encoder
    vectors(["movie"])
    assert counting.texts == ["film", "movie"]  # remembered
    vectors(["cat", "dog", "bird"])  # pushes the oldest out (at most 3 words kept)
    vectors(["film"])
    assert counting.texts[-1] == "film"


def test_an_encoder_failure_in_the_word_match_is_a_miss_not_a_failed_request(tmp_path: Path,
                                                                              embedder: Embedder) -> None:
    class Broken:
        """The word encoder failing as the real one does when onnxruntime cannot run a batch."""

        def embed(self, texts: list[str]) -> np.ndarray:
            raise ModelError(f"embedding a batch of {len(texts)} texts failed: out of memory")

    cache = AnswerCache(tmp_path / "cache.db")
    cache.store("k", CachedAnswer("an answer", "m", 2, 5, cache.clock()))
    first, second = embedder.embed(["How do I fix a leaking faucet?", "How can I repair a leaky faucet?"])
    cache.semantic.put("k", "scope", "How do I fix a leaking faucet?", first)
    assert cache.semantic.lookup("scope", "How can I repair a leaky faucet?", second,
                                 words=WordVectors(Broken())) is None


# ---- the labelled paraphrases -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def paraphrases(embedder: Embedder, words: WordVectors):  # type: ignore[no-untyped-def]
    return score_pairs(load_pairs(resource_path(PARAPHRASES_FILE)), embedder, words)


@pytest.fixture(scope="module")
def shipped_pairs(embedder: Embedder, words: WordVectors):  # type: ignore[no-untyped-def]
    return score_pairs(load_pairs(), embedder, words)


def test_the_paraphrase_set_is_big_split_and_covers_every_near_miss_kind() -> None:
    pairs = load_pairs(resource_path(PARAPHRASES_FILE))
    heldout = [p for p in pairs if p.split == "heldout"]
    assert sum(p.label == "hit" for p in heldout) >= 120 and sum(p.label == "miss" for p in heldout) >= 120
    assert {"number", "negation", "entity", "swap", "unit", "time", "question"} <= {
        p.kind for p in heldout if p.label == "miss"}
    assert {"synonym", "reorder", "question_form"} <= {p.kind for p in heldout if p.label == "hit"}
    tuning = {(p.a, p.b) for p in pairs if p.split == "tune"}
    assert tuning and not tuning & {(p.a, p.b) for p in heldout}


def test_the_shipped_word_thresholds_are_what_the_tuning_splits_give(paraphrases, shipped_pairs) -> None:  # type: ignore[no-untyped-def]
    tuned = tune_word_thresholds(list(paraphrases) + list(shipped_pairs), SHIPPED_THRESHOLD)
    assert tuned == WordThresholds(WORD_THRESHOLD, LOOSE_WORD_THRESHOLD, CLOSE_PROMPTS, SUBSTITUTION)


def test_held_out_paraphrases_get_no_false_hit_and_more_hits_than_the_exact_guard(paraphrases) -> None:  # type: ignore[no-untyped-def]
    now = evaluate(with_word_match(paraphrases, WordThresholds()), SHIPPED_THRESHOLD, "heldout")
    before = evaluate(paraphrases, SHIPPED_THRESHOLD, "heldout")
    assert now.false_hits == 0, now.false_hit_examples
    assert now.recall >= 0.5 and now.recall >= 3 * before.recall, (now.recall, before.recall)


def test_the_older_pairs_keep_no_false_hit_under_the_word_match(shipped_pairs) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(with_word_match(shipped_pairs, WordThresholds()), SHIPPED_THRESHOLD, "heldout")
    assert result.false_hits == 0, result.false_hit_examples
    assert result.recall >= evaluate(shipped_pairs, SHIPPED_THRESHOLD, "heldout").recall


def test_a_missing_pairs_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such labelled-pairs file"):
        load_pairs(tmp_path / "nope.jsonl")
