"""Intent router on the held-out split: accuracy, per-intent recall, per-language accuracy, p50/p95 latency.

The held-out split is for reporting, never for tuning. Latency is the wall time of one classification after a
short warm-up; on a busy 2-core machine the embedding dominates and moves with the load.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..classify.labelled import LabelledPrompt
from ..classify.policy_file import resource_path
from ..routing.classifier import load_examples
from ..routing.router import HELDOUT_FILE
from ..routing.signals import INTENTS
from .report import Figure, Goal
from .timing import percentile

WARMUP = 10
ACCURACY_GOAL = 0.90
P95_GOAL_MS = 20.0


def heldout_examples() -> list[LabelledPrompt]:
    return load_examples(resource_path(HELDOUT_FILE))


def timed(classify: Callable[[str], str], examples: list[LabelledPrompt]) -> tuple[list[str], list[float]]:
    for e in examples[:WARMUP]:
        classify(e.prompt)
    predicted, ms = [], []
    for e in examples:
        start = time.perf_counter()
        predicted.append(classify(e.prompt))
        ms.append((time.perf_counter() - start) * 1000)
    return predicted, ms


def summary(examples: list[LabelledPrompt], predicted: list[str], ms: list[float] | None = None) -> dict[str, Any]:
    right = [p == e.label for p, e in zip(predicted, examples, strict=True)]

    def share(keep: list[bool]) -> dict[str, Any]:
        picked = [r for r, k in zip(right, keep, strict=True) if k]
        return {"n": len(picked), "accuracy": round(sum(picked) / len(picked), 4) if picked else None}

    result: dict[str, Any] = {
        "accuracy": round(sum(right) / len(right), 4),
        "recall": {intent: share([e.label == intent for e in examples]) for intent in INTENTS},
        "by_language": {lang: share([e.lang == lang for e in examples])
                        for lang, _ in Counter(e.lang for e in examples).most_common()},
        "confusions": {f"{truth}->{guess}": n for (truth, guess), n in
                       Counter((e.label, p) for e, p in zip(examples, predicted) if e.label != p).most_common()},
    }
    if ms is not None:
        result.update(p50_ms=round(percentile(ms, 50), 3), p95_ms=round(percentile(ms, 95), 3),
                      max_ms=round(max(ms), 3))
    return result


def measure_router(route: Callable[[str], str], examples: list[LabelledPrompt] | None = None,
                   ) -> tuple[dict[str, Figure], dict[str, Any]]:
    """Figures for the report and the full summary (recall per intent, per language, confusions)."""
    examples = examples if examples is not None else heldout_examples()
    predicted, ms = timed(route, examples)
    s = summary(examples, predicted, ms)
    n = len(examples)
    return {
        "accuracy": Figure(s["accuracy"], "fraction", n, "higher", Goal(">=", ACCURACY_GOAL), "held-out split"),
        "p50_ms": Figure(s["p50_ms"], "ms", n, "lower"),
        "p95_ms": Figure(s["p95_ms"], "ms", n, "lower", Goal("<=", P95_GOAL_MS)),
    }, s
