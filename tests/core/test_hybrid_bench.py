"""The hybrid-trainer benchmark's verdicts: a preset is judged against the plain trainer and the design's claim, and
the default it names is one that kept accuracy and never diverged, or plain."""

from __future__ import annotations

from typing import Any

from edgemind.core.bench.hybrid_training import justified_default, summarize_task


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
