"""The plain trainer the hybrid one is measured against: every step a forward, a backward and an optimizer step."""

from __future__ import annotations

import time
from typing import Any

from .accuracy import summarize
from .hybrid import HybridReport, LossFn
from .stack import require_torch


class PlainTrainer:
    """Same `step(batch)` / `report()` surface as HybridTrainer, so a benchmark runs both the same way."""

    def __init__(self, model: Any, optimizer: Any, loss_fn: LossFn) -> None:
        require_torch()
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.backward_passes = 0
        self._step = 0
        self._seconds = 0.0
        self._last_loss: float | None = None

    def step(self, batch: Any) -> float:
        started = time.perf_counter()
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model, batch)
        loss.backward()
        self.optimizer.step()
        self.backward_passes += 1
        self._step += 1
        self._last_loss = float(loss.detach())
        self._seconds += time.perf_counter() - started
        return self._last_loss

    def report(self) -> HybridReport:
        return HybridReport(
            trainer="plain", preset="-", steps=self._step, backward_passes=self.backward_passes,
            forward_passes=self._step, predicted_steps=0, divergences=0, last_loss=self._last_loss,
            seconds=self._seconds, corrections=summarize([]))
