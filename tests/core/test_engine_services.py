"""The engine's services over real components: SQLite in a temporary data folder, the installed plugins, the answer
cache's file, the audit log with its seal. Each is checked through the service and against the object it wraps."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Iterator

import pytest

from edgemind.core.backends.model_pool import ModelPool
from edgemind.core.cache.answers import AnswerCache, CachedAnswer
from edgemind.core.engine import (Answer, AuditTrail, CacheAdmin, Conversations, Engine, Grants, Models,
                                  PermissionRequest, Tools, open_registry)
from edgemind.core.errors import EdgeMindError, ModelNotFound
from edgemind.core.settings import Settings
from edgemind.core.storage.conversations import ConversationStore
from edgemind.core.tools.registry import PermissionDenied
from edgemind.core.tools.scopes import ScopeError
from edgemind.core.tools.session import open_audit

TINY = "smollm2-135m-instruct"


@pytest.fixture
def store(settings: Settings) -> ConversationStore:
    return ConversationStore(open_registry(settings)[1])


@pytest.fixture
def cache(settings: Settings) -> AnswerCache:
    return AnswerCache.from_settings(settings)


@pytest.fixture
def light_engine(settings: Settings) -> Iterator[Engine]:
    """A real engine without the router, safety check or embedder (none of the services needs them)."""
    registry, sessions = open_registry(settings)
    engine = Engine(settings, registry, ConversationStore(sessions), ModelPool(max_loaded=1),
                    cache=AnswerCache.from_settings(settings), audit=open_audit(settings, sessions))
    engine.sessions = sessions
    yield engine
    engine.close()


def _answer(cache: AnswerCache, text: str = "an answer") -> CachedAnswer:
    return CachedAnswer(text, TINY, 3, 5, cache.clock())


# ---- conversations ---------------------------------------------------------------------------------------------
def test_conversations_list_newest_first_and_search_finds_words(store: ConversationStore) -> None:
    conversations = Conversations(store)
    older = store.new_conversation(first_message="how do volcanoes erupt")
    newer = store.new_conversation(first_message="sort a list in python")
    store.add_message(newer, "assistant", "use sorted(xs)", model=TINY)
    assert [c.id for c in conversations.list()] == [newer, older]
    assert [c.id for c in conversations.list(limit=1)] == [newer]
    hits = conversations.search("volcanoes")
    assert [h.conversation_id for h in hits] == [older]
    assert conversations.search("nothing-like-this-anywhere") == []


def test_conversations_resolve_a_prefix_and_refuse_an_unknown_one(store: ConversationStore) -> None:
    conversations = Conversations(store)
    conversation_id = store.new_conversation(first_message="hello")
    assert conversations.resolve(conversation_id[:8]) == conversation_id
    assert conversations.get(conversation_id).id == conversation_id
    with pytest.raises(EdgeMindError):
        conversations.resolve("zzzzzzzz")


def test_conversations_export_is_json_ready_with_tool_calls_only_where_made(store: ConversationStore) -> None:
    conversations = Conversations(store)
    conversation_id = store.new_conversation(first_message="read my notes")
    call = {"tool": "files_read", "arguments": {"path": "/n.txt"}, "decision": "allowed:once"}
    store.add_message(conversation_id, "assistant", "they say hi", model=TINY, tool_calls=(call,))
    exported = conversations.export(conversation_id)
    assert json.loads(json.dumps(exported)) == exported
    assert exported["id"] == conversation_id and exported["title"] == conversations.get(conversation_id).title
    user, assistant = exported["messages"]
    assert (user["role"], user["content"], "tool_calls" in user) == ("user", "read my notes", False)
    assert (assistant["model"], assistant["tool_calls"]) == (TINY, [call])
    assert [m["id"] for m in exported["messages"]] == [m.id for m in conversations.messages(conversation_id)]


def test_conversations_rename_and_truncate_change_what_is_stored(store: ConversationStore) -> None:
    conversations = Conversations(store)
    conversation_id = store.new_conversation(first_message="first")
    store.add_message(conversation_id, "assistant", "one")
    second = store.add_message(conversation_id, "user", "second")
    store.add_message(conversation_id, "assistant", "two")
    conversations.rename(conversation_id, "Renamed")
    assert conversations.get(conversation_id).title == "Renamed"
    assert conversations.truncate(conversation_id, second) == 2
    assert [m.content for m in conversations.messages(conversation_id)] == ["first", "one"]


def test_conversations_delete_removes_messages_and_their_cached_answers(store: ConversationStore,
                                                                       cache: AnswerCache) -> None:
    conversations = Conversations(store, cache)
    kept = store.new_conversation(first_message="keep me")
    gone = store.new_conversation(first_message="delete me")
    store.add_message(gone, "assistant", "soon gone")
    cache.store("k-gone", _answer(cache), gone)
    cache.store("k-kept", _answer(cache), kept)
    assert conversations.delete(gone) == {"messages": 2, "cached_answers": 1}
    assert [c.id for c in conversations.list()] == [kept]
    assert cache.lookup("k-gone") is None and cache.lookup("k-kept") is not None
    assert AnswerCache(cache.l2.path).lookup("k-gone") is None  # the file too: a new process finds nothing


def test_conversations_delete_without_a_cache_counts_no_cached_answers(store: ConversationStore) -> None:
    conversation_id = store.new_conversation(first_message="x")
    assert Conversations(store).delete(conversation_id) == {"messages": 1, "cached_answers": 0}


def test_conversations_remember_keeps_a_fact_for_every_conversation(store: ConversationStore) -> None:
    Conversations(store).remember("I write Rust at work")
    assert "I write Rust at work" in store.memories(None)


def test_conversations_open_sees_what_an_engine_stored(light_engine: Engine, settings: Settings) -> None:
    conversation_id = light_engine.store.new_conversation(first_message="stored by the engine")
    opened = Conversations.open(settings)
    assert [c.id for c in opened.list()] == [conversation_id]
    assert opened.delete(conversation_id)["messages"] == 1
    assert light_engine.conversations.list() == []


# ---- models ----------------------------------------------------------------------------------------------------
def test_models_list_get_and_an_unknown_id(settings: Settings) -> None:
    models = Models.open(settings)
    ids = [m.id for m in models.list(include_ollama=False)]
    assert TINY in ids and ids == [m.id for m in open_registry(settings)[0].list_models(include_ollama=False)]
    assert models.get(None).id == settings.default_model == TINY
    assert TINY in [m.id for m in models.bundled()]
    with pytest.raises(ModelNotFound, match="nope"):
        models.get("nope")


def test_models_prepare_returns_the_installed_file(settings: Settings) -> None:
    models = Models.open(settings)
    path = models.prepare(models.get(TINY))
    assert path.is_file() and path.suffix == ".gguf"


def test_models_add_and_remove_an_endpoint(settings: Settings) -> None:
    models = Models.open(settings)
    spec = models.add_openai("http://127.0.0.1:9/v1", "remote-x", None, "openai:x")
    assert (spec.id, spec.backend) == ("openai:x", "openai")
    assert "openai:x" in [m.id for m in Models.open(settings).list(include_ollama=False)]
    models.remove("openai:x")
    assert "openai:x" not in [m.id for m in models.list(include_ollama=False)]
    with pytest.raises(ModelNotFound):
        models.remove("openai:x")  # gone: a second removal names it


def test_models_without_a_pool_have_nothing_resident(settings: Settings) -> None:
    models = Models.open(settings)
    models.unload_all()
    assert models.loaded() == [] and models.waiting() == {}


def test_models_unload_all_empties_the_engines_pool(light_engine: Engine) -> None:
    pool = light_engine.pool
    with pool.lease("k", lambda: object()):
        assert light_engine.models.loaded() == ["k"]
        assert light_engine.models.waiting() == {"k": 0}
    light_engine.models.unload_all()
    assert light_engine.models.loaded() == []


# ---- cache admin -----------------------------------------------------------------------------------------------
def test_cache_admin_counts_and_clears_stored_answers(settings: Settings, cache: AnswerCache) -> None:
    cache.store("k1", _answer(cache))
    cache.store("k2", _answer(cache, "another"))
    admin = CacheAdmin.open(settings)
    stats = admin.stats()
    assert admin.available
    assert (stats["entries"], stats["enabled"], stats["ttl_seconds"]) == (2, settings.cache_enabled,
                                                                          settings.cache_ttl_seconds)
    assert stats["path"] == str(settings.home / "cache.db")
    assert admin.clear() == 2
    assert admin.stats()["entries"] == 0 and cache.l2.get("k1", 0) is None


def test_cache_admin_of_an_engine_without_a_cache(settings: Settings) -> None:
    admin = CacheAdmin(None, settings)
    assert not admin.available and admin.clear() == 0
    with pytest.raises(EdgeMindError, match="off"):
        admin.stats()


def test_cache_admin_clears_the_engines_own_cache(light_engine: Engine) -> None:
    light_engine.cache.store("k", _answer(light_engine.cache))
    assert light_engine.cache_admin.stats()["entries"] == 1
    assert light_engine.cache_admin.clear() == 1
    assert light_engine.cache.lookup("k") is None  # the memory tier too, not only the file


# ---- tools, grants and the audit log ------------------------------------------------------------------------------
def test_tools_list_the_installed_plugins_and_run_one_through_the_broker(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    tools = Tools.open(settings, grants=[f"fs.read:{tmp_path}"])
    assert {"calculator", "files_read", "python_run", "system_info"} <= {t.name for t in tools.list()}
    assert [t.name for t in tools.offered(["files_read", "nope"])] == ["files_read"]
    outcome = tools.run("files_read", {"path": str(tmp_path / "a.txt")})
    assert (outcome.ok, outcome.decision) == (True, "allowed:preset") and "hello" in outcome.content
    kinds = [e.kind for e in AuditTrail.open(settings).entries(tool="files_read")]
    assert kinds == ["tool_proposed", "tool_call", "tool_result"]


def test_tools_deny_what_nobody_granted_and_raise_when_asked_to(settings: Settings) -> None:
    tools = Tools.open(settings)  # nobody to ask
    outcome = tools.run("system_info", {})
    assert not outcome.ok and outcome.decision.startswith("denied")
    with pytest.raises(PermissionDenied):
        tools.run("system_info", {}, raise_if_denied=True)


def test_tools_ask_the_hosts_callback(settings: Settings) -> None:
    asked: list[PermissionRequest] = []

    def ask(request: PermissionRequest) -> Answer:
        asked.append(request)
        return Answer.ONCE

    outcome = Tools.open(settings, ask=ask).run("system_info", {})
    assert outcome.ok and [(r.tool, r.scopes) for r in asked] == [("system_info", ("system.info",))]


def test_an_engine_keeps_no_tools_and_hands_each_shell_its_own_capability(light_engine: Engine) -> None:
    assert not hasattr(light_engine, "tools") and not hasattr(light_engine, "grants")
    asked: list[PermissionRequest] = []

    def ask(request: PermissionRequest) -> Answer:
        asked.append(request)
        return Answer.DENY

    mine, other = light_engine.open_tools(ask=ask), light_engine.open_tools()
    assert mine is not other and not hasattr(light_engine, "tool_runner")  # opening one attaches nothing
    assert "calculator" in {t.name for t in Tools(mine).list()} and Grants(mine).list() == []
    assert Tools(other).run("system_info", {}).decision.startswith("denied") and asked == []
    assert Tools(mine).run("system_info", {}).decision.startswith("denied") and len(asked) == 1


def test_grants_grant_list_and_revoke_are_stored_and_audited(settings: Settings, tmp_path: Path) -> None:
    grants = Grants.open(settings)
    tool = grants.grant("files_read", grants.parse([f"fs.read:{tmp_path}"]))
    assert tool.name == "files_read"
    listed = Grants.open(settings).list()  # stored: another session sees it
    assert [(g.tool, g.scope) for g in listed] == [("files_read", f"fs.read:{tmp_path.resolve()}")]
    (tmp_path / "b.txt").write_text("kept")
    assert Tools.open(settings).run("files_read", {"path": str(tmp_path / "b.txt")}).decision == "allowed:always"
    assert grants.revoke(grant_id=listed[0].id) == 1
    assert grants.list() == [] and grants.revoke() == 0
    kinds = [e.kind for e in AuditTrail.open(settings).entries()]
    assert "grant" in kinds and "revoke" in kinds


def test_grants_revoke_by_tool_leaves_the_others(settings: Settings, tmp_path: Path) -> None:
    grants = Grants.open(settings)
    grants.grant("files_read", [f"fs.read:{tmp_path}"])
    grants.grant("files_list", [f"fs.read:{tmp_path}"])
    assert grants.revoke(tool="files_read") == 1
    assert [g.tool for g in grants.list()] == ["files_list"]


def test_grants_parse_names_a_bad_scope(settings: Settings) -> None:
    with pytest.raises(ScopeError, match="root"):
        Grants.parse(["fs.read:/tmp", "root"])
    with pytest.raises(EdgeMindError, match="nope"):
        Grants.open(settings).grant("nope", ["system.info"])


def test_audit_trail_reads_exports_and_verifies_the_log(settings: Settings) -> None:
    Tools.open(settings).run("calculator", {"expression": "2+3"})
    trail = AuditTrail.open(settings)
    entries = trail.entries()
    assert [e.kind for e in entries] == ["tool_proposed", "tool_call", "tool_result"]
    assert [e.id for e in trail.entries(newest_first=True, limit=2)] == [entries[2].id, entries[1].id]
    assert all(e.kind in trail.kinds for e in entries)
    lines = list(trail.export_jsonl())
    assert [json.loads(line)["id"] for line in lines] == [e.id for e in entries]
    assert trail.verify().ok and trail.verify().rows == 3


def test_audit_trail_verify_finds_an_edited_row(settings: Settings) -> None:
    Tools.open(settings).run("calculator", {"expression": "2+3"})
    db = sqlite3.connect(settings.db_path)
    triggers = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'")]
    for name in triggers:  # the log refuses edits through SQL; an attacker with the file drops the guard first
        db.execute(f'DROP TRIGGER "{name}"')
    db.execute("UPDATE audit_log SET detail = '{}' WHERE id = 2")
    db.commit()
    db.close()
    result = AuditTrail.open(settings).verify()
    assert not result.ok and result.first_bad_id == 2


def test_audit_trail_of_an_engine_without_a_log(settings: Settings) -> None:
    trail = AuditTrail(None)
    with pytest.raises(EdgeMindError, match="no audit log"):
        trail.entries()
    with pytest.raises(EdgeMindError, match="no audit log"):
        trail.verify()


def test_an_engines_services_share_its_objects(light_engine: Engine) -> None:
    conversation_id = light_engine.store.new_conversation(first_message="shared")
    light_engine.cache.store("k", _answer(light_engine.cache), conversation_id)
    assert [c.id for c in light_engine.conversations.list()] == [conversation_id]
    assert light_engine.delete_conversation(conversation_id) == {"messages": 1, "cached_answers": 1}
    assert light_engine.models.get(None).id == light_engine.registry.get(None).id
    light_engine.audit.record("route", {"intent": "chat"})
    assert [e.kind for e in light_engine.audit_log.entries()] == ["route"]
