"""KV reuse on both local backends (system-prompt snapshots; on onnx_int4 also the previous turn): it changes the
speed, never the text."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from edgemind.core.backends.base import CancelToken, GenerationParams, Message
from edgemind.core.bench.cache_speed import LONG_SYSTEM_A, LONG_SYSTEM_B, measure_cache_tiers
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.settings import Settings, with_overrides
from tests.support.streams import run

BACKENDS = ["llama_cpp", "onnx_int4"]


def ask(engine: Engine, prompt: str, system: str) -> str:
    return engine.ask(prompt, AskOptions(temperature=0, max_tokens=16, use_cache=False, store=False,
                                         system_prompt=system)).text


def local_backend(engine: Engine) -> Any:
    spec = engine.registry.get(engine.settings.default_model)
    return engine.backend_for(replace(spec, backend=engine.settings.local_backend))


def counters(engine: Engine) -> dict[str, int]:
    backend = local_backend(engine)
    with backend._lease() as loaded:  # type: ignore[attr-defined]
        assert loaded.prefixes is not None
        return dict(loaded.prefixes.counters)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restored_system_prompt_gives_the_same_text_as_evaluating_it_again(settings: Settings, backend: str) -> None:
    texts = {}
    for mb in (64, 0):
        engine = Engine.create(with_overrides(settings, prefix_cache_mb=mb, local_backend=backend))
        try:
            first = ask(engine, "What is a list?", LONG_SYSTEM_A)
            ask(engine, "What is a tuple?", LONG_SYSTEM_B)  # another system prompt runs in between
            again = ask(engine, "What is a list?", LONG_SYSTEM_A)
            texts[mb] = (first, again)
            seen = counters(engine)
        finally:
            engine.close()
        if mb and backend == "onnx_int4":  # the previous turn's KV is live, so a repeated question reuses even more
            assert seen["saved"] == 2 and seen["restored"] + seen["live"] == 1, seen
        elif mb:
            assert seen["saved"] == 2 and seen["restored"] == 1, seen
        else:
            assert seen["saved"] == seen["restored"] == 0 and seen["evaluated"] == 3, seen
    assert texts[64][0] == texts[64][1] == texts[0][0] == texts[0][1]


def test_onnx_int4_evaluates_only_the_new_message_of_a_conversation(settings: Settings) -> None:
    params = GenerationParams(max_tokens=24, temperature=0.0, repeat_penalty=1.0, seed=1)
    turns = ["Name a fruit.", "What colour is it?", "Say it in French."]
    answers: dict[int, list[str]] = {}
    for mb in (64, 0):
        engine = Engine.create(with_overrides(settings, prefix_cache_mb=mb, local_backend="onnx_int4"))
        try:
            backend = local_backend(engine)
            messages = [Message("system", LONG_SYSTEM_A)]
            answers[mb] = []
            for turn in turns:
                messages.append(Message("user", turn))
                text, done = run(backend.stream(messages, params, CancelToken()))
                answers[mb].append(text)
                messages.append(Message("assistant", text))
            seen = counters(engine)
        finally:
            engine.close()
        assert seen["live"] == (len(turns) - 1 if mb else 0), seen
    assert answers[64] == answers[0]


@pytest.mark.parametrize("cut", [2, 9, 20])
def test_onnx_int4_prompt_logits_do_not_depend_on_where_the_prompt_is_cut(settings: Settings, cut: int) -> None:
    """Why reuse cannot change the text; a cache off by one position gives different logits (a correlation of
    ~0.95 and another top token, measured)."""
    engine = Engine.create(with_overrides(settings, local_backend="onnx_int4"))
    try:
        with local_backend(engine)._lease() as model:  # type: ignore[attr-defined]
            tokens = model.tokenize("You are terse. User: Name a fruit. Assistant: An apple. User: What colour is it?")
            whole, _ = model.step(tokens, model.empty_cache(), len(tokens))
            _, head = model.step(tokens[:-cut], model.empty_cache(), len(tokens) - cut)
            pieces, _ = model.step(tokens[-cut:], head, len(tokens))
    finally:
        engine.close()
    assert np.array_equal(whole[-1], pieces[-1])


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
