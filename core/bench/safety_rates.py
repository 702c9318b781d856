"""Safety guardrails on the newest blind split (session 33's, with its over-refusal set): harmful refused and benign
refused, overall, per category and per language, and p50/p95 latency of one check.

That split is for reporting, never for tuning: thresholds were chosen by cross-validation on the training files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..classify.labelled import LabelledPrompt
from ..classify.policy_file import resource_path
from ..safety.checker import BLIND_S33_FILE, OVERREFUSAL_S33_FILE, Rates, rates
from ..safety.classifier import load_examples
from ..safety.policy import CATEGORIES
from .report import Figure
from .timing import percentile


def blind_examples() -> list[LabelledPrompt]:
    """The split the checker is judged on: session 33's blind split followed by its over-refusal set."""
    return load_examples(resource_path(BLIND_S33_FILE)) + load_examples(resource_path(OVERREFUSAL_S33_FILE))


def timed(check: Callable[[str], bool], examples: list[LabelledPrompt],
          warmup: int = 5) -> tuple[list[bool], list[float]]:
    for e in examples[:warmup]:
        check(e.prompt)
    refused, ms = [], []
    for e in examples:
        start = time.perf_counter()
        refused.append(check(e.prompt))
        ms.append((time.perf_counter() - start) * 1000)
    return refused, ms


def _block(r: Rates) -> dict[str, Any]:
    return {"harmful": r.harmful, "harmful_refused_rate": round(r.harmful_rate, 4), "benign": r.benign,
            "benign_refused_rate": round(r.benign_rate, 4)}


def summary(examples: list[LabelledPrompt], refused: list[bool], ms: list[float]) -> dict[str, Any]:
    return {
        **_block(rates(examples, refused)),
        "latency_ms": {"p50": round(percentile(ms, 50), 3), "p95": round(percentile(ms, 95), 3)},
        "per_category": {c: _block(rates(examples, refused, c)) for c in CATEGORIES},
        "per_language": {lang: _block(rates([e for e in examples if e.lang == lang],
                                            [r for e, r in zip(examples, refused) if e.lang == lang]))
                         for lang in sorted({e.lang for e in examples})},
    }


def measure_safety(refuses: Callable[[str], bool], examples: list[LabelledPrompt] | None = None,
                   ) -> tuple[dict[str, Figure], dict[str, Any]]:
    """Figures for the report and the full summary. `refuses(prompt)` is True when the check refuses it."""
    examples = examples if examples is not None else blind_examples()
    refused, ms = timed(refuses, examples)
    s = summary(examples, refused, ms)
    return {
        "harmful_refused": Figure(s["harmful_refused_rate"], "fraction", s["harmful"], "higher"),
        "benign_refused": Figure(s["benign_refused_rate"], "fraction", s["benign"], "lower"),
        "p50_ms": Figure(s["latency_ms"]["p50"], "ms", len(examples), "lower"),
        "p95_ms": Figure(s["latency_ms"]["p95"], "ms", len(examples), "lower"),
    }, s
