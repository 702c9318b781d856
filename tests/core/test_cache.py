"""The answer cache: exact-key tiers L1/L2, single flight, invalidation, TTL, size bound, damaged file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from edgemind.core.cache.answers import AnswerCache, CachedAnswer, SqliteCache, cache_key
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.settings import Settings

OPTS = AskOptions(temperature=0.0, max_tokens=16)


def test_a_repeated_question_is_answered_from_memory_with_the_same_text(engine: Engine) -> None:
    first = engine.ask("Name a fruit.", OPTS)
    again = engine.ask("Name a fruit.", OPTS)
    assert (first.cache, again.cache) == ("miss", "l1")
    assert again.text == first.text and again.tokens == first.tokens
    assert again.ttft_ms < first.ttft_ms


def test_the_answer_survives_a_restart_in_l2(settings: Settings) -> None:
    eng = Engine.create(settings)
    first = eng.ask("Name a planet.", OPTS)
    eng.close()
    eng = Engine.create(settings)
    try:
        again = eng.ask("Name a planet.", OPTS)
        assert again.cache == "l2" and again.text == first.text
        assert eng.pool.loaded() == [], "a cached answer must not load the model"
        assert eng.ask("Name a planet.", OPTS).cache == "l1"
    finally:
        eng.close()


def test_whitespace_differences_hit_but_other_words_do_not(engine: Engine) -> None:
    engine.ask("Name a colour.", OPTS)
    assert engine.ask("  Name   a colour. ", OPTS).cache == "l1"
    # another spelling is no exact hit (the semantic tier may serve it: "color" is "colour"); another word misses
    assert engine.ask("Name a color.", OPTS).cache in ("miss", "semantic")
    assert engine.ask("Name a fruit.", OPTS).cache == "miss"
    # case is part of the exact key; the same words in another case are the semantic tier's to serve
    assert engine.ask("name a colour.", OPTS).cache == "semantic"


@pytest.mark.parametrize("change", [
    AskOptions(temperature=0.0, max_tokens=17),
    AskOptions(temperature=0.5, max_tokens=16),
    AskOptions(temperature=0.0, max_tokens=16, seed=3),
    AskOptions(temperature=0.0, max_tokens=16, stop=("x",)),
    AskOptions(temperature=0.0, max_tokens=16, system_prompt="Answer in French."),
])
def test_different_settings_never_share_an_answer(engine: Engine, change: AskOptions) -> None:
    engine.ask("Name an animal.", OPTS)
    assert engine.ask("Name an animal.", change).cache == "miss"


def test_the_same_question_in_another_conversation_context_is_a_miss(engine: Engine) -> None:
    first = engine.ask("Say a number.", OPTS)
    follow = engine.ask("Say a number.", AskOptions(temperature=0, max_tokens=16,
                                                    conversation_id=first.conversation_id))
    assert follow.cache == "miss"


def test_a_new_model_version_invalidates_the_key() -> None:
    base = dict(prompt="hi", model_id="m", system_prompt="s", history=[], params={"t": 0})
    assert cache_key(model_version="a" * 64, **base) != cache_key(model_version="b" * 64, **base)
    assert cache_key(model_version="a" * 64, **base) == cache_key(model_version="a" * 64, **base)


def test_no_cache_skips_the_lookup_but_refreshes_the_entry(engine: Engine) -> None:
    engine.ask("Name a tree.", OPTS)
    fresh = engine.ask("Name a tree.", AskOptions(temperature=0.0, max_tokens=16, use_cache=False))
    assert fresh.cache == "miss"
    assert engine.ask("Name a tree.", OPTS).cache == "l1"


def test_a_cancelled_answer_is_never_cached(engine: Engine) -> None:
    from edgemind.core.backends.base import CancelToken
    from edgemind.core.events import Token

    cancel = CancelToken()
    for event in engine.stream("Write a long story.", AskOptions(temperature=0, max_tokens=200), cancel):
        if isinstance(event, Token):
            cancel.cancel()
    assert engine.ask("Write a long story.", AskOptions(temperature=0, max_tokens=200)).cache == "miss"


def test_identical_concurrent_requests_share_one_generation(engine: Engine) -> None:
    results = []
    lock = threading.Lock()

    def ask() -> None:
        r = engine.ask("Name a mountain.", OPTS)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.cache for r in results) == ["l1", "l1", "l1", "miss"]
    assert len({r.text for r in results}) == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def answer(text: str, at: float) -> CachedAnswer:
    return CachedAnswer(text, "m", 3, 5, at)


def test_entries_expire_after_the_ttl(tmp_path: Path) -> None:
    clock = Clock()
    cache = AnswerCache(tmp_path / "c.db", ttl_seconds=60, clock=clock)
    cache.store("k", answer("hello", clock.now))
    clock.now += 59
    assert cache.lookup("k")[0] == "l1"
    clock.now += 2
    assert cache.lookup("k") is None
    assert AnswerCache(tmp_path / "c.db", ttl_seconds=60, clock=clock).lookup("k") is None  # L2 too


def test_l2_stays_under_its_size_bound_evicting_least_recently_used(tmp_path: Path) -> None:
    clock = Clock()
    l2 = SqliteCache(tmp_path / "c.db", max_bytes=10_000, clock=clock)
    for i in range(30):
        clock.now += 1
        l2.put(f"k{i}", answer("x" * 1000, clock.now))
        if i == 5:
            clock.now += 1
            assert l2.get("k0", 0) is not None  # k0 used recently: kept over k1..k5
    stats = l2.stats()
    assert stats["bytes"] <= 10_000 and stats["entries"] < 30
    assert l2.get("k29", 0) is not None and l2.get("k1", 0) is None


def test_a_damaged_cache_file_is_set_aside_and_rebuilt_without_touching_conversations(settings: Settings) -> None:
    eng = Engine.create(settings)
    first = eng.ask("Name a river.", OPTS)
    eng.close()
    cache_db = settings.home / "cache.db"
    for suffix in ("-wal", "-shm"):
        Path(str(cache_db) + suffix).unlink(missing_ok=True)
    cache_db.write_bytes(b"not a database at all" * 100)
    eng = Engine.create(settings)
    try:
        again = eng.ask("Name a river.", OPTS)
        assert again.cache == "miss" and again.text == first.text
        assert len(eng.store.messages(first.conversation_id)) == 2
        assert list(settings.home.glob("cache.db.damaged-*"))
    finally:
        eng.close()


def test_the_cache_can_be_turned_off(env: dict[str, str]) -> None:
    from edgemind.core.settings import load_settings

    eng = Engine.create(load_settings(env=dict(env, EDGEMIND_CACHE="false")))
    try:
        eng.ask("Name a city.", OPTS)
        assert eng.ask("Name a city.", OPTS).cache == "miss" and eng.cache is None
    finally:
        eng.close()
