"""The hybrid trainer's settings and its three presets; the aggressive one is only for runs that earn it."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TrainingRefused
from .accuracy import CorrectionSummary

# The design's bar: aggressive prediction only when corrections remove at least 95% of the prediction error.
AGGRESSIVE_MIN_REDUCTION = 0.95


@dataclass(frozen=True, slots=True)
class HybridConfig:
    """How long to predict, how often to correct and check, and how sure the dynamics model must be."""

    preset: str = "conservative"
    confidence_threshold: float = 0.60
    predict_horizon: int = 50  # predicted steps before a stretch of full training
    correction_interval: int = 15  # predicted steps between two corrections
    divergence_interval: int = 3  # predicted steps between two loss checks (one forward pass each)
    divergence_sigma: float = 2.2
    warmup_steps: int = 10  # full steps at the start and after a divergence, before any prediction
    refill_steps: int = 5  # full steps after a horizon ends or a correction loses confidence
    window: int = 6  # recent real updates the dynamics model is fitted on
    loss_window: int = 10  # recent real losses the divergence band is computed from
    chunk_size: int = 256  # parameters sharing one coefficient of the dynamics model

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise TrainingRefused(f"confidence_threshold must be within 0 and 1, not {self.confidence_threshold}")
        for name in ("predict_horizon", "correction_interval", "divergence_interval", "warmup_steps",
                     "refill_steps", "chunk_size"):
            if getattr(self, name) < 1:
                raise TrainingRefused(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.window < 3 or self.loss_window < 3:
            raise TrainingRefused("window and loss_window must be at least 3")
        if self.divergence_sigma <= 0:
            raise TrainingRefused(f"divergence_sigma must be positive, not {self.divergence_sigma}")


PRESETS: dict[str, HybridConfig] = {
    "conservative": HybridConfig(),
    "balanced": HybridConfig(preset="balanced", confidence_threshold=0.50, predict_horizon=100,
                             correction_interval=25),
    "aggressive": HybridConfig(preset="aggressive", confidence_threshold=0.40, predict_horizon=200,
                               correction_interval=40, divergence_interval=5, refill_steps=3),
}


def preset(name: str) -> HybridConfig:
    """The named preset (`dataclasses.replace` it to change a field); an unknown name is one line naming the known
    ones."""
    if name not in PRESETS:
        raise TrainingRefused(f"unknown hybrid preset {name!r}: choose {', '.join(PRESETS)}")
    return PRESETS[name]


def startable(name: str) -> HybridConfig:
    """The named preset a run may start with: aggressive is refused, since it is only earned mid-run by measured
    corrections (HybridTrainer.use_preset), and a run that has not started has measured none."""
    config = preset(name)
    if config.preset == "aggressive":
        raise TrainingRefused(
            f"the aggressive preset needs a measured mean correction error reduction of at least "
            f"{AGGRESSIVE_MIN_REDUCTION:.0%} in this run, and none is measured yet: start conservative and call "
            f"use_preset('aggressive') once the run's corrections earn it")
    return config


def aggressive_refusal(summary: CorrectionSummary) -> str | None:
    """Why a run with these measured corrections may not switch to the aggressive preset; None when it may. The one
    rule HybridTrainer.use_preset enforces and the benchmarks report, so a row saying "refused" is the trainer's own
    verdict."""
    if summary.mean is None:
        return "the aggressive preset needs measured corrections, and this run has none yet"
    if summary.mean < AGGRESSIVE_MIN_REDUCTION:
        return (f"the aggressive preset needs a mean correction error reduction of at least "
                f"{AGGRESSIVE_MIN_REDUCTION:.0%}; this run measured {summary.mean:.1%} over {summary.count} "
                f"corrections")
    return None
