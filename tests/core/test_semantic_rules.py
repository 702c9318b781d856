"""Issue 17's semantic tier: extra words that add nothing, misspellings, comparatives and request verbs, each in a
real SQLite cache with the real MiniLM encoder (a paraphrase served, its near-miss refused); the held-out set written
for it (recall >= 0.8, no false hit, against the match as it was on the same pairs); the development sets keep their
precision; the shipped extra-word threshold is what they give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgemind.core.cache.answers import AnswerCache, CachedAnswer
from edgemind.core.cache.semantic import SHIPPED_THRESHOLD
from edgemind.core.cache.semantic_match import (
    BEFORE_ISSUE_17,
    DELETION,
    RULES,
    MatchRules,
    WordThresholds,
    WordVectors,
    misspelt,
    opposites,
    other_scales,
    word_vectors,
)
from edgemind.core.cache.semantic_tuning import (
    FIRST_HELDOUT_FILE,
    HELDOUT_FILE,
    PAIRS_FILE,
    PARAPHRASES_FILE,
    ScoredPair,
    evaluate,
    load_pairs,
    score_pairs,
    tune_deletion,
    tune_word_thresholds,
    with_word_match,
)
from edgemind.core.cache.spelling import Speller, edits
from edgemind.core.classify.policy_file import resource_path
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.engine.facade import AskOptions, Engine


@pytest.fixture(scope="module")
def words(embedder: Embedder) -> WordVectors:
    return word_vectors(embedder)


def served(tmp_path: Path, embedder: Embedder, words: WordVectors | None, first: str, second: str,
           rules: MatchRules = RULES) -> bool:
    """Whether the real cache serves `second` the answer stored for `first`, as the engine stores and looks up."""
    cache = AnswerCache(tmp_path / "cache.db")
    cache.store("k", CachedAnswer("an answer", "m", 2, 5, cache.clock()))
    first_vector, second_vector = embedder.embed([first, second])
    cache.semantic.put("k", "scope", first, first_vector, words=words, rules=rules)
    return cache.semantic.lookup("scope", second, second_vector, words=words, rules=rules) is not None


# ---- through the engine: a misspelt repeat is found by its repaired spelling ---------------------------------------
def test_the_engine_serves_a_misspelt_repeat_from_the_semantic_tier(engine: Engine) -> None:
    options = AskOptions(temperature=0.0, max_tokens=12)
    first = engine.ask("Why do we need sleep?", options)
    again = engine.ask("Why do we need sleap?", options)  # 0.36 alike as written: below any threshold
    assert (first.cache, again.cache) == ("miss", "semantic") and again.text == first.text
    assert engine.ask("Why do we need sheep?", options).cache == "miss"  # a real word, another question


# ---- each rule: the paraphrase it lets through, the near-miss it must still refuse --------------------------------
@pytest.mark.parametrize("first, second", [
    ("What is the currency of Japan?", "Which currency is used in Japan?"),  # "used": an extra word
    ("Which vitamins are in oranges?", "What vitamins do oranges contain?"),
    ("What is the capital of France?", "What is the captial of France?"),  # a typo (0.78 as written)
    ("Why do we need sleep?", "Why do we need sleap?"),  # 0.36 as written: found by the repaired spelling
    ("What is an API?", "I'd be grateful if you could explain what an API is."),  # register
])
def test_paraphrases_the_match_before_missed_are_served_now(tmp_path: Path, embedder: Embedder,
                                                            words: WordVectors, first: str, second: str) -> None:
    assert served(tmp_path, embedder, words, first, second)
    assert not served(tmp_path / "before", embedder, WordVectors(embedder), first, second, BEFORE_ISSUE_17)


@pytest.mark.parametrize("kind, first, second", [
    ("a modifier narrows", "How do I change a tire?", "How do I change a bike tire?"),
    ("a relation's object narrows", "How do I change a tire?", "How do I change a tire on a bike?"),
    ("an extra word that matters", "Where was Mozart born?", "Where did Mozart die?"),
    ("comparatives of opposites", "Is the Atlantic warmer than the Pacific?", "Is the Atlantic colder than the "
                                                                              "Pacific?"),
    ("comparatives of other scales", "Is it faster to fly or take the train from Paris to London?",
     "Is it cheaper to fly or take the train from Paris to London?"),
    ("a request verb between roles", "What gift should a husband give his wife?",
     "What gift should a wife give her husband?"),
    ("a request verb between roles", "How do bees help flowers?", "How do flowers help bees?"),
    ("ab- negates", "Is it normal to have a fever after a vaccine?", "Is it abnormal to have a fever after a vaccine?"),
    ("a real word one letter away", "What is a good dessert in Spain?", "What is a good desert in Spain?"),
])
def test_near_misses_stay_refused_under_the_new_rules(tmp_path: Path, embedder: Embedder, words: WordVectors,
                                                      kind: str, first: str, second: str) -> None:
    assert not served(tmp_path, embedder, words, first, second), kind
    assert not served(tmp_path / "reverse", embedder, words, second, first), kind


def test_the_match_before_served_the_near_misses_the_new_rules_refuse(tmp_path: Path, embedder: Embedder) -> None:
    """The rules added for issue 17's first held-out run fixed real false hits of the match as it was."""
    plain = WordVectors(embedder)
    assert served(tmp_path / "a", embedder, plain, "How do bees help flowers?", "How do flowers help bees?",
                  BEFORE_ISSUE_17)
    assert served(tmp_path / "b", embedder, plain, "Is silver heavier than gold?", "Is silver lighter than gold?",
                  BEFORE_ISSUE_17)


