"""Distillation's material: the user's answered prompts from the real conversation database, without the
conversations they excluded, only while the setting allows, each with the check its text allows."""

from __future__ import annotations

import sqlite3

import pytest

from edgemind.core.engine import Conversations, open_registry
from edgemind.core.errors import DistillError, StoreError
from edgemind.core.settings import Settings, load_settings
from edgemind.core.storage.conversations import ConversationStore
from edgemind.core.tuning.distill.checks import infer_check
from edgemind.core.tuning.distill.collect import Item, collect, split_newest
from edgemind.core.tuning.distill.tasks import FAMILIES, generate_tasks


@pytest.fixture
def store(settings: Settings) -> ConversationStore:
    return ConversationStore(open_registry(settings)[1])


def _chat(store: ConversationStore, prompt: str, answer: str, status: str = "complete") -> str:
    conv = store.new_conversation(first_message=prompt)
    store.add_message(conv, "assistant", answer, model="m", status=status)
    return conv


def test_an_excluded_conversation_never_becomes_material(store: ConversationStore) -> None:
    kept = _chat(store, "What is 12 * 7?", "84")
    secret = _chat(store, "my bank PIN is 4321, what is 2 + 2?", "4")
    conversations = Conversations(store)
    conversations.exclude_from_distillation(secret)
    assert conversations.excluded_from_distillation(secret)
    assert [p.prompt for p in conversations.answered_prompts()] == ["What is 12 * 7?"]
    assert [i.prompt for i in collect(conversations.answered_prompts(), enabled=True)] == ["What is 12 * 7?"]
    conversations.exclude_from_distillation(secret, excluded=False)
    assert {p.conversation_id for p in conversations.answered_prompts()} == {kept, secret}


def test_excluding_an_unknown_conversation_names_it(store: ConversationStore) -> None:
    with pytest.raises(StoreError, match="no conversation 'nope'"):
        Conversations(store).exclude_from_distillation("nope")


def test_only_complete_answers_that_follow_a_prompt_are_pairs(store: ConversationStore) -> None:
    _chat(store, "cancelled one", "half an ans", status="cancelled")
    conv = _chat(store, "first", "answer one")
    store.add_message(conv, "user", "second, never answered")
    store.add_message(conv, "user", "third")
    store.add_message(conv, "assistant", "answer three")
    assert [(p.prompt, p.answer) for p in store.answered_prompts()] == [("first", "answer one"),
                                                                        ("third", "answer three")]
    assert [p.prompt for p in store.answered_prompts(limit=1)] == ["third"]


def test_the_exclusion_flag_survives_reopening_the_database(settings: Settings) -> None:
    store = ConversationStore(open_registry(settings)[1])
    conv = _chat(store, "What is 3 + 4?", "7")
    store.set_distill_excluded(conv, True)
    with sqlite3.connect(settings.db_path) as db:
        assert db.execute("SELECT distill_excluded FROM conversations").fetchall() == [(1,)]
    assert ConversationStore(open_registry(settings)[1]).answered_prompts() == []


def test_the_setting_turns_collection_off(store: ConversationStore, env: dict[str, str]) -> None:
    _chat(store, "What is 12 * 7?", "84")
    off = load_settings(env={**env, "EDGEMIND_DISTILL": "0"})
    assert off.distill_enabled is False and load_settings(env=env).distill_enabled is True
    with pytest.raises(DistillError, match="distill_enabled = false"):
        collect(store.answered_prompts(), enabled=off.distill_enabled)


def test_a_prompt_asked_twice_counts_once_at_its_newest(store: ConversationStore) -> None:
    _chat(store, "What is 2 + 2?", "4")
    _chat(store, "What is 3 + 3?", "6")
    _chat(store, "What is 2 + 2?", "four")
    assert [i.prompt for i in collect(store.answered_prompts(), enabled=True)] == ["What is 3 + 3?",
                                                                                   "What is 2 + 2?"]


def test_the_newest_prompts_are_held_out() -> None:
    tasks = generate_tasks(10)
    split = split_newest([Item(t.prompt, t.check) for t in tasks], 0.3)
    assert [i.prompt for i in split.heldout] == [t.prompt for t in tasks[-3:]]
    assert len(split.train) == 7
    with pytest.raises(DistillError, match="at least 2 answered prompts"):
        split_newest([], 0.3)
    with pytest.raises(DistillError, match="between 0 and 1"):
        split_newest([Item(t.prompt, t.check) for t in tasks], 1.5)


@pytest.mark.parametrize(("prompt", "kind", "material"), [
    ("What is 17 * 23?", "arithmetic", "17 * 23"),
    ("compute (4+5)*12-7 for me", "arithmetic", "(4+5)*12-7"),
    ('Give JSON with keys "name" and "age" for Bob', "json", ["name", "age"]),
    ("Write f(x) that doubles x.\nassert f(2) == 4\nassert f(0) == 0", "code", "assert f(2) == 4\nassert f(0) == 0"),
    ("Tell me about 3 cats", "judge", None),
    ("Tell me about JSON", "judge", None),
])
def test_the_check_comes_from_the_prompt_text(prompt: str, kind: str, material: object) -> None:
    check = infer_check(prompt)
    assert check.kind == kind
    if kind == "arithmetic":
        assert check.expression == material
    elif kind == "json":
        assert check.schema["required"] == material
    elif kind == "code":
        assert check.tests == material


def test_generated_tasks_are_distinct_cover_every_family_and_repeat_for_a_seed() -> None:
    tasks = generate_tasks(48)
    assert len({t.prompt for t in tasks}) == 48
    assert {t.family for t in tasks} == set(FAMILIES)
    assert [t.prompt for t in generate_tasks(48)] == [t.prompt for t in tasks]
    assert [t.prompt for t in generate_tasks(48, seed=1)] != [t.prompt for t in tasks]
