"""The semantic cache tier: paraphrases served through the real engine and tiny model; near-misses, history,
sampling, other models, clearing, deleting and damage never serve a wrong answer."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgemind.core.cache.answers import AnswerCache, CachedAnswer
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.routing.router import IntentRouter
from edgemind.core.cache.semantic import SHIPPED_THRESHOLD, SemanticIndex, ineligible, semantic_scope
from edgemind.core.cache.semantic_guard import disagreement, prompt_facts
from edgemind.core.cache.semantic_tuning import evaluate, load_pairs, score_pairs, tune_threshold
from edgemind.core.settings import Settings

OPTS = AskOptions(temperature=0.0, max_tokens=12)


def ask_pair(engine: Engine, first: str, second: str, options: AskOptions = OPTS) -> tuple[str, str]:
    a = engine.ask(first, options)
    b = engine.ask(second, options)
    return a.cache, b.cache


# ---- through the engine -------------------------------------------------------------------------------------------
def test_a_paraphrase_is_served_the_earlier_answer_with_its_similarity(engine: Engine) -> None:
    first = engine.ask("What is the capital of France?", OPTS)
    again = engine.ask("what's the capital of France", OPTS)
    assert (first.cache, again.cache) == ("miss", "semantic")
    assert again.text == first.text and again.similarity is not None and again.similarity >= SHIPPED_THRESHOLD
    assert first.similarity is None
    assert engine.pool.loaded() and engine.cache is not None and engine.cache.counters["semantic"] == 1


def test_semantic_cache_never_serves_a_negated_prompt(engine: Engine) -> None:
    assert ask_pair(engine, "Is it safe to eat raw eggs?", "Isn't it safe to eat raw eggs?") == ("miss", "miss")
    negated = engine.ask("Is it not safe to eat raw eggs?", OPTS)  # the negated question's own answer
    assert negated.cache == "semantic" and negated.text == engine.ask("Isn't it safe to eat raw eggs?", OPTS).text


def test_semantic_cache_never_serves_a_prompt_with_other_numbers(engine: Engine) -> None:
    assert ask_pair(engine, "What is 2+3?", "What is 2+4?") == ("miss", "miss")
    assert ask_pair(engine, "List the top 5 rivers.", "List the top 6 rivers.") == ("miss", "miss")


def test_semantic_cache_never_serves_a_prompt_about_another_name(engine: Engine) -> None:
    assert ask_pair(engine, "Who wrote Hamlet?", "Who wrote Macbeth?") == ("miss", "miss")
    assert ask_pair(engine, "what is the capital of france", "what is the capital of germany") == ("miss", "miss")


def test_semantic_cache_never_serves_another_language_or_identifier(engine: Engine) -> None:
    assert ask_pair(engine, "What is the capital of Spain?", "¿Cuál es la capital de España?") == ("miss", "miss")
    assert ask_pair(engine, "What does os.path.join do?", "What does os.path.split do?") == ("miss", "miss")


def test_semantic_cache_is_not_used_with_conversation_history(engine: Engine) -> None:
    first = engine.ask("What is the capital of France?", OPTS)
    follow = engine.ask("what's the capital of France", AskOptions(temperature=0, max_tokens=12,
                                                                   conversation_id=first.conversation_id))
    assert follow.cache == "miss"


def test_semantic_cache_is_not_used_when_sampling_is_random(engine: Engine) -> None:
    warm = AskOptions(temperature=0.7, max_tokens=12, seed=1)
    assert ask_pair(engine, "What is the capital of France?", "what's the capital of France", warm) == ("miss", "miss")
    assert engine.cache is not None and engine.cache.l2.stats()["semantic_entries"] == 0


def test_semantic_cache_needs_the_same_system_prompt_and_params(engine: Engine) -> None:
    engine.ask("What is the capital of France?", OPTS)
    other_system = AskOptions(temperature=0, max_tokens=12, system_prompt="Answer in French.")
    assert engine.ask("what's the capital of France", other_system).cache == "miss"
    assert engine.ask("what's the capital of France", AskOptions(temperature=0, max_tokens=13)).cache == "miss"


def test_semantic_cache_is_cleared_by_edgemind_cache_clear(engine: Engine, cli_env: dict[str, str]) -> None:
    engine.ask("What is the capital of France?", OPTS)
    proc = subprocess.run([sys.executable, "-m", "edgemind.core.cli", "cache", "clear", "--json"], env=cli_env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"cleared": 1}
    assert engine.cache is not None and engine.cache.l2.stats()["semantic_entries"] == 0
    engine.cache.l1.clear()  # this process's memory tier: the CLI cleared only what is on disk
    assert engine.ask("what's the capital of France", OPTS).cache == "miss"


def test_deleting_a_conversation_removes_its_prompt_embeddings(engine: Engine) -> None:
    first = engine.ask("What is the capital of France?", OPTS)
    assert engine.cache is not None and engine.cache.l2.stats()["semantic_entries"] == 1
    engine.delete_conversation(first.conversation_id)
    assert engine.cache.l2.stats()["semantic_entries"] == 0
    assert engine.ask("what's the capital of France", OPTS).cache == "miss"


def test_a_paraphrase_survives_a_restart(settings: Settings) -> None:
    eng = Engine.create(settings)
    first = eng.ask("What is the capital of France?", OPTS)
    eng.close()
    eng = Engine.create(settings)
    try:
        again = eng.ask("what's the capital of France", OPTS)
        assert again.cache == "semantic" and again.text == first.text
        assert eng.pool.loaded() == [], "a semantic hit must not load the model"
    finally:
        eng.close()


def test_a_damaged_cache_file_is_started_afresh_and_the_tier_works_again(settings: Settings) -> None:
    eng = Engine.create(settings)
    eng.ask("What is the capital of France?", OPTS)
    eng.close()
    cache_db = settings.home / "cache.db"
    for suffix in ("-wal", "-shm"):
        Path(str(cache_db) + suffix).unlink(missing_ok=True)
    cache_db.write_bytes(b"\x00garbage" * 512)
    eng = Engine.create(settings)
    try:
        assert eng.ask("what's the capital of France", OPTS).cache == "miss"
        assert eng.ask("What is the capital of France?", OPTS).cache == "semantic"
        assert list(settings.home.glob("cache.db.damaged-*"))
    finally:
        eng.close()


def test_a_damaged_embedding_row_is_skipped_not_trusted(settings: Settings) -> None:
    eng = Engine.create(settings)
    try:
        eng.ask("What is the capital of France?", OPTS)
        with sqlite3.connect(settings.home / "cache.db") as db:
            db.execute("UPDATE semantic_prompts SET embedding = x'00ff'")
        assert eng.ask("what's the capital of France", OPTS).cache == "miss"
    finally:
        eng.close()


def test_the_cache_reuses_the_routers_embedding_of_the_prompt(settings: Settings, embedder: Embedder) -> None:
    class Counting:
        """The real encoder, counting how many texts it is asked to embed."""

        def __init__(self) -> None:
            self.texts = 0

        def embed(self, texts: list[str]) -> np.ndarray:
            self.texts += len(texts)
            return embedder.embed(texts)

        def tokenize(self, texts: list[str]):  # type: ignore[no-untyped-def]
            return embedder.tokenize(texts)

    counting = Counting()
    eng = Engine.create(settings, router=IntentRouter.create(settings, embedder=counting))
    try:
        before = counting.texts
        assert eng.ask("What is the capital of France?", OPTS).cache == "miss"
        assert counting.texts - before == 1, "one embedding per prompt: the router's, reused by the cache"
    finally:
        eng.close()


def test_the_tier_can_be_turned_off(env: dict[str, str]) -> None:
    from edgemind.core.settings import load_settings

    eng = Engine.create(load_settings(env=dict(env, EDGEMIND_SEMANTIC_CACHE="false")))
    try:
        assert ask_pair(eng, "What is the capital of France?", "what's the capital of France") == ("miss", "miss")
    finally:
        eng.close()


# ---- the index alone ----------------------------------------------------------------------------------------------
def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return v / np.linalg.norm(v)


def test_a_new_model_version_invalidates_the_semantic_scope(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path / "c.db")
    old = semantic_scope(model_id="m", model_version="a" * 64, system_prompt="s", params={"temperature": 0})
    new = semantic_scope(model_id="m", model_version="b" * 64, system_prompt="s", params={"temperature": 0})
    assert old != new
    cache.store("k", CachedAnswer("Paris.", "m", 2, 5, cache.clock()))
    cache.semantic.put("k", old, "What is the capital of France?", unit(1))
    assert cache.semantic.lookup(old, "what's the capital of France", unit(1)) is not None
    assert cache.semantic.lookup(new, "what's the capital of France", unit(1)) is None


def test_an_embedding_is_only_kept_for_an_answer_that_is_kept(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path / "c.db")
    cache.semantic.put("never-stored", "scope", "What is the capital of France?", unit(1))
    assert cache.l2.stats()["semantic_entries"] == 0


def test_an_expired_answer_is_not_served_semantically(tmp_path: Path) -> None:
    now = [1_000_000.0]
    cache = AnswerCache(tmp_path / "c.db", ttl_seconds=60, clock=lambda: now[0])
    cache.store("k", CachedAnswer("Paris.", "m", 2, 5, now[0]))
    cache.semantic.put("k", "scope", "What is the capital of France?", unit(1))
    now[0] += 61
    assert cache.semantic.lookup("scope", "what's the capital of France", unit(1)) is None
    assert cache.l2.stats()["semantic_entries"] == 0


def test_an_older_cache_file_layout_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, text TEXT)")
        db.execute("PRAGMA user_version = 2")
    cache = AnswerCache(path)
    cache.store("k", CachedAnswer("Paris.", "m", 2, 5, cache.clock()))
    cache.semantic.put("k", "scope", "What is the capital of France?", unit(1))
    assert cache.l2.stats()["semantic_entries"] == 1


def test_a_wrong_sized_embedding_is_an_error_not_a_row() -> None:
    index = SemanticIndex(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="384"):
        index.put("k", "s", "hi there", np.zeros(3))


@pytest.mark.parametrize("why, kwargs", [
    ("history", dict(history=[("user", "hi")], temperature=0.0)),
    ("deterministic", dict(history=[], temperature=0.3)),
])
def test_only_stand_alone_greedy_prompts_are_eligible(why: str, kwargs: dict) -> None:  # type: ignore[type-arg]
    assert why in (ineligible("What is the capital of France?", **kwargs) or "")
    assert ineligible("What is the capital of France?", history=[], temperature=0.0) is None
    assert ineligible("x" * 401, history=[], temperature=0.0) is not None
    assert ineligible("?!", history=[], temperature=0.0) is not None


# ---- the guards ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("a, b", [
    ("Is it safe to eat raw eggs?", "Is it not safe to eat raw eggs?"),
    ("Ist Kaffee gesund?", "Ist Kaffee nicht gesund?"),
    ("What is 2+3?", "What is 2+4?"),
    ("What is 2+3?", "What is 2*3?"),
    ("List the top 5 movies.", "List the top six movies."),
    ("Who wrote Hamlet?", "Who wrote Macbeth?"),
    ("Is Python faster than Java?", "Is Java faster than Python?"),
    ("What does os.path.join do?", "What does os.path.split do?"),
    ("Translate 'good morning' into French.", "Translate 'good night' into French."),
    ("Sort a list in ascending order.", "Sort a list in descending order."),
    ("convert 5 km to miles", "convert 5 miles to km"),
    ("When was Microsoft founded?", "Where was Microsoft founded?"),
    ("What is my name?", "What is your name?"),
    ("Who is the president of France?", "Who was the president of France?"),
    ("How do I change a tire?", "How do I change a bike tire?"),
    ("What is the capital of France?", "Quelle est la capitale de la France ?"),
])
def test_the_guards_refuse_near_misses(a: str, b: str) -> None:
    assert disagreement(prompt_facts(a), prompt_facts(b)) is not None
    assert disagreement(prompt_facts(b), prompt_facts(a)) is not None


@pytest.mark.parametrize("a, b", [
    ("What is the capital of France?", "what's the capital of France"),
    ("How do I reverse a string in Python?", "How can I reverse a string in Python?"),
    ("Explain recursion.", "Can you explain recursion?"),
    ("List the top 5 programming languages.", "List the top five programming languages."),
    ("Why is the sky blue?", "why is the sky blue"),
])
def test_the_guards_let_rephrasings_through(a: str, b: str) -> None:
    assert disagreement(prompt_facts(a), prompt_facts(b)) is None


# ---- the labelled set ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scored(embedder: Embedder):  # type: ignore[no-untyped-def]
    return score_pairs(load_pairs(), embedder)


def test_the_labelled_set_is_big_varied_and_split() -> None:
    pairs = load_pairs()
    assert len(pairs) >= 150
    assert {p.split for p in pairs} == {"tune", "heldout"}
    kinds = {p.kind for p in pairs if p.label == "miss"}
    assert {"negation", "number", "name", "language", "identifier"} <= kinds
    assert len({p.lang for p in pairs}) >= 5


def test_the_shipped_threshold_is_what_the_tuning_split_gives(scored) -> None:  # type: ignore[no-untyped-def]
    assert tune_threshold(scored) == pytest.approx(SHIPPED_THRESHOLD)


def test_held_out_pairs_get_no_false_hit_and_most_paraphrases_hit(scored) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(scored, SHIPPED_THRESHOLD, "heldout")
    assert result.false_hits == 0, result.false_hit_examples
    assert result.precision == 1.0
    assert result.recall >= 0.5, f"recall {result.recall:.2f} on {result.hits_expected} held-out paraphrases"