def test_misspellings_need_a_word_the_vocabulary_lacks_one_edit_away(embedder: Embedder) -> None:
    known = embedder.whole_word
    assert known("capital") and not known("captial") and not known("") and not known("x" * 100)
    assert misspelt("captial", "capital", known) and misspelt("ocaen", "ocean", known)
    assert not misspelt("desert", "dessert", known)  # two real words
    assert not misspelt("captial", "capital", None)  # no vocabulary, no typo rule
    assert not misspelt("methanol", "ethanol", known)  # another first letter
    assert edits("ocaen", "ocean") == 1 and edits("kitten", "sitting") == 3


def test_the_speller_repairs_english_words_to_the_commonest_known_neighbour(embedder: Embedder) -> None:
    speller = Speller(embedder.vocabulary)
    assert speller.repaired("why do we need sleap") == "why do we need sleep"
    assert speller.repaired("What is the captial of France?") == "What is the capital of France?"
    assert speller.repaired("How do I learn Rust?") == "How do I learn Rust?"  # known words and names stay
    assert speller.repaired("Wie koche ich Reis mit Wasser?") == "Wie koche ich Reis mit Wasser?"  # not English


def test_graded_forms_and_scales() -> None:
    assert opposites("hotter", "colder") and opposites("shallowest", "deepest")
    assert not opposites("hotter", "colder", graded=False)
    assert other_scales("faster", "cheaper") and not other_scales("bigger", "larger")


# ---- the labelled sets --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def heldout(embedder: Embedder, words: WordVectors) -> tuple[list[ScoredPair], list[ScoredPair]]:
    pairs = load_pairs(resource_path(HELDOUT_FILE))
    return (with_word_match(score_pairs(pairs, embedder, words), WordThresholds()),
            with_word_match(score_pairs(pairs, embedder, WordVectors(embedder), BEFORE_ISSUE_17), WordThresholds()))


