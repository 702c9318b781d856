"""The hybrid-trainer benchmark's verdicts: a preset is judged against the plain trainer and the design's claim, and
the default it names is one that kept accuracy and never diverged, or plain; the LoRA task's medians over seeds, the
aggressive preset's refusal row, and the VSA curve's maths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edgemind.core.bench.hybrid_lora import aggressive_row, summarize_lora
from edgemind.core.bench.hybrid_table import justified_default as table_default
from edgemind.core.bench.hybrid_table import preset_rows
from edgemind.core.bench.hybrid_training import justified_default, summarize_task
from edgemind.core.bench.hybrid_vsa import curve, expected_float_error, helps
from edgemind.core.training import summarize
from edgemind.core.training.accuracy import CorrectionRecord
from edgemind.core.training.config import aggressive_refusal


def run(backward: int, loss: float, accuracy: float, divergences: int = 0, reduction: float | None = 0.6) -> dict[
        str, Any]:
    return {"seconds": backward / 100, "cpu_seconds": backward / 100, "backward_passes": backward,
            "backward_saved": 1 - backward / 100, "final_loss": loss, "test_accuracy": accuracy,
            "divergences": divergences, "corrections": {"mean": reduction},
            "plain_same_backward": {"final_loss": 2 * loss, "test_accuracy": accuracy - 0.01}}


def test_a_preset_that_loses_accuracy_or_diverges_does_not_hold_the_claim() -> None:
    summary = summarize_task({
        "plain": [run(100, 0.01, 0.97, reduction=None)] * 3,
        "conservative": [run(40, 0.02, 0.96)] * 3,
        "balanced": [run(30, 0.5, 0.90), run(30, 0.5, 0.90), run(30, 0.5, 0.90, divergences=1)],
    })
    assert summary["conservative"]["claim_holds"] is True
    assert summary["conservative"]["backward_saved"] == 0.6
    assert summary["balanced"]["accuracy_within_2pts"] is False
    assert summary["balanced"]["divergences"] == 1 and summary["balanced"]["claim_holds"] is False
    assert justified_default({"mlp": {"summary": summary}}) == "conservative"


def test_no_preset_that_keeps_accuracy_means_plain_is_the_default() -> None:
    summary = summarize_task({
        "plain": [run(100, 0.01, 0.97, reduction=None)],
        "conservative": [run(40, 0.2, 0.90)],
        "balanced": [run(30, 0.5, 0.80)],
    })
    assert justified_default({"cnn": {"summary": summary}}) == "plain"


def lora(seconds: float, heldout: float, backward: int = 40, reduction: float | None = None,
         aggressive: str | None = None, short: float = 0.5) -> dict[str, Any]:
    row: dict[str, Any] = {"steps": 40, "backward_passes": backward, "backward_saved": 1 - backward / 40,
                           "train_seconds": seconds, "heldout_before": 2.8, "heldout_after": heldout,
                           "general_ratio": 1.05, "divergences": 0, "corrections": 0 if reduction is None else 1,
                           "mean_error_reduction": reduction, "plain_same_backward_heldout": short}
    if aggressive is not None:
        row["aggressive"] = aggressive
    return row


def test_lora_summary_pairs_each_seed_with_plain_and_judges_the_median() -> None:
    summary = summarize_lora({
        "plain": [lora(20, 0.010), lora(30, 0.020), lora(25, 0.015)],
        # seed 1 is within 2% of its own plain run, the median is not
        "conservative": [lora(10, 0.5, 12, 0.5, "refused: x"), lora(10, 0.0201, 12, 0.6, "refused: x"),
                         lora(20, 0.3, 16, 0.55, "refused: x")],
        "balanced": [lora(20, 0.0101, 40, 0.97, "allowed"), lora(30, 0.020, 40, 0.96, "allowed"),
                     lora(25, 0.015, 40, 0.98, "allowed")],
    })
    cons = summary["conservative"]
    assert cons["speedup"] == {"median": 2.0, "min": 1.25, "max": 3.0}  # 20/10, 30/10, 25/20: each seed's own plain
    assert cons["backward_saved"]["median"] == 0.7 and cons["claim_backward_cut"] is True
    assert cons["heldout_after"]["median"] == 0.3 and cons["heldout_within_2pct"] is False
    assert cons["seeds_within_2pct"] == 1 and cons["claim_holds"] is False
    assert cons["heldout_ratio"]["max"] == 50.0 and cons["mean_error_reduction"]["median"] == 0.55
    bal = summary["balanced"]
    assert bal["heldout_within_2pct"] is True and bal["claim_backward_cut"] is False  # nothing saved: no claim
    assert bal["aggressive_allowed_runs"] == 3
    assert "backward_saved" not in summary["plain"]


def test_the_aggressive_row_is_the_trainers_own_refusal() -> None:
    assert aggressive_refusal(summarize([])) is not None
    below = aggressive_refusal(summarize([CorrectionRecord(5, 1.0, 0.4, 0.6)]))
    assert below is not None and "60.0%" in below and "95%" in below
    assert aggressive_refusal(summarize([CorrectionRecord(5, 1.0, 0.03, 0.97)])) is None
    runs = {"plain": [lora(20, 0.01)], "conservative": [lora(10, 0.3, 12, 0.6, f"refused: {below}")],
            "balanced": [lora(10, 0.3, 12, 0.7, f"refused: {below}")]}
    row = aggressive_row(runs, "no start")
    assert row["verdict"] == "refused in every run" and row["runs"] == 2 and row["best_mean_error_reduction"] == 0.7
    runs["balanced"][0]["aggressive"] = "allowed"
    assert aggressive_row(runs, "no start")["verdict"] == "allowed in 1 of 2 runs"


def test_the_vsa_curve_on_a_gradient_follows_the_crosstalk_law() -> None:
    rng = np.random.default_rng(0)
    gradients = [rng.normal(size=4096).astype(np.float32) for _ in range(2)]
    points = {(p["method"], p["bundled"]): p for p in curve(gradients, (1, 4, 16))}
    assert points[("vsa-float", 1)]["error"] == 0.0 and points[("vsa-float", 1)]["cosine"] == 1.0
    for bundled in (4, 16):
        point = points[("vsa-float", bundled)]
        error, cosine = expected_float_error(bundled)
        assert point["ratio"] == bundled and point["dim"] == 4096 // bundled
        assert point["error"] == pytest.approx(error, rel=0.1) and point["cosine"] == pytest.approx(cosine, rel=0.1)
        assert points[("vsa-ternary", bundled)]["ratio"] > 18 * bundled  # 1.6 bits a trit (and a scale), not 32
    assert points[("ternary-only", 1)]["cosine"] > points[("vsa-float", 4)]["cosine"]


def test_vsa_helps_only_when_a_compressed_tune_kept_the_heldout_loss() -> None:
    def trained(method: str, bundled: int, ratio: float) -> dict[str, Any]:
        return {"method": method, "bundled": bundled, "ratio": float(bundled * 2), "heldout_ratio": ratio,
                "heldout_within_2pct": ratio <= 1.02, "compress_ms_per_step": 50.0}

    worse = [trained("vsa-float", 2, 30.0), trained("ternary-only", 1, 1.01)]
    assert helps([], worse).startswith("no VSA compression kept the held-out loss within 2%")
    assert "30.0x plain's" in helps([], worse) and "neither memory" in helps([], worse)
    kept = helps([], [trained("vsa-float", 2, 1.0), trained("vsa-float", 16, 1.01)])
    assert kept.startswith("vsa-float bundling 16 chunks (32.0x smaller) kept the held-out loss")


def test_the_preset_table_judges_every_task_and_names_the_default_the_numbers_justify() -> None:
    digits = {"seeds": 3, "tasks": {"mlp": {"steps": 300, "summary": summarize_task({
        "plain": [run(100, 0.01, 0.97, reduction=None)] * 3,
        "conservative": [run(40, 0.02, 0.96)] * 3,
        "balanced": [run(30, 0.5, 0.90)] * 3,
    })}}}
    lora_summary = summarize_lora({
        "plain": [lora(20, 0.010)] * 3,
        "conservative": [lora(10, 0.0101, 12, 0.6, "refused: x")] * 3,
        "balanced": [lora(10, 0.3, 12, 0.6, "refused: x")] * 3,
    })
    runs = {"plain": [lora(20, 0.01)], "conservative": [lora(10, 0.01, 12, 0.6, "refused: x")] * 3,
            "balanced": [lora(10, 0.3, 12, 0.6, "refused: x")] * 3}
    result = {"lora": {"steps": 40, "seeds": 3, "summary": lora_summary, "aggressive": aggressive_row(runs, "x")}}
    rows = preset_rows(digits, result)
    table = {(r.task.split(" (")[0], r.preset): r for r in rows}
    assert table[("digits MLP", "conservative")].verdict == "holds"
    assert table[("digits MLP", "balanced")].verdict == "does not hold: accuracy > 2 pts lower"
    assert table[("digits MLP", "conservative")].quality == "loss 2.0x, accuracy -1.0 pts"
    assert table[("LoRA 135M", "conservative")].verdict == "holds"
    assert table[("LoRA 135M", "conservative")].speedup == "2.0x wall"
    assert table[("LoRA 135M", "balanced")].quality == "held-out loss 30.0x"
    assert table[("LoRA 135M", "aggressive")].verdict.startswith("refused in all 6 runs")
    assert table[("digits MLP", "aggressive")].verdict.startswith("refused in all 6 runs")
    assert table_default(rows) == "conservative"
    # one task where conservative loses quality, and no preset is left: plain
    lora_summary["conservative"]["heldout_within_2pct"] = False
    assert table_default(preset_rows(digits, result)) == "plain"
    assert table_default(preset_rows(None, None)) == "plain"
