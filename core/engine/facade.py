"""The headless engine: one request from prompt to answer, as a stream of events.

Every stage is an object built once here and replaceable in tests. The CLI, the API server and the GUI call only
`Engine.stream` / `Engine.ask` and the services in services.py; none of them reaches past those.
"""

from __future__ import annotations

import logging
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..backends.base import Backend, CancelToken, GenerationParams, Message, backend_factories
from ..backends.llama_cpp_backend import LoadedLlama
from ..backends.llama_native import FALLING_BACK, NativeGuard, failure_line, model_key
from ..backends.model_pool import ModelPool
from ..cache.answers import AnswerCache, CachedAnswer, cache_key
from ..errors import EdgeMindError, ModelError, PromptError, error_for_kind
from ..events import BackendDone, Done, Error, Event, Metrics, Route, Token, ToolCall, ToolResult
from ..models.integrity import Progress
from ..models.manifest import LOCAL_BACKENDS, ModelSpec
from ..models.registry import ModelRegistry
from ..cache.semantic import ineligible, semantic_scope
from ..context.memory import ConversationMemory, Summarizer
from .services import AuditTrail, CacheAdmin, Conversations, Grants, Models, Tools, open_registry
from .stages import ContextBuilder, DefaultRouter, Router, Safety
from ..settings import Settings
from ..storage.conversations import ConversationStore
from ..tools.loop import LoopResult, run_tool_steps

if TYPE_CHECKING:
    from ..storage.audit import AuditLog
    from ..tools.runner import ToolRunner
    from ..tools.registry import Tool

log = logging.getLogger(__name__)
MAX_PROMPT_CHARS = 1_000_000
# Remote servers do not tell us token counts up front; a conservative chars-per-token estimate trims for them.
CHARS_PER_TOKEN_ESTIMATE = 3.0


@dataclass(frozen=True, slots=True)
class AskOptions:
    model: str | None = None
    backend: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    system_prompt: str | None = None
    conversation_id: str | None = None
    store: bool = True
    use_cache: bool = True  # False: never answer from cache (the fresh answer still refreshes it)
    tools: bool = True  # offer the routed intent's tools when the host attached a tool runner
    top_p: float | None = None
    # Earlier turns supplied by the caller (the API server's stateless requests) instead of a stored conversation.
    history: tuple[Message, ...] = ()
    # Constrain the answer to JSON valid against this schema (GenerationParams.json_schema).
    json_schema: dict[str, Any] | None = None


