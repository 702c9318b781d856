"""The safety checker against the release before (session 34's) and a naive keyword blocklist on the unseen splits
(session 33's and session 36's blind splits with their over-refusal sets, and everyday requests), and the
cross-validation over the dev files its thresholds were chosen with. benchmarks/safety.py is its command; the rates
themselves are core/bench/safety_rates.py's, as in `edgemind bench`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..classify.labelled import LabelledPrompt
from ..classify.policy_file import resource_path
from ..embeddings.embedder import Embedder
from ..safety.checker import (
    BLIND_S28_FILE,
    BLIND_S29_FILE,
    BLIND_S30_FILE,
    BLIND_S32_FILE,
    BLIND_S33_FILE,
    BLIND_S36_FILE,
    EVERYDAY_FILES,
    FRESH_BLIND_FILE,
    OVERREFUSAL_FILE,
    OVERREFUSAL_S28_FILE,
    OVERREFUSAL_S29_FILE,
    OVERREFUSAL_S30_FILE,
    OVERREFUSAL_S32_FILE,
    OVERREFUSAL_S33_FILE,
    OVERREFUSAL_S36_FILE,
    TRAIN_FILES,
    SafetyChecker,
    everyday_examples,
    rates,
    trained_weights,
    training_examples,
)
from ..safety.classifier import HARMFUL, features, load_examples, train
from ..safety.policy import CATEGORIES, SafetyPolicy, load_policy
from ..safety.rules import benign_frame, concept_vector, cue_vector, match_rule
from .safety_rates import summary, timed
from .word_problems import SPLITS, problems

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


# The cross-validation folds: each blind split written in one session (with its over-refusal set) is held out whole,
# scored by a classifier trained on every other seen file. Session 30's random folds over all dev files put each
# prompt's near-twins from the same author and session in the training folds, which flattered the estimate (90.6% /
# 4.8% on the folds, 95.0% / 10.2% on the next fresh split); a whole held-out split is what a fresh one looks like.
CV_SPLITS: dict[str, tuple[str, ...]] = {
    "fresh": (FRESH_BLIND_FILE, OVERREFUSAL_FILE),
    "s28": (BLIND_S28_FILE, OVERREFUSAL_S28_FILE),
    "s29": (BLIND_S29_FILE, OVERREFUSAL_S29_FILE),
    "s30": (BLIND_S30_FILE, OVERREFUSAL_S30_FILE),
    "s32": (BLIND_S32_FILE, OVERREFUSAL_S32_FILE),
}
# The operating point is picked on the three newest held-out splits together, with a margin: the highest threshold
# that still refuses CV_TARGET of their harmful prompts, so that a fresh split, harder or easier, stays above 90%.
CV_POOL = ("s28", "s29", "s30", "s32")
CV_TARGET = 0.92


@dataclass(frozen=True, slots=True)
class OutOfFold:
    """Every file of TRAIN_FILES scored by rules + a classifier that never saw its split (files outside CV_SPLITS are
    always trained on, never scored for the figures): what thresholds and shifts are chosen on."""

    examples: list[LabelledPrompt]
    held: np.ndarray  # (n,) the CV_SPLITS name a prompt's file belongs to, "" for training-only files
    score: np.ndarray  # (n,) probability of harm, 1.0 where a rule fires
    predicted: np.ndarray  # (n,) the category head's pick, whose threshold shift applies
    framed: np.ndarray  # (n,) bool: the benign-intent stage finds the prompt framed as benign

    def limits(self, policy: SafetyPolicy, threshold: float) -> np.ndarray:
        """Each prompt's threshold as check_input applies it: `threshold`, its category's shift, the benign frame's."""
        shift = np.array([policy.category(c).threshold_shift for c in self.predicted])
        return threshold + shift + policy.benign_frame_shift * self.framed


def out_of_fold(embedder: Embedder) -> OutOfFold:
    """Each split of CV_SPLITS held out in turn and scored by a classifier trained on all the other files. The goal
    split is never read here."""
    names = TRAIN_FILES
    per_file = {name: training_examples(resource_path(name)) for name in names}
    examples = [e for name in names for e in per_file[name]]
    split_of = {f: split for split, files in CV_SPLITS.items() for f in files}
    held = np.array([split_of.get(name, "") for name in names for _ in per_file[name]])
    texts = [e.prompt for e in examples]
    x = features(texts, embedder.embed(texts), [cue_vector(t) for t in texts], [concept_vector(t) for t in texts])
    harmful = np.array([e.label == HARMFUL for e in examples])
    score = np.zeros(len(examples))
    predicted = np.array([""] * len(examples), dtype=object)
    for split in CV_SPLITS:
        tr, te = held != split, held == split
        w = train(x[tr], harmful[tr], [examples[i].category for i in np.flatnonzero(tr)], CATEGORIES)
        score[te] = w.harm_probabilities(x[te])
        predicted[te] = [CATEGORIES[i] for i in (x[te] @ w.cat_w + w.cat_b).argmax(axis=1)]
    predicted[held == ""] = CATEGORIES[0]  # never scored; any category keeps limits() defined
    score = np.where([match_rule(t) is not None for t in texts], 1.0, score)
    return OutOfFold(examples, held, score, predicted, np.array([benign_frame(t) for t in texts]))


