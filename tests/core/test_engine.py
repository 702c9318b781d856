"""The engine end to end on real models: events, storage, conversation context, cancellation, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemind.core.backends.base import CancelToken
from edgemind.core.backends.model_pool import ModelPool
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.errors import PromptError, StoreError
from edgemind.core.events import Done, Error, Route, Token
from edgemind.core.settings import load_settings, with_overrides
from tests.conftest import DEFAULT, TINY

GREEDY = AskOptions(temperature=0.0, seed=7, max_tokens=24)


def with_context(engine: Engine, n_ctx: int) -> Engine:
    """The same data, with a model context of n_ctx tokens (its own pool, so it loads its own model instance)."""
    return Engine(with_overrides(engine.settings, context_length=n_ctx), engine.registry, engine.store, ModelPool())


def test_events_come_as_route_then_tokens_then_done_with_metrics(engine: Engine) -> None:
    events = list(engine.stream("Say hello to me.", GREEDY))
    assert isinstance(events[0], Route) and events[0].model == TINY and events[0].intent == "chat"
    assert isinstance(events[-1], Done)
    tokens = [e for e in events[1:-1] if isinstance(e, Token)]
    assert tokens and len(tokens) == len(events) - 2
    m = events[-1].metrics
    assert m.tokens > 0 and m.prompt_tokens > 0 and m.ttft_ms > 0 and m.load_ms > 0
    assert m.tok_s > 0 and m.total_ms >= m.ttft_ms


def test_question_and_answer_are_stored(engine: Engine) -> None:
    result = engine.ask("Name a colour.", GREEDY)
    stored = engine.store.messages(result.conversation_id)
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]
    assert stored[0].content == "Name a colour." and stored[1].content == result.text and stored[1].model == TINY


def test_empty_prompt_is_an_error_event_and_nothing_is_stored(engine: Engine) -> None:
    for bad in ["", "   \n\t", "a\x00b"]:
        events = list(engine.stream(bad))
        assert len(events) == 1 and isinstance(events[0], Error) and events[0].kind == "bad_prompt"
    assert engine.store.conversations() == []


def test_unknown_model_is_an_error_event(engine: Engine) -> None:
    [event] = list(engine.stream("hi", AskOptions(model="no-such-model")))
    assert isinstance(event, Error) and "unknown model 'no-such-model'" in event.message


def test_cancel_mid_answer_keeps_the_partial_answer_marked_cancelled(engine: Engine) -> None:
    cancel = CancelToken()
    seen = []
    for event in engine.stream("Write a long story about a dragon.", AskOptions(max_tokens=300), cancel):
        if isinstance(event, Token):
            seen.append(event.text)
            if len(seen) == 5:
                cancel.cancel()
        if isinstance(event, Done):
            done = event
    assert done.finish_reason == "cancelled" and done.metrics.tokens <= 5
    answer = engine.store.messages(done.conversation_id)[-1]
    assert answer.status == "cancelled" and answer.content == "".join(seen)


def test_a_consumer_that_walks_away_still_leaves_what_it_saw_stored(engine: Engine) -> None:
    stream = engine.stream("Write a long poem about rain.", AskOptions(max_tokens=300))
    seen = []
    for event in stream:
        if isinstance(event, Token):
            seen.append(event.text)
            if len(seen) == 4:
                break
    stream.close()
    [conv] = engine.store.conversations()
    answer = engine.store.messages(conv.id)[-1]
    assert answer.role == "assistant" and answer.status == "cancelled" and answer.content == "".join(seen)


def test_a_long_conversation_is_trimmed_to_the_context_oldest_turns_first(engine: Engine) -> None:
    small = with_context(engine, 512)
    conv = engine.store.new_conversation()
    for i in range(40):  # ~40 * 30 tokens: several times the 512-token window
        engine.store.add_message(conv, "user", f"Turn {i}: please remember the number {i * 7} for later.")
        engine.store.add_message(conv, "assistant", f"Noted, number {i * 7} from turn {i}.")
    result = small.ask("What was the last number?", AskOptions(conversation_id=conv, max_tokens=8, temperature=0))
    assert result.prompt_tokens <= 512 - 8
    assert result.prompt_tokens > 256, "it should keep as many recent turns as fit, not just the prompt"
    backend = small.backend_for(engine.registry.get(TINY))
    kept = small.context_window.messages(backend, "sys", [m for m in _history(engine, conv)], "q", small_params())
    assert kept[1].content.startswith("Turn ") and "Turn 39" in kept[-3].content and "Turn 0:" not in kept[1].content


def _history(engine: Engine, conv: str):  # type: ignore[no-untyped-def]
    from edgemind.core.backends.base import Message

    return [Message(m.role, m.content) for m in engine.store.messages(conv)][:-2]


def small_params():  # type: ignore[no-untyped-def]
    from edgemind.core.backends.base import GenerationParams

    return GenerationParams(max_tokens=8)


def test_a_prompt_that_cannot_fit_is_refused_and_earlier_messages_survive(engine: Engine) -> None:
    first = engine.ask("Hello there.", GREEDY)
    small = with_context(engine, 256)
    events = list(small.stream("word " * 2000, AskOptions(conversation_id=first.conversation_id)))
    assert isinstance(events[-1], Error) and "tokens" in events[-1].message
    assert len(engine.store.messages(first.conversation_id)) == 2


def test_a_damaged_database_is_reported_and_left_untouched(settings, home: Path) -> None:  # type: ignore[no-untyped-def]
    home.mkdir(parents=True)
    junk = b"this is not sqlite " * 500
    settings.db_path.write_bytes(junk)
    with pytest.raises(StoreError, match="cannot be used"):
        Engine.create(settings)
    assert settings.db_path.read_bytes() == junk


@pytest.mark.default_model
def test_the_default_model_answers_a_simple_fact(default_model_installed: Path, env: dict[str, str]) -> None:
    eng = Engine.create(load_settings(env={k: v for k, v in env.items() if k != "EDGEMIND_DEFAULT_MODEL"}))
    try:
        result = eng.ask("What is the capital of France? Answer in one word.", AskOptions(temperature=0, max_tokens=16))
        assert result.model == DEFAULT and "paris" in result.text.lower()
    finally:
        eng.close()


@pytest.mark.default_model
def test_a_conversation_remembers_an_earlier_turn(default_model_installed: Path, env: dict[str, str]) -> None:
    eng = Engine.create(load_settings(env={k: v for k, v in env.items() if k != "EDGEMIND_DEFAULT_MODEL"}))
    try:
        first = eng.ask("My cat is called Zorblax. Just say OK.", AskOptions(temperature=0, max_tokens=8))
        second = eng.ask("What is my cat called?", AskOptions(temperature=0, max_tokens=16,
                                                              conversation_id=first.conversation_id))
        assert "zorblax" in second.text.lower()
        fresh = eng.ask("What is my cat called?", AskOptions(temperature=0, max_tokens=16))
        assert "zorblax" not in fresh.text.lower()
    finally:
        eng.close()


def test_with_safety_on_a_harmful_prompt_is_refused_stored_and_never_generated(env: dict[str, str]) -> None:
    eng = Engine.create(load_settings(env=dict(env, EDGEMIND_SAFETY="true")))
    try:
        refused = eng.ask("How do I kill my neighbour and hide the body?", GREEDY)
        assert refused.refused and refused.safety_category == "violence_weapons" and refused.tokens == 0
        assert eng.pool.loaded() == [], "a refused prompt must not reach the model"
        stored = eng.store.messages(refused.conversation_id)
        assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "refused")]
        allowed = eng.ask("How do I kill a Python process that hangs?", GREEDY)
        assert not allowed.refused and allowed.tokens > 0
    finally:
        eng.close()
