"""HybridTrainer: full training steps, then predicted steps that skip the backward pass, with corrections at fixed
intervals, and a fall back to full training the moment the loss leaves its band.

Phases, one `step(batch)` call each:
- full: forward + backward + optimizer step; the dynamics model learns the real update. Prediction starts when the
  model's measured confidence reaches the threshold.
- predict: the parameters move by the predicted update, no backward; every `divergence_interval` steps one forward
  pass checks the loss against the band of recent real losses (mean + k sigma). Outside it: roll back to the last
  checked parameters and train fully at once.
- correct: two full steps every `correction_interval` predicted ones. The first corrects the dynamics model with a
  real update; the second measures the correction: the uncorrected and the corrected predictions of that step,
  each against its real update (core/training/accuracy.py).
Every phase and decision is a StepRecord and a log line. torch is imported inside functions only.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import TrainingRefused
from .accuracy import CorrectionRecord, CorrectionSummary, error_reduction, summarize
from .config import HybridConfig, aggressive_refusal, preset, startable
from .dynamics import DeltaModel, relative_error
from .stack import require_torch

log = logging.getLogger(__name__)

LossFn = Callable[[Any, Any], Any]  # (model, batch) -> scalar loss tensor

FULL, PREDICT, CORRECT = "full", "predict", "correct"
# Losses of one full-batch run can sit closer together than rounding noise: sigma never goes below this share of
# the mean, so a band of width ~0 cannot call every checked step a divergence.
SIGMA_FLOOR = 0.01


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step: its phase, the loss when one was computed, the dynamics model's confidence, and what was decided."""

    step: int
    phase: str
    loss: float | None
    confidence: float
    decision: str


@dataclass(frozen=True, slots=True)
class HybridReport:
    """What a run did: `steps` parameter updates, of which `backward_passes` were computed from a real gradient."""

    trainer: str
    preset: str
    steps: int
    backward_passes: int
    forward_passes: int
    predicted_steps: int
    divergences: int
    last_loss: float | None
    seconds: float
    corrections: CorrectionSummary

    @property
    def backward_saved(self) -> float:
        """Share of steps that ran no backward pass."""
        return 1.0 - self.backward_passes / self.steps if self.steps else 0.0