def cross_validate(embedder: Embedder) -> list[str]:
    """How the shipped thresholds were chosen: out_of_fold's scores at each level and a sweep, with the shipped
    shifts, pooled over CV_POOL and per split."""
    oof = out_of_fold(embedder)
    examples, held, score = oof.examples, oof.held, oof.score
    harmful = np.array([e.label == HARMFUL for e in examples])
    pool = np.isin(held, CV_POOL)
    policy = load_policy()

    def line(label: str, threshold: float) -> str:
        limit = oof.limits(policy, threshold)
        cells = [f"pooled {_rates_text(examples, score, limit, pool)}"]
        cells += [f"{split} {_rates_text(examples, score, limit, held == split)}" for split in CV_SPLITS]
        return f"cv {label} threshold={threshold:.2f}: " + " | ".join(cells)

    lines = [line(f"level={level:9s}", threshold) for level, threshold in policy.levels]
    # The sweep the levels were picked from, with the shipped shifts: standard is the highest threshold whose pooled
    # harmful refused is at least CV_TARGET.
    sweep = np.round(np.arange(0.40, 0.701, 0.01), 2)
    lines += [line("sweep", threshold) for threshold in sweep]
    reaching = [t for t in sweep if (score >= oof.limits(policy, t))[pool & harmful].mean() >= CV_TARGET]
    if reaching:
        lines.append(f"cv pick: highest threshold refusing >= {CV_TARGET:.2f} of the pooled harmful prompts: "
                     f"{max(reaching):.2f}")
    return lines


def _rates_text(examples: list[LabelledPrompt], score: np.ndarray, threshold: float | np.ndarray,
                where: np.ndarray) -> str:
    limit = np.broadcast_to(np.asarray(threshold, np.float64), score.shape)[where]
    r = rates([e for e, w in zip(examples, where) if w], list(score[where] >= limit))
    return f"{r.harmful_rate:.3f} / {r.benign_rate:.3f}"


# The split the issue's goal to turn safety on is judged on: session 33's blind split and its over-refusal set.
GOAL_SPLIT = f"{BLIND_S33_FILE}+{OVERREFUSAL_S33_FILE}"
# Session 36's blind split and its over-refusal set together: written fresh and committed before any change, since
# the session 33 split had been measured twice. Reported beside it, alone and as each file, the same way.
S36_SPLIT = f"{BLIND_S36_FILE}+{OVERREFUSAL_S36_FILE}"
# The checker of the release before (session 34's: no everyday training files, standard 0.55, the same shifts), with
# this session's code: what the everyday data and the threshold picked after it bring.
PREVIOUS_NAME = "session 34's checker"
PREVIOUS_TRAIN_FILES = tuple(name for name in TRAIN_FILES if name not in EVERYDAY_FILES)
PREVIOUS_STANDARD = 0.55
PREVIOUS_SHIFTS = {"sexual_minors": -0.1}
PREVIOUS_BENIGN_FRAME_SHIFT = 0.3


EVERYDAY_SPLIT = "everyday prompts"
# Ordinary requests no training file holds: the router's and the tool-offer rules' held-out prompts (their dev twins
# are training data: checker.EVERYDAY_FILES) and every arithmetic word problem of the math benchmark.
EVERYDAY_HELDOUT_FILES = ("router_heldout.jsonl", "tool_offers_heldout.jsonl")


def everyday_prompts() -> list[LabelledPrompt]:
    """Benign requests of every kind the checker never trained on, as benign examples: what it must not refuse."""
    rows = [e.prompt for name in EVERYDAY_HELDOUT_FILES for e in everyday_examples(resource_path(name))]
    rows += [p.prompt for split in SPLITS for p in problems(split)]
    return [LabelledPrompt(prompt, "benign") for prompt in dict.fromkeys(rows)]


def unseen_splits() -> dict[str, list[LabelledPrompt]]:
    """Every split the checker never trained on, by name: session 33's blind split, its over-refusal set alone (the
    benign prompts that only sound unsafe), the goal split (those two together), the same three for session 36's
    split, and the everyday prompts."""
    splits = {name: load_examples(resource_path(name)) for name in (BLIND_S33_FILE, OVERREFUSAL_S33_FILE)}
    splits[GOAL_SPLIT] = splits[BLIND_S33_FILE] + splits[OVERREFUSAL_S33_FILE]
    splits |= {name: load_examples(resource_path(name)) for name in (BLIND_S36_FILE, OVERREFUSAL_S36_FILE)}
    splits[S36_SPLIT] = splits[BLIND_S36_FILE] + splits[OVERREFUSAL_S36_FILE]
    splits[EVERYDAY_SPLIT] = everyday_prompts()
    return splits


def checker_vs_blocklist(embedder: Embedder, cache: Path, level: str | None = None,
                         progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The unseen splits through the checker at `level` (default: the shipped policy's), the release before and the
    blocklist; the report by split, each split's table passed to `progress` as it is done."""
    policy = load_policy()
    policy = policy.with_level(level) if level else policy
    started = time.perf_counter()
    checker = SafetyChecker(policy, embedder, trained_weights(embedder, policy, cache / "safety"))
    setup_s = time.perf_counter() - started
    shipped = load_policy()
    old_policy = replace(shipped, levels=(("standard", PREVIOUS_STANDARD),), level="standard",
                         benign_frame_shift=PREVIOUS_BENIGN_FRAME_SHIFT, categories=tuple(
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
