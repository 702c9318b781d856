"""The plain trainer the hybrid one is measured against: every step a forward, a backward and an optimizer step."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import TuneError
from .accuracy import summarize
from .hybrid import HybridReport, LossFn
from .stack import require_torch

# (step, flat float32 gradient) -> the gradient the optimizer applies: a compressed round trip, or a probe that
# records the real gradient and returns it unchanged (numpy in and out, so torch stays out of the compression code).
GradientFn = Callable[[int, Any], Any]


class PlainTrainer:
    """Same `step(batch)` / `report()` surface as HybridTrainer, so a benchmark runs both the same way."""

    def __init__(self, model: Any, optimizer: Any, loss_fn: LossFn, gradient: GradientFn | None = None) -> None:
        require_torch()
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.gradient = gradient
        self._params = [p for p in model.parameters() if p.requires_grad]
        self.backward_passes = 0
        self._step = 0
        self._seconds = 0.0
        self._last_loss: float | None = None

    def step(self, batch: Any) -> float:
        started = time.perf_counter()
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model, batch)
        loss.backward()
        if self.gradient is not None:
            self._replace_gradient(self.gradient)
        self.optimizer.step()
        self.backward_passes += 1
        self._step += 1
        self._last_loss = float(loss.detach())
        self._seconds += time.perf_counter() - started
        return self._last_loss

    def _replace_gradient(self, gradient: GradientFn) -> None:
        """Hand the flat gradient to `gradient` and put what it returns back in place, parameter by parameter."""
        import torch  # third-party, optional extra

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self._params]
        flat = torch.cat([g.detach().reshape(-1) for g in grads]).float().numpy()
        replaced = torch.as_tensor(gradient(self._step + 1, flat), dtype=torch.float32).reshape(-1)
        if replaced.numel() != flat.size:
            raise TuneError(f"the gradient function returned {replaced.numel()} values for {flat.size}")
        offset = 0
        for param in self._params:
            size = param.numel()
            param.grad = replaced[offset:offset + size].reshape(param.shape).to(param.dtype).clone()
            offset += size

    def report(self) -> HybridReport:
        return HybridReport(
            trainer="plain", preset="-", steps=self._step, backward_passes=self.backward_passes,
            forward_passes=self._step, predicted_steps=0, divergences=0, last_loss=self._last_loss,
            seconds=self._seconds, corrections=summarize([]))
