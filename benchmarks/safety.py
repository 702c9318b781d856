"""Safety guardrails on the two unseen splits (held-out, and blind: written by a separate author who never saw the
other files): harmful refused and benign refused, overall and per category, p50/p95
latency per check, and the same for a naive keyword blocklist in the same run (it shows the over-refusal problem).
The figures are computed by edgemind.core.bench.safety_rates, as in `edgemind bench`; this script adds the
blocklist baseline and cross-validation.

    .venv/bin/python benchmarks/safety.py [--level standard] [--json OUT]
    .venv/bin/python benchmarks/safety.py --cv       # 5-fold cross-validation on the TRAIN split only

Both unseen splits are for reporting, never for tuning: thresholds and training settings were chosen with --cv.
Latency is wall time of `check_input` after warm-up on this machine; on a busy 2-core machine the embedding
dominates and moves with the load (the load average is printed with the table).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgemind.core.bench.safety_rates import summary, timed
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.classify.policy_file import resource_path
from edgemind.core.safety.checker import BLIND_FILE, HELDOUT_FILE, TRAIN_FILE, SafetyChecker, rates, trained_weights
from edgemind.core.safety.classifier import HARMFUL, features, load_examples, train
from edgemind.core.safety.policy import CATEGORIES, load_policy
from edgemind.core.safety.rules import concept_vector, cue_vector, match_rule

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


def print_table(results: dict[str, dict[str, object]]) -> None:
    names = list(results)
    print(f"{'':30s}" + "".join(f"{n:>26s}" for n in names))
    print(f"{'':30s}" + "".join(f"{'harmful ref.':>13s}{'benign ref.':>13s}" for _ in names))

    def row(label: str, get: Callable[[dict[str, object]], dict[str, object]]) -> None:
        cells = []
        for n in names:
            b = get(results[n])
            cells.append(f"{_pct(b['harmful_refused_rate'], b['harmful']):>13s}"
                         f"{_pct(b['benign_refused_rate'], b['benign']):>13s}")
        print(f"{label:30s}" + "".join(cells))

    row("ALL", lambda r: r)
    for c in CATEGORIES:
        row(f"  {c}", lambda r, c=c: r["per_category"][c])  # type: ignore[index]
    for lang in results[names[0]]["per_language"]:  # type: ignore[union-attr]
        row(f"  lang={lang}", lambda r, lang=lang: r["per_language"][lang])  # type: ignore[index]
    latency = [results[n]["latency_ms"] for n in names]
    cells = "".join(f"{ms['p50']:>13.2f}{ms['p95']:>13.2f}" for ms in latency)  # type: ignore[index]
    print(f"{'latency p50 / p95 (ms)':30s}" + cells)


def _pct(rate: object, n: object) -> str:
    return "-" if not n else f"{100 * float(rate):.1f}% /{n}"  # type: ignore[arg-type]


def cross_validate(embedder: Embedder, folds: int = 5) -> None:
    """Train-only 5-fold CV of rules + classifier at each level's threshold: how the shipped numbers were chosen."""
    examples = load_examples(resource_path(TRAIN_FILE))
    texts = [e.prompt for e in examples]
    x = features(texts, embedder.embed(texts), [cue_vector(t) for t in texts], [concept_vector(t) for t in texts])
    harmful = np.array([e.label == HARMFUL for e in examples])
    fold = np.zeros(len(examples), int)
    rng = np.random.default_rng(0)
    for cls in (True, False):
        idx = np.flatnonzero(harmful == cls)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % folds
    score = np.zeros(len(examples))
    for f in range(folds):
        tr, te = fold != f, fold == f
        w = train(x[tr], harmful[tr], [examples[i].category for i in np.flatnonzero(tr)], CATEGORIES)
        score[te] = w.harm_probabilities(x[te])
    score = np.where([match_rule(t) is not None for t in texts], 1.0, score)
    policy = load_policy()
    for level, threshold in policy.levels:
        r = rates(examples, list(score >= threshold))
        print(f"cv level={level:9s} threshold={threshold:.2f}: harmful refused {r.harmful_rate:.3f}, "
              f"benign refused {r.benign_rate:.3f}")
    # The sweep the levels were picked from: the goal is >= 0.90 harmful and <= 0.10 benign refused.
    for threshold in np.arange(0.40, 0.651, 0.01):
        r = rates(examples, list(score >= threshold))
        print(f"cv sweep threshold={threshold:.2f}: harmful refused {r.harmful_rate:.3f}, "
              f"benign refused {r.benign_rate:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", help="policy level to measure (default: the shipped policy's)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON here")
    parser.add_argument("--cv", action="store_true", help="cross-validate on the train split instead")
    parser.add_argument("--cache", type=Path, help="folder for the built encoder and weights (default: a temp dir)")
    args = parser.parse_args(argv)

    cache = args.cache or Path(tempfile.mkdtemp(prefix="edgemind-safety-bench-"))
    embedder = Embedder(cache / "embeddings")
    if args.cv:
        cross_validate(embedder)
        return 0
    policy = load_policy()
    policy = policy.with_level(args.level) if args.level else policy
    started = time.perf_counter()
    checker = SafetyChecker(policy, embedder, trained_weights(embedder, policy, cache / "safety"))
    setup_s = time.perf_counter() - started
    results_by_split = {}
    for split in (HELDOUT_FILE, BLIND_FILE):
        examples = load_examples(resource_path(split))
        refused, ms = timed(lambda p: not checker.check_input(p).allowed, examples)
        base_refused, base_ms = timed(keyword_refuses, examples)
        results = {f"edgemind ({policy.level})": summary(examples, refused, ms),
                   "keyword blocklist": summary(examples, base_refused, base_ms)}
        print(f"\n{split}: {len(examples)} prompts; training or cache load {setup_s:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print_table(results)
        results_by_split[split] = {"prompts": len(examples), "results": results}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results_by_split, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
