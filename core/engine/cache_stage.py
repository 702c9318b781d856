"""The cache stage: before the model, the exact tiers (L1 memory, L2 SQLite) and then the semantic tier answer a
request they can; after it, a complete answer is stored in each tier it may feed. Identical requests in flight wait
for the one that leads (single flight). It stores an answer made with tools only when every call was allowed, worked,
and ran a pure tool (no scopes: the calculator), whose result depends on its arguments alone; never one that read
files or pages, ran code, or had a call denied or failed; never a cancelled or empty one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from ..backends.base import GenerationParams, Message
from ..cache.answers import AnswerCache, CachedAnswer, cache_key
from ..cache.semantic import ineligible, semantic_scope
from ..cache.semantic_match import word_vectors
from ..errors import EdgeMindError
from ..models.manifest import ModelSpec
from ..routing.decision import PromptEmbedder
from ..settings import Settings
from ..tools.registry import Tool
from .request import CacheHit, Plan, Request, SemanticQuery

log = logging.getLogger(__name__)


def answer_version(spec: ModelSpec) -> str:
    """What makes a model's answers its own, for every cache tier: the file's SHA (or the remote model), an adapter's
    SHA, and the backend when the same file runs with other numerics (onnx_int4, tmac)."""
    version = spec.sha256 or f"{spec.endpoint}|{spec.remote_model}"
    if spec.adapter_sha256:
        version += f"|lora:{spec.adapter_sha256}"  # the base's file with a tuned adapter answers otherwise
    return version + f"|{spec.backend}" if spec.backend in ("onnx_int4", "tmac") else version


def answer_params(params: GenerationParams, tools: Sequence[Tool]) -> dict[str, Any]:
    """The sampling params and, when tools are offered, each tool's manifest hash (it covers the tool's code: a
    fixed calculator never serves the old one's answers). Without tools the material is as it always was, so
    existing entries stay valid."""
    material = asdict(params)
    if tools:
        material["tools"] = sorted((t.name, t.manifest.sha256) for t in tools)
    return material


def only_pure_calls(calls: Sequence[dict[str, Any]], offered: Sequence[Tool]) -> bool:
    """True when every tool call an answer made ran a pure tool (offered, declaring no scope), was allowed and
    worked: such an answer depends on the prompt alone, like one made without tools. A denied, rejected or failed
    call, or any tool that reads files or pages or runs code, makes the answer one of this moment: never cached."""
    pure = {t.name for t in offered if not t.manifest.scopes}
    return all(c.get("tool") in pure and c.get("ok") is True and c.get("decision") == "allowed:pure"
               and not c.get("scopes") for c in calls)


class CacheStage:
    def __init__(self, cache: AnswerCache | None, embedder: PromptEmbedder | None, *, wait_seconds: float) -> None:
        self.cache = cache
        self.embedder = embedder  # the semantic tier's; None turns the tier off
        # single words by the same encoder, for the semantic tier's synonym match (remembered per process)
        self.words = word_vectors(embedder) if embedder is not None else None
        self.wait_seconds = wait_seconds  # how long an identical request waits for the one that leads

    def look_up(self, request: Request) -> CacheHit | None:
        """The cached answer, if any; sets the request's key (None: never cached), the key it now leads and its
        semantic query (this prompt may use and feed the semantic tier)."""
        plan = request.planned
        # Offered tools are part of the key (an answer made with the calculator is not the model's own); whether
        # the answer may be kept is decided when it is stored, from the calls it made.
        request.key = self.key(request.prompt, plan.spec, plan.system, plan.history, plan.params, plan.tools)
        if request.key is None:
            return None
        if request.options.use_cache:
            request.hit, request.leading_key = self._lookup_or_lead(request.key)
        if request.hit is None:
            request.semantic = self.semantic_query(request.prompt, plan)
            if request.semantic is not None and request.options.use_cache:
                assert self.cache is not None
                found = self.cache.semantic.lookup(request.semantic.scope, request.prompt, request.semantic.embedding,
                                                   words=self.words)
                if found is not None:
                    self.cache.counters["semantic"] += 1
                    request.hit = CacheHit("semantic", found.answer, round(found.similarity, 4))
        return request.hit

    def store(self, request: Request) -> None:
        """Keep a complete, non-empty answer in the exact tiers, and in the semantic tier when its prompt may feed
        it."""
        generated, plan, text = request.generated, request.planned, request.text
        if request.key is None or self.cache is None or generated is None or not text:
            return
        if not only_pure_calls(request.tool_calls, plan.tools):
            return
        done = generated.done
        if done.finish_reason == "cancelled":
            return
        self.cache.store(request.key, CachedAnswer(text, plan.spec.id, done.tokens, done.prompt_tokens,
                                                   self.cache.clock()), request.conversation_id)
        if request.semantic is not None:
            self.cache.semantic.put(request.key, request.semantic.scope, request.prompt, request.semantic.embedding,
                                    words=self.words)

    def release(self, request: Request) -> None:
        """Wake identical requests waiting for this one: they are served from the cache, or one of them leads."""
        if request.leading_key is not None and self.cache is not None:
            self.cache.flights.end(request.leading_key)
            request.leading_key = None

    def key(self, prompt: str, spec: ModelSpec, system: str, history: Sequence[Message],
            params: GenerationParams, tools: Sequence[Tool] = ()) -> str | None:
        if self.cache is None:
            return None
        return cache_key(prompt=prompt, model_id=spec.id, model_version=answer_version(spec), system_prompt=system,
                         history=[(m.role, m.content) for m in history], params=answer_params(params, tools))

    def semantic_query(self, prompt: str, plan: Plan) -> SemanticQuery | None:
        """The semantic tier's scope and the prompt's embedding, or None when this request may not use the tier
        (history, temperature > 0, a long prompt, tier off). Reuses the router's embedding of the same text."""
        if self.cache is None or self.embedder is None:
            return None
        why = ineligible(prompt, history=plan.history, temperature=plan.params.temperature)
        if why is not None:
            log.debug("semantic cache skipped: %s", why)
            return None
        embedding = plan.decision.embedding
        if embedding is None or plan.decision.embedded_text != prompt:
            try:
                embedding = self.embedder.embed([prompt])[0]
            except EdgeMindError as exc:  # no embedder, no semantic tier: the request goes on
                log.warning("semantic cache off for this request: %s", exc)
                return None
        scope = semantic_scope(model_id=plan.spec.id, model_version=answer_version(plan.spec),
                               system_prompt=plan.system, params=answer_params(plan.params, plan.tools))
        return SemanticQuery(scope, embedding)

    def _lookup_or_lead(self, key: str) -> tuple[CacheHit | None, str | None]:
        """A cached answer, or None and the key we now lead (identical requests in flight wait for the leader)."""
        assert self.cache is not None
        for _ in range(2):
            hit = self.cache.lookup(key)
            if hit is not None:
                return CacheHit(*hit), None
            waiter = self.cache.flights.begin(key)
            if waiter is None:
                return None, key
            waiter.wait(self.wait_seconds)
        return None, None  # the leader is stuck or failed twice: answer on our own rather than wait forever


class LazyEmbedder:
    """The shared MiniLM encoder, loaded on the first prompt that needs it (the router is off, so nothing else
    loaded it), so an engine that never meets an eligible prompt never pays for it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # An engine that never embeds must not pay for onnx at start.
        from ..embeddings.embedder import embeddings_cache_dir, shared_embedder  # lazy: imports onnx (~3 s)

        return shared_embedder(embeddings_cache_dir(self._settings)).embed(list(texts))
