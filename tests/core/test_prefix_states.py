"""llama.cpp system-prompt snapshots: restoring one changes the speed, never the text."""

from __future__ import annotations

import json

from edgemind.core.cache_bench import LONG_SYSTEM_A, LONG_SYSTEM_B, measure_cache_tiers
from edgemind.core.engine import AskOptions, Engine
from edgemind.core.settings import Settings, with_overrides


def ask(engine: Engine, prompt: str, system: str) -> str:
    return engine.ask(prompt, AskOptions(temperature=0, max_tokens=16, use_cache=False, store=False,
                                         system_prompt=system)).text


def counters(engine: Engine) -> dict[str, int]:
    backend = engine.backend_for(engine.registry.get(engine.settings.default_model))
    with backend._lease() as loaded:  # type: ignore[attr-defined]
        assert loaded.prefixes is not None
        return dict(loaded.prefixes.counters)


def test_a_restored_system_prompt_gives_the_same_text_as_evaluating_it_again(settings: Settings) -> None:
    texts = {}
    for mb in (64, 0):
        engine = Engine.create(with_overrides(settings, prefix_cache_mb=mb))
        try:
            first = ask(engine, "What is a list?", LONG_SYSTEM_A)
            ask(engine, "What is a tuple?", LONG_SYSTEM_B)  # another system prompt runs in between
            again = ask(engine, "What is a list?", LONG_SYSTEM_A)
            texts[mb] = (first, again)
            seen = counters(engine)
        finally:
            engine.close()
        if mb:
            assert seen["saved"] == 2 and seen["restored"] == 1, seen
        else:
            assert seen["saved"] == seen["restored"] == 0 and seen["evaluated"] == 3, seen
    assert texts[64][0] == texts[64][1] == texts[0][0] == texts[0][1]


def test_a_short_system_prompt_is_not_worth_a_snapshot(engine: Engine) -> None:
    ask(engine, "What is a list?", "Be brief.")
    assert counters(engine)["saved"] == 0


def test_the_cache_benchmark_returns_plain_data_for_edgemind_bench(settings: Settings) -> None:
    report = measure_cache_tiers(settings, repeats=1, max_tokens=8, semantic_rows=50, accuracy=False, prefix=False)
    data = json.loads(json.dumps(report.as_dict()))
    assert [t["tier"] for t in data["tiers"]] == ["l1", "l2", "semantic"]
    assert all(t["ask_ms"] > 0 and t["ratio_vs_cold"] > 1 for t in data["tiers"])
    assert data["cold_total_ms"] > data["tiers"][0]["ask_ms"]
    assert not list(settings.home.glob("cache.db")), "the benchmark must not touch the user's data folder"
