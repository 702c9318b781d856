"""The intent router: what kind of request a prompt is (code, math, docs, action, chat), and so which model, system
prompt, generation settings and tools answer it. Cheap signals and one embedding through a trained classifier.

It only decides: it never generates text or runs tools. Every decision is logged (logger `edgemind.router`) without
the prompt's text; below the policy's confidence threshold it falls back instead of guessing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from tokenizers import Encoding

from ..classify.policy_file import resource_path
from ..embeddings.embedder import embeddings_cache_dir, shared_embedder
from ..errors import ConfigError, PromptError
from ..safety.checker import bundled_embedder_version, read_batch, readable
from ..settings import Settings
from ..storage.file_lock import built_once
from .classifier import IntentModel, load_examples, load_model, model_key, save_model, train
from .decision import Judge, RouteDecision, Strongest
from .offers import ToolOffer, offer_tools
from .policy import DEFAULT_MODEL, POLICY_FILE, STRONGEST_MODEL, RouterPolicy, load_router_policy
from .signals import INTENTS, Signals, extract_signals, head_and_tail

log = logging.getLogger("edgemind.router")

TRAIN_FILE = "router_train.jsonl"
HELDOUT_FILE = "router_heldout.jsonl"
# The embedding reads a long prompt's first and last word pieces (pasted code, then the question). Its cost grows
# with length: ~3 ms for a short prompt, 13.5 ms at 96 pieces, 37 ms at the encoder's 256 here. No labelled prompt
# has more than 77 pieces, so the cap only ever trims pasted material. Cut by pieces, not characters: code has
# ~2 characters a piece, prose ~5.
EMBED_PIECES = 96
EMBED_TAIL_PIECES = 32
TAIL_WINDOW_CHARS = 200  # at most 200 pieces: under the encoder's limit, so the window's end is never truncated


class RouterEmbedder(Protocol):
    """What the router needs from an embedder (core.embeddings.Embedder is one): unit rows, and word pieces with
    their character offsets to cut a long prompt."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def tokenize(self, texts: Sequence[str]) -> list[Encoding]: ...


def trained_model(embedder: RouterEmbedder, policy: RouterPolicy, cache_dir: Path | None, *,
                  train_path: Path | None = None, embedder_version: str | None = None) -> IntentModel:
    """The classifier for this training data, intents and embedder: from the cache, or trained (seconds, mostly
    embedding the training prompts) and cached, so a start after the first costs one file read."""
    train_path = train_path or resource_path(TRAIN_FILE)
    try:
        data = train_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{train_path}: cannot read the router's training data ({exc})") from None
    version = f"{embedder_version or bundled_embedder_version()}|{EMBED_PIECES}/{EMBED_TAIL_PIECES} pieces"
    key = model_key(data, sorted(policy.intents), version)
    path = cache_dir / f"intent-model-{key}.npz" if cache_dir else None

    def build() -> IntentModel:
        started = time.perf_counter()
        examples = load_examples(train_path)
        embeddings = embedder.embed([embedding_text(embedder, e.prompt) for e in examples])
        embedded = time.perf_counter()
        model = train(examples, embeddings)
        log.info("router model trained on %d prompts in %.2f s (embedding %.2f s, fitting %.2f s)", len(examples),
                 time.perf_counter() - started, embedded - started, time.perf_counter() - embedded)
        return model

    return built_once(path, load_model, build, save_model)


def embedding_text(embedder: RouterEmbedder, text: str) -> str:
    """What the router embeds: the text, or its first and last word pieces when it has more than EMBED_PIECES."""
    (whole,) = embedder.tokenize([text])
    if len(whole.ids) <= EMBED_PIECES + 2:  # + [CLS] and [SEP]
        return text
    head_end = whole.offsets[1 + EMBED_PIECES - EMBED_TAIL_PIECES][0]  # where the first piece left out starts
    window = text[-TAIL_WINDOW_CHARS:]
    (tail,) = embedder.tokenize([window])
    pieces = tail.offsets[1:-1]
    tail_start = pieces[-EMBED_TAIL_PIECES][0] if len(pieces) > EMBED_TAIL_PIECES else 0
    return text[:head_end] + "\n" + window[tail_start:]


