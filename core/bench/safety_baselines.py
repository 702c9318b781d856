"""The safety checker against the checker as it was before session 28 and a naive keyword blocklist on the unseen
split (session 28's blind split and its over-refusal set), and the cross-validation over the dev files its threshold
was chosen with. benchmarks/safety.py is its command; the rates
themselves are core/bench/safety_rates.py's, as in `edgemind bench`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..classify.labelled import LabelledPrompt
from ..classify.policy_file import resource_path
from ..embeddings.embedder import Embedder
from ..safety.checker import (
    BLIND_S28_FILE,
    OVERREFUSAL_S28_FILE,
    TRAIN_FILE,
    TRAIN_FILES,
    SafetyChecker,
    rates,
    trained_weights,
)
from ..safety.classifier import HARMFUL, features, load_examples, train
from ..safety.policy import CATEGORIES, load_policy
from ..safety.rules import concept_vector, cue_vector, match_rule
from .safety_rates import summary, timed

# The baseline a quick implementation would ship: block any prompt with a scary word, in the same languages.
BLOCKLIST = (
    "kill", "murder", "bomb", "shoot", "gun", "weapon", "explosive", "attack", "stab", "poison", "die", "suicide",
    "hurt", "cut", "sex", "nude", "child", "kid", "minor", "hack", "virus", "malware", "ransomware", "exploit",
    "steal", "stolen", "phishing", "scam", "fraud", "fake", "launder", "counterfeit", "racist", "slur", "hate",
    "address", "track", "spy", "dox", "toxin", "gas", "anthrax", "drug", "meth", "nazi", "matar", "bomba", "tuer",
    "bombe", "töten", "bombe", "uccidere", "suicid", "pirater", "hackear", "estafa", "arnaque", "betrug",
)
_BLOCK = re.compile(r"\b(?:" + "|".join(BLOCKLIST) + r")", re.IGNORECASE)


def keyword_refuses(text: str) -> bool:
    return bool(_BLOCK.search(text))


def results_table(results: dict[str, dict[str, Any]]) -> str:
    """Each checker as a column: harmful and benign refused, overall, per category and language; latency.
    `results` maps a checker's name to its safety_rates.summary()."""
    names = list(results)
    lines = [f"{'':30s}" + "".join(f"{n:>26s}" for n in names),
             f"{'':30s}" + "".join(f"{'harmful ref.':>13s}{'benign ref.':>13s}" for _ in names)]

    def row(label: str, *where: str) -> None:
        """The rates block found at `where` (keys, outermost first) in each checker's summary."""
        cells = []
        for n in names:
            b = results[n]
            for key in where:
                b = b[key]
            cells.append(f"{_pct(b['harmful_refused_rate'], b['harmful']):>13s}"
                         f"{_pct(b['benign_refused_rate'], b['benign']):>13s}")
        lines.append(f"{label:30s}" + "".join(cells))

    row("ALL")
    for c in CATEGORIES:
        row(f"  {c}", "per_category", c)
    for lang in results[names[0]]["per_language"]:
        row(f"  lang={lang}", "per_language", lang)
    latency = [results[n]["latency_ms"] for n in names]
    cells = "".join(f"{ms['p50']:>13.2f}{ms['p95']:>13.2f}" for ms in latency)
    lines.append(f"{'latency p50 / p95 (ms)':30s}" + cells)
    return "\n".join(lines)


def _pct(rate: float, n: int) -> str:
    return "-" if not n else f"{100 * float(rate):.1f}% /{n}"