def test_the_held_out_sets_are_big_cover_every_style_and_were_never_tuned_on() -> None:
    first, second = load_pairs(resource_path(FIRST_HELDOUT_FILE)), load_pairs(resource_path(HELDOUT_FILE))
    assert sum(p.label == "hit" for p in first) >= 150 and sum(p.label == "miss" for p in first) >= 150
    assert sum(p.label == "hit" for p in second) >= 100 and sum(p.label == "miss" for p in second) >= 100
    for pairs in (first, second):
        assert {p.split for p in pairs} == {"heldout"}
        assert {"reorder", "synonym", "question_form", "register", "typo"} == {
            p.kind for p in pairs if p.label == "hit"}
        assert {"number", "entity", "negation", "swap", "unit", "comparison", "time"} == {
            p.kind for p in pairs if p.label == "miss"}
    development = {(p.a, p.b) for name in (PAIRS_FILE, PARAPHRASES_FILE, FIRST_HELDOUT_FILE)
                   for p in load_pairs(resource_path(name))}
    assert not development & {(p.a, p.b) for p in second}


def test_held_out_recall_reaches_0_8_with_no_false_hit_where_the_match_before_had_false_hits(
        heldout: tuple[list[ScoredPair], list[ScoredPair]]) -> None:
    now, before = (evaluate(rows, SHIPPED_THRESHOLD, "heldout") for rows in heldout)
    assert now.false_hits == 0, now.false_hit_examples
    assert now.recall >= 0.8 and now.recall > before.recall, (now.recall, before.recall)
    assert before.false_hits > 0


def test_the_committed_benchmark_states_what_the_held_out_set_gives(
        heldout: tuple[list[ScoredPair], list[ScoredPair]]) -> None:
    result = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "semantic_cache.json")
                        .read_text(encoding="utf-8"))
    now = next(f for f in result["figures"] if f["pairs_file"] == HELDOUT_FILE and f["guard"] == "word match now")
    measured = evaluate(heldout[0], SHIPPED_THRESHOLD, "heldout")
    assert (now["true_hits"], now["false_hits"]) == (measured.true_hits, measured.false_hits)


@pytest.fixture(scope="module")
def development(embedder: Embedder, words: WordVectors) -> dict[str, list[ScoredPair]]:
    return {name: score_pairs(load_pairs(resource_path(name)), embedder, words)
            for name in (PAIRS_FILE, PARAPHRASES_FILE, FIRST_HELDOUT_FILE)}


@pytest.mark.slow  # ~20 s: every development pair scored again under the rules before issue 17 (their false hits
# under the rules now are held at 0 by test_semantic_match.py on every run)
def test_the_development_sets_keep_no_false_hit_and_lose_no_recall(
        embedder: Embedder, development: dict[str, list[ScoredPair]]) -> None:
    plain = WordVectors(embedder)
    for name, scored in development.items():
        before_rows = with_word_match(score_pairs(load_pairs(resource_path(name)), embedder, plain, BEFORE_ISSUE_17),
                                      WordThresholds())
        for split in ("heldout", "tune"):
            now = evaluate(with_word_match(scored, WordThresholds()), SHIPPED_THRESHOLD, split)
            before = evaluate(before_rows, SHIPPED_THRESHOLD, split)
            assert now.false_hits == 0, (name, split, now.false_hit_examples)
            assert now.recall >= before.recall, (name, split, now.recall, before.recall)


def test_the_shipped_extra_word_threshold_is_what_the_development_sets_give(
        development: dict[str, list[ScoredPair]]) -> None:
    rows = [s for scored in development.values() for s in scored]
    tuned = tune_word_thresholds(rows, SHIPPED_THRESHOLD)
    assert tune_deletion(rows, SHIPPED_THRESHOLD, tuned) == DELETION


def test_the_development_sets_get_no_false_hit_now(development: dict[str, list[ScoredPair]]) -> None:
    for name, scored in development.items():
        for split in ("heldout", "tune"):
            result = evaluate(with_word_match(scored, WordThresholds()), SHIPPED_THRESHOLD, split)
            assert result.false_hits == 0, (name, split, result.false_hit_examples)