@dataclass(slots=True)
class AskResult:
    text: str
    model: str
    backend: str
    intent: str
    cache: str
    ttft_ms: float
    tokens: int
    tok_s: float
    prompt_tokens: int
    load_ms: float
    finish_reason: str
    conversation_id: str | None
    refused: bool = False
    safety_category: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    similarity: float | None = None  # cache == "semantic": cosine similarity to the earlier prompt

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class Engine:
    def __init__(self, settings: Settings, registry: ModelRegistry, store: ConversationStore,
                 pool: ModelPool[LoadedLlama], *, router: Router | None = None,
                 context: ContextBuilder | None = None,
                 factories: dict[str, Callable[..., Backend]] | None = None,
                 cache: AnswerCache | None = None, safety: Safety | None = None,
                 audit: "AuditLog | None" = None, tool_runner: "ToolRunner | None" = None,
                 native: NativeGuard | None = None) -> None:
        self.settings = settings
        # Checks once per machine, build and model that llama.cpp's native code runs (in a child process).
        self.native = native or NativeGuard(settings.artifacts_dir / "native", threads=settings.effective_threads)
        self.registry = registry
        self.store = store
        self.pool = pool
        self.router = router or DefaultRouter(settings.default_model)
        self.context = context or ConversationMemory()
        # Long-lived hosts (chat, GUI, server) write rolling summaries in the background; one-shot `ask` turns it off
        # so the process does not wait for a summary before it can exit.
        self.summarize_in_background = True
        self.summarizer = Summarizer(store, self._summary_stream)
        self._factories = factories or backend_factories()
        self._backends: dict[str, Backend] = {}
        self.cache = cache
        self.safety = safety
        self.install_progress: Progress | None = None
        self.audit = audit
        # The semantic cache tier's embedder: the router's when it has one (its embedding of the prompt is reused),
        # else loaded on first use; None turns the tier off.
        self.semantic_embedder: Any = None
        if cache is not None and settings.cache_semantic_enabled:
            self.semantic_embedder = getattr(self.router, "embedder", None) or _LazyEmbedder(settings)
        # Attached by the host with its own way of asking (terminal, dialog, none for the API server): see
        # tool_session.open_tool_runner. Without one, no tool is ever offered.
        self.tool_runner = tool_runner
        # The narrow services the shells use (services.py); the attributes above are the engine's own.
        self.conversations = Conversations(store, cache)
        self.models = Models(registry, pool)
        self.cache_admin = CacheAdmin(cache, settings)
        self.tools = Tools(lambda: self.tool_runner)
        self.grants = Grants(lambda: self.tool_runner)
        self.audit_log = AuditTrail(audit)

    @classmethod
    def create(cls, settings: Settings, **stages: Any) -> "Engine":
        registry, sessions = open_registry(settings)
        pool: ModelPool[LoadedLlama] = ModelPool(
            max_loaded=settings.max_loaded_models, idle_seconds=settings.idle_unload_seconds,
            max_waiting=settings.max_queued_requests,
        )
        pool.start_reaper()
        cache = stages.pop("cache") if "cache" in stages else (  # a caller's own cache (the cache bench holds it)
            AnswerCache.from_settings(settings) if settings.cache_enabled else None)
        if settings.router_enabled and "router" not in stages:
            from ..routing.router import IntentRouter  # loads the embedder: only when the router is on

            stages["router"] = IntentRouter.create(settings)
        if settings.safety_enabled and "safety" not in stages:
            from ..safety.checker import SafetyChecker  # loads the embedder: only when safety is on

            stages["safety"] = SafetyChecker.create(settings)
        if "audit" not in stages:
            from ..tools.session import open_audit

            stages["audit"] = open_audit(settings, sessions)
        engine = cls(settings, registry, ConversationStore(sessions), pool, cache=cache, **stages)
        engine.sessions = sessions
        engine._attach_router_judge()
        return engine

    def _attach_router_judge(self) -> None:
        """The policy's `unsure_model`, when set, settles prompts the router is unsure about (loaded on first use)."""
        policy = getattr(self.router, "policy", None)
        if policy is None or not policy.unsure_model:
            return
        from ..routing.judge import ModelJudge

        spec = self.registry.get(policy.unsure_model)  # an unknown id fails here, naming it, not on some prompt
        self.router.judge = ModelJudge(  # type: ignore[attr-defined]
            spec.id, lambda: self.backend_for(self.runnable_spec(spec)).stream)

    def attach_tools(self, ask: Any = None, grants: Any = ()) -> "ToolRunner":
        """Offer tools from now on, asking through `ask` (None: nobody can be asked, so only stored grants and
        `grants` hold). Returns the runner, whose broker lists and revokes grants."""
        from ..tools.session import open_tool_runner

        self.tool_runner = open_tool_runner(self.settings, self.sessions, ask=ask, grants=grants, audit=self.audit)
        return self.tool_runner

    def close(self) -> None:
        self.summarizer.join(timeout=120)
        self.pool.close()

    # ---- backends -----------------------------------------------------------------------------------------------
    def backend_for(self, spec: ModelSpec) -> Backend:
        key = f"{spec.backend}:{spec.id}:{spec.endpoint}:{spec.remote_model}"
        if key not in self._backends:
            factory = self._factories.get(spec.backend)
            if factory is None:
                raise ModelError(f"no backend named {spec.backend!r}; available: {', '.join(sorted(self._factories))}")
            self._backends[key] = factory(
                spec, pool=self.pool, prepare=lambda s: self.registry.prepare(s, self.install_progress),
                threads=self.settings.effective_threads, context_cap=self.settings.context_length,
                timeout=self.settings.request_timeout_seconds, prefix_cache_bytes=self.settings.prefix_cache_mb * 2**20,
                data_dir=self.settings.home, onnx_provider=self.settings.onnx_provider,
                onnx_weights=self.settings.onnx_weights, native=self.native,
            )
        return self._backends[key]

    def local_spec(self, spec: ModelSpec, asked: str | None = None) -> ModelSpec:
        """A local GGUF runs on llama_cpp or onnx_int4: the request's --backend, else the `local_backend` setting."""
        wanted = asked or self.settings.local_backend
        if spec.backend in LOCAL_BACKENDS and wanted in LOCAL_BACKENDS and spec.backend != wanted:
            return replace(spec, backend=wanted)
        return spec

    def runnable_spec(self, spec: ModelSpec, asked: str | None = None) -> ModelSpec:
        """`spec` on the backend that can run it here: a model llama.cpp's native code crashed on in its test run
        (one child process per machine, build and model) runs on our own decoder instead. Asked for by name, the
        load fails with the same one line instead."""
        spec = self.local_spec(spec, asked)
        if spec.backend != "llama_cpp" or asked is not None:
            return spec
        path = self.registry.prepare(spec, self.install_progress)
        check = self.native.check(path, model_key(spec.sha256, path))
        if check.variant is None:
            log.warning("%s", failure_line(path.name, check, then=FALLING_BACK))
            return replace(spec, backend="onnx_int4")
        return spec

    # ---- one request --------------------------------------------------------------------------------------------
    def stream(self, prompt: str, options: AskOptions = AskOptions(), cancel: CancelToken | None = None) -> Iterator[Event]:
        """Yield route, token… and then done or error events. Closing the iterator early cancels cleanly."""
        cancel = cancel or CancelToken()
        started = time.perf_counter()
        conversation_id = options.conversation_id
        pieces: list[str] = []
        tool_calls: tuple[dict[str, Any], ...] = ()
        stored_answer = False
        model_id: str | None = None
        leading_key: str | None = None
        try:
            prompt = self._check_prompt(prompt)
            verdict = self.safety.check_input(prompt) if self.safety is not None else None
            if verdict is not None and not verdict.allowed:
                yield from self._refuse(prompt, verdict, conversation_id, options, started)
                return
            decision = self.router.route(prompt, options.model)
            spec = self.registry.get(decision.model_id)
            model_id = spec.id
            spec = self.local_spec(spec, options.backend)
            if options.backend and spec.backend != options.backend:
                raise ModelError(f"model {spec.id!r} runs on {spec.backend}, not {options.backend}")
            params = self._params(options, getattr(decision, "params", None))
            system = options.system_prompt or decision.system_prompt
            if options.history and conversation_id is not None:
                raise PromptError("give either earlier messages or a conversation id, not both")
            history = list(options.history) if options.history else self._history(conversation_id)
            spec = self.runnable_spec(spec, options.backend)
            offered = self._offered_tools(decision, options)
            # An answer made with tools depends on files, pages and grants of the moment: never cached.
            key = None if offered else self._cache_key(prompt, spec, system, history, params)
            hit = None
            similarity: float | None = None
            semantic: tuple[str, Any] | None = None  # (scope, embedding): this prompt may use and feed the tier
            if key and options.use_cache:
                hit, leading_key = self._lookup_or_lead(key)
            if key and hit is None:
                semantic = self._semantic_query(prompt, decision, spec, system, history, params)
                if semantic is not None and options.use_cache:
                    assert self.cache is not None
                    found = self.cache.semantic.lookup(semantic[0], prompt, semantic[1])
                    if found is not None:
                        self.cache.counters["semantic"] += 1
                        hit, similarity = ("semantic", found.answer), round(found.similarity, 4)
            if hit is None:
                backend = self.backend_for(spec)
                messages = self._context(backend, system, history, prompt, params, conversation_id)
            if options.store:
                if conversation_id is None:
                    conversation_id = self.store.new_conversation(first_message=prompt)
                else:
                    self.store.add_message(conversation_id, "user", prompt)
            yield Route(decision.intent, spec.id, spec.backend, decision.reason, decision.confidence,
                        tuple(getattr(decision, "tools", ())))

            if hit is not None:
                tier, answer = hit
                pieces.append(answer.text)
                yield Token(answer.text)
                if options.store and conversation_id:
                    self.store.add_message(conversation_id, "assistant", answer.text, model=spec.id)
                    stored_answer = True
                elapsed = (time.perf_counter() - started) * 1000
                metrics = Metrics(ttft_ms=round(elapsed, 3), tokens=answer.tokens, prompt_tokens=answer.prompt_tokens,
                                  total_ms=round(elapsed, 3))
                self._audit_route(decision, spec, prompt, conversation_id, (), cache=tier)
                yield Done(metrics, "stop", conversation_id, cache=tier, similarity=similarity)
                return

            if offered:
                assert self.tool_runner is not None
                names = {t.name for t in offered}
                # docs: search the user's documents first and answer from them (a small model forgets to ask)
                prefetch = [("docs_search", {"query": prompt})] if decision.intent == "docs" and "docs_search" in names else []
                loop: LoopResult = yield from run_tool_steps(
                    backend, messages, params, [] if prefetch else offered, self.tool_runner,
                    max_steps=self.settings.tool_steps, conversation_id=conversation_id, cancel=cancel,
                    prefetch=prefetch, call_first=decision.intent == "action")
                messages = loop.messages
                tool_calls = tuple(o.as_dict() for o in loop.outcomes)
            first_at: float | None = None
            done: BackendDone | None = None
            with closing(backend.stream(messages, params, cancel)) as chunks:
                for chunk in chunks:
                    if isinstance(chunk, BackendDone):
                        done = chunk
                        break
                    if first_at is None:
                        first_at = time.perf_counter()
                    pieces.append(chunk)
                    yield Token(chunk)
            ended = time.perf_counter()
            done = done or BackendDone("stop", len(pieces), 0)
            if cancel.cancelled:
                done = BackendDone("cancelled", done.tokens, done.prompt_tokens)
            text = "".join(pieces)
            withheld = self.safety.check_output(text) if self.safety is not None and text else None
            if withheld is not None and not withheld.allowed:
                # The text was already streamed; what is kept (stored, cached, shown on reload) is the refusal.
                log.warning("answer withheld by the safety check (%s)", withheld.category)
                notice = withheld.message or "This answer was withheld by the safety check."
                yield Token("\n\n" + notice)
                if options.store and conversation_id:
                    self.store.add_message(conversation_id, "assistant", notice, model=spec.id, status="refused")
                    stored_answer = True
                yield Done(self._metrics(backend, started, first_at, ended, done), "refused", conversation_id,
                           refused=True, safety_category=withheld.category)
                return
            if options.store and conversation_id:
                status = "cancelled" if done.finish_reason == "cancelled" else "complete"
                self.store.add_message(conversation_id, "assistant", text, model=spec.id, status=status,
                                       tool_calls=tool_calls)
                stored_answer = True
            if key and self.cache is not None and done.finish_reason != "cancelled" and text:
                self.cache.store(key, CachedAnswer(text, spec.id, done.tokens, done.prompt_tokens, self.cache.clock()),
                                 conversation_id)
                if semantic is not None:
                    self.cache.semantic.put(key, semantic[0], prompt, semantic[1])
            if conversation_id and self.summarize_in_background and self._was_trimmed(messages, history):
                self.summarizer.schedule(conversation_id)
            self._audit_route(decision, spec, prompt, conversation_id, tool_calls)
            yield Done(self._metrics(backend, started, first_at, ended, done), done.finish_reason, conversation_id,
                       tool_calls=tool_calls)
        except EdgeMindError as exc:
            log.info("request failed: %s", exc)
            yield Error(str(exc), exc.kind)
        finally:
            if leading_key is not None and self.cache is not None:
                self.cache.flights.end(leading_key)  # wake identical requests: served from cache, or they lead
            # Reached on error or when the consumer stops early (Ctrl-C, GUI closed): keep what was already shown.
            if pieces and not stored_answer and options.store and conversation_id:
                try:
                    self.store.add_message(conversation_id, "assistant", "".join(pieces), model=model_id,
                                           status="cancelled")
                except EdgeMindError:
                    log.exception("could not store the partial answer")

    def _refuse(self, prompt: str, verdict: Any, conversation_id: str | None, options: AskOptions,
                started: float) -> Iterator[Event]:
        """A refused prompt: the refusal (or support message) is the answer; it is stored, never generated."""
        message = verdict.message or "I can't help with that."
        if options.store:
            if conversation_id is None:
                conversation_id = self.store.new_conversation(first_message=prompt)
            else:
                self.store.add_message(conversation_id, "user", prompt)
            self.store.add_message(conversation_id, "assistant", message, status="refused")
        if self.audit is not None:
            from ..storage.audit import digest

            self.audit.record("refusal", {"category": verdict.category, "reason": str(verdict.reason)[:200],
                                          "prompt_sha": digest(prompt)}, conversation_id=conversation_id)
        yield Route("refused", "", "", verdict.reason, 1.0)
        yield Token(message)
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        yield Done(Metrics(ttft_ms=elapsed, total_ms=elapsed), "refused", conversation_id, refused=True,
                   safety_category=verdict.category)

    def _offered_tools(self, decision: Any, options: AskOptions) -> list["Tool"]:
        if self.tool_runner is None or not options.tools or self.settings.tool_steps == 0:
            return []
        names = [n for n in getattr(decision, "tools", ()) if n != "web_fetch" or self.settings.web_fetch_enabled]
        return self.tool_runner.registry.offered(names)

    def _audit_route(self, decision: Any, spec: ModelSpec, prompt: str, conversation_id: str | None,
                     tool_calls: tuple[dict[str, Any], ...], cache: str = "miss") -> None:
        """Logged after the answer streamed (or came from the cache), so the write never delays the first token."""
        if self.audit is None:
            return
        from ..storage.audit import digest

        try:
            self.audit.record("route", {
                "intent": decision.intent, "model": spec.id, "confidence": round(float(decision.confidence), 3),
                "reason": str(decision.reason)[:200], "tools_offered": list(getattr(decision, "tools", ())),
                "tool_calls": len(tool_calls), "cache": cache, "prompt_sha": digest(prompt)},
                conversation_id=conversation_id)
        except EdgeMindError as exc:
            log.warning("could not write the audit log: %s", exc)

    def _params(self, options: AskOptions, intent_params: Any = None) -> GenerationParams:
        """The user's options first, then the routed intent's settings (math: temperature 0), then defaults."""
        routed_temperature = getattr(intent_params, "temperature", None)
        routed_max_tokens = getattr(intent_params, "max_tokens", None)
        temperature = options.temperature if options.temperature is not None else routed_temperature
        return GenerationParams(
            max_tokens=options.max_tokens or routed_max_tokens or self.settings.max_tokens,
            temperature=0.7 if temperature is None else temperature,
            seed=options.seed, stop=options.stop, json_schema=options.json_schema,
            **({"top_p": options.top_p} if options.top_p is not None else {}),
        )

    @staticmethod
    def _answer_version(spec: ModelSpec) -> str:
        """What makes a model's answers its own, for every cache tier: the file's SHA (or the remote model), and the
        backend when the same file runs with other numerics (onnx_int4)."""
        version = spec.sha256 or f"{spec.endpoint}|{spec.remote_model}"
        return version + "|onnx_int4" if spec.backend == "onnx_int4" else version

    def _cache_key(self, prompt: str, spec: ModelSpec, system: str, history: list[Message],
                   params: GenerationParams) -> str | None:
        if self.cache is None:
            return None
        return cache_key(prompt=prompt, model_id=spec.id, model_version=self._answer_version(spec), system_prompt=system,
                         history=[(m.role, m.content) for m in history], params=asdict(params))

    def _semantic_query(self, prompt: str, decision: Any, spec: ModelSpec, system: str, history: list[Message],
                        params: GenerationParams) -> tuple[str, Any] | None:
        """The semantic tier's scope and the prompt's embedding, or None when this request may not use the tier
        (history, temperature > 0, a long prompt, tier off). Reuses the router's embedding of the same text."""
        if self.cache is None or self.semantic_embedder is None:
            return None
        why = ineligible(prompt, history=history, temperature=params.temperature)
        if why is not None:
            log.debug("semantic cache skipped: %s", why)
            return None
        embedding = getattr(decision, "embedding", None)
        if embedding is None or getattr(decision, "embedded_text", None) != prompt:
            try:
                embedding = self.semantic_embedder.embed([prompt])[0]
            except EdgeMindError as exc:  # no embedder, no semantic tier: the request goes on
                log.warning("semantic cache off for this request: %s", exc)
                return None
        scope = semantic_scope(model_id=spec.id, model_version=self._answer_version(spec), system_prompt=system,
                               params=asdict(params))
        return scope, embedding

    def _lookup_or_lead(self, key: str) -> tuple[tuple[str, CachedAnswer] | None, str | None]:
        """A cached answer, or None and the key we now lead (identical requests in flight wait for the leader)."""
        assert self.cache is not None
        for _ in range(2):
            hit = self.cache.lookup(key)
            if hit is not None:
                return hit, None
            waiter = self.cache.flights.begin(key)
            if waiter is None:
                return None, key
            waiter.wait(self.settings.request_timeout_seconds)
        return None, None  # the leader is stuck or failed twice: answer on our own rather than wait forever

    def ask(self, prompt: str, options: AskOptions = AskOptions(), cancel: CancelToken | None = None,
            on_token: Callable[[str], None] | None = None) -> AskResult:
        """Run a request to the end and return the answer; raise the EdgeMindError of an error event."""
        with closing(self.stream(prompt, options, cancel)) as events:
            return self._collect(events, on_token)

    @staticmethod
    def _collect(events: Iterator[Event], on_token: Callable[[str], None] | None) -> AskResult:
        route: Route | None = None
        text: list[str] = []
        for event in events:
            if isinstance(event, Route):
                route = event
            elif isinstance(event, Token):
                text.append(event.text)
                if on_token:
                    on_token(event.text)
            elif isinstance(event, Error):
                raise error_for_kind(event.kind, event.message)
            elif isinstance(event, Done):
                assert route is not None
                m = event.metrics
                return AskResult(
                    text="".join(text), model=route.model, backend=route.backend, intent=route.intent, cache=event.cache,
                    refused=event.refused, safety_category=event.safety_category,
                    ttft_ms=m.ttft_ms, tokens=m.tokens, tok_s=m.tok_s, prompt_tokens=m.prompt_tokens,
                    load_ms=m.load_ms, finish_reason=event.finish_reason, conversation_id=event.conversation_id,
                    tool_calls=list(event.tool_calls), similarity=event.similarity,
                )
        raise EdgeMindError("the request ended without an answer")

    # ---- stages -------------------------------------------------------------------------------------------------
    @staticmethod
    def _check_prompt(prompt: str) -> str:
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptError("the prompt is empty")
        if "\x00" in prompt:
            raise PromptError("the prompt contains NUL bytes; send text, not binary data")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise PromptError(f"the prompt has {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}")
        return prompt.strip()

    def _history(self, conversation_id: str | None) -> list[Message]:
        if conversation_id is None:
            return []
        if not self.store.exists(conversation_id):
            raise PromptError(f"no conversation {conversation_id!r}")
        return [Message(m.role, m.content) for m in self.store.messages(conversation_id)
                if m.role in ("user", "assistant") and m.content]

    @staticmethod
    def _was_trimmed(messages: list[Message], history: list[Message]) -> bool:
        shown = len(messages) - 1 - (1 if messages and messages[0].role == "system" else 0)
        return shown < len(history)

    def _summary_stream(self) -> tuple[str, Callable[..., Iterator[Any]]]:
        spec = self.registry.get(self.settings.default_model)
        return spec.id, self.backend_for(self.runnable_spec(spec)).stream

    def delete_conversation(self, conversation_id: str) -> dict[str, int]:
        """Remove a conversation everywhere (Conversations.delete)."""
        return self.conversations.delete(conversation_id)

    def _context(self, backend: Backend, system: str, history: list[Message], prompt: str,
                 params: GenerationParams, conversation_id: str | None = None) -> list[Message]:
        window = backend.context_window()
        if not window:  # a remote server that does not state its window trims for itself
            window = 1_000_000

        def count(messages: list[Message]) -> int:
            exact = backend.count_tokens(messages)
            if exact is not None:
                return exact
            return int(sum(len(m.content) + 8 for m in messages) / CHARS_PER_TOKEN_ESTIMATE)

        budget = window - min(params.max_tokens, max(window // 4, 1))
        summary = self.store.latest_summary(conversation_id) if conversation_id else None
        facts = self.store.memories(conversation_id)
        return self.context.build(system, history, prompt, budget, count,
                                  summary=summary.content if summary else None, facts=facts)

    @staticmethod
    def _metrics(backend: Backend, started: float, first_at: float | None, ended: float, done: BackendDone) -> Metrics:
        ttft = ((first_at or ended) - started) * 1000
        decode_s = ended - first_at if first_at else 0.0
        # tok/s over the decode phase: tokens after the first, over the time after the first.
        tok_s = (done.tokens - 1) / decode_s if done.tokens > 1 and decode_s > 0 else 0.0
        return Metrics(
            ttft_ms=round(ttft, 2), tokens=done.tokens, tok_s=round(tok_s, 2), prompt_tokens=done.prompt_tokens,
            load_ms=round(backend.take_load_ms(), 2), total_ms=round((ended - started) * 1000, 2),
        )



class _LazyEmbedder:
    """The shared MiniLM encoder, loaded on the first prompt that needs it (the router is off, so nothing else
    loaded it), so an engine that never meets an eligible prompt never pays for it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def embed(self, texts: list[str]) -> Any:
        from ..embeddings.embedder import embeddings_cache_dir, shared_embedder

        return shared_embedder(embeddings_cache_dir(self._settings)).embed(texts)
