"""Per-chat settings and saved presets: stored with the conversation (migration 0007), applied to every request of
the chat through the real engine's planner, checked with one-line errors, and falling back visibly."""

from __future__ import annotations

import sqlite3

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from edgemind.core.engine import AskOptions, ChatSettings, Engine, Presets, chat_options
from edgemind.core.engine.request import Request
from edgemind.core.errors import ChatSettingsError, ModelNotFound
from edgemind.core.settings import Settings
from edgemind.core.storage.audit import digest
from edgemind.core.storage.conversations import ConversationStore
from edgemind.core.storage.db import open_database
from tests.conftest import TINY

PIRATE = "You are a pirate. Begin every answer with ARR."


def _store(settings: Settings) -> ConversationStore:
    return ConversationStore(sessionmaker(open_database(settings.db_path), expire_on_commit=False))


def _route(engine: Engine, conversation_id: str) -> dict[str, object]:
    return engine.audit_log.entries(kind="route", conversation_id=conversation_id, newest_first=True)[0].detail


def test_an_upgrade_from_0006_keeps_every_conversation_with_default_settings(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    db = create_engine(f"sqlite:///{settings.db_path}")
    with db.begin() as conn:  # the database as 0006 left it, with a conversation kept out of learning
        config = Config()
        config.set_main_option("script_location", "edgemind.core.storage:migrations")
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
    db.dispose()
    with sqlite3.connect(settings.db_path) as raw:
        raw.execute("INSERT INTO conversations (id, title, created_at, updated_at, distill_excluded) "
                    "VALUES ('c1', 'penguins', '2026-01-01', '2026-01-01', 1)")
        raw.execute("INSERT INTO messages (conversation_id, role, content, status, created_at) "
                    "VALUES ('c1', 'user', 'an old question about penguins', 'complete', '2026-01-01')")
    store = _store(settings)  # opening migrates to 0007
    with sqlite3.connect(settings.db_path) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == ("0007",)
    assert [m.content for m in store.messages("c1")] == ["an old question about penguins"]
    assert store.distill_excluded("c1") and [h.conversation_id for h in store.search("penguins")] == ["c1"]
    assert store.chat_settings("c1") == ChatSettings()  # model Auto, intent's temperature and prompt, tools on


def test_a_chats_settings_survive_reopening_the_database(settings: Settings) -> None:
    store = _store(settings)
    conv = store.new_conversation(first_message="hello", settings=ChatSettings(TINY, 0.0, PIRATE, tools=False))
    other = store.new_conversation(first_message="hi")
    store.set_chat_settings(other, ChatSettings(temperature=1.3))
    reopened = _store(settings)
    assert reopened.chat_settings(conv) == ChatSettings(TINY, 0.0, PIRATE, tools=False)
    assert reopened.chat_settings(other) == ChatSettings(temperature=1.3)


@pytest.mark.parametrize(("bad", "says"), [
    (ChatSettings(temperature=2.5), "temperature 2.5 is out of range; give one from 0 to 2"),
    (ChatSettings(temperature=float("nan")), "temperature nan is out of range"),
    (ChatSettings(temperature="hot"), "temperature 'hot' is not a number"),  # type: ignore[arg-type]
    (ChatSettings(system_prompt="x" * 9000), "the system prompt has 9000 characters"),
])
def test_a_bad_setting_is_one_line_and_nothing_is_written(settings: Settings, bad: ChatSettings, says: str) -> None:
    store = _store(settings)
    conv = store.new_conversation(first_message="hello", settings=ChatSettings(temperature=0.4))
    with pytest.raises(ChatSettingsError) as caught:
        store.set_chat_settings(conv, bad)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert store.chat_settings(conv) == ChatSettings(temperature=0.4)


def test_a_removed_model_and_a_stored_out_of_range_temperature_fall_back_with_a_note() -> None:
    chat = ChatSettings("gone-model", 7.0, PIRATE)
    usable, notes = chat.usable(lambda model_id: model_id == TINY)
    assert usable == ChatSettings(None, None, PIRATE)
    assert notes == ("model 'gone-model' is not installed any more: Auto chooses instead",
                     "temperature 7.0 is out of range; give one from 0 to 2: the intent's default is used")
    assert ChatSettings(TINY, 0.2).usable(lambda model_id: model_id == TINY) == (ChatSettings(TINY, 0.2), ())


def test_what_the_caller_sets_wins_and_the_chat_fills_the_rest() -> None:
    chat = ChatSettings(TINY, 0.8, PIRATE, tools=False)
    filled = chat_options(chat, AskOptions(temperature=0.0, use_cache=False))
    assert (filled.model, filled.temperature, filled.system_prompt, filled.use_cache) == (TINY, 0.0, PIRATE, False)
    assert chat_options(chat, AskOptions()).temperature == 0.8
    assert chat_options(ChatSettings(), AskOptions(temperature=0.0)).temperature == 0.0  # 0 is a value, not unset


def test_presets_round_trip_replace_and_delete(settings: Settings) -> None:
    presets = Presets.open(settings)
    presets.save("  Pirate   coder ", ChatSettings(TINY, 0.0, PIRATE, tools=False))
    presets.save("Warm", ChatSettings(temperature=1.2))
    assert [p.name for p in Presets.open(settings).list()] == ["Pirate coder", "Warm"]
    assert Presets.open(settings).get("Pirate coder").settings == ChatSettings(TINY, 0.0, PIRATE, tools=False)
    presets.save("Warm", ChatSettings(temperature=0.9))  # the same name replaces it
    assert presets.get("Warm").settings.temperature == 0.9
    presets.delete("Warm")
    with pytest.raises(ChatSettingsError, match="no preset 'Warm'; presets: Pirate coder"):
        presets.get("Warm")
    with pytest.raises(ChatSettingsError, match="a preset needs a name"):
        presets.save("   ", ChatSettings())
    with pytest.raises(ChatSettingsError, match="out of range"):
        presets.save("Hot", ChatSettings(temperature=3))
    assert [p.name for p in presets.list()] == ["Pirate coder"]


def test_a_chats_system_prompt_and_temperature_reach_the_backend(engine: Engine) -> None:
    pirate = engine.conversations.start(ChatSettings(system_prompt=PIRATE, temperature=0.3))
    plain = engine.conversations.start(ChatSettings())
    options = AskOptions(max_tokens=4, use_cache=False)
    engine.ask("Name a colour.", AskOptions(max_tokens=4, use_cache=False, conversation_id=pirate))
    engine.ask("Name a colour.", AskOptions(max_tokens=4, use_cache=False, conversation_id=plain))
    told, default = _route(engine, pirate), _route(engine, plain)
    # the audit row holds the digest of the system message the backend was sent, and the temperature it sampled at
    assert told["system_sha"] == digest(PIRATE) and default["system_sha"] != digest(PIRATE)
    assert told["temperature"] == 0.3 and default["temperature"] != 0.3
    # a later request of the same chat asking for temperature 0 itself gets 0, and still the chat's system prompt
    engine.ask("Name a fruit.", AskOptions(max_tokens=4, use_cache=False, conversation_id=pirate, temperature=0.0))
    again = _route(engine, pirate)
    assert again["temperature"] == 0.0 and again["system_sha"] == digest(PIRATE)
    assert options.temperature is None  # the caller's options are never changed in place


def test_a_chat_with_tools_off_is_offered_none_and_a_removed_model_falls_back(engine: Engine) -> None:
    runner = engine.open_tools()
    try:
        off = engine.conversations.start(ChatSettings(tools=False))
        on = engine.conversations.start(ChatSettings())
        prompt = "What is 17% of 2350?"  # the router offers the calculator to math
        assert engine.planner.plan(Request(prompt, AskOptions(conversation_id=on, tools=runner))).tools
        assert engine.planner.plan(Request(prompt, AskOptions(conversation_id=off, tools=runner))).tools == ()
        gone = engine.conversations.start(ChatSettings(model="removed-model"))
        result = engine.ask("Say hi.", AskOptions(max_tokens=4, conversation_id=gone))
        assert result.model == TINY and _route(engine, gone)["model"] == TINY
    finally:
        runner.close()


def test_a_new_chats_settings_are_stored_with_its_first_question_and_a_failed_one_leaves_nothing(
        engine: Engine) -> None:
    chat = ChatSettings(temperature=0.2, system_prompt=PIRATE)
    with pytest.raises(ModelNotFound, match="unknown model 'nope'"):
        engine.ask("Name a colour.", chat_options(ChatSettings(model="nope"), AskOptions(
            max_tokens=4, new_chat=ChatSettings(model="nope"))))
    assert engine.conversations.list() == []  # no empty conversation is left behind by a request that failed
    result = engine.ask("Name a colour.", chat_options(chat, AskOptions(max_tokens=4, new_chat=chat)))
    assert result.conversation_id is not None
    assert engine.conversations.chat_settings(result.conversation_id) == chat
    assert [m.role for m in engine.conversations.messages(result.conversation_id)] == ["user", "assistant"]