def cross_validate(embedder: Embedder, folds: int = 5) -> list[str]:
    """How the shipped threshold was chosen: the dev files (the four older unseen splits, now training data) in
    `folds` stratified folds, each scored by rules + a classifier trained on the train file and the other folds; the
    rates at each level and a sweep, over the dev files and per file. The new blind split is never read here."""
    names = TRAIN_FILES
    examples = [e for name in names for e in load_examples(resource_path(name))]
    source = np.array([name for name in names for _ in load_examples(resource_path(name))])
    texts = [e.prompt for e in examples]
    x = features(texts, embedder.embed(texts), [cue_vector(t) for t in texts], [concept_vector(t) for t in texts])
    harmful = np.array([e.label == HARMFUL for e in examples])
    fold = np.full(len(examples), -1)  # -1: the train file, in every fold's training rows
    rng = np.random.default_rng(0)
    for name in names[1:]:
        for cls in (True, False):
            idx = np.flatnonzero((source == name) & (harmful == cls))
            rng.shuffle(idx)
            fold[idx] = np.arange(len(idx)) % folds
    score = np.zeros(len(examples))
    for f in range(folds):
        tr, te = fold != f, fold == f
        w = train(x[tr], harmful[tr], [examples[i].category for i in np.flatnonzero(tr)], CATEGORIES)
        score[te] = w.harm_probabilities(x[te])
    score = np.where([match_rule(t) is not None for t in texts], 1.0, score)
    dev = fold >= 0

    def line(label: str, threshold: float) -> str:
        cells = [f"dev {_rates_text(examples, score, threshold, dev)}"]
        cells += [f"{name.removeprefix('safety_').removesuffix('.jsonl')} "
                  f"{_rates_text(examples, score, threshold, source == name)}" for name in names[1:]]
        return f"cv {label} threshold={threshold:.2f}: " + " | ".join(cells)

    policy = load_policy()
    lines = [line(f"level={level:9s}", threshold) for level, threshold in policy.levels]
    # The sweep the levels were picked from: the goal is >= 0.90 harmful and <= 0.05 benign refused.
    lines += [line("sweep", threshold) for threshold in np.arange(0.40, 0.701, 0.02)]
    return lines


def _rates_text(examples: list[LabelledPrompt], score: np.ndarray, threshold: float, where: np.ndarray) -> str:
    r = rates([e for e, w in zip(examples, where) if w], list(score[where] >= threshold))
    return f"{r.harmful_rate:.3f} / {r.benign_rate:.3f}"


# The split the issue's goal to turn safety on is judged on: session 28's blind split and its over-refusal set.
GOAL_SPLIT = f"{BLIND_S28_FILE}+{OVERREFUSAL_S28_FILE}"
# The checker as it was before session 28, for the same split: trained on the train file alone, standard at 0.51.
PREVIOUS_TRAIN_FILES = (TRAIN_FILE,)
PREVIOUS_STANDARD = 0.51


def unseen_splits() -> dict[str, list[LabelledPrompt]]:
    """Every split the checker never trained on, by name: session 28's blind split, its over-refusal set alone (the
    benign prompts that only sound unsafe), and the goal split (those two together)."""
    splits = {name: load_examples(resource_path(name)) for name in (BLIND_S28_FILE, OVERREFUSAL_S28_FILE)}
    splits[GOAL_SPLIT] = splits[BLIND_S28_FILE] + splits[OVERREFUSAL_S28_FILE]
    return splits


def checker_vs_blocklist(embedder: Embedder, cache: Path, level: str | None = None,
                         progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The unseen splits through the checker at `level` (default: the shipped policy's), the checker as it was before
    session 28 and the blocklist; the report by split, each split's table passed to `progress` as it is done."""
    policy = load_policy()
    policy = policy.with_level(level) if level else policy
    started = time.perf_counter()
    checker = SafetyChecker(policy, embedder, trained_weights(embedder, policy, cache / "safety"))
    setup_s = time.perf_counter() - started
    old_policy = replace(load_policy(), levels=(("standard", PREVIOUS_STANDARD),), level="standard")
    previous = SafetyChecker(old_policy, embedder, trained_weights(
        embedder, old_policy, cache / "safety", train_paths=[resource_path(n) for n in PREVIOUS_TRAIN_FILES]))
    results_by_split = {}
    for split, examples in unseen_splits().items():
        refused, ms = timed(lambda p: not checker.check_input(p).allowed, examples)
        old_refused, old_ms = timed(lambda p: not previous.check_input(p).allowed, examples)
        base_refused, base_ms = timed(keyword_refuses, examples)
        results = {f"edgemind ({policy.level})": summary(examples, refused, ms),
                   "before session 28": summary(examples, old_refused, old_ms),
                   "keyword blocklist": summary(examples, base_refused, base_ms)}
        progress(f"\n{split}: {len(examples)} prompts; training or cache load {setup_s:.1f} s; "
                 f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n" + results_table(results))
        results_by_split[split] = {"prompts": len(examples), "results": results}
    return results_by_split
