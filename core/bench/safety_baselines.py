"""The safety checker against session 29's training files and a naive keyword blocklist on the unseen split (session
30's blind split and its over-refusal set), and the cross-validation over the dev files its thresholds were chosen
with. benchmarks/safety.py is its command; the rates themselves are core/bench/safety_rates.py's, as in `edgemind
bench`.
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
    BLIND_FILE,
    BLIND_S28_FILE,
    BLIND_S30_FILE,
    FRESH_BLIND_FILE,
    HELDOUT_FILE,
    OVERREFUSAL_FILE,
    OVERREFUSAL_S28_FILE,
    OVERREFUSAL_S30_FILE,
    TRAIN_FILE,
    TRAIN_FILES,
    SafetyChecker,
    rates,
    trained_weights,
)
from ..safety.classifier import HARMFUL, features, load_examples, train
from ..safety.policy import CATEGORIES, load_policy
from ..safety.rules import benign_frame, concept_vector, cue_vector, match_rule
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
    """How the shipped thresholds were chosen: the dev files (the eight older unseen splits, now training data) in
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
    predicted = np.empty(len(examples), dtype=object)  # the category head's pick, whose threshold shift applies
    for f in range(folds):
        tr, te = fold != f, fold == f
        w = train(x[tr], harmful[tr], [examples[i].category for i in np.flatnonzero(tr)], CATEGORIES)
        score[te] = w.harm_probabilities(x[te])
        predicted[te] = [CATEGORIES[i] for i in (x[te] @ w.cat_w + w.cat_b).argmax(axis=1)]
    score = np.where([match_rule(t) is not None for t in texts], 1.0, score)
    dev = fold >= 0
    policy = load_policy()
    # the category's shift plus the benign-intent stage's for a prompt it finds framed as benign, as check_input does
    shipped_shift = np.array([policy.category(c).threshold_shift if c else 0.0 for c in predicted])
    shipped_shift += policy.benign_frame_shift * np.array([benign_frame(t) for t in texts])

    def line(label: str, threshold: float) -> str:
        limit = threshold + shipped_shift
        cells = [f"dev {_rates_text(examples, score, limit, dev)}"]
        cells += [f"{name.removeprefix('safety_').removesuffix('.jsonl')} "
                  f"{_rates_text(examples, score, limit, source == name)}" for name in names[1:]]
        return f"cv {label} threshold={threshold:.2f}: " + " | ".join(cells)

    lines = [line(f"level={level:9s}", threshold) for level, threshold in policy.levels]
    # The sweep the levels were picked from, with the shipped per-category shifts: the goal is >= 0.90 harmful and
    # <= 0.05 benign refused.
    lines += [line("sweep", threshold) for threshold in np.arange(0.40, 0.701, 0.02)]
    # How the per-category shifts were picked: at each base threshold, the shifts that refuse the fewest benign dev
    # prompts while refusing at least 90% of the harmful ones; "nested" picks them on four folds and scores the fifth,
    # the honest estimate of what picking them is worth.
    for base in np.arange(0.44, 0.601, 0.04):
        picked = pick_shifts(score, harmful, predicted, dev, base)
        if picked is None:
            continue
        shifts, limit = picked
        nested = np.zeros(len(examples))
        for f in range(folds):
            inner = pick_shifts(score, harmful, predicted, dev & (fold != f), base)
            nested[fold == f] = (inner[1] if inner else np.full(len(examples), base))[fold == f]
        lines.append(f"cv shifts base={base:.2f}: in-sample dev {_rates_text(examples, score, limit, dev)}, "
                     f"nested dev {_rates_text(examples, score, nested, dev)}; "
                     + ", ".join(f"{c} {v:+.2f}" for c, v in shifts.items()))
    return lines


SHIFT_GRID = np.round(np.arange(-0.12, 0.121, 0.02), 2)


