"""Conversation memory: migrations, full-text search, delete everywhere, recall, summaries, long conversations."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from edgemind.core.backends.base import Message
from edgemind.core.backends.model_pool import ModelPool
from edgemind.core.storage.db import open_database
from edgemind.core.storage.tables import metadata
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.errors import StoreError
from edgemind.core.context.memory import ConversationMemory, recall
from edgemind.core.settings import Settings, load_settings, with_overrides
from tests.conftest import DEFAULT

FILLER = [
    ("How do I boil an egg so the yolk stays soft?", "Boil it for about six minutes, then cool it in cold water."),
    ("What is the tallest mountain in Europe?", "Mount Elbrus in Russia, at 5,642 metres."),
    ("Give me a tip for learning the guitar.", "Practise a little every day and learn a few chords well first."),
    ("How far is the Moon from the Earth?", "About 384,400 kilometres on average."),
    ("What should I pack for a weekend in Lisbon?", "Comfortable shoes for the hills, a light jacket and sunscreen."),
    ("Explain what a prime number is.", "A whole number above 1 whose only divisors are 1 and itself."),
    ("Which planets have rings?", "Jupiter, Saturn, Uranus and Neptune all have ring systems."),
    ("How do I keep basil alive indoors?", "Give it lots of light, water when the soil is dry, and pinch the tips."),
    ("What year did the Berlin Wall fall?", "In 1989, on the 9th of November."),
    ("Suggest a name for a bakery.", "How about 'The Rolling Pin'?"),
    ("How many bones does an adult human have?", "Usually 206."),
    ("What is the speed of sound?", "Around 343 metres per second in air at 20 degrees Celsius."),
    ("Recommend a board game for four people.", "Ticket to Ride works well for four players."),
    ("How do I remove a coffee stain from a shirt?", "Rinse it with cold water and dab on a little dish soap."),
    ("What is the capital of Canada?", "Ottawa."),
    ("How long should I steep green tea?", "Two to three minutes in water just below boiling."),
    ("What causes thunder?", "Lightning heats the air so fast that it expands with a bang."),
    ("Tell me a fun fact about octopuses.", "They have three hearts and blue blood."),
    ("How do bicycles stay upright?", "Mostly through steering corrections by the rider and the bike's geometry."),
    ("What is compound interest?", "Interest earned on both the money you saved and the interest already added."),
]


def test_the_models_match_the_migrations(settings: Settings) -> None:
    engine = open_database(settings.db_path)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    # FTS5 shadow tables are created by raw SQL in the migration, not by models.
    assert [d for d in diffs if "messages_fts" not in str(d)] == []


def test_a_database_from_before_migrations_is_upgraded_in_place(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    with sqlite3.connect(settings.db_path) as db:  # the 0001 layout as create_all made it, with a conversation
        db.executescript("""
            CREATE TABLE conversations (id VARCHAR(32) PRIMARY KEY, title TEXT NOT NULL, created_at DATETIME NOT NULL,
                                        updated_at DATETIME NOT NULL);
            CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id VARCHAR(32) NOT NULL
                REFERENCES conversations(id) ON DELETE CASCADE, role VARCHAR(16) NOT NULL, content TEXT NOT NULL,
                model VARCHAR(200), status VARCHAR(16) NOT NULL, created_at DATETIME NOT NULL);
            CREATE TABLE user_models (id VARCHAR(128) PRIMARY KEY, backend VARCHAR(32) NOT NULL, path TEXT,
                sha256 VARCHAR(64), size_bytes BIGINT, context_length INTEGER NOT NULL, family VARCHAR(64) NOT NULL,
                endpoint TEXT, remote_model TEXT, api_key TEXT, added_at DATETIME NOT NULL);
            CREATE TABLE model_verifications (path TEXT PRIMARY KEY, size_bytes BIGINT NOT NULL,
                mtime_ns BIGINT NOT NULL, sha256 VARCHAR(64) NOT NULL);
            INSERT INTO conversations VALUES ('c1', 'old', '2026-01-01', '2026-01-01');
            INSERT INTO messages VALUES (1, 'c1', 'user', 'an old question about penguins', NULL, 'complete',
                                         '2026-01-01');
        """)
    eng = Engine.create(settings)
    try:
        assert [h.conversation_id for h in eng.store.search("penguins")] == ["c1"]
    finally:
        eng.close()


def test_search_finds_words_in_every_conversation_best_match_first(engine: Engine) -> None:
    a = engine.store.new_conversation(first_message="Plan a trip to Zürich in winter")
    b = engine.store.new_conversation(first_message="Recipe for a lemon cake")
    engine.store.add_message(b, "assistant", "Zurich has lovely lakes; for the cake use three lemons.")
    assert {h.conversation_id for h in engine.store.search("zurich")} == {a, b}  # diacritics folded
    assert [h.conversation_id for h in engine.store.search("lemon cake")] == [b]
    assert [h.conversation_id for h in engine.store.search("lem*")] == [b, b]
    assert "[" in engine.store.search("lemon")[0].snippet
    assert engine.store.search('cake" OR "trip') == []  # FTS syntax in the query is searched for, not obeyed
    with pytest.raises(StoreError, match="empty"):
        engine.store.search("   ")


def test_delete_removes_a_conversation_everywhere(engine: Engine) -> None:
    first = engine.ask("Name a colour of the rainbow.", AskOptions(temperature=0, max_tokens=8))
    conv = first.conversation_id
    engine.store.remember("I live in Oslo.", conv)
    engine.store.add_summary(conv, 1, "They talked about rainbows.", "m")
    keep = engine.store.new_conversation(first_message="another rainbow conversation")
    removed = engine.delete_conversation(conv)
    assert removed == {"messages": 2, "cached_answers": 1}
    assert engine.store.messages(conv) == [] and engine.store.latest_summary(conv) is None
    assert engine.store.memories(conv) == []
    assert [h.conversation_id for h in engine.store.search("rainbow")] == [keep]
    assert engine.ask("Name a colour of the rainbow.", AskOptions(temperature=0, max_tokens=8)).cache == "miss"


def test_recall_picks_the_older_message_that_shares_the_informative_words() -> None:
    older = [Message("user", f"Question about {topic}") for topic in ("bread", "trains", "music")]
    older.insert(1, Message("user", "My cat is called Zorblax and she is grey."))
    assert recall(older, "What is my cat called?")[0].content.startswith("My cat")
    assert recall(older, "Something entirely different") == []


def test_memory_keeps_facts_summary_and_recalled_turns_within_the_budget() -> None:
    def count(messages: list[Message]) -> int:  # about one token per word, like a real tokenizer roughly
        return sum(len(m.content.split()) + 4 for m in messages)

    history = [Message("user", "Remember: the launch code name is BLUEFINCH.")]
    history.append(Message("assistant", "Noted."))
    for i in range(60):
        history.append(Message("user", f"Filler question {i} about gardening and soil and water."))
        history.append(Message("assistant", f"Filler answer {i} about plants growing in spring sunshine."))
    messages = ConversationMemory().build("You help.", history, "What is the launch code name?", 300, count,
                                          summary="Earlier they planned a launch.", facts=["The user is Ada."])
    assert count(messages) <= 300
    system = messages[0].content
    assert "The user is Ada." in system and "planned a launch" in system and "BLUEFINCH" in system
    assert messages[-1].content == "What is the launch code name?" and "Filler answer 59" in messages[-2].content


def test_the_summarizer_writes_a_rolling_summary_of_older_turns(engine: Engine) -> None:
    conv = engine.store.new_conversation(first_message="Let's plan the Andersen family picnic on 14 June.")
    for question, answer in FILLER:
        engine.store.add_message(conv, "assistant", "Sure. " + answer)
        engine.store.add_message(conv, "user", question)
    assert engine.summarizer.summarize_now(conv)
    summary = engine.store.latest_summary(conv)
    assert summary is not None and summary.content.strip()
    messages = engine.store.messages(conv)
    assert summary.upto_message_id == messages[-7].id  # the 6 most recent messages stay verbatim
    assert not engine.summarizer.summarize_now(conv)  # nothing new to summarise


def test_history_export_markdown_and_json(cli_env: dict[str, str], engine: Engine, tmp_path: Path) -> None:
    from tests.core.test_cli import edgemind

    conv = engine.store.new_conversation(first_message="Export me please")
    engine.store.add_message(conv, "assistant", "Here you are.", model="m")
    out = tmp_path / "conv.md"
    assert edgemind(cli_env, "history", "export", conv[:6], "--out", str(out)).returncode == 0
    text = out.read_text()
    assert text.startswith("# Export me please") and "## You" in text and "Here you are." in text
    data = json.loads(edgemind(cli_env, "history", "export", conv, "--format", "json").stdout)
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    deleted = json.loads(edgemind(cli_env, "history", "delete", conv[:6], "--json").stdout)
    assert deleted["deleted"] == conv and deleted["messages"] == 2
    proc = edgemind(cli_env, "history", "show", conv)
    assert proc.returncode == 1 and "no conversation matches" in proc.stderr


@pytest.mark.default_model
def test_a_conversation_ten_times_the_context_still_recalls_its_first_turn(
        default_model_installed: Path, env: dict[str, str]) -> None:
    settings = load_settings(env={k: v for k, v in env.items() if k != "EDGEMIND_DEFAULT_MODEL"})
    eng = Engine.create(with_overrides(settings, context_length=512))
    eng.summarize_in_background = False
    try:
        conv = eng.store.new_conversation(first_message="My cat is called Zorblax.")
        eng.store.add_message(conv, "assistant", "What a lovely name! I will remember Zorblax.")
        for i in range(8):
            for question, answer in FILLER:
                eng.store.add_message(conv, "user", question if i == 0 else f"Remind me: {question.lower()}")
                eng.store.add_message(conv, "assistant", answer)
        backend = eng.backend_for(eng.registry.get(DEFAULT))
        history = [Message(m.role, m.content) for m in eng.store.messages(conv)]
        assert backend.count_tokens(history) > 10 * 512
        result = eng.ask("What is my cat called?", AskOptions(conversation_id=conv, temperature=0, max_tokens=24))
        assert result.prompt_tokens <= 512
        assert "zorblax" in result.text.lower(), result.text
    finally:
        eng.close()
