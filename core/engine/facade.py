"""The headless engine: one request from prompt to answer, as a stream of events.

`Engine.stream` only sequences the stages (each built once here and replaceable in tests) over one `Request`. The
CLI, the API server and the GUI call only `Engine.stream` / `Engine.ask` and the registry; none of them reaches past
this module and the services in services.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ..backends.base import Backend, CancelToken
from ..backends.llama_cpp_backend import LoadedLlama
from ..backends.llama_native import FALLING_BACK, ModelCheck, NativeCodeError, NativeGuard, failure_line, model_key
from ..backends.model_pool import ModelPool
from ..backends.registry import backend_factories
from ..cache.answers import AnswerCache
from ..context.builder import ContextBuilder
from ..context.memory import ConversationMemory, Summarizer
from ..errors import EdgeMindError, ModelError, error_for_kind
from ..events import Done, Error, Event, Route, Token
from ..mcp.tools import Refresh
from ..models.integrity import Progress
from ..models.manifest import LOCAL_BACKENDS, ModelSpec
from ..models.registry import ModelRegistry
from ..models.strength import StrongestModel
from ..routing.decision import DefaultRouter, EmbeddingRouter, EscalatingRouter, JudgedRouter, PromptEmbedder, Router
from ..routing.judge import ModelJudge
from ..safety.verdict import Safety
from ..settings import Settings
from ..storage.audit import AuditLog
from ..storage.chat_settings import PresetStore
from ..storage.conversations import ConversationStore
from ..tools.permissions import AskCallback
from ..tools.runner import ToolRunner
from ..tools.scopes import Scope
from ..tools.session import open_audit, open_tool_runner
from .cache_stage import CacheStage, LazyEmbedder
from .context_window import ContextWindow
from .generation import Generation
from .input_check import InputCheck
from .output_check import OutputCheck
from .recording import Recorder
from .request import AskOptions, Request
from .route_plan import RoutePlanner
from .services import AuditTrail, CacheAdmin, Conversations, Models, Presets, open_registry

log = logging.getLogger(__name__)
# The options of a request that names none (frozen, so one instance serves every call).
DEFAULT_OPTIONS = AskOptions()


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
    # The database's sessions, set by `create` (an engine built directly, as tests do, sets it itself when it needs
    # `open_tools`).
    sessions: sessionmaker[Session]

    def __init__(self, settings: Settings, registry: ModelRegistry, store: ConversationStore,
                 pool: ModelPool[LoadedLlama], *, router: Router | None = None,
                 context: ContextBuilder | None = None,
                 factories: dict[str, Callable[..., Backend]] | None = None,
                 cache: AnswerCache | None = None, safety: Safety | None = None,
                 audit: AuditLog | None = None,
                 native: NativeGuard | None = None) -> None:
        self.settings = settings
        # Checks once per machine, build and model that llama.cpp's native code runs (in a child process).
        self.native = native or NativeGuard(settings.artifacts_dir / "native", threads=settings.effective_threads)
        self.registry = registry
        self.store = store
        self.pool = pool
        self.router: Router = router or DefaultRouter(settings.default_model)
        self.context = context or ConversationMemory()
        self.summarizer = Summarizer(store, self._summary_stream)
        self._factories = factories or backend_factories()
        self._backends: dict[str, Backend] = {}
        self.cache = cache
        self.safety = safety
        self.install_progress: Progress | None = None
        self.audit = audit
        # No tool runner here: tool use is a per-request capability (AskOptions.tools) that each shell opens with
        # its own way to ask (open_tools) and passes with the requests it allows to use tools.
        # The stages of one request, in the order `stream` runs them.
        self.input_check = InputCheck(safety)
        self.planner = RoutePlanner(self.router, registry, store, settings, local=self.local_spec,
                                    runnable=self.runnable_spec)
        self.cache_stage = CacheStage(cache, self._semantic_embedder(), wait_seconds=settings.request_timeout_seconds)
        self.context_window = ContextWindow(self.context, store, self.backend_for)
        self.generation = Generation(settings.tool_steps)
        self.output_check = OutputCheck(safety)
        self.recorder = Recorder(store, audit, self.summarizer)
        # The narrow services the shells use (services.py); the attributes above are the engine's own.
        self.conversations = Conversations(store, cache)
        self.presets = Presets(PresetStore(store.sessions))
        self.models = Models(registry, pool)
        self.cache_admin = CacheAdmin(cache, settings)
        self.audit_log = AuditTrail(audit)

    def _semantic_embedder(self) -> PromptEmbedder | None:
        """The semantic cache tier's embedder: the router's when it has one (its embedding of the prompt is reused),
        else loaded on first use; None turns the tier off."""
        if self.cache is None or not self.settings.cache_semantic_enabled:
            return None
        routers = self.router.embedder if isinstance(self.router, EmbeddingRouter) else None
        return routers or LazyEmbedder(self.settings)

    @property
    def summarize_in_background(self) -> bool:
        """Long-lived hosts (chat, GUI, server) write rolling summaries in the background; one-shot `ask` turns it
        off so the process does not wait for a summary before it can exit."""
        return self.recorder.summarize_in_background

    @summarize_in_background.setter
    def summarize_in_background(self, on: bool) -> None:
        self.recorder.summarize_in_background = on

    @classmethod
    def create(cls, settings: Settings, **stages: Any) -> Engine:
        registry, sessions = open_registry(settings)
        if "audit" not in stages:  # first: a rolled-back log or a lost key is refused before anything loads
            stages["audit"] = open_audit(settings, sessions)
        pool: ModelPool[LoadedLlama] = ModelPool(
            max_loaded=settings.max_loaded_models, idle_seconds=settings.idle_unload_seconds,
            max_waiting=settings.max_queued_requests,
        )
        pool.start_reaper()
        cache = stages.pop("cache") if "cache" in stages else (  # a caller's own cache (the cache bench holds it)
            AnswerCache.from_settings(settings) if settings.cache_enabled else None)
        if settings.router_enabled and "router" not in stages:
            from ..routing.router import IntentRouter  # lazy: imports the embedder, so onnx (~3 s); router on only

            stages["router"] = IntentRouter.create(settings)
        if settings.safety_enabled and "safety" not in stages:
            from ..safety.checker import SafetyChecker  # lazy: imports the embedder, so onnx (~3 s); safety on only

            stages["safety"] = SafetyChecker.create(settings)
        engine = cls(settings, registry, ConversationStore(sessions), pool, cache=cache, **stages)
        engine.sessions = sessions
        engine.conversations.finish_deletions()  # a `history delete` a killed process left half done
        engine._attach_router_judge()
        engine._attach_strongest_model()
        return engine

    def _attach_router_judge(self) -> None:
        """The policy's `unsure_model`, when set, settles prompts the router is unsure about (loaded on first use)."""
        if not isinstance(self.router, JudgedRouter) or not self.router.unsure_model:
            return
        spec = self.registry.get(self.router.unsure_model)  # an unknown id fails here, naming it, not on some prompt
        self.router.judge = ModelJudge(spec.id, lambda: self.backend_for(self.runnable_spec(spec)).stream)

    def _attach_strongest_model(self) -> None:
        """What a policy's `model = "strongest"` means: the installed local model with the most parameters, when it
        has more than the default and fits in memory (models/strength.py)."""
        if isinstance(self.router, EscalatingRouter) and self.settings.route_to_strongest:
            registry = self.registry
            self.router.strongest = StrongestModel(lambda: registry.bundled() + registry.user_models(),
                                                   lambda: self.settings.default_model)

    def open_tools(self, ask: AskCallback | None = None, grants: Iterable[str | Scope] = (),
                   mcp_refresh: Refresh = "missing") -> ToolRunner:
        """A tool capability for one shell: every installed tool over this engine's database and audit log, asking
        through `ask` (None: nobody can be asked, so only stored grants and `grants` hold). The engine keeps no
        reference to it: a request runs tools only when its AskOptions.tools carries this runner, so a shell that
        never passes one (the API server) never runs a tool or opens another shell's permission dialog. `mcp_refresh`:
        which MCP servers are started now to list their tools (McpToolSource.load)."""
        return open_tool_runner(self.settings, self.sessions, ask=ask, grants=grants, audit=self.audit,
                                mcp_refresh=mcp_refresh)

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
        """A local GGUF runs on llama_cpp, onnx_int4 or tmac: the request's --backend, else the `local_backend`
        setting."""
        wanted = asked or self.settings.local_backend
        if spec.adapter is not None:
            if asked is not None and asked != "llama_cpp":
                raise ModelError(f"model {spec.id!r} is a LoRA adapter; it runs on llama_cpp only, not {asked}")
            return spec
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
        check = self._native_check(spec)
        if check.variant is None and spec.adapter is not None:
            raise NativeCodeError(failure_line(spec.path.name if spec.path else spec.id, check,
                                               then="a LoRA adapter runs on llama.cpp only"))
        if check.variant is None:
            log.warning("%s", failure_line(spec.path.name if spec.path else spec.id, check, then=FALLING_BACK))
            return replace(spec, backend="onnx_int4")
        return spec

    def _native_check(self, spec: ModelSpec) -> ModelCheck:
        """The native check of a pinned model, from its record when there is one: then no model file is prepared
        (a header read, a stat and a database query) for a request the cache answers; the backend prepares the file
        when it loads it. Without a record the file is prepared first, as the check runs it."""
        if spec.sha256 and spec.path is not None:
            known = self.native.recorded(model_key(spec.sha256, spec.path))
            if known is not None:
                return known
        path = self.registry.prepare(spec, self.install_progress)
        return self.native.check(path, model_key(spec.sha256, path))

    # ---- one request --------------------------------------------------------------------------------------------
    def stream(self, prompt: str, options: AskOptions = DEFAULT_OPTIONS,
               cancel: CancelToken | None = None) -> Generator[Event, None, None]:
        """Yield route, token… and then done or error events. Closing the iterator early cancels cleanly."""
        request = Request(prompt, options, cancel or CancelToken())
        try:
            refusal = self.input_check.check(request)
            if refusal is not None:
                yield from self.recorder.refuse(request, refusal)
                return
            self.planner.plan(request)
            if self.cache_stage.look_up(request) is None:
                self.context_window.build(request)  # before the prompt is stored: one that cannot fit is not kept
            self.recorder.record_prompt(request)
            yield request.planned.route_event()
            if request.hit is not None:
                yield from self.recorder.serve_cached(request)
                return
            yield from self.generation.run(request)
            withheld = self.output_check.check(request)
            if withheld is not None:
                yield from self.recorder.withhold(request, withheld)
                return
            self.recorder.record_answer(request)
            self.cache_stage.store(request)
            yield self.recorder.finish(request)
        except EdgeMindError as exc:
            log.info("request failed: %s", exc)
            yield Error(str(exc), exc.kind)
        finally:
            self.cache_stage.release(request)
            self.recorder.keep_partial(request)

    def ask(self, prompt: str, options: AskOptions = DEFAULT_OPTIONS, cancel: CancelToken | None = None,
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
                    text="".join(text), model=route.model, backend=route.backend, intent=route.intent,
                    cache=event.cache, refused=event.refused, safety_category=event.safety_category,
                    ttft_ms=m.ttft_ms, tokens=m.tokens, tok_s=m.tok_s, prompt_tokens=m.prompt_tokens,
                    load_ms=m.load_ms, finish_reason=event.finish_reason, conversation_id=event.conversation_id,
                    tool_calls=list(event.tool_calls), similarity=event.similarity,
                )
        raise EdgeMindError("the request ended without an answer")

    def _summary_stream(self) -> tuple[str, Callable[..., Iterator[Any]]]:
        spec = self.registry.get(self.settings.default_model)
        return spec.id, self.backend_for(self.runnable_spec(spec)).stream

    def delete_conversation(self, conversation_id: str) -> dict[str, int]:
        """Remove a conversation everywhere (Conversations.delete)."""
        return self.conversations.delete(conversation_id)
