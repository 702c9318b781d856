"""Each stage of a request alone (input check, route plan, cache, context window, generation, output check,
recording), then `Engine.stream` sequencing them. Real store, audit log, cache and registry; the model is a scripted
backend at the Backend seam, so every token and count is exact."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edgemind.core.backends.base import CancelToken, Chunk, GenerationParams, Message
from edgemind.core.backends.llama_native import NativeGuard
from edgemind.core.backends.model_pool import ModelPool
from edgemind.core.cache.answers import AnswerCache
from edgemind.core.context.memory import ConversationMemory, Summarizer
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.engine.cache_stage import CacheStage
from edgemind.core.engine.context_window import UNSTATED_WINDOW, ContextWindow, was_trimmed
from edgemind.core.engine.facade import AskOptions, Engine
from edgemind.core.engine.generation import Generation, generation_metrics
from edgemind.core.engine.input_check import MAX_PROMPT_CHARS, InputCheck, checked_prompt
from edgemind.core.engine.output_check import OutputCheck
from edgemind.core.engine.recording import Recorder
from edgemind.core.engine.request import CacheHit, Generated, Plan, Request
from edgemind.core.engine.review import review_code
from edgemind.core.engine.route_plan import RoutePlanner, generation_params
from edgemind.core.errors import ModelError, PromptError
from edgemind.core.events import BackendDone, Done, Error, Route, Token
from edgemind.core.models.registry import ModelRegistry
from edgemind.core.routing.decision import (DEFAULT_SYSTEM_PROMPT, DefaultRouter, EmbeddingRouter, Judge,
                                            JudgedRouter, RouteDecision)
from edgemind.core.routing.judge import ModelJudge
from edgemind.core.routing.policy import IntentParams
from edgemind.core.safety.verdict import Verdict
from edgemind.core.settings import Settings, with_overrides
from edgemind.core.storage.audit import AuditLog, digest
from edgemind.core.storage.conversations import ConversationStore
from edgemind.core.storage.db import open_database
from edgemind.core.tools.registry import Tool, ToolRegistry
from edgemind.core.tools.session import open_audit, open_tool_runner, plugin_context
from tests.conftest import TINY


class ScriptedBackend:
    """A model that answers with `words`, one a token, checking the cancel token before each as backends must."""

    name = "scripted"

    def __init__(self, words: Sequence[str] = ("Hello", " there", "."), *, window: int | None = None,
                 says_done: bool = True) -> None:
        self.words = list(words)
        self.window = window
        self.says_done = says_done
        self.prompts: list[list[Message]] = []
        self.load_ms = 12.5

    def stream(self, messages: list[Message], params: GenerationParams, cancel: CancelToken) -> Iterator[Chunk]:
        self.prompts.append(list(messages))
        sent = 0
        for word in self.words[: params.max_tokens]:
            if cancel.cancelled:
                yield BackendDone("cancelled", sent, 7)
                return
            sent += 1
            yield word
        if self.says_done:
            yield BackendDone("stop", sent, 7)

    def count_tokens(self, messages: list[Message]) -> int | None:
        return None  # like a remote server: the context window estimates from characters

    def context_window(self) -> int | None:
        return self.window

    def take_load_ms(self) -> float:
        taken, self.load_ms = self.load_ms, 0.0
        return taken


class WordSafety:
    """A Safety that refuses any text containing its word (the real checker needs a trained classifier)."""

    def __init__(self, word: str) -> None:
        self.word = word

    def check_input(self, text: str) -> Verdict:
        return self._check(text)

    def check_output(self, text: str) -> Verdict:
        return self._check(text)

    def _check(self, text: str) -> Verdict:
        if self.word in text:
            return Verdict(False, "test", f"contains {self.word!r}", 1.0, f"No {self.word} here.")
        return Verdict(True, None, "fine", 0.0, None)


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(open_database(settings.db_path), expire_on_commit=False)


@pytest.fixture
def registry(settings: Settings, sessions: sessionmaker[Session]) -> ModelRegistry:
    return ModelRegistry(settings, sessions)


@pytest.fixture
def store(sessions: sessionmaker[Session]) -> ConversationStore:
    return ConversationStore(sessions)


@pytest.fixture
def audit(settings: Settings, sessions: sessionmaker[Session]) -> AuditLog:
    return open_audit(settings, sessions)


@pytest.fixture
def cache(tmp_path: Path) -> AnswerCache:
    return AnswerCache(tmp_path / "cache.db")


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def engine(settings: Settings, registry: ModelRegistry, store: ConversationStore, cache: AnswerCache,
           audit: AuditLog, backend: ScriptedBackend, native: NativeGuard) -> Iterator[Engine]:
    """A real engine over the scripted model (the semantic tier off: it would load the embedder)."""
    plain = with_overrides(settings, cache_semantic_enabled=False)
    eng = Engine(plain, registry, store, ModelPool(), cache=cache, audit=audit, native=native,
                 factories={"llama_cpp": lambda spec, **_: backend, "onnx_int4": lambda spec, **_: backend})
    yield eng
    eng.close()


def plan_for(registry: ModelRegistry, *, params: GenerationParams = GenerationParams(temperature=0.0),
             history: tuple[Message, ...] = (), decision: RouteDecision | None = None,
             tools: tuple = ()) -> Plan:  # type: ignore[type-arg]
    decision = decision or RouteDecision("chat", TINY, DEFAULT_SYSTEM_PROMPT, "default model")
    return Plan(decision, registry.get(TINY), params, DEFAULT_SYSTEM_PROMPT, history, tools)


def generated(request: Request, text: str, finish: str = "stop") -> None:
    request.pieces[:] = [text]
    request.generated = Generated(BackendDone(finish, 3, 9), request.started, time.perf_counter())


# ---- input check -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("bad", "words"), [("", "empty"), (" \n\t", "empty"), ("a\x00b", "NUL"),
                                             ("x" * (MAX_PROMPT_CHARS + 1), "limit")])
def test_a_prompt_that_cannot_be_answered_is_a_prompt_error_naming_why(bad: str, words: str) -> None:
    with pytest.raises(PromptError, match=words):
        checked_prompt(bad)


def test_the_input_check_strips_the_prompt_and_returns_only_a_refusal() -> None:
    check = InputCheck(WordSafety("forbidden"))
    allowed = Request("  Name a river.\n", AskOptions())
    assert check.check(allowed) is None and allowed.prompt == "Name a river."
    refusal = check.check(Request("the forbidden question", AskOptions()))
    assert refusal is not None and not refusal.allowed and refusal.category == "test"
    assert InputCheck(None).check(Request("the forbidden question", AskOptions())) is None


# ---- route plan ------------------------------------------------------------------------------------------------------
def test_generation_params_take_the_users_options_then_the_intents_then_the_defaults() -> None:
    math = IntentParams(temperature=0.0, max_tokens=256)
    assert generation_params(AskOptions(), math, 512) == GenerationParams(max_tokens=256, temperature=0.0)
    mine = generation_params(AskOptions(temperature=0.3, max_tokens=9, top_p=0.5, seed=4), math, 512)
    assert (mine.temperature, mine.max_tokens, mine.top_p, mine.seed) == (0.3, 9, 0.5, 4)
    assert generation_params(AskOptions(), IntentParams(), 512) == GenerationParams(max_tokens=512, temperature=0.7)


def test_the_plan_carries_the_decision_model_system_prompt_and_stored_history(engine: Engine,
                                                                              store: ConversationStore) -> None:
    conv = store.new_conversation(first_message="first question")
    store.add_message(conv, "assistant", "first answer")
    request = Request("second question", AskOptions(conversation_id=conv, max_tokens=5))
    plan = engine.planner.plan(request)
    assert request.plan is plan and plan.decision.intent == "chat" and plan.spec.id == TINY
    assert plan.system == DEFAULT_SYSTEM_PROMPT and plan.params.max_tokens == 5 and plan.tools == ()
    assert plan.history == (Message("user", "first question"), Message("assistant", "first answer"))
    assert plan.route_event() == Route("chat", TINY, plan.spec.backend, "default model", 1.0, ())


def test_the_plan_refuses_history_with_a_conversation_an_unknown_one_and_a_foreign_backend(engine: Engine) -> None:
    earlier = (Message("user", "hi"),)
    with pytest.raises(PromptError, match="not both"):
        engine.planner.plan(Request("q", AskOptions(history=earlier, conversation_id="c1")))
    with pytest.raises(PromptError, match="no conversation 'nope'"):
        engine.planner.plan(Request("q", AskOptions(conversation_id="nope")))
    with pytest.raises(ModelError, match="runs on llama_cpp, not ollama"):
        engine.planner.plan(Request("q", AskOptions(backend="ollama")))


def test_tools_are_offered_only_with_a_runner_and_web_fetch_only_when_it_is_on(
        engine: Engine, sessions: sessionmaker[Session], audit: AuditLog) -> None:
    decision = RouteDecision("math", TINY, "sys", "test", tools=("calculator", "web_fetch"))
    assert engine.planner.offered(decision, AskOptions()) == ()
    runner = open_tool_runner(engine.settings, sessions, audit=audit)
    assert [t.name for t in engine.planner.offered(decision, AskOptions(tools=runner))] == ["calculator"]


# ---- cache -----------------------------------------------------------------------------------------------------------
def test_a_complete_answer_is_stored_and_found_again_and_the_leader_releases_its_key(
        cache: AnswerCache, registry: ModelRegistry) -> None:
    stage = CacheStage(cache, None, wait_seconds=1)
    first = Request("Name a fruit.", AskOptions(), plan=plan_for(registry))
    assert stage.look_up(first) is None and first.key is not None and first.leading_key == first.key
    waiting = cache.flights.begin(first.key)  # an identical request arriving now waits for the leader
    assert waiting is not None and not waiting.is_set()
    generated(first, "An apple.")
    stage.store(first)
    stage.release(first)
    assert waiting.is_set() and first.leading_key is None
    again = Request("Name a fruit.", AskOptions(), plan=plan_for(registry))
    hit = stage.look_up(again)
    assert hit == CacheHit("l1", hit.answer) and hit.answer.text == "An apple." and again.leading_key is None


def test_cancelled_and_empty_answers_are_never_cached(cache: AnswerCache, registry: ModelRegistry) -> None:
    stage = CacheStage(cache, None, wait_seconds=1)
    for text, finish in (("Half an ans", "cancelled"), ("", "stop")):
        request = Request("Name a fruit.", AskOptions(), plan=plan_for(registry))
        stage.look_up(request)
        generated(request, text, finish)
        stage.store(request)
        stage.release(request)
    assert cache.l2.stats()["entries"] == 0


@pytest.fixture
def tools(settings: Settings) -> tuple[Tool, ...]:
    """The real calculator (pure: no scope) and file reader (fs.read), as the router offers them."""
    installed = ToolRegistry.from_entry_points(plugin_context(settings))
    return (installed.get("calculator"), installed.get("files_read"))


def _tool_answer(stage: CacheStage, registry: ModelRegistry, tools: tuple[Tool, ...], prompt: str,
                 calls: list[dict[str, object]], text: str = "It is 399.5.") -> Request:
    request = Request(prompt, AskOptions(), plan=plan_for(registry, tools=tools))
    stage.look_up(request)
    request.tool_calls = tuple(calls)
    generated(request, text)
    stage.store(request)
    stage.release(request)
    return request


def test_an_answer_made_only_with_a_pure_tool_is_cached_like_any_other(
        cache: AnswerCache, registry: ModelRegistry, tools: tuple[Tool, ...], settings: Settings,
        sessions: sessionmaker[Session], audit: AuditLog) -> None:
    stage = CacheStage(cache, None, wait_seconds=1)
    runner = open_tool_runner(settings, sessions, audit=audit)
    calculated = runner.call("calculator", {"expression": "17/100 * 2350"}).as_dict()
    assert calculated["ok"] and calculated["decision"] == "allowed:pure"
    first = _tool_answer(stage, registry, tools, "What is 17% of 2350?", [calculated])
    assert first.key is not None and cache.l2.stats()["entries"] == 1
    again = Request("What is 17% of 2350?", AskOptions(), plan=plan_for(registry, tools=tools))
    hit = stage.look_up(again)
    assert hit is not None and hit.tier == "l1" and hit.answer.text == "It is 399.5."
    no_tools = Request("What is 17% of 2350?", AskOptions(), plan=plan_for(registry))
    assert stage.look_up(no_tools) is None, "an answer made with tools is not served to a request without them"
    stage.release(no_tools)
    answered_in_words = _tool_answer(stage, registry, tools, "What is a prime number?", [], "A number...")
    assert stage.look_up(Request(answered_in_words.prompt, AskOptions(),
                                 plan=plan_for(registry, tools=tools))) is not None


def test_answers_that_read_a_file_or_had_a_call_denied_or_failed_are_never_cached(
        cache: AnswerCache, registry: ModelRegistry, tools: tuple[Tool, ...], settings: Settings,
        sessions: sessionmaker[Session], audit: AuditLog, tmp_path: Path) -> None:
    stage = CacheStage(cache, None, wait_seconds=1)
    notes = tmp_path / "notes.txt"
    notes.write_text("The code word is PAPAYA.\n")
    nobody = open_tool_runner(settings, sessions, audit=audit)  # nobody to ask, nothing granted
    granted = open_tool_runner(settings, sessions, audit=audit, grants=[f"fs.read:{tmp_path}"])
    pure = nobody.call("calculator", {"expression": "2 + 2"}).as_dict()
    read = granted.call("files_read", {"path": str(notes)}).as_dict()
    denied = nobody.call("files_read", {"path": str(notes)}).as_dict()
    failed = nobody.call("calculator", {"expression": "1 / 0"}).as_dict()
    rejected = nobody.call("calculator", {"expr": "2 + 2"}).as_dict()
    assert read["ok"] and denied["decision"].startswith("denied") and not failed["ok"]
    assert rejected["decision"] == "rejected"
    for i, calls in enumerate([[read], [pure, read], [denied], [failed], [rejected], [failed, pure]]):
        _tool_answer(stage, registry, tools, f"Question {i}?", calls)
    assert cache.l2.stats()["entries"] == 0


def test_the_offered_tools_and_their_code_are_part_of_the_key(registry: ModelRegistry, cache: AnswerCache,
                                                               tools: tuple[Tool, ...]) -> None:
    stage = CacheStage(cache, None, wait_seconds=1)
    plan = plan_for(registry)
    bare = stage.key("What is 2 + 2?", plan.spec, plan.system, (), plan.params)
    with_tools = stage.key("What is 2 + 2?", plan.spec, plan.system, (), plan.params, tools)
    changed = (replace(tools[0], manifest=replace(tools[0].manifest, code_digest="another version")), tools[1])
    with_changed = stage.key("What is 2 + 2?", plan.spec, plan.system, (), plan.params, changed)
    assert len({bare, with_tools, with_changed}) == 3


def test_the_semantic_tier_never_serves_a_calculated_answer_for_other_numbers(
        cache: AnswerCache, registry: ModelRegistry, embedder: Embedder, tools: tuple[Tool, ...],
        settings: Settings, sessions: sessionmaker[Session], audit: AuditLog) -> None:
    stage = CacheStage(cache, embedder, wait_seconds=1)
    runner = open_tool_runner(settings, sessions, audit=audit)
    first = _tool_answer(stage, registry, tools, "What is 17% of 2350?",
                         [runner.call("calculator", {"expression": "17/100 * 2350"}).as_dict()])
    assert first.semantic is not None, "a calculated answer feeds the semantic tier like any other"
    _tool_answer(stage, registry, tools, "How many ounces are in a kilogram?",
                 [runner.call("calculator", {"expression": "1 kg to oz"}).as_dict()], "About 35.27 ounces.")
    for other in ("What is 18% of 2350?", "What is 17% of 2450?", "What is 17% of 2350 minus 5?",
                  "What is seventeen percent of 1350?", "What is 2350% of 17?",
                  "How many grams are in a kilogram?", "How many ounces are in a pound?",
                  "How many kilograms are in an ounce?", "How many ounces are in two kilograms?"):
        request = Request(other, AskOptions(), plan=plan_for(registry, tools=tools))
        assert stage.look_up(request) is None, other
        stage.release(request)


def test_no_cache_skips_the_lookup_but_the_answer_still_refreshes_the_entry(cache: AnswerCache,
                                                                            registry: ModelRegistry) -> None:
    stage = CacheStage(cache, None, wait_seconds=1)
    fresh = Request("Name a tree.", AskOptions(use_cache=False), plan=plan_for(registry))
    assert stage.look_up(fresh) is None and fresh.leading_key is None and fresh.key is not None
    generated(fresh, "An oak.")
    stage.store(fresh)
    hit = stage.look_up(Request("Name a tree.", AskOptions(), plan=plan_for(registry)))
    assert hit is not None and hit.answer.text == "An oak."


def test_the_semantic_tier_serves_a_paraphrase_and_never_a_request_with_history(
        cache: AnswerCache, registry: ModelRegistry, embedder: Embedder) -> None:
    stage = CacheStage(cache, embedder, wait_seconds=1)
    first = Request("What is the capital of France?", AskOptions(), plan=plan_for(registry))
    assert stage.look_up(first) is None and first.semantic is not None
    generated(first, "Paris.")
    stage.store(first)
    stage.release(first)
    paraphrase = Request("what's the capital of France", AskOptions(), plan=plan_for(registry))
    hit = stage.look_up(paraphrase)
    assert hit is not None and hit.tier == "semantic" and hit.answer.text == "Paris."
    assert hit.similarity is not None and 0.8 <= hit.similarity <= 1
    follow_up = Request("what's the capital of France", AskOptions(),
                        plan=plan_for(registry, history=(Message("user", "hi"), Message("assistant", "hello"))))
    assert stage.look_up(follow_up) is None and follow_up.semantic is None


# ---- context window --------------------------------------------------------------------------------------------------
def test_the_context_keeps_the_newest_turns_that_fit_with_room_for_the_answer(store: ConversationStore) -> None:
    history = [Message("user" if i % 2 == 0 else "assistant", f"turn {i}: " + "word " * 20) for i in range(40)]
    small = ScriptedBackend(window=400)
    window = ContextWindow(ConversationMemory(), store, lambda spec: small)
    params = GenerationParams(max_tokens=64)
    kept = window.messages(small, "sys", history, "the question", params)
    estimate = sum(len(m.content) + 8 for m in kept) / 3.0
    assert estimate <= 400 - 64, "the answer's max_tokens are kept free"
    assert kept[0].role == "system" and kept[0].content.startswith("sys")
    assert kept[-1] == Message("user", "the question")
    assert kept[-2] == history[-1] and history[0] not in kept and was_trimmed(kept, history)
    roomy = window.messages(ScriptedBackend(window=None), "sys", history, "the question", params)
    assert len(roomy) == len(history) + 2 and not was_trimmed(roomy, history)
    assert UNSTATED_WINDOW > 100_000


def test_the_context_stage_picks_the_backend_and_adds_remembered_facts(store: ConversationStore,
                                                                       registry: ModelRegistry) -> None:
    conv = store.new_conversation(first_message="hi")
    store.remember("The user's cat is called Miso.", conv)
    chosen = ScriptedBackend()
    request = Request("What is my cat called?", AskOptions(), conversation_id=conv, plan=plan_for(registry))
    messages = ContextWindow(ConversationMemory(), store, lambda spec: chosen).build(request)
    assert request.backend is chosen and request.messages is messages
    assert "Miso" in messages[0].content and messages[-1] == Message("user", "What is my cat called?")


# ---- generation ------------------------------------------------------------------------------------------------------
def test_generation_streams_each_piece_as_a_token_and_records_how_it_ended(registry: ModelRegistry) -> None:
    request = Request("q", AskOptions(), plan=plan_for(registry), backend=ScriptedBackend(), messages=[])
    events = list(Generation(tool_steps=4).run(request))
    assert events == [Token("Hello"), Token(" there"), Token(".")] and request.text == "Hello there."
    assert request.generated is not None and request.generated.done == BackendDone("stop", 3, 7)
    metrics = generation_metrics(request)
    assert metrics.tokens == 3 and metrics.prompt_tokens == 7 and metrics.load_ms == 12.5
    assert 0 < metrics.ttft_ms <= metrics.total_ms


def test_a_cancel_stops_generation_within_one_token_and_is_reported_as_cancelled(registry: ModelRegistry) -> None:
    cancel = CancelToken()
    request = Request("q", AskOptions(), cancel, plan=plan_for(registry), backend=ScriptedBackend(list("abcdef")))
    for event in Generation(tool_steps=4).run(request):
        if event == Token("b"):
            cancel.cancel()
    assert request.text == "ab" and request.generated is not None
    assert request.generated.done.finish_reason == "cancelled" and request.generated.done.tokens == 2


def test_a_backend_that_ends_without_a_done_counts_its_pieces(registry: ModelRegistry) -> None:
    request = Request("q", AskOptions(), plan=plan_for(registry), backend=ScriptedBackend(says_done=False))
    list(Generation(tool_steps=4).run(request))
    assert request.generated is not None and request.generated.done == BackendDone("stop", 3, 0)


# ---- output check ----------------------------------------------------------------------------------------------------
def test_the_output_check_withholds_only_a_failing_non_empty_answer() -> None:
    check = OutputCheck(WordSafety("there"))
    request = Request("q", AskOptions(), pieces=["Hello", " there"])
    verdict = check.check(request)
    assert verdict is not None and verdict.message == "No there here."
    assert check.check(Request("q", AskOptions(), pieces=["Hello"])) is None
    assert check.check(Request("q", AskOptions())) is None  # nothing was said: nothing to judge


# ---- recording -------------------------------------------------------------------------------------------------------
def test_a_refusal_is_stored_and_audited_by_its_hash_never_its_text(store: ConversationStore, audit: AuditLog) -> None:
    recorder = Recorder(store, audit, Summarizer(store, lambda: ("none", ScriptedBackend().stream)))
    request = Request("the forbidden question", AskOptions())
    verdict = WordSafety("forbidden").check_input(request.prompt)
    events = list(recorder.refuse(request, verdict))
    assert [type(e) for e in events] == [Route, Token, Done] and events[0].intent == "refused"
    assert events[1] == Token("No forbidden here.") and events[2].refused and events[2].safety_category == "test"
    stored = store.messages(request.conversation_id)
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "refused")]
    [entry] = audit.entries(kind="refusal")
    assert entry.conversation_id == request.conversation_id and entry.detail["category"] == "test"
    assert entry.detail["prompt_sha"] == digest(request.prompt) and request.prompt not in str(entry.detail)


def test_a_partial_answer_is_kept_once_marked_cancelled(store: ConversationStore, registry: ModelRegistry) -> None:
    recorder = Recorder(store, None, Summarizer(store, lambda: ("none", ScriptedBackend().stream)))
    request = Request("q", AskOptions(), plan=plan_for(registry), pieces=["Once upon"])
    recorder.record_prompt(request)
    recorder.keep_partial(request)
    [_, answer] = store.messages(request.conversation_id)
    assert (answer.content, answer.status, answer.model) == ("Once upon", "cancelled", TINY)
    request.stored_answer = True
    recorder.keep_partial(request)
    assert len(store.messages(request.conversation_id)) == 2
    unstored = Request("q", AskOptions(store=False), plan=plan_for(registry), pieces=["x"])
    recorder.keep_partial(unstored)  # nothing to store into, and no error
    assert unstored.conversation_id is None


def test_finish_audits_the_route_and_summarises_a_conversation_that_outgrew_the_window(
        store: ConversationStore, audit: AuditLog, registry: ModelRegistry) -> None:
    summary_model = ScriptedBackend(["The user asked about numbers."])
    summarizer = Summarizer(store, lambda: ("summary-model", summary_model.stream), min_chars=10)
    recorder = Recorder(store, audit, summarizer)
    conv = store.new_conversation()
    history = []
    for i in range(12):
        for role in ("user", "assistant"):
            store.add_message(conv, role, f"{role} turn {i}")
            history.append(Message(role, f"{role} turn {i}"))
    request = Request("and now?", AskOptions(conversation_id=conv), plan=plan_for(registry, history=tuple(history)),
                      backend=ScriptedBackend(), messages=[Message("system", "sys"), Message("user", "and now?")])
    recorder.record_prompt(request)
    generated(request, "Now this.")
    recorder.record_answer(request)
    done = recorder.finish(request)
    summarizer.join(timeout=30)
    assert done.finish_reason == "stop" and done.conversation_id == conv and done.metrics.tokens == 3
    summary = store.latest_summary(conv)
    assert summary is not None and summary.content == "The user asked about numbers."
    [route] = audit.entries(kind="route")
    assert route.detail["intent"] == "chat" and route.detail["cache"] == "miss" and route.detail["model"] == TINY


# ---- the engine sequencing them --------------------------------------------------------------------------------------
OPTS = AskOptions(temperature=0.0, max_tokens=16)


def test_stream_runs_route_tokens_done_then_serves_the_repeat_from_the_cache(engine: Engine, audit: AuditLog) -> None:
    events = list(engine.stream("Say hello.", OPTS))
    assert isinstance(events[0], Route) and events[0].model == TINY
    assert events[1:-1] == [Token("Hello"), Token(" there"), Token(".")]
    done = events[-1]
    assert isinstance(done, Done) and done.cache == "miss" and done.finish_reason == "stop"
    again = list(engine.stream("Say hello.", OPTS))
    assert again[1:-1] == [Token("Hello there.")] and again[-1].cache == "l1"
    assert [m.status for m in engine.store.messages(done.conversation_id)] == ["complete", "complete"]
    assert [e.detail["cache"] for e in audit.entries(kind="route")] == ["miss", "l1"]


def test_a_consumer_that_walks_away_releases_the_key_and_keeps_what_it_saw(engine: Engine,
                                                                          backend: ScriptedBackend) -> None:
    backend.words = ["One", " two", " three", " four"]
    stream = engine.stream("Count.", OPTS)
    assert isinstance(next(stream), Route) and next(stream) == Token("One")
    stream.close()
    request = Request("Count.", OPTS)
    plan = engine.planner.plan(request)
    key = engine.cache_stage.key("Count.", plan.spec, plan.system, (), plan.params)
    assert key is not None and engine.cache is not None
    assert engine.cache.flights.begin(key) is None, "the walked-away request must not still lead its key"
    engine.cache.flights.end(key)
    [conv] = engine.store.conversations()
    assert [(m.content, m.status) for m in engine.store.messages(conv.id)][-1] == ("One", "cancelled")


def test_replaced_checks_refuse_a_prompt_unrouted_and_withhold_an_answer_uncached(engine: Engine,
                                                                                 backend: ScriptedBackend) -> None:
    engine.input_check = InputCheck(WordSafety("forbidden"))
    engine.output_check = OutputCheck(WordSafety("there"))
    refused = list(engine.stream("a forbidden thing", OPTS))
    assert refused[0] == Route("refused", "", "", "contains 'forbidden'", 1.0) and backend.prompts == []
    events = list(engine.stream("Say hello.", OPTS))
    assert events[-2] == Token("\n\nNo there here.") and events[-1].refused and events[-1].finish_reason == "refused"
    assert engine.store.messages(events[-1].conversation_id)[-1].status == "refused"
    assert engine.ask("Say hello.", OPTS).cache == "miss", "a withheld answer is never cached"


def test_an_apps_own_task_over_the_users_material_is_not_judged_as_a_request_but_its_answer_is(
        engine: Engine, backend: ScriptedBackend) -> None:
    """A code review wraps the user's file in the app's own request: the file is material, not a request, so the
    input check does not judge it (the real checker refused whole reviews of a restaurant bill as fraud), while the
    answer is checked as always and a plain request with the same words is still refused."""
    engine.input_check = InputCheck(WordSafety("forbidden"))
    engine.output_check = OutputCheck(WordSafety("there"))
    events = list(engine.stream("Find the bugs in: forbidden = total - 1", replace(OPTS, app_task=True)))
    assert isinstance(events[0], Route) and events[0].intent != "refused" and backend.prompts
    assert events[-1].refused and events[-2] == Token("\n\nNo there here."), "the answer is still checked"
    before = len(backend.prompts)
    refused = list(engine.stream("Find the bugs in: forbidden = total - 1", OPTS))
    assert refused[0].intent == "refused" and len(backend.prompts) == before


def test_a_code_review_reaches_the_model_whatever_words_the_code_holds(engine: Engine,
                                                                      backend: ScriptedBackend) -> None:
    engine.input_check = InputCheck(WordSafety("forbidden"))
    review_code(engine, "def pay(bill):\n    forbidden = bill * 2\n    return forbidden\n", analyzers=None)
    assert any("forbidden = bill * 2" in prompt for prompt in map(str, backend.prompts))


def test_an_error_in_a_stage_is_one_error_event_and_nothing_is_stored(engine: Engine) -> None:
    [event] = list(engine.stream("hi", AskOptions(model="no-such-model")))
    assert isinstance(event, Error) and "unknown model 'no-such-model'" in event.message
    assert engine.store.conversations() == []


def test_a_cache_hit_needs_no_model_file(engine: Engine, tiny_copy: Path) -> None:
    """The native check's record says which backend runs the model, so a request the cache answers prepares no
    file (a miss's backend prepares it when it loads the model)."""
    engine.registry.add_gguf(tiny_copy, "copy")
    first = engine.ask("Name a fruit.", AskOptions(model="copy", temperature=0.0, max_tokens=8))
    assert first.cache == "miss"
    tiny_copy.unlink()
    again = engine.ask("Name a fruit.", AskOptions(model="copy", temperature=0.0, max_tokens=8))
    assert again.cache == "l1" and again.text == first.text  # before: "file ... is missing", from prepare


# ---- routers ---------------------------------------------------------------------------------------------------------
class UnsureRouter:
    """A router whose policy names a model for unsure prompts (what IntentRouter offers, without its classifier)."""

    def __init__(self, unsure_model: str) -> None:
        self.judge: Judge | None = None
        self._unsure = unsure_model

    @property
    def unsure_model(self) -> str:
        return self._unsure

    def route(self, prompt: str, requested_model: str | None) -> RouteDecision:
        return RouteDecision("chat", requested_model or TINY, "sys", "always chat")


def test_the_engine_attaches_a_judge_only_where_the_router_names_a_model(
        settings: Settings, registry: ModelRegistry, store: ConversationStore) -> None:
    unsure = UnsureRouter(TINY)
    assert isinstance(unsure, JudgedRouter) and not isinstance(DefaultRouter(TINY), JudgedRouter)
    Engine(settings, registry, store, ModelPool(), router=unsure)._attach_router_judge()
    assert isinstance(unsure.judge, ModelJudge) and unsure.judge.model_id == TINY
    quiet = UnsureRouter("")
    Engine(settings, registry, store, ModelPool(), router=quiet)._attach_router_judge()
    assert quiet.judge is None
    with pytest.raises(ModelError, match="no-such-model"):
        Engine(settings, registry, store, ModelPool(), router=UnsureRouter("no-such-model"))._attach_router_judge()


def test_the_default_router_decides_chat_with_no_tools_and_the_engines_defaults() -> None:
    router = DefaultRouter("m-default")
    decision = router.route("anything", None)
    assert decision == RouteDecision("chat", "m-default", DEFAULT_SYSTEM_PROMPT, "default model")
    assert decision.tools == () and decision.params == IntentParams() and decision.embedding is None
    assert router.route("anything", "mine").model_id == "mine"
    assert not isinstance(router, EmbeddingRouter)
    assert decision.as_dict()["params"] == {"temperature": None, "max_tokens": None}
