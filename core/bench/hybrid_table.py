"""The hybrid trainer's one compact table, task x preset, from the two committed results (the digits MLP and CNN in
hybrid_trainer.json, the LoRA tune in hybrid_trainer_lora.json): backward passes saved, speed-up, quality against
plain, divergences, correction error reduction and the verdict on the design's claim, plus the aggressive preset's
row per task and the default preset the numbers justify. docs/benchmarks.md renders it and the README copies it, so
both state the same figures. Pure: dicts in, rows out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..training.config import AGGRESSIVE_MIN_REDUCTION

HEADERS = ("task", "preset", "backward passes saved", "speed-up", "quality vs plain", "divergences",
           "error reduction", "verdict")


@dataclass(frozen=True, slots=True)
class PresetRow:
    """One task x preset line; `keeps_quality` and `diverged` decide which preset may be the default."""

    task: str
    preset: str
    backward_saved: str
    speedup: str
    quality: str
    divergences: str
    error_reduction: str
    verdict: str
    saved: float = 0.0
    keeps_quality: bool = False
    diverged: bool = True
    measured: bool = True  # False for the aggressive row: it was refused, not run

    def cells(self) -> list[str]:
        return [self.task, f"`{self.preset}`", self.backward_saved, self.speedup, self.quality, self.divergences,
                self.error_reduction, self.verdict]


def _verdict(claim_holds: bool, reasons: Sequence[tuple[str, bool]]) -> str:
    if claim_holds:
        return "holds"
    return "does not hold: " + ", ".join(why for why, failed in reasons if failed)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _digits_rows(data: dict[str, Any]) -> list[PresetRow]:
    rows = []
    seeds = data.get("seeds", "?")
    for task, entry in data.get("tasks", {}).items():
        summary = entry.get("summary", {})
        plain = summary.get("plain", {})
        label = f"digits {task.upper()} ({entry.get('steps', '?')} steps, {seeds} seeds)"
        allowed = 0
        for name, col in summary.items():
            if name == "plain":
                continue
            allowed += col.get("aggressive_allowed_runs", 0)
            accuracy_drop = 100 * (plain.get("test_accuracy", 0) - col.get("test_accuracy", 0))
            rows.append(PresetRow(
                label, name, _pct(col.get("backward_saved")), f"{col.get('cpu_speedup')}x CPU",
                f"loss {col.get('loss_ratio')}x, accuracy {-accuracy_drop:+.1f} pts", str(col.get("divergences")),
                _pct(col.get("mean_error_reduction")),
                _verdict(bool(col.get("claim_holds")), (
                    ("under 52% saved", not col.get("claim_backward_cut")),
                    ("accuracy > 2 pts lower", not col.get("accuracy_within_2pts")),
                    ("diverged", not col.get("zero_divergences")))),
                saved=float(col.get("backward_saved", 0.0)), keeps_quality=bool(col.get("accuracy_within_2pts")),
                diverged=not col.get("zero_divergences")))
        runs = seeds * (len(summary) - 1) if isinstance(seeds, int) else "?"
        rows.append(_aggressive(label, allowed, runs))
    return rows


def _lora_rows(data: dict[str, Any]) -> list[PresetRow]:
    lora = data.get("lora", {})
    label = f"LoRA 135M ({lora.get('steps', '?')} steps, {lora.get('seeds', '?')} seeds)"
    rows = []
    for name, col in lora.get("summary", {}).items():
        if name == "plain":
            continue
        reduction = col.get("mean_error_reduction") or {}
        rows.append(PresetRow(
            label, name, _pct(col.get("backward_saved", {}).get("median")),
            f"{col.get('speedup', {}).get('median')}x wall",
            f"held-out loss {col.get('heldout_ratio', {}).get('median')}x", str(col.get("divergences")),
            _pct(reduction.get("median")),
            _verdict(bool(col.get("claim_holds")), (
                ("under 52% saved", not col.get("claim_backward_cut")),
                ("held-out loss > 2% higher", not col.get("heldout_within_2pct")),
                ("diverged", not col.get("zero_divergences")))),
            saved=float(col.get("backward_saved", {}).get("median", 0.0)),
            keeps_quality=bool(col.get("heldout_within_2pct")), diverged=not col.get("zero_divergences")))
    aggressive = lora.get("aggressive")
    if aggressive is not None:
        rows.append(_aggressive(label, aggressive.get("allowed_runs", 0), aggressive.get("runs", "?")))
    return rows


def _aggressive(label: str, allowed: int, runs: int | str) -> PresetRow:
    verdict = (f"refused in all {runs} runs (needs {AGGRESSIVE_MIN_REDUCTION:.0%} error reduction)" if not allowed
               else f"allowed in {allowed} of {runs} runs (a tune starts conservative; not run here)")
    return PresetRow(label, "aggressive", "-", "-", "-", "-", "-", verdict, measured=False)


def preset_rows(digits: dict[str, Any] | None, lora: dict[str, Any] | None) -> list[PresetRow]:
    """Every task x preset row the two results hold (either may be missing: its rows are then absent)."""
    return [*(_digits_rows(digits) if digits else []), *(_lora_rows(lora) if lora else [])]


def justified_default(rows: Sequence[PresetRow]) -> str:
    """The preset that saves the most backward passes while keeping quality and never diverging on every task it
    was measured on; "plain" when none does (or nothing was measured)."""
    best, best_saved = "plain", 0.0
    for name in dict.fromkeys(r.preset for r in rows if r.measured):
        mine = [r for r in rows if r.preset == name and r.measured]
        if all(r.keeps_quality and not r.diverged for r in mine):
            saved = min(r.saved for r in mine)
            if saved > best_saved:
                best, best_saved = name, saved
    return best