class IntentRouter:
    """A `decision.JudgedRouter` and `decision.EmbeddingRouter`. Thread-safe; one instance per process."""

    def __init__(self, policy: RouterPolicy, embedder: RouterEmbedder, model: IntentModel,
                 default_model: str) -> None:
        self.policy = policy
        self.embedder = embedder
        self.model = model
        self.default_model = default_model
        # settles unsure prompts when the policy names an `unsure_model` (engine.Engine.create attaches it)
        self.judge: Judge | None = None
        # finds the strongest installed model for intents whose policy model is "strongest" (attached likewise)
        self.strongest: Strongest | None = None

    @classmethod
    def create(cls, settings: Settings, *, embedder: RouterEmbedder | None = None,
               policy: RouterPolicy | None = None) -> IntentRouter:
        """The shipped policy with the data folder's `router_policy.toml` over it, the shared embedder, and the
        classifier from `<artifacts>/router` (trained there on first use)."""
        policy = policy or load_router_policy(settings.home / POLICY_FILE)
        embedder = embedder or shared_embedder(embeddings_cache_dir(settings))
        model = trained_model(embedder, policy, settings.artifacts_dir / "router")
        return cls(policy, embedder, model, settings.default_model)

    @property
    def unsure_model(self) -> str:
        """The model that settles unsure prompts (the policy's `unsure_model`); empty: they fall back."""
        return self.policy.unsure_model

    def route(self, prompt: str, requested_model: str | None = None) -> RouteDecision:
        started = time.perf_counter()
        if not isinstance(prompt, str):
            raise PromptError(f"the router needs text, got {type(prompt).__name__}")
        text = readable(head_and_tail(prompt))  # the rules and the embedding read no more than this: ~1.8 KB
        if not any(ch.isalnum() for ch in text):
            # Nothing to route on. Emoji or symbols alone would embed as [UNK] tokens, exactly like Chinese words
            # MiniLM does not know, and the nearest training prompts would vote at random.
            return self._decide(started, prompt, self.policy.fallback_intent, 0.0,
                                "no words to route on" if text else "no readable text", None, requested_model)
        signals = extract_signals(text)
        embedded_text = embedding_text(self.embedder, text)
        embedding = self.embedder.embed([embedded_text])
        prediction = self.model.predict(embedding, [signals])[0]
        best = int(np.argmax(prediction.probabilities))
        confidence = float(prediction.probabilities[best])
        guess = INTENTS[best]
        if confidence < self.policy.confidence_threshold:
            top_two = [INTENTS[i] for i in np.argsort(prediction.probabilities)[::-1][:2]]
            judged = self.judge(prompt, top_two) if self.judge is not None else None
            unsure = (f"unsure: {guess} at {confidence:.2f} is below the threshold "
                      f"{self.policy.confidence_threshold:.2f}")
            if judged is not None:
                reason = f"{unsure}; asked {' or '.join(top_two)}, the model {self.policy.unsure_model} says {judged}"
                intent = judged
            else:
                reason, intent = f"{unsure}, so {self.policy.fallback_intent}", self.policy.fallback_intent
        else:
            reason, intent = f"{guess} ({confidence:.2f})", guess
        return self._decide(started, prompt, intent, confidence, reason + _evidence(signals, prediction.nearest),
                            signals, requested_model, embedding[0], embedded_text)

    def offer(self, prompt: str, intent: str, signals: Signals) -> ToolOffer:
        """The tools offered for this prompt under the policy's `offer_tools` mode (see offers.py)."""
        offers = {name: chosen.tools for name, chosen in self.policy.intents.items()}
        if self.policy.offer_tools == "with_intent":
            return ToolOffer(intent, offers[intent], tuple((t, "offered with its intent") for t in offers[intent]))
        return offer_tools(prompt, intent, offers, signals)

    def offered(self, prompt: str) -> tuple[str, ...]:
        """The tools this prompt is offered (what benchmarks and tests of the offers compare)."""
        return self.route(prompt).tools

    def route_batch(self, path: Path) -> list[tuple[int, RouteDecision]]:
        """Every prompt of a JSON-lines file with its line number; the whole file is read and checked first, so a
        bad line fails before any prompt is routed."""
        return [(number, self.route(prompt)) for number, prompt in read_batch(path)]

    def _decide(self, started: float, prompt: str, intent: str, confidence: float, reason: str,
                signals: Signals | None, requested_model: str | None, embedding: np.ndarray | None = None,
                embedded_text: str = "") -> RouteDecision:
        offer = self.offer(prompt, intent, signals or extract_signals(""))
        if offer.note:  # first: the audit log keeps a reason's first 200 characters
            reason = f"{offer.note}: {reason}"
        intent = offer.intent
        chosen = self.policy.intents[intent]
        model = chosen.model if chosen.model not in (DEFAULT_MODEL, STRONGEST_MODEL) else self.default_model
        if chosen.model == STRONGEST_MODEL and not requested_model:
            stronger = self.strongest() if self.strongest is not None else None
            if stronger is not None:
                model, why = stronger
                reason += f"; {intent} goes to the strongest installed model, {model}: {why}"
        if requested_model:
            model, reason = requested_model, reason + "; model chosen by the user"
        decision = RouteDecision(
            intent=intent, confidence=confidence, model_id=model, system_prompt=chosen.system_prompt,
            params=chosen.params, tools=offer.tools, tools_why=offer.offered_because,
            tools_left_out=offer.left_out_because, reason=reason,
            latency_ms=(time.perf_counter() - started) * 1000,
            signals=tuple(signals.fired()) if signals else (), language=signals.language if signals else "und",
            embedding=embedding, embedded_text=embedded_text,
        )
        # The prompt's hash, never its text: logs outlive conversations the user deletes.
        digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        log.info("route intent=%s confidence=%.3f model=%s latency_ms=%.2f reason=%s sha256=%s", decision.intent,
                 decision.confidence, decision.model_id, decision.latency_ms, decision.reason, digest)
        return decision


def _evidence(signals: Signals, nearest: float) -> str:
    """The signals that fired, with what they matched, for the reason string."""
    shown = [f"{name} {', '.join(repr(h) for h in signals.hits[name][:2])}" if name in signals.hits else name
             for name in signals.fired()[:4]]
    return (f"; signals: {'; '.join(shown) if shown else 'none'}; nearest example {nearest:.2f}; "
            f"language {signals.language}")