def pick_shifts(score: np.ndarray, harmful: np.ndarray, predicted: np.ndarray, where: np.ndarray, base: float,
                target: float = 0.90) -> tuple[dict[str, float], np.ndarray] | None:
    """Per-category threshold shifts (by predicted category) that refuse the fewest benign prompts of `where` while
    refusing at least `target` of its harmful ones, and each prompt's resulting threshold; None if none reach it.
    Each category's shift minimises (benign refused - price x harmful refused) for one price; the prices are swept
    and the cheapest mix that reaches the target wins (the smaller shift on a tie)."""
    best: tuple[float, dict[str, float], np.ndarray] | None = None
    for price in np.concatenate([np.arange(0.05, 1.0, 0.05), np.arange(1.0, 6.01, 0.25)]):
        shifts = {}
        for c in CATEGORIES:
            mine = where & (predicted == c)
            costs = [(float(((score >= base + s) & mine & ~harmful).sum() - price * ((score >= base + s) & mine
                                                                                      & harmful).sum()), abs(s), s)
                     for s in SHIFT_GRID]
            shifts[c] = float(min(costs)[2])
        limit = base + np.array([shifts.get(c, 0.0) for c in predicted])
        refused = score >= limit
        if refused[where & harmful].mean() >= target:
            benign = float(refused[where & ~harmful].mean())
            if best is None or benign < best[0]:
                best = (benign, shifts, limit)
    return (best[1], best[2]) if best else None


def _rates_text(examples: list[LabelledPrompt], score: np.ndarray, threshold: float | np.ndarray,
                where: np.ndarray) -> str:
    limit = np.broadcast_to(np.asarray(threshold, np.float64), score.shape)[where]
    r = rates([e for e, w in zip(examples, where) if w], list(score[where] >= limit))
    return f"{r.harmful_rate:.3f} / {r.benign_rate:.3f}"


# The split the issue's goal to turn safety on is judged on: session 30's blind split and its over-refusal set.
GOAL_SPLIT = f"{BLIND_S30_FILE}+{OVERREFUSAL_S30_FILE}"
# Session 29's training files (without session 29's blind split) at its standard threshold 0.54 and its shifts, with
# this session's code: what the new data and thresholds bring apart from the code. (Session 29's checker itself, run
# on the new split once before any change, is quoted in docs/benchmarks.md.)
PREVIOUS_NAME = "session 29's files at 0.54"
PREVIOUS_TRAIN_FILES = (TRAIN_FILE, HELDOUT_FILE, BLIND_FILE, FRESH_BLIND_FILE, OVERREFUSAL_FILE, BLIND_S28_FILE,
                        OVERREFUSAL_S28_FILE)
PREVIOUS_STANDARD = 0.54
PREVIOUS_SHIFTS = {"sexual_minors": -0.1}


def unseen_splits() -> dict[str, list[LabelledPrompt]]:
    """Every split the checker never trained on, by name: session 30's blind split, its over-refusal set alone (the
    benign prompts that only sound unsafe), and the goal split (those two together)."""
    splits = {name: load_examples(resource_path(name)) for name in (BLIND_S30_FILE, OVERREFUSAL_S30_FILE)}
    splits[GOAL_SPLIT] = splits[BLIND_S30_FILE] + splits[OVERREFUSAL_S30_FILE]
    return splits


def checker_vs_blocklist(embedder: Embedder, cache: Path, level: str | None = None,
                         progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The unseen splits through the checker at `level` (default: the shipped policy's), session 29's checker and the
    blocklist; the report by split, each split's table passed to `progress` as it is done."""
    policy = load_policy()
    policy = policy.with_level(level) if level else policy
    started = time.perf_counter()
    checker = SafetyChecker(policy, embedder, trained_weights(embedder, policy, cache / "safety"))
    setup_s = time.perf_counter() - started
    shipped = load_policy()
    old_policy = replace(shipped, levels=(("standard", PREVIOUS_STANDARD),), level="standard", categories=tuple(
        replace(c, threshold_shift=PREVIOUS_SHIFTS.get(c.name, 0.0)) for c in shipped.categories))
    previous = SafetyChecker(old_policy, embedder, trained_weights(
        embedder, old_policy, cache / "safety", train_paths=[resource_path(n) for n in PREVIOUS_TRAIN_FILES]))
    results_by_split = {}
    for split, examples in unseen_splits().items():
        refused, ms = timed(lambda p: not checker.check_input(p).allowed, examples)
        old_refused, old_ms = timed(lambda p: not previous.check_input(p).allowed, examples)
        base_refused, base_ms = timed(keyword_refuses, examples)
        results = {f"edgemind ({policy.level})": summary(examples, refused, ms),
                   PREVIOUS_NAME: summary(examples, old_refused, old_ms),
                   "keyword blocklist": summary(examples, base_refused, base_ms)}
        progress(f"\n{split}: {len(examples)} prompts; training or cache load {setup_s:.1f} s; "
                 f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n" + results_table(results))
        results_by_split[split] = {"prompts": len(examples), "results": results}
    return results_by_split
