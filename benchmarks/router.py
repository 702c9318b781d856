"""Intent router on the held-out split: accuracy, per-intent recall, per-language accuracy and p50/p95 latency of
`route`, and the same for the keyword baseline (the cheap signals alone) in the same run. The figures are computed
by edgemind.core.bench.routing, as in `edgemind bench`; this script adds the baseline and cross-validation.

    .venv/bin/python benchmarks/router.py [--json OUT]
    .venv/bin/python benchmarks/router.py --cv       # 5-fold cross-validation on the TRAIN split only

The held-out split is for reporting, never for tuning: features, lexicons and training settings were chosen with
--cv. In --cv the lexicons are cut down to the phrases of the training folds, so a held-back fold's own words count
as unseen, as they would for a new prompt. Latency is the wall time of one `route` call after warm-up: on a busy
2-core machine the embedding dominates and moves with the load (the load average is printed with the table).
Goals from the issue: >= 90% held-out accuracy, p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgemind.core.bench.routing import heldout_examples, summary, timed
from edgemind.core.classify.labelled import LabelledPrompt
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.routing.classifier import load_examples, train
from edgemind.core.routing.signals import (INTENTS, compile_lexicons, extract_signals, keyword_intent,
                                          lexicons_attested_by)
from edgemind.core.routing.router import HELDOUT_FILE, TRAIN_FILE, IntentRouter, embedding_text, trained_model
from edgemind.core.routing.policy import load_router_policy
from edgemind.core.classify.policy_file import resource_path
from edgemind.core.settings import DEFAULT_MODEL

def print_table(results: dict[str, dict[str, object]]) -> None:
    names = list(results)
    print(f"{'':24}" + "".join(f"{n:>22}" for n in names))

    def row(label: str, get: Callable[[dict[str, object]], str]) -> None:
        print(f"{label:24}" + "".join(f"{get(results[n]):>22}" for n in names))

    row("accuracy", lambda r: f"{r['accuracy']:.1%}")
    for intent in INTENTS:
        row(f"  recall {intent}", lambda r, i=intent: _share(r["recall"][i]))  # type: ignore[index]
    for lang in results[names[0]]["by_language"]:  # type: ignore[union-attr]
        row(f"  language {lang}", lambda r, lg=lang: _share(r["by_language"][lg]))  # type: ignore[index]
    row("p50 latency", lambda r: f"{r['p50_ms']:.2f} ms")
    row("p95 latency", lambda r: f"{r['p95_ms']:.2f} ms")


def _share(cell: dict[str, object]) -> str:
    return f"{cell['accuracy']:.1%} of {cell['n']}"


def cross_validate(embedder: Embedder, folds: int = 5) -> dict[str, object]:
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
    result = {"classifier": summary(examples, predicted), "keyword baseline": summary(examples, baseline)}
    right = np.array([p == e.label for p, e in zip(predicted, examples)])
    is_chat = np.array([e.label == "chat" for e in examples])
    print(f"{folds}-fold CV on {len(examples)} training prompts: classifier {right.mean():.1%} (best guess), "
          f"keyword baseline {result['keyword baseline']['accuracy']:.1%}")
    result["thresholds"] = {}
    for threshold in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
        kept = confidence >= threshold
        # What route() returns: the guess when sure, else the fallback (chat), right only for chat prompts.
        routed = np.where(kept, right, is_chat).mean()
        result["thresholds"][threshold] = {"fall_back": round(float((~kept).mean()), 4), "accuracy": round(routed, 4)}
        guessed = right[~kept].mean() if (~kept).any() else float("nan")
        print(f"  threshold {threshold:.2f}: {(~kept).mean():5.1%} fall back to chat; routed accuracy {routed:.1%}; "
              f"best guess right for {guessed:.0%} of those falling back")
    return result


def with_unsure_model(model_id: str, policy: object, router: IntentRouter, heldout: list[LabelledPrompt],
                      threshold: float) -> dict[str, object]:
    """The same held-out prompts with a model settling the unsure ones: accuracy, and how often it was asked."""
    from dataclasses import replace

    from edgemind.core.engine.facade import Engine
    from edgemind.core.routing.judge import ModelJudge
    from edgemind.core.settings import load_settings

    engine = Engine.create(load_settings(), router=router)
    spec = engine.registry.get(model_id)
    judged = IntentRouter(replace(policy, unsure_model=spec.id, confidence_threshold=threshold), router.embedder, router.model,  # type: ignore[type-var]
                          DEFAULT_MODEL)
    judge = ModelJudge(spec.id, lambda: engine.backend_for(spec).stream)
    asked: list[str] = []
    judged.judge = lambda prompt, top: (asked.append(prompt), judge(prompt, top))[1]
    judge("hello")  # load the model before timing
    predicted, ms = timed(lambda p: judged.route(p).intent, heldout)
    result = summary(heldout, predicted, ms)
    result["asked_model"] = len(set(asked))
    engine.close()
    print(f"{model_id} was asked about {len(set(asked))} of {len(heldout)} prompts (the unsure ones)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON here")
    parser.add_argument("--cv", action="store_true", help="cross-validate on the train split instead")
    parser.add_argument("--cache", type=Path, help="folder for the built encoder and model (default: a temp dir)")
    parser.add_argument("--unsure-model", metavar="ID",
                        help="also route with this model settling unsure prompts (router.unsure_model); needs the "
                             "model installed (EDGEMIND_HOME / EDGEMIND_MODELS_DIR)")
    parser.add_argument("--unsure-threshold", type=float, help="confidence below which the model is asked "
                        "(default: the policy's threshold)")
    args = parser.parse_args(argv)

    cache = args.cache or Path(tempfile.mkdtemp(prefix="edgemind-router-bench-"))
    embedder = Embedder(cache / "embeddings")
    if args.cv:
        results = cross_validate(embedder)
        split = TRAIN_FILE + " (cross-validated)"
    else:
        policy = load_router_policy()
        started = time.perf_counter()
        router = IntentRouter(policy, embedder, trained_model(embedder, policy, cache / "router"), DEFAULT_MODEL)
        setup_s = time.perf_counter() - started
        heldout = heldout_examples()
        predicted, ms = timed(lambda p: router.route(p).intent, heldout)
        base, base_ms = timed(lambda p: keyword_intent(extract_signals(p))[0], heldout)
        results = {"edgemind router": summary(heldout, predicted, ms),
                   "keyword baseline": summary(heldout, base, base_ms)}
        if args.unsure_model:
            threshold = args.unsure_threshold or policy.confidence_threshold
            results[f"+ {args.unsure_model[:12]} < {threshold}"] = with_unsure_model(args.unsure_model, policy, router,
                                                                                   heldout, threshold)
        print(f"held-out split: {len(heldout)} prompts; training or cache load {setup_s:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print_table(results)
        split = HELDOUT_FILE
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"split": split, "results": results}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
