"""The router against its baselines: the keyword signals alone, 5-fold cross-validation on the train split (how
the shipped settings were chosen), and a model settling the unsure prompts. benchmarks/router.py is its command;
the held-out figures themselves are core/bench/routing.py's, as in `edgemind bench`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..classify.labelled import LabelledPrompt
from ..classify.policy_file import resource_path
from ..embeddings.embedder import Embedder
from ..engine.facade import Engine
from ..routing.classifier import load_examples, train
from ..routing.judge import ModelJudge
from ..routing.policy import RouterPolicy, load_router_policy
from ..routing.router import HELDOUT_FILE, TRAIN_FILE, IntentRouter, embedding_text, trained_model
from ..routing.signals import INTENTS, compile_lexicons, extract_signals, keyword_intent, lexicons_attested_by
from ..settings import DEFAULT_MODEL, Settings
from .routing import heldout_examples, summary, timed


def results_table(results: dict[str, dict[str, Any]]) -> str:
    """Each router variant as a column: accuracy, recall per intent, accuracy per language, p50/p95 latency.
    `results` maps a variant's name to its routing.summary()."""
    names = list(results)
    lines = [f"{'':24}" + "".join(f"{n:>22}" for n in names)]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"{label:24}" + "".join(f"{cell:>22}" for cell in cells))

    row("accuracy", [f"{results[n]['accuracy']:.1%}" for n in names])
    for intent in INTENTS:
        row(f"  recall {intent}", [_share(results[n]["recall"][intent]) for n in names])
    for lang in results[names[0]]["by_language"]:
        row(f"  language {lang}", [_share(results[n]["by_language"][lang]) for n in names])
    row("p50 latency", [f"{results[n]['p50_ms']:.2f} ms" for n in names])
    row("p95 latency", [f"{results[n]['p95_ms']:.2f} ms" for n in names])
    return "\n".join(lines)


def _share(cell: dict[str, Any]) -> str:
    return f"{cell['accuracy']:.1%} of {cell['n']}"


def cross_validate(embedder: Embedder, folds: int = 5,
                   progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Train-only k-fold CV of the whole classifier (and of the baseline): how the shipped settings were chosen."""
    examples = load_examples(resource_path(TRAIN_FILE))
    embeddings = embedder.embed([embedding_text(embedder, e.prompt) for e in examples])
    fold = np.zeros(len(examples), int)
    rng = np.random.default_rng(0)
    for intent in INTENTS:
        idx = np.flatnonzero([e.label == intent for e in examples])
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % folds
    predicted = [""] * len(examples)
    baseline = [""] * len(examples)
    confidence = np.zeros(len(examples))
    for f in range(folds):
        part = [e for e, k in zip(examples, fold) if k != f]
        lexicons = lexicons_attested_by([e.prompt for e in part])
        patterns = compile_lexicons(lexicons)
        model = train(part, embeddings[fold != f], lexicons)
        held = np.flatnonzero(fold == f)
        signals = [extract_signals(examples[i].prompt, patterns) for i in held]
        for i, s, p in zip(held, signals, model.predict(embeddings[held], signals)):
            predicted[i], confidence[i] = INTENTS[int(np.argmax(p.probabilities))], float(p.probabilities.max())
            baseline[i] = keyword_intent(s)[0]
    result: dict[str, Any] = {"classifier": summary(examples, predicted),
                              "keyword baseline": summary(examples, baseline)}
    right = np.array([p == e.label for p, e in zip(predicted, examples)])
    is_chat = np.array([e.label == "chat" for e in examples])
    progress(f"{folds}-fold CV on {len(examples)} training prompts: classifier {right.mean():.1%} (best guess), "
          f"keyword baseline {result['keyword baseline']['accuracy']:.1%}")
    thresholds: dict[float, dict[str, Any]] = {}
    result["thresholds"] = thresholds
    for threshold in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
        kept = confidence >= threshold
        # What route() returns: the guess when sure, else the fallback (chat), right only for chat prompts.
        routed = np.where(kept, right, is_chat).mean()
        thresholds[threshold] = {"fall_back": round(float((~kept).mean()), 4), "accuracy": round(routed, 4)}
        guessed = right[~kept].mean() if (~kept).any() else float("nan")
        progress(f"  threshold {threshold:.2f}: {(~kept).mean():5.1%} fall back to chat; routed accuracy {routed:.1%}; "
              f"best guess right for {guessed:.0%} of those falling back")
    return result


def with_unsure_model(settings: Settings, model_id: str, policy: RouterPolicy, router: IntentRouter,
                      heldout: list[LabelledPrompt], threshold: float,
                      progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The same held-out prompts with a model settling the unsure ones: accuracy, and how often it was asked."""
    engine = Engine.create(settings, router=router)
    spec = engine.models.get(model_id)
    judged = IntentRouter(replace(policy, unsure_model=spec.id, confidence_threshold=threshold), router.embedder,
                          router.model, DEFAULT_MODEL)
    judge = ModelJudge(spec.id, lambda: engine.backend_for(spec).stream)
    asked: list[str] = []

    def judge_and_note(prompt: str, top: Sequence[str]) -> str | None:
        asked.append(prompt)
        return judge(prompt, top)

    judged.judge = judge_and_note
    judge("hello")  # load the model before timing
    predicted, ms = timed(lambda p: judged.route(p).intent, heldout)
    result = summary(heldout, predicted, ms)
    result["asked_model"] = len(set(asked))
    engine.close()
    progress(f"{model_id} was asked about {len(set(asked))} of {len(heldout)} prompts (the unsure ones)")
    return result


def router_vs_baseline(embedder: Embedder, cache: Path, settings: Settings, *, unsure_model: str | None = None,
                       unsure_threshold: float | None = None,
                       progress: Callable[[str], None] = lambda m: None) -> tuple[dict[str, Any], str]:
    """The held-out split through the shipped router and the keyword baseline (and, with `unsure_model`, the router
    asking that model about unsure prompts); returns the JSON report and the printed table."""
    policy = load_router_policy()
    started = time.perf_counter()
    router = IntentRouter(policy, embedder, trained_model(embedder, policy, cache / "router"), DEFAULT_MODEL)
    setup_s = time.perf_counter() - started
    heldout = heldout_examples()
    predicted, ms = timed(lambda p: router.route(p).intent, heldout)
    base, base_ms = timed(lambda p: keyword_intent(extract_signals(p))[0], heldout)
    results: dict[str, dict[str, Any]] = {"edgemind router": summary(heldout, predicted, ms),
                                             "keyword baseline": summary(heldout, base, base_ms)}
    if unsure_model:
        threshold = unsure_threshold or policy.confidence_threshold
        results[f"+ {unsure_model[:12]} < {threshold}"] = with_unsure_model(settings, unsure_model, policy, router,
                                                                            heldout, threshold, progress)
    text = (f"held-out split: {len(heldout)} prompts; training or cache load {setup_s:.1f} s; "
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n" + results_table(results))
    return {"split": HELDOUT_FILE, "results": results}, text


def cross_validation_report(embedder: Embedder, progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    return {"split": TRAIN_FILE + " (cross-validated)", "results": cross_validate(embedder, progress=progress)}