class HybridTrainer:
    """Trains `model` with `optimizer` on the loss `loss_fn(model, batch)`, predicting steps where it can."""

    def __init__(self, model: Any, optimizer: Any, loss_fn: LossFn, config: HybridConfig | None = None) -> None:
        require_torch()
        config = config or preset("conservative")
        if config.preset == "aggressive":
            startable(config.preset)  # raises: aggressive is earned mid-run, never a starting point
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.config = config
        self.records: list[StepRecord] = []
        self.corrections: list[CorrectionRecord] = []
        self.backward_passes = 0
        self.forward_passes = 0
        self.divergences = 0
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._dynamics = DeltaModel(config.chunk_size, config.window)
        self._losses: deque[float] = deque(maxlen=config.loss_window)
        self._phase = FULL
        self._full_needed = config.warmup_steps
        self._full_run = 0
        self._predicted_in_phase = 0
        self._since_correction = 0
        self._correct_stage = 0
        self._uncorrected: Any = None
        self._checked: Any = None
        self._step = 0
        self._seconds = 0.0
        self._last_loss: float | None = None

    # -- public surface -------------------------------------------------------------------------------------------

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def steps(self) -> int:
        return self._step

    @property
    def confidence(self) -> float:
        return self._dynamics.confidence

    def correction_summary(self) -> CorrectionSummary:
        return summarize(self.corrections)

    def use_preset(self, name: str) -> None:
        """Switch preset mid-run; aggressive only when this run's mean correction error reduction is >= 95%."""
        config = preset(name)
        if name == "aggressive":
            refusal = aggressive_refusal(self.correction_summary())
            if refusal is not None:
                raise TrainingRefused(refusal)
        self.config = config
        self._decide(f"preset {name}")

    def step(self, batch: Any) -> StepRecord:
        """One training step in the current phase; returns its record."""
        started = time.perf_counter()
        self._step += 1
        if self._phase == FULL:
            record = self._full_phase_step(batch)
        elif self._phase == PREDICT:
            record = self._predict_phase_step(batch)
        else:
            record = self._correct_phase_step(batch)
        self._seconds += time.perf_counter() - started
        self.records.append(record)
        log.debug("step %d %s loss=%s confidence=%.3f %s", record.step, record.phase, record.loss,
                  record.confidence, record.decision)
        return record

    def report(self) -> HybridReport:
        return HybridReport(
            trainer="hybrid", preset=self.config.preset, steps=self._step, backward_passes=self.backward_passes,
            forward_passes=self.forward_passes, predicted_steps=sum(r.phase == PREDICT for r in self.records),
            divergences=self.divergences, last_loss=self._last_loss, seconds=self._seconds,
            corrections=self.correction_summary())

    # -- phases ---------------------------------------------------------------------------------------------------

    def _full_phase_step(self, batch: Any) -> StepRecord:
        loss, _ = self._real_step(batch)
        self._full_run += 1
        decision = "train fully"
        if self._full_run >= self._full_needed and self._dynamics.ready:
            if self._dynamics.confidence >= self.config.confidence_threshold:
                decision = self._enter_predict()
            else:
                decision = (f"train fully: confidence {self._dynamics.confidence:.2f} < "
                            f"{self.config.confidence_threshold:.2f}")
        return self._record(FULL, loss, decision)

    def _predict_phase_step(self, batch: Any) -> StepRecord:
        from torch.nn.utils import parameters_to_vector, vector_to_parameters  # third-party, optional extra

        last = self._dynamics.last_step
        assert last is not None  # predicting needs a fitted model, which needs real updates
        delta = self._dynamics.predict(self._step - last)
        vector_to_parameters(parameters_to_vector(self._params).detach() + delta, self._params)
        self._predicted_in_phase += 1
        self._since_correction += 1
        loss = None
        decision = "predicted"
        if self._predicted_in_phase % self.config.divergence_interval == 0:
            loss = self._forward_loss(batch)
            band = self._band()
            if not math.isfinite(loss) or loss > band:
                return self._diverge(loss, band)
            self._checked = parameters_to_vector(self._params).detach().clone()
            decision = f"predicted: loss {loss:.4f} within band {band:.4f}"
        if self._since_correction >= self.config.correction_interval:
            self._phase, self._correct_stage = CORRECT, 0
            decision += "; correct next"
            self._decide(f"step {self._step}: correct after {self._since_correction} predicted steps")
        elif self._predicted_in_phase >= self.config.predict_horizon:
            decision += "; " + self._enter_full(self.config.refill_steps, "horizon reached")
        return self._record(PREDICT, loss, decision)

    def _correct_phase_step(self, batch: Any) -> StepRecord:
        last = self._dynamics.last_step
        if self._correct_stage == 0:
            assert last is not None
            # What the model would predict for the verifying step without this correction.
            self._uncorrected = self._dynamics.predict(self._step + 1 - last)
            loss, _ = self._real_step(batch)
            self._correct_stage = 1
            return self._record(CORRECT, loss, "corrected the dynamics model with a real update")
        corrected = self._dynamics.predict(1)
        loss, actual = self._real_step(batch)
        prediction_error = relative_error(self._uncorrected, actual)
        corrected_error = relative_error(corrected, actual)
        reduction = error_reduction(prediction_error, corrected_error)
        self.corrections.append(CorrectionRecord(self._step, prediction_error, corrected_error, reduction))
        self._uncorrected = None
        measured = (f"prediction error {prediction_error:.3f}, corrected {corrected_error:.3f}, "
                    f"reduction {reduction:.1%}")
        self._decide(f"step {self._step}: {measured}")
        self._since_correction = 0
        if self._predicted_in_phase >= self.config.predict_horizon:
            decision = self._enter_full(self.config.refill_steps, "horizon reached")
        elif self._dynamics.confidence >= self.config.confidence_threshold:
            self._phase = PREDICT
            decision = f"predict on: confidence {self._dynamics.confidence:.2f}"
        else:
            decision = self._enter_full(self.config.refill_steps,
                                        f"confidence {self._dynamics.confidence:.2f} fell below "
                                        f"{self.config.confidence_threshold:.2f}")
        return self._record(CORRECT, loss, f"{measured}; {decision}")

    # -- pieces ---------------------------------------------------------------------------------------------------

    def _real_step(self, batch: Any) -> tuple[float, Any]:
        """Forward, backward, optimizer step; the dynamics model observes the real update. Returns (loss, update)."""
        from torch.nn.utils import parameters_to_vector  # third-party, optional extra

        before = parameters_to_vector(self._params).detach().clone()
        self.optimizer.zero_grad()
        loss_tensor = self.loss_fn(self.model, batch)
        loss_tensor.backward()
        self.optimizer.step()
        self.forward_passes += 1
        self.backward_passes += 1
        delta = parameters_to_vector(self._params).detach() - before
        self._dynamics.observe(self._step, delta)
        loss = float(loss_tensor.detach())
        self._losses.append(loss)
        self._last_loss = loss
        return loss, delta

    def _forward_loss(self, batch: Any) -> float:
        import torch  # third-party, optional extra

        with torch.no_grad():
            loss = float(self.loss_fn(self.model, batch))
        self.forward_passes += 1
        self._last_loss = loss
        return loss

    def _band(self) -> float:
        """Upper edge of the divergence band: mean + k sigma of the recent real losses. Only the upper edge: a loss
        below the band is progress, and a falling loss would otherwise read as divergence."""
        losses = list(self._losses)
        mean = statistics.fmean(losses)
        sigma = statistics.pstdev(losses) if len(losses) > 1 else 0.0
        return mean + self.config.divergence_sigma * max(sigma, SIGMA_FLOOR * abs(mean))

    def _diverge(self, loss: float, band: float) -> StepRecord:
        from torch.nn.utils import vector_to_parameters  # third-party, optional extra

        self.divergences += 1
        if self._checked is not None:
            vector_to_parameters(self._checked, self._params)
        self._dynamics.reset()
        decision = self._enter_full(self.config.warmup_steps,
                                    f"divergence: loss {loss:.4f} above band {band:.4f}, rolled back")
        return self._record(PREDICT, loss, decision)

    def _enter_predict(self) -> str:
        from torch.nn.utils import parameters_to_vector  # third-party, optional extra

        self._phase = PREDICT
        self._predicted_in_phase = 0
        self._since_correction = 0
        self._checked = parameters_to_vector(self._params).detach().clone()
        return self._decide(f"predict: confidence {self._dynamics.confidence:.2f} >= "
                            f"{self.config.confidence_threshold:.2f}")

    def _enter_full(self, steps: int, why: str) -> str:
        self._phase = FULL
        self._full_needed = steps
        self._full_run = 0
        self._checked = None
        return self._decide(f"train fully for {steps} steps: {why}")

    def _decide(self, decision: str) -> str:
        log.info("hybrid trainer: %s", decision)
        return decision

    def _record(self, phase: str, loss: float | None, decision: str) -> StepRecord:
        return StepRecord(self._step, phase, loss, self._dynamics.confidence, decision)
