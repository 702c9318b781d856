"""The semantic-cache benchmark's figures per guard: semantic_tuning's Evaluation of the split, plus what was served of
each kind, written flat into the result file the docs page renders (no encoder here: the pairs come scored)."""

from __future__ import annotations

import json
from pathlib import Path

from edgemind.core.bench.docs_page import render
from edgemind.core.bench.semantic_pairs import SemanticPairsReport, guard_figures
from edgemind.core.cache.semantic_tuning import LabelledPair, ScoredPair, evaluate


def _scored(label: str, kind: str, similarity: float, guard: str | None = None, split: str = "heldout") -> ScoredPair:
    return ScoredPair(LabelledPair(f"{kind} a", f"{kind} b", label, kind, "en", split), similarity, guard)


SCORED = [
    _scored("hit", "reorder", 0.95),  # served: a true hit
    _scored("hit", "typo", 0.80),  # under the threshold: a paraphrase missed
    _scored("miss", "number", 0.97),  # served: a false hit
    _scored("miss", "negation", 0.99, guard="negation"),  # over the threshold, stopped by the guard
    _scored("hit", "synonym", 0.99, split="tune"),  # another split: not counted
]


def test_a_guards_figures_are_the_splits_evaluation_and_what_it_served_per_kind() -> None:
    figures = guard_figures("word match now", "pairs.jsonl", SCORED, "heldout", 0.9)
    assert figures.evaluation == evaluate(SCORED, 0.9, "heldout")
    e = figures.evaluation
    assert (e.pairs, e.true_hits, e.false_hits, e.stopped_by_guard) == (4, 1, 1, 1)
    assert figures.served_by_kind == {"negation": "0/1", "number": "1/1", "reorder": "1/1", "typo": "0/1"}


def test_the_result_file_holds_each_guards_figures_flat_and_the_docs_page_renders_them(tmp_path: Path) -> None:
    figures = guard_figures("word match now", "pairs.jsonl", SCORED, "heldout", 0.9)
    report = SemanticPairsReport(threshold=0.9, word_thresholds={}, tuned_word_thresholds={}, figures=(figures,),
                                 latency=None)
    flat = report.as_dict()["figures"][0]
    assert {k: flat[k] for k in ("guard", "split", "pairs", "true_hits", "false_hits", "precision", "recall")} == {
        "guard": "word match now", "split": "heldout", "pairs": 4, "true_hits": 1, "false_hits": 1,
        "precision": 0.5, "recall": 0.5}
    assert list(flat["false_hit_examples"]) == [("number a", "number b", 0.97)]
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "semantic_cache.json").write_text(json.dumps(report.as_dict()), encoding="utf-8")
    page = render(tmp_path)
    assert "| `pairs.jsonl` | heldout | word match now | 4 | 50.0% | 50.0% | 1 of 2 | 1 of 2 |" in page
    assert "| number | 1/1 |" in page
